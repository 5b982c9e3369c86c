"""Decoding (which is also the validation) and the two thumbnails: a grid WebP and a preview JPEG.

One decode per photo, at reduced size: for JPEG, ``draft()`` makes libjpeg decode directly at 1/2, 1/4
or 1/8 scale (the smallest that still covers the preview), which is most of the saving; the preview is
resized from that and the grid from the preview. The decode is complete: a truncated file raises (Pillow's
``LOAD_TRUNCATED_IMAGES`` stays False), so garbage never becomes a thumbnail.

Decompression bombs are refused from the header: the declared size is checked against
``ingest.max_image_pixels`` before any pixel is allocated, and Pillow's own bomb warning is turned into
an error so that no code path decodes past the limit.
"""

from __future__ import annotations

import io
import logging
import secrets
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, UnidentifiedImageError

from core.media import RAW_FORMATS
from core.settings import IngestSettings
from core.storage import THUMB_GRID, THUMB_PREVIEW, resolve, thumbnail_rel
from ingest import outcome
from ingest.outcome import Rejected

log = logging.getLogger(__name__)

# Pillow format names that may open each of our formats (MPO: JPEGs with a multi-picture trailer).
PIL_FORMATS: dict[str, list[str]] = {
    "jpeg": ["JPEG", "MPO"], "png": ["PNG"], "webp": ["WEBP"], "tiff": ["TIFF"], "gif": ["GIF"],
    "heic": ["HEIF"], "heif": ["HEIF"], "avif": ["AVIF", "HEIF"],
}

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose does).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

PREVIEW_QUALITY = 85
GRID_QUALITY = 80

_configure_lock = threading.Lock()


def configure(settings: IngestSettings) -> None:
    """Process-wide decoder settings: the pixel limit, no truncated images, HEIF support."""
    with _configure_lock:
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        # Pillow warns between 1x and 2x the limit and raises above; a warning would let it decode.
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
        import pillow_heif

        pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class Rendered:
    """The decoded picture's sizes and its encoded thumbnails."""

    stored_width: int  # as encoded in the file
    stored_height: int
    width: int  # as displayed (orientation applied)
    height: int
    grid: bytes  # WebP
    preview: bytes  # JPEG


def displayed_size(width: int, height: int, orientation: int | None) -> tuple[int, int]:
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size that fits ``long_side`` keeping the aspect ratio, never enlarging."""
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_rgb(im: Image.Image) -> Image.Image:
    """An RGB picture for the encoders: alpha flattened on white, 16-bit and CMYK converted."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        array = np.asarray(im, dtype=np.float64)
        peak = float(array.max()) or 1.0
        # 16-bit and float pictures: scale their own range to 8 bits rather than clip at 255.
        im = Image.fromarray((array * (255.0 / peak)).clip(0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


def render(picture: Image.Image, orientation: int | None, settings: IngestSettings,
           icc_profile: bytes | None = None) -> tuple[bytes, bytes]:
    """(grid WebP, preview JPEG) from a decoded picture, ``orientation`` applied."""
    picture = _to_rgb(picture)
    # Resize before transposing: the long side does not depend on orientation, and the transpose is
    # cheaper on the smaller picture. This resize is the largest cost after the decode. At the ratios a
    # JPEG draft leaves (under 2: 2000 -> 1440 px for 12 MP) BOX, an area average, is the cheapest
    # anti-aliased filter: 15 to 20 ms against 20 to 23 for BILINEAR and 48 for LANCZOS, within one level
    # in 255 of LANCZOS on average (measured with bench/bench_ingest.py photos). Larger ratios (PNG,
    # HEIC, TIFF: no draft) reduce by an integer factor first, then resample with BILINEAR.
    size = _fit(*picture.size, settings.thumb_preview_size)
    if size == picture.size:
        preview = picture
    elif picture.width < 2 * size[0]:
        preview = picture.resize(size, Image.Resampling.BOX)
    else:
        preview = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    transpose = _TRANSPOSE.get(orientation or 1)
    if transpose is not None:
        preview = preview.transpose(transpose)
    # The grid image is a quarter of the preview or less: an integer box reduction to about its size, then
    # LANCZOS for the remainder (1 ms, where LANCZOS from the full preview takes 15).
    grid_size = _fit(*preview.size, settings.thumb_grid_size)
    grid = preview if grid_size == preview.size else preview.resize(grid_size, Image.Resampling.LANCZOS,
                                                                      reducing_gap=1.0)
    out = io.BytesIO()
    extra: dict[str, Any] = {"icc_profile": icc_profile} if icc_profile else {}
    preview.save(out, "JPEG", quality=PREVIEW_QUALITY, **extra)
    preview_bytes = out.getvalue()
    out = io.BytesIO()
    # WebP method 2 of 6: half the encoding time of the default 4 for a 360 px picture, a few % larger.
    grid.save(out, "WEBP", quality=GRID_QUALITY, method=2, **extra)
    return out.getvalue(), preview_bytes


def _raw_preview(source: bytes | str) -> tuple[bytes | Image.Image, tuple[int, int]]:
    """The embedded preview of a RAW file (JPEG bytes or a bitmap) and the sensor's visible size."""
    import rawpy

    stream: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with rawpy.imread(stream) as raw:
            size = (int(raw.sizes.width), int(raw.sizes.height))
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                # No usable preview: develop at half size (slow, but rare in camera files).
                return Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True)), size
    except rawpy.LibRawError as exc:
        raise Rejected(outcome.CORRUPT, f"RAW file cannot be read: {exc}") from exc
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return bytes(thumb.data), size
    import numpy as np

    return Image.fromarray(np.asarray(thumb.data)), size


def _open(source: bytes | str, formats: list[str] | None, max_pixels: int) -> Image.Image:
    try:
        im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected(outcome.DECOMPRESSION_BOMB, f"refused before decoding: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise Rejected(outcome.CORRUPT, f"not a decodable {'/'.join(formats or ['image'])} file") from exc
    except (OSError, ValueError, SyntaxError, struct.error, EOFError) as exc:
        raise Rejected(outcome.CORRUPT, f"header cannot be read: {exc}") from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        im.close()
        raise Rejected(outcome.CORRUPT, f"declares an empty size {width}x{height}")
    if width * height > max_pixels:
        im.close()
        raise Rejected(outcome.DECOMPRESSION_BOMB, f"declares {width}x{height} = {width * height:,} pixels, "
                                                   f"over the limit of {max_pixels:,}")
    return im


def _decode(im: Image.Image, want: tuple[int, int]) -> Image.Image:
    """Decode fully at the smallest JPEG scale that still covers ``want``; any defect is a rejection."""
    try:
        if im.format in ("JPEG", "MPO"):
            im.draft("RGB", want)
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected(outcome.DECOMPRESSION_BOMB, str(exc)) from exc
    except OSError as exc:
        message = str(exc)
        if "truncated" in message or "broken data stream" in message or "premature end" in message.lower():
            raise Rejected(outcome.TRUNCATED, f"image data is incomplete ({message})") from exc
        raise Rejected(outcome.CORRUPT, f"image data cannot be decoded ({message})") from exc
    except (ValueError, SyntaxError, struct.error, EOFError, MemoryError) as exc:
        raise Rejected(outcome.CORRUPT, f"image data cannot be decoded ({exc})") from exc
    return im


def render_photo(source: bytes | str, fmt: str, orientation: int | None,
                 settings: IngestSettings) -> Rendered:
    """Validate a photo by decoding it (from its bytes, or a path when too large to keep) and render both
    thumbnails. ``orientation`` is the file's EXIF orientation as exiftool read it."""
    stored: tuple[int, int] | None = None
    formats = PIL_FORMATS.get(fmt)
    if fmt in RAW_FORMATS:
        embedded, stored = _raw_preview(source)
        if isinstance(embedded, Image.Image):
            grid, preview = render(embedded, orientation, settings)
            return Rendered(*stored, *displayed_size(*stored, orientation), grid, preview)
        source, formats = embedded, PIL_FORMATS["jpeg"]
    im = _open(source, formats, settings.max_image_pixels)
    with im:
        if stored is None:
            stored = im.size
        if im.format in ("HEIF", "AVIF"):
            # libheif has already applied the container's rotation and mirroring (irot/imir), which
            # take precedence over EXIF in HEIF: the decoded picture is upright.
            orientation = None
        width, height = stored
        want = _fit(width, height, settings.thumb_preview_size)
        picture = _decode(im, want)
        icc = picture.info.get("icc_profile")
        grid, preview = render(picture, orientation, settings, icc if isinstance(icc, bytes) else None)
    return Rendered(stored[0], stored[1], *displayed_size(*stored, orientation), grid, preview)


def render_frame(frame: Image.Image, settings: IngestSettings) -> tuple[bytes, bytes]:
    """(grid, preview) from a video frame that is already upright (ffmpeg applies the rotation)."""
    return render(frame, None, settings)


def write_thumbnails(storage_root: Path, sha512_hex: str, grid: bytes, preview: bytes) -> None:
    """Write both files atomically (temporary name, then rename): a crash never leaves half a file."""
    for size_name, data in ((THUMB_GRID, grid), (THUMB_PREVIEW, preview)):
        target = resolve(storage_root, thumbnail_rel(sha512_hex, size_name))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.pava-tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
        tmp.replace(target)


def remove_thumbnail_temporaries(storage_root: Path, sha512_hex: str) -> int:
    """Delete temporaries an interrupted ``write_thumbnails`` left for this item (crash recovery)."""
    folder = resolve(storage_root, thumbnail_rel(sha512_hex, THUMB_GRID)).parent
    removed = 0
    if folder.is_dir():
        for leftover in folder.glob(f".{sha512_hex}.*.pava-tmp"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed
