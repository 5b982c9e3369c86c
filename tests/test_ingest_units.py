"""Units of the ingester on inputs made here: no database, no broker."""

from __future__ import annotations

import io
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from test_ingest_helpers import exif_bytes, jpeg_bytes, png_bomb, write_jpeg

from core.media import MediaKind
from core.settings import IngestSettings
from ingest import detect, hashing, metadata, metadata_gps, metadata_time, moves, naming, thumbnails, walk
from ingest.outcome import Rejected

MTIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- times --------------------------------------------------------------------------------------------

def test_exif_time_with_offset_and_subseconds() -> None:
    tags = {"EXIF:DateTimeOriginal": "2021:04:11 15:47:53", "EXIF:SubSecTimeOriginal": "054",
            "EXIF:OffsetTimeOriginal": "-05:00"}
    taken = metadata_time.taken_at(tags, video=False, file_mtime=MTIME)
    assert taken.local == datetime(2021, 4, 11, 15, 47, 53, 54000)
    assert taken.offset_minutes == -300 and taken.source == "exif"
    assert taken.instant == datetime(2021, 4, 11, 20, 47, 53, 54000, tzinfo=UTC)


def test_exif_time_without_offset_is_floating() -> None:
    tags = {"EXIF:DateTimeOriginal": "2004:06:17 09:04:12", "EXIF:SubSecTimeOriginal": 1}
    taken = metadata_time.taken_at(tags, video=False, file_mtime=MTIME)
    assert taken.offset_minutes is None and taken.local == datetime(2004, 6, 17, 9, 4, 12, 100000)
    assert taken.instant == datetime(2004, 6, 17, 9, 4, 12, 100000, tzinfo=UTC)


def test_offset_taken_from_matching_xmp_time() -> None:
    tags = {"EXIF:DateTimeOriginal": "2008:03:15 09:52:01",
            "XMP:DateTimeOriginal": "2008:03:15 09:52:01-04:00"}
    taken = metadata_time.taken_at(tags, video=False, file_mtime=MTIME)
    assert taken.offset_minutes == -240 and taken.source == "exif"
    tags["XMP:DateTimeOriginal"] = "2008:03:15 10:00:00-04:00"  # a different time: not evidence
    assert metadata_time.taken_at(tags, video=False, file_mtime=MTIME).offset_minutes is None


def test_quicktime_times() -> None:
    apple = {"QuickTime:CreateDate": "2023:09:22 16:34:05+00:00",
             "QuickTime:CreationDate": "2023:09:22 18:34:05+02:00"}
    taken = metadata_time.taken_at(apple, video=True, file_mtime=MTIME)
    assert (taken.source, taken.offset_minutes) == ("quicktime", 120)
    assert taken.instant == datetime(2023, 9, 22, 16, 34, 5, tzinfo=UTC)
    utc_only = metadata_time.taken_at({"QuickTime:CreateDate": "2023:09:22 16:34:05"}, video=True,
                                      file_mtime=MTIME)
    assert utc_only.instant == datetime(2023, 9, 22, 16, 34, 5, tzinfo=UTC) and utc_only.local is None
    unset = metadata_time.taken_at({"QuickTime:CreateDate": "0000:00:00 00:00:00"}, video=True,
                                   file_mtime=MTIME)
    assert unset.source == "file_mtime" and unset.instant == MTIME


@pytest.mark.parametrize("value", ["    :  :     :  :  ", "0000:00:00 00:00:00", "2020:13:45 10:00:00",
                                   "garbage", "1800:01:01 00:00:00", "2999:01:01 00:00:00"])
def test_unusable_times_fall_back(value: str) -> None:
    taken = metadata_time.taken_at({"EXIF:DateTimeOriginal": value}, video=False, file_mtime=MTIME)
    assert taken.source == "file_mtime" and taken.instant == MTIME


@pytest.mark.parametrize(("text", "minutes"), [("+03:00", 180), ("-0530", -330), ("Z", 0), ("+19:00", None),
                                               ("x", None), (None, None)])
def test_offsets(text: str | None, minutes: int | None) -> None:
    assert metadata_time.parse_offset(text) == minutes


# --- GPS ----------------------------------------------------------------------------------------------

def test_gps_signed_and_validated() -> None:
    pos, warnings = metadata_gps.position({"Composite:GPSLatitude": -17.7732777777778,
                                           "Composite:GPSLongitude": 177.36575, "Composite:GPSAltitude": 1})
    assert pos == metadata_gps.Position(-17.7732777777778, 177.36575, 1.0) and warnings == []
    pos, _ = metadata_gps.position({"EXIF:GPSLatitude": 39.05, "EXIF:GPSLatitudeRef": "S",
                                    "EXIF:GPSLongitude": 94.28, "EXIF:GPSLongitudeRef": "W"})
    assert pos is not None and (pos.lat, pos.lon) == (-39.05, -94.28)


@pytest.mark.parametrize(("tags", "code"), [
    ({"Composite:GPSLatitude": 0, "Composite:GPSLongitude": 0}, "gps_null_island"),
    ({"Composite:GPSLatitude": 91, "Composite:GPSLongitude": 10}, "gps_out_of_range"),
    ({"Composite:GPSLatitude": 10, "Composite:GPSLongitude": -181}, "gps_out_of_range"),
    ({"Composite:GPSLatitude": 10}, "gps_incomplete"),
    ({"Composite:GPSLatitude": "nan", "Composite:GPSLongitude": 3}, "gps_incomplete"),
])
def test_gps_refused(tags: dict[str, object], code: str) -> None:
    pos, warnings = metadata_gps.position(tags)
    assert pos is None and [w["code"] for w in warnings] == [code]


def test_gps_altitude_refused_alone() -> None:
    pos, warnings = metadata_gps.position({"Composite:GPSLatitude": 1, "Composite:GPSLongitude": 2,
                                           "Composite:GPSAltitude": 250000})
    assert pos is not None and pos.alt is None and warnings[0]["code"] == "gps_altitude_out_of_range"


# --- camera fields ------------------------------------------------------------------------------------

def test_camera_fields_cleaned() -> None:
    cam = metadata.camera({"EXIF:Make": "NIKON CORPORATION\x00\x00 ", "EXIF:Model": "  ", "EXIF:FNumber": 2.8,
                           "EXIF:ExposureTime": 0.004, "EXIF:ISO": 200, "EXIF:FocalLength": "4.25"})
    assert (cam.make, cam.model) == ("NIKON CORPORATION", None)
    assert (cam.aperture, cam.iso, cam.focal_length) == (2.8, 200, 4.25)
    assert metadata.orientation({"EXIF:Orientation": 0}) is None
    assert metadata.orientation({"EXIF:Orientation": 6}) == 6
    kept = metadata.curated({"EXIF:Make": "A\x00", "MakerNotes:X": 1, "File:FileName": "x",
                             "EXIF:ThumbnailImage": "(Binary data 5 bytes)"})
    assert kept == {"EXIF:Make": "A"}


# --- detection ----------------------------------------------------------------------------------------

def test_sniff_by_content() -> None:
    assert detect.sniff(jpeg_bytes()) == MediaKind.PHOTO
    assert detect.sniff(b"\x00\x00\x00\x18ftypheic") == MediaKind.PHOTO
    assert detect.sniff(b"\x00\x00\x00\x18ftypisom") == MediaKind.VIDEO
    assert detect.sniff(b"\x1aE\xdf\xa3") == MediaKind.VIDEO
    assert detect.sniff(b"<!DOCTYPE html>") is None


def test_resolve_rejects_with_a_description() -> None:
    with pytest.raises(Rejected) as err:
        detect.resolve(b"<html><body>404</body></html>", "HTML", "text/html", "movie.mp4")
    assert err.value.reason == "unsupported_type"
    assert "HTML" in err.value.detail and ".mp4" in err.value.detail
    found = detect.resolve(b"RIFF0000WEBPVP8X", "Extended WEBP", "image/webp", "x", "WEBP")
    assert (found.kind, found.format) == (MediaKind.PHOTO, "webp")


# --- walk and names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "reason"), [
    (b".DS_Store", "hidden"), (b".x.jpg", "hidden"), (b"Thumbs.db", "hidden"), (b"a.jpg.part", "temporary"),
    (b"a.JPG.CRDOWNLOAD", "temporary"), (b"a.jpg~", "temporary"), (b"~$doc.jpg", "temporary"),
    (b".a.jpg.swp", "hidden"), (b"a.tmp", "temporary"), (b"IMG_1.JPG", None), (b"caf\xe9.jpg", None),
])
def test_skip_rules(name: bytes, reason: str | None) -> None:
    assert walk.skip_reason(name) == reason


def test_walk_never_follows_symlinks_or_loops(tmp_path: Path) -> None:
    root = tmp_path / "drop"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.jpg").write_bytes(b"x")
    (root / "a" / "up").symlink_to("..")
    (root / "a" / "b" / "link.jpg").symlink_to("/etc/passwd")
    (root / "storage").mkdir()
    (root / "storage" / "inside.jpg").write_bytes(b"x")
    found = list(walk.walk(root, settle_seconds=0, exclude=[root / "storage"]))
    assert [(type(e).__name__, e.path) for e in found] == [
        ("Entry", "a/up"), ("Entry", "a/b/link.jpg"), ("Entry", "a/b/x.jpg")]


def test_walk_offers_non_utf8_names(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    open(os.path.join(os.fsencode(tmp_path / "d"), b"caf\xe9.jpg"), "wb").close()
    [entry] = list(walk.walk(tmp_path / "d", settle_seconds=0))
    assert isinstance(entry, walk.Entry) and not entry.utf8 and entry.path == "caf\\xe9.jpg"


def test_collision_names() -> None:
    sha = "ab" * 64
    names = naming.candidates("originals", "2024/IMG_1.JPG", sha)
    assert [next(names) for _ in range(5)] == [
        "originals/2024/IMG_1.JPG", f"originals/2024/IMG_1~{sha[:8]}.JPG",
        f"originals/2024/IMG_1~{sha[:16]}.JPG", f"originals/2024/IMG_1~{sha}.JPG",
        f"originals/2024/IMG_1~{sha[:8]}~2.JPG"]
    plain = naming.candidates("quarantine", "README", None)
    assert [next(plain) for _ in range(2)] == ["quarantine/README", "quarantine/README~2"]
    long = next(itertools.islice(naming.candidates("originals", "x" * 250 + ".jpeg", sha), 3, None))
    assert len(Path(long).name.encode()) <= naming.NAME_MAX


# --- hashing and decoding -----------------------------------------------------------------------------

def test_hash_once_and_keep(tmp_path: Path) -> None:
    data = os.urandom(3 * hashing.CHUNK + 17)
    (tmp_path / "f").write_bytes(data)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        digest = hashing.read_and_hash(fd, len(data), keep=True)
        with pytest.raises(hashing.ChangedWhileReading):
            hashing.read_and_hash(fd, len(data) - 1, keep=False)
    finally:
        os.close(fd)
    import hashlib

    assert digest.sha512 == hashlib.sha512(data).digest() and digest.data == data


SETTINGS = IngestSettings()


def test_render_applies_orientation_and_sizes() -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 2000), (0, 128, 0)).save(out, "JPEG", exif=exif_bytes(orientation=8))
    thumbnails.configure(SETTINGS)
    rendered = thumbnails.render_photo(out.getvalue(), "jpeg", 8, SETTINGS)
    assert (rendered.stored_width, rendered.stored_height) == (3000, 2000)
    assert (rendered.width, rendered.height) == (2000, 3000)
    with Image.open(io.BytesIO(rendered.preview)) as preview:
        assert preview.size == (960, 1440)
    with Image.open(io.BytesIO(rendered.grid)) as grid:
        assert grid.size == (240, 360) and grid.format == "WEBP"


def test_render_rejects_truncated_and_bombs(tmp_path: Path) -> None:
    thumbnails.configure(SETTINGS)
    data = jpeg_bytes((800, 600), seed=2)
    with pytest.raises(Rejected) as err:
        thumbnails.render_photo(data[: len(data) // 2], "jpeg", None, SETTINGS)
    assert err.value.reason == "truncated"
    bomb = png_bomb(tmp_path / "bomb.png").read_bytes()
    with pytest.raises(Rejected) as err:
        thumbnails.render_photo(bomb, "png", None, SETTINGS)
    assert err.value.reason == "decompression_bomb"
    # Between 1x and 2x the limit Pillow only warns; that too is a refusal.
    small = IngestSettings(max_image_pixels=1_000_000)
    thumbnails.configure(small)
    try:
        with pytest.raises(Rejected) as err:
            data = png_bomb(tmp_path / "b2.png", 1200, 1000).read_bytes()
            thumbnails.render_photo(data, "png", None, small)
        assert err.value.reason == "decompression_bomb"
    finally:
        thumbnails.configure(SETTINGS)


# --- moves --------------------------------------------------------------------------------------------

def test_move_never_clobbers(tmp_path: Path) -> None:
    src = write_jpeg(tmp_path / "drop" / "a.jpg")
    dst = tmp_path / "store" / "a.jpg"
    dst.parent.mkdir()
    dst.write_bytes(b"existing")
    with pytest.raises(moves.DestinationTaken):
        moves.move(os.fsencode(src), os.lstat(src), dst)
    assert dst.read_bytes() == b"existing" and src.exists()


def test_move_refuses_a_swapped_file(tmp_path: Path) -> None:
    src = write_jpeg(tmp_path / "drop" / "a.jpg")
    seen = os.lstat(src)
    src.unlink()
    src.write_bytes(b"another file now")
    with pytest.raises(moves.SourceChanged):
        moves.move(os.fsencode(src), seen, tmp_path / "store" / "a.jpg")
    assert not (tmp_path / "store" / "a.jpg").exists() and src.read_bytes() == b"another file now"


def test_move_across_file_systems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("/dev/shm is not a separate file system: cross-device moves are untested")
        pytest.skip("no second file system here")
    drop = shm / f"pava-test-{os.getpid()}"
    drop.mkdir(exist_ok=True)
    try:
        src = write_jpeg(drop / "a.jpg")
        data = src.read_bytes()
        os.utime(src, (1_600_000_000, 1_600_000_000))
        seen = os.lstat(src)
        fd = os.open(src, os.O_RDONLY)
        try:
            import hashlib

            moves.move(os.fsencode(src), os.fstat(fd), tmp_path / "store" / "a.jpg", fd=fd,
                       sha512=hashlib.sha512(data).digest())
        finally:
            os.close(fd)
        stored = tmp_path / "store" / "a.jpg"
        assert stored.read_bytes() == data and not src.exists()
        assert stored.stat().st_mtime == seen.st_mtime
        assert not list(stored.parent.glob("*.pava-tmp"))
    finally:
        for leftover in drop.iterdir():
            leftover.unlink()
        drop.rmdir()


def test_move_copies_a_file_that_has_other_links(tmp_path: Path) -> None:
    src = write_jpeg(tmp_path / "drop" / "a.jpg")
    elsewhere = tmp_path / "elsewhere.jpg"
    os.link(src, elsewhere)
    fd = os.open(src, os.O_RDONLY)
    try:
        moves.move(os.fsencode(src), os.fstat(fd), tmp_path / "store" / "a.jpg", fd=fd)
    finally:
        os.close(fd)
    stored = tmp_path / "store" / "a.jpg"
    assert not src.exists() and stored.read_bytes() == elsewhere.read_bytes()
    assert not os.path.samestat(stored.stat(), elsewhere.stat())  # an inode of its own
