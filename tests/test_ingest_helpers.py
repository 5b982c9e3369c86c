"""Media made by the tests (no test here): JPEGs with EXIF/GPS/orientation written with piexif, other
image formats with Pillow and pillow-heif, short videos with ffmpeg; and database helpers for assertions."""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import piexif
from PIL import Image

from core import db
from core.settings import Settings


def _rational(value: float, denominator: int = 1_000_000) -> tuple[int, int]:
    frac = Fraction(value).limit_denominator(denominator)
    return frac.numerator, frac.denominator


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (degrees, 1), (minutes, 1), (round(seconds * 10000), 10000)


def exif_bytes(*, make: str | None = None, model: str | None = None, taken: str | None = None,
               offset: str | None = None, gps: tuple[float, float] | None = None,
               altitude: float | None = None, orientation: int | None = None, fnumber: float | None = None,
               iso: int | None = None, lens: str | None = None) -> bytes:
    zeroth: dict[int, Any] = {}
    exif: dict[int, Any] = {}
    gps_ifd: dict[int, Any] = {}
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if orientation:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if taken:
        exif[piexif.ExifIFD.DateTimeOriginal] = taken.encode()
        exif[piexif.ExifIFD.DateTimeDigitized] = taken.encode()
    if offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if fnumber:
        exif[piexif.ExifIFD.FNumber] = _rational(fnumber, 100)
    if iso:
        exif[piexif.ExifIFD.ISOSpeedRatings] = iso
    if lens:
        exif[piexif.ExifIFD.LensModel] = lens.encode()
    if gps is not None:
        lat, lon = gps
        gps_ifd[piexif.GPSIFD.GPSLatitudeRef] = b"S" if lat < 0 else b"N"
        gps_ifd[piexif.GPSIFD.GPSLatitude] = _dms(lat)
        gps_ifd[piexif.GPSIFD.GPSLongitudeRef] = b"W" if lon < 0 else b"E"
        gps_ifd[piexif.GPSIFD.GPSLongitude] = _dms(lon)
    if altitude is not None:
        gps_ifd[piexif.GPSIFD.GPSAltitudeRef] = 1 if altitude < 0 else 0
        gps_ifd[piexif.GPSIFD.GPSAltitude] = _rational(abs(altitude), 1000)
    return bytes(piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps_ifd}))


def picture(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    """A picture with an asymmetric pattern (so orientation mistakes are visible) and some noise."""
    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    # Red block top-left marks "up and left" for orientation checks.
    im.paste((255, 0, 0), (0, 0, max(1, w // 3), max(1, h // 3)))
    im.putpixel((w - 1, h - 1), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    return im


def write_jpeg(path: Path, *, size: tuple[int, int] = (64, 48), seed: int = 0, **exif: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = exif_bytes(**exif) if exif else b""
    im = picture(size, seed)
    if data:
        im.save(path, "JPEG", quality=90, exif=data)
    else:
        im.save(path, "JPEG", quality=90)
    return path


def write_image(path: Path, fmt: str, *, size: tuple[int, int] = (64, 48), seed: int = 0,
                exif: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = picture(size, seed)
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    extra: dict[str, Any] = {"exif": exif} if exif else {}
    if fmt == "GIF":
        im = im.convert("P")
    im.save(path, fmt, **extra)
    return path


def write_video(path: Path, *, seconds: float = 1.0, audio: bool = True, size: str = "160x120",
                location: str | None = None, creation_time: str | None = None,
                rotate: int | None = None) -> Path:
    """A short test-pattern video (with a sine tone when ``audio``), via ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    suffix = path.suffix.lower()
    # Codecs each container normally carries: VP8/Opus in WebM, MPEG-4 part 2/MP3 in AVI, H.264/AAC else.
    video_codec, audio_codec = {".webm": (["libvpx", "-b:v", "200k"], "libopus"),
                                ".avi": (["mpeg4"], "libmp3lame")}.get(
        suffix, (["libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], "aac"))
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", str(seconds), "-c:v", *video_codec]
    if audio:
        args += ["-c:a", audio_codec]
    if location:
        args += ["-metadata", f"location={location}"]
    if creation_time:
        args += ["-metadata", f"creation_time={creation_time}"]
    args.append(str(tmp))
    subprocess.run(args, check=True, capture_output=True)
    if rotate is not None:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(tmp), "-c", "copy",
                        "-metadata:s:v:0", f"rotate={rotate}", str(path)], check=True, capture_output=True)
        tmp.unlink()
    else:
        tmp.rename(path)
    return path


def png_bomb(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG whose header declares an enormous canvas (the data is one empty row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + \
        chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def jpeg_bytes(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", quality=90)
    return out.getvalue()


def rows(settings: Settings, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with db.connect(settings) as conn:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]  # type: ignore[arg-type]


def media(settings: Settings) -> list[dict[str, Any]]:
    return rows(settings, "SELECT * FROM media ORDER BY id")


def files_under(root: Path) -> dict[str, Path]:
    """Every file or symlink under ``root`` by relative path (as text, bytes escaped)."""
    found: dict[str, Path] = {}
    root_b = os.fsencode(root)
    for dirpath, _dirs, names in os.walk(root_b):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root_b).decode("utf-8", "backslashreplace")
            found[rel] = Path(os.fsdecode(full))
    return found


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a folder keeping symlinks as symlinks, and make it writable (the corpus is read-only)."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    for dirpath, dirs, _files in os.walk(dst):
        for d in dirs:
            Path(dirpath, d).chmod(0o755)
    dst.chmod(0o755)
