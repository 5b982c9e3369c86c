"""dHash of photos: the definition, orientation, speed-oriented decoding, bad input, the analyzer."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import imagehash
import numpy as np
import pillow_heif
import pytest
from PIL import Image

from core.media import MediaKind
from core.perceptual import (
    ImageHashError,
    UnsupportedImageError,
    bands,
    dhash_file,
    dhash_image,
    dhash_pixels,
    from_hex,
    hamming,
    to_hex,
    to_signed,
    to_unsigned,
)
from core.settings import Settings
from core.storage import THUMB_PREVIEW, thumbnail_rel
from workers.analyzer import MediaItem, PermanentError, TransientError
from workers.analyzers.dhash import DhashAnalyzer, DhashResult


def scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like RGB image: smooth random structure (upsampled noise) plus a gradient."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse, "RGB").resize(size, Image.Resampling.BICUBIC)
    ramp = np.linspace(0, 40, size[0], dtype=np.float32)[None, :, None]
    pixels = np.clip(np.asarray(image, dtype=np.float32) + ramp, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def save_jpeg(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, "JPEG", quality=92, **kwargs)
    return path


# --- the definition ------------------------------------------------------------------------------


def test_bit_convention_matches_imagehash() -> None:
    image = scene(1, (300, 200))
    ours = dhash_image(image)
    theirs = imagehash.dhash(image)
    assert to_hex(ours) == str(theirs), "same pixels, same resize: the hashes must be identical"


def test_dhash_pixels_order() -> None:
    pixels = np.zeros((8, 9), dtype=np.uint8)
    pixels[0, 1] = 10  # first comparison of the first row: right > left -> most significant bit
    assert dhash_pixels(pixels) == 1 << 63
    pixels = np.zeros((8, 9), dtype=np.uint8)
    pixels[7, 8] = 10  # last comparison of the last row -> least significant bit
    assert dhash_pixels(pixels) == 1
    with pytest.raises(ValueError, match="8x9"):
        dhash_pixels(np.zeros((9, 8), dtype=np.uint8))


def test_integer_helpers() -> None:
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x8123456789ABCDEF):
        signed = to_signed(value)
        assert -(1 << 63) <= signed < 1 << 63
        assert to_unsigned(signed) == value
        assert from_hex(to_hex(value)) == value
        assert len(to_hex(value)) == 16
        assert hamming(value, signed) == 0
    assert hamming(0, (1 << 64) - 1) == 64
    assert hamming(to_signed((1 << 64) - 1), 0) == 64
    assert bands(0x0001_0002_0003_0004) == (1, 2, 3, 4)
    assert bands(to_signed(0xFFFF_0000_0000_0001)) == (0xFFFF, 0, 0, 1)
    with pytest.raises(ValueError):
        to_signed(1 << 64)
    with pytest.raises(ValueError):
        from_hex("abc")


# --- files ---------------------------------------------------------------------------------------


def test_resized_copy_is_near_and_other_image_is_far(tmp_path: Path) -> None:
    original = save_jpeg(scene(1, (1600, 1200)), tmp_path / "a.jpg")
    smaller = scene(1, (1600, 1200)).resize((400, 300), Image.Resampling.LANCZOS)
    small = save_jpeg(smaller, tmp_path / "a_small.jpg")
    png = tmp_path / "a.png"
    scene(1, (1600, 1200)).resize((640, 480)).save(png)
    other = save_jpeg(scene(2, (1600, 1200)), tmp_path / "b.jpg")
    h = dhash_file(original)
    assert hamming(h, dhash_file(small)) <= 3
    assert hamming(h, dhash_file(png)) <= 3
    assert hamming(h, dhash_file(other)) >= 16


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = scene(3, (640, 480))
    # Orientation 6: the stored pixels are shown rotated 90 degrees clockwise. Store the upright
    # picture turned counter-clockwise with the tag; and the same picture physically upright.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = save_jpeg(stored, tmp_path / "tagged.jpg", exif=exif.tobytes())
    plain = save_jpeg(upright, tmp_path / "upright.jpg")
    with Image.open(tagged) as check:
        assert check.getexif()[0x0112] == 6
    h_tagged, h_plain = dhash_file(tagged), dhash_file(plain)
    assert hamming(h_tagged, h_plain) <= 1, (to_hex(h_tagged), to_hex(h_plain))
    # Lossless formats carry the same tag: there the hashes must be identical.
    tagged_png = tmp_path / "tagged.png"
    stored.save(tagged_png, exif=exif.tobytes())
    plain_png = tmp_path / "upright.png"
    upright.save(plain_png)
    assert dhash_file(tagged_png) == dhash_file(plain_png)
    # And the tag made a difference: without it the stored pixels hash far away.
    assert hamming(dhash_image(stored), h_plain) > 8


def test_close_to_imagehash_on_jpeg(tmp_path: Path) -> None:
    distances = []
    for seed in range(8):
        path = save_jpeg(scene(seed, (2000, 1500)), tmp_path / f"{seed}.jpg")
        with Image.open(path) as image:
            reference = int(str(imagehash.dhash(image)), 16)
        distances.append(hamming(dhash_file(path), reference))
    assert np.mean(distances) <= 1.5, f"distances to imagehash.dhash: {distances}"


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    scene(4, (800, 600)).save(buffer, "JPEG", quality=90)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageHashError, match="truncated"):
        dhash_file(truncated)


def test_not_an_image_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "note.jpg"
    text.write_text("not a picture\n")
    with pytest.raises(UnsupportedImageError):
        dhash_file(text)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageHashError):
        dhash_file(empty)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(
        b"IEND", b"")


def test_decompression_bomb_is_refused_without_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(100_000, 100_000))  # 10 gigapixels in 80 bytes
    with pytest.raises(ImageHashError, match="bomb"):
        dhash_file(bomb)
    # Our own limit applies before Pillow's (and before any decoding).
    big = tmp_path / "big.png"
    scene(5, (1000, 1000)).save(big)
    with pytest.raises(ImageHashError, match="exceeds the limit"):
        dhash_file(big, max_pixels=500_000)
    assert dhash_file(big, max_pixels=1_000_000) >= 0


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        dhash_file(tmp_path / "gone.jpg")


def test_heic(tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    image = scene(6, (640, 480))
    path = tmp_path / "a.heic"
    image.save(path, "HEIF", quality=90)
    assert hamming(dhash_file(path), dhash_image(image)) <= 2


# --- the analyzer --------------------------------------------------------------------------------


def _item(tmp_path: Path, path: Path, kind: MediaKind = MediaKind.PHOTO, sha512: str = "ab" * 64,
          ) -> MediaItem:
    return MediaItem(media_id=1, job_id=1, kind=kind, path=path, rel_path=path.name, sha512=sha512,
                     storage_root=tmp_path)


def test_analyzer_photo_and_errors(tmp_path: Path) -> None:
    analyzer = DhashAnalyzer(Settings.model_validate({"storage_root": tmp_path, "home": tmp_path}))
    assert analyzer.accepts(_item(tmp_path, tmp_path / "x", MediaKind.VIDEO))
    path = save_jpeg(scene(7), tmp_path / "a.jpg")
    result = analyzer.analyze(_item(tmp_path, path))
    assert result == DhashResult(hash=dhash_file(path))
    assert result.rows() == [(None, dhash_file(path))]
    assert analyzer.meta().analyzer == "dhash" and analyzer.meta().version

    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(PermanentError, match="truncated"):
        analyzer.analyze(_item(tmp_path, cut))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(60_000, 60_000))
    with pytest.raises(PermanentError, match="bomb"):
        analyzer.analyze(_item(tmp_path, bomb))
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    with pytest.raises(PermanentError, match="no preview"):
        analyzer.analyze(_item(tmp_path, text))
    with pytest.raises(TransientError):
        analyzer.analyze(_item(tmp_path, tmp_path / "missing.jpg"))


def test_analyzer_hashes_the_preview_of_an_unreadable_format(tmp_path: Path) -> None:
    sha = "cd" * 64
    raw = tmp_path / "DSCF0001.RAF"
    raw.write_bytes(b"FUJIFILMCCD-RAW 0201 (a header Pillow does not know)")
    preview = tmp_path / thumbnail_rel(sha, THUMB_PREVIEW)
    preview.parent.mkdir(parents=True)
    save_jpeg(scene(8, (1440, 1080)), preview)
    analyzer = DhashAnalyzer(Settings.model_validate({"storage_root": tmp_path, "home": tmp_path}))
    result = analyzer.analyze(_item(tmp_path, raw, sha512=sha))
    assert result.hash == dhash_file(preview)
