"""The sample set `pava up` drops into an empty drop folder: what each file carries, checked with the
tools the ingester uses (exiftool, ffprobe), and the same bytes on every generation."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pava.stack import sample
from tests.conftest import IN_CI


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed (pava.sh installs it)")
        pytest.skip(f"{name} not installed")
    return path


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    written = sample.generate(directory)
    assert len(written) == sample.file_count()
    return directory


def _digest(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def _exif(path: Path) -> dict[str, Any]:
    result = subprocess.run([_tool("exiftool"), "-json", "-n", str(path)], capture_output=True, text=True,
                            check=True)
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data[0]


def test_photos_carry_camera_time_and_gps(sample_dir: Path) -> None:
    for photo in sample.PHOTOS:
        tags = _exif(sample_dir / photo.rel_path)
        assert tags["Make"] == photo.make and tags["Model"] == photo.model
        assert tags["DateTimeOriginal"] == photo.taken and tags["OffsetTimeOriginal"] == photo.offset
        assert tags["GPSLatitude"] == pytest.approx(photo.place.lat, abs=1e-5)
        assert tags["GPSLongitude"] == pytest.approx(photo.place.lon, abs=1e-5)
        assert tags["FNumber"] == 4.0 and tags["ISO"] == 200 and tags["LensModel"]
        assert tags["Orientation"] == photo.orientation


def test_rotated_photo_is_stored_sideways(sample_dir: Path) -> None:
    rotated = next(p for p in sample.PHOTOS if p.orientation == 6)
    with Image.open(sample_dir / rotated.rel_path) as image:
        assert image.height > image.width  # pixels as the sensor wrote them; EXIF turns them upright


def test_exact_and_near_duplicates(sample_dir: Path) -> None:
    source, copy = sample.EXACT_DUPLICATE
    assert _digest(sample_dir / source) == _digest(sample_dir / copy)
    original, near = sample.NEAR_DUPLICATE
    assert _digest(sample_dir / original) != _digest(sample_dir / near)
    with Image.open(sample_dir / original) as a, Image.open(sample_dir / near) as b:
        assert (b.width, b.height) == (a.width // 2, a.height // 2)
    assert _exif(sample_dir / near)["GPSLatitude"] == _exif(sample_dir / original)["GPSLatitude"]


def test_png_has_no_metadata(sample_dir: Path) -> None:
    with Image.open(sample_dir / sample.PNG_PATH) as image:
        assert image.format == "PNG"
    assert "DateTimeOriginal" not in _exif(sample_dir / sample.PNG_PATH)


def test_video_has_picture_sound_time_and_gps(sample_dir: Path) -> None:
    path = sample_dir / sample.VIDEO_PATH
    probe = subprocess.run([_tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json",
                            str(path)], capture_output=True, text=True, check=True)
    info = json.loads(probe.stdout)
    kinds = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert kinds == {"video": "h264", "audio": "aac"}
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.2)
    tags = _exif(path)
    assert tags["GPSLatitude"] == pytest.approx(sample.VIDEO_PLACE.lat, abs=1e-3)
    assert tags["GPSLongitude"] == pytest.approx(sample.VIDEO_PLACE.lon, abs=1e-3)
    assert str(tags["CreateDate"]).startswith("2024:07:04 18:30:00")


def test_generation_is_deterministic_and_keeps_existing_files(sample_dir: Path, tmp_path: Path) -> None:
    assert sample.generate(sample_dir) == []
    again = tmp_path / "again"
    sample.generate(again)
    first = {str(p.relative_to(sample_dir)): _digest(p) for p in sample_dir.rglob("*") if p.is_file()}
    second = {str(p.relative_to(again)): _digest(p) for p in again.rglob("*") if p.is_file()}
    assert first == second
