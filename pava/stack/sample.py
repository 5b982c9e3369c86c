"""A small sample set the project makes itself, so that a first ``pava up`` has something to show.

Photos with EXIF (camera, exposure, time with offset, GPS at real places so that geocoding shows), one with
a rotated orientation, an exact duplicate, a near-duplicate (a resized, re-encoded copy), a PNG without
metadata (the time falls back to the file's), and a short video with sound and phone-style GPS. Everything
is drawn deterministically, so a second generation gives the same bytes (and dedups as such).
"""

from __future__ import annotations

import logging
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.ExifTags import GPS, IFD, Base

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """A real place: the geocoder should name its city and country."""

    name: str
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lon: float
    altitude: float


@dataclass(frozen=True)
class SamplePhoto:
    rel_path: str
    place: Place
    taken: str  # EXIF "YYYY:MM:DD HH:MM:SS", local time
    offset: str  # "+HH:MM"
    make: str
    model: str
    orientation: int = 1


@dataclass(frozen=True)
class SampleFile:
    """One file written, and why it is in the set."""

    rel_path: str
    note: str


PARIS = Place("Paris", "FR", 48.85837, 2.29448, 35.0)
TOKYO = Place("Tokyo", "JP", 35.65952, 139.70056, 38.0)
NEW_YORK = Place("New York City", "US", 40.78509, -73.96828, 40.0)
SYDNEY = Place("Sydney", "AU", -33.85678, 151.21530, 5.0)
CAPE_TOWN = Place("Cape Town", "ZA", -33.92487, 18.42406, 25.0)
STATUE_OF_LIBERTY = Place("New York City", "US", 40.68920, -74.04450, 10.0)

PHOTOS: tuple[SamplePhoto, ...] = (
    SamplePhoto("paris/eiffel-tower.jpg", PARIS, "2024:05:01 10:11:12", "+02:00", "Canon", "Canon EOS R6"),
    SamplePhoto("tokyo/shibuya.jpg", TOKYO, "2023:11:03 19:45:00", "+09:00", "Apple", "iPhone 14 Pro",
                orientation=6),
    SamplePhoto("new-york/central-park.jpg", NEW_YORK, "2022:10:15 14:02:33", "-04:00", "NIKON CORPORATION",
                "NIKON Z 6_2"),
    SamplePhoto("sydney/opera-house.jpg", SYDNEY, "2024:01:20 07:30:05", "+11:00", "SONY", "ILCE-7M4"),
    SamplePhoto("cape-town/table-mountain.jpg", CAPE_TOWN, "2023:03:08 16:20:41", "+02:00", "FUJIFILM",
                "X-T5"),
)
EXACT_DUPLICATE = ("new-york/central-park.jpg", "copies/central-park (copy).jpg")
NEAR_DUPLICATE = ("paris/eiffel-tower.jpg", "paris/eiffel-tower-small.jpg")
PNG_PATH = "graphics/diagram.png"
VIDEO_PATH = "video/liberty-island.mp4"
VIDEO_PLACE = STATUE_OF_LIBERTY
VIDEO_TIME = "2024-07-04T18:30:00Z"

PHOTO_SIZE = (1600, 1200)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def _exif(photo: SamplePhoto) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = photo.make
    exif[Base.Model] = photo.model
    exif[Base.Orientation] = photo.orientation
    exif[Base.Software] = "pava sample"
    exif[Base.DateTime] = photo.taken
    details = exif.get_ifd(IFD.Exif)
    details[Base.DateTimeOriginal] = photo.taken
    details[Base.OffsetTimeOriginal] = photo.offset
    details[Base.FNumber] = 4.0
    details[Base.ExposureTime] = 1 / 250
    details[Base.ISOSpeedRatings] = 200
    details[Base.FocalLength] = 35.0
    details[Base.LensModel] = "Sample 24-70mm F4"
    gps = exif.get_ifd(IFD.GPSInfo)
    place = photo.place
    gps[GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[GPS.GPSLatitudeRef] = "N" if place.lat >= 0 else "S"
    gps[GPS.GPSLatitude] = _dms(place.lat)
    gps[GPS.GPSLongitudeRef] = "E" if place.lon >= 0 else "W"
    gps[GPS.GPSLongitude] = _dms(place.lon)
    gps[GPS.GPSAltitudeRef] = b"\x00"
    gps[GPS.GPSAltitude] = place.altitude
    return exif


def _picture(seed: int, caption: str, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    """A deterministic picture: a sky gradient, hills, a sun and a caption, different for every seed."""
    rng = random.Random(seed)  # noqa: S311 (drawing, not security)
    width, height = size
    top = (rng.randrange(40, 120), rng.randrange(80, 160), rng.randrange(160, 255))
    bottom = (rng.randrange(180, 255), rng.randrange(150, 230), rng.randrange(100, 200))
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    sun_x, sun_y = rng.randrange(width // 8, width * 7 // 8), rng.randrange(height // 10, height // 3)
    radius = 90
    draw.ellipse([sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius], fill=(255, 230, 120))
    for layer in range(3):
        base = height * (0.55 + 0.12 * layer)
        points = [(0.0, float(height))]
        for x in range(0, width + 100, 100):
            points.append((float(x), base - rng.randrange(0, int(height * 0.25))))
        points.append((float(width), float(height)))
        shade = 40 + 35 * layer
        draw.polygon(points, fill=(shade // 2, shade + rng.randrange(0, 60), shade // 2))
    for _ in range(12):
        x, y = rng.randrange(0, width), rng.randrange(height // 2, height)
        w, h = rng.randrange(30, 120), rng.randrange(60, 300)
        draw.rectangle([x, y - h, x + w, y], fill=(rng.randrange(0, 255), rng.randrange(0, 255), 90))
    font = ImageFont.load_default(size=72)
    draw.text((60, height - 140), caption, fill=(255, 255, 255), font=font, stroke_width=3,
              stroke_fill=(0, 0, 0))
    return image


def _write_photo(path: Path, photo: SamplePhoto, seed: int) -> None:
    image = _picture(seed, photo.place.name)
    if photo.orientation == 6:
        # Stored as a camera held upright writes it: pixels rotated, EXIF saying how to turn them back.
        image = image.transpose(Image.Transpose.ROTATE_90)
    image.save(path, "JPEG", quality=90, exif=_exif(photo))


def _write_near_duplicate(source: Path, path: Path) -> None:
    """A resized, re-encoded copy with the same EXIF: different bytes, nearly the same dHash."""
    with Image.open(source) as original:
        exif = original.getexif()
        small = original.resize((original.width // 2, original.height // 2), Image.Resampling.LANCZOS)
    small.save(path, "JPEG", quality=80, exif=exif)


def _write_png(path: Path) -> None:
    image = Image.new("RGB", (800, 600), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    bars = [("objects", 7), ("faces", 3), ("ocr", 5), ("speech", 2), ("dhash", 9)]
    for i, (label, value) in enumerate(bars):
        y = 80 + i * 100
        draw.text((40, y + 10), label, fill=(20, 20, 20), font=font)
        draw.rectangle([260, y, 260 + value * 55, y + 60], fill=(60, 110 + i * 25, 200))
    draw.text((40, 10), "pava sample diagram", fill=(0, 0, 0), font=font)
    image.save(path, "PNG")


def _write_video(path: Path) -> None:
    """Three seconds: two scenes (so the keyframe logic has a cut to find) and a tone, with QuickTime GPS."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg); the sample video needs it")
    place = VIDEO_PLACE
    location = f"{place.lat:+08.4f}{place.lon:+09.4f}/"
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=1.5",
         "-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=25,trim=duration=1.5",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3",
         "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]",
         "-map", "[v]", "-map", "2:a",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-c:a", "aac", "-b:a", "64k",
         "-metadata", f"creation_time={VIDEO_TIME}", "-metadata", f"location={location}",
         # bitexact: the same bytes on every run, so a regenerated sample dedups against the first one.
         "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
         "-movflags", "+faststart", str(path)],
        check=True, capture_output=True, timeout=120,
    )


def generate(directory: Path) -> list[SampleFile]:
    """Write the sample set into ``directory``; files that already exist are left alone."""
    written: list[SampleFile] = []

    def target(rel_path: str) -> Path | None:
        path = directory / rel_path
        if path.exists():
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    for seed, photo in enumerate(PHOTOS, start=1):
        if (path := target(photo.rel_path)) is not None:
            _write_photo(path, photo, seed)
            written.append(SampleFile(photo.rel_path, f"photo, EXIF and GPS: {photo.place.name}"))
    source, copy = EXACT_DUPLICATE
    if (path := target(copy)) is not None:
        shutil.copyfile(directory / source, path)
        written.append(SampleFile(copy, f"exact duplicate of {source}"))
    source, near = NEAR_DUPLICATE
    if (path := target(near)) is not None:
        _write_near_duplicate(directory / source, path)
        written.append(SampleFile(near, f"near-duplicate of {source} (half size, re-encoded)"))
    if (path := target(PNG_PATH)) is not None:
        _write_png(path)
        written.append(SampleFile(PNG_PATH, "PNG without metadata (time falls back to the file's)"))
    if (path := target(VIDEO_PATH)) is not None:
        _write_video(path)
        written.append(SampleFile(VIDEO_PATH, f"video with sound and GPS: {VIDEO_PLACE.name}"))
    log.info("sample set: %d files written to %s", len(written), directory)
    return written


def file_count() -> int:
    """How many files a complete sample set has."""
    return len(PHOTOS) + 4
