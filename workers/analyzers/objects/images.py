"""Decoding photos (and sizing video frames) for a detector, never with more pixels than it needs.

A detector looks at a few hundred pixels a side: YOLO at ``input_size`` on the long side, SSD at
300x300. A JPEG is therefore decoded with libjpeg's DCT scaling (``Image.draft``, 1/2 to 1/8) straight
to the smallest size that still covers the model's input, so a 50-megapixel photo costs the memory of a
1-megapixel one. Other formats have no reduced decode; their size is bounded by the bomb limit and they
are box-reduced by an integer factor after decoding.

What remains is at most twice the model's input, never less: the last resize is the backend's own
bilinear one, which is how both models were trained (a plain bilinear halving, no antialiasing).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.media import RAW_FORMATS
from core.storage import THUMB_PREVIEW, thumbnail_rel
from workers.analyzer import MediaItem, PermanentError, TransientError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class Need:
    """The smallest image a backend can use: long side >= ``long``, short side >= ``short``."""

    long: int
    short: int = 0

    def scale(self, width: int, height: int) -> float:
        """The factor that brings ``width`` x ``height`` down to just cover this need (never above 1)."""
        wanted = self.long / max(width, height)
        if self.short:
            wanted = max(wanted, self.short / min(width, height))
        return min(wanted, 1.0)

    def covered_by(self, width: int, height: int) -> bool:
        """Whether an image of this size (either orientation) has all the pixels the model needs."""
        return max(width, height) >= self.long and min(width, height) >= self.short

    def max_side(self) -> int:
        """A long side that covers the need for any aspect ratio up to 2:1 (for video frames, whose size
        ffmpeg knows and we do not)."""
        return max(self.long, 2 * self.short)


def load_photo(item: MediaItem, need: Need, max_pixels: int, *, use_preview: bool = True) -> Image.Image:
    """The photo as RGB, EXIF orientation applied, at least ``need`` and at most about twice that.

    The ingester's preview JPEG (upright, 1440 px by default) is read instead of the original when it
    covers ``need`` and the original is larger: a 12 MP JPEG costs about 20 ms of CPU to decode even at
    1/8 scale (libjpeg still reads every coefficient), its preview 5 ms, and a 12 MP HEIC far more. RAW
    photos are always read through the preview: Pillow cannot demosaic them. Raises ``PermanentError`` for
    a file that is not a decodable image, is truncated, or declares more than ``max_pixels`` pixels.
    """
    path = item.path
    preview = item.storage_root / thumbnail_rel(item.sha512, THUMB_PREVIEW)
    if path.suffix.lower().lstrip(".") in RAW_FORMATS:
        if not preview.is_file():
            raise PermanentError(f"RAW photo without an ingest preview ({preview.name}); cannot decode it")
        return decode(preview, need, max_pixels)
    if use_preview and preview.is_file():
        try:
            preview_size: tuple[int, int] | None = _header_size(preview)
        except PermanentError as exc:  # a damaged preview must not fail a good original
            log.warning("unreadable preview %s (%s): decoding the original", preview, exc)
            preview_size = None
        # The original's header is read only now: a corrupt original fails here, as it should.
        useful = preview_size is not None and need.covered_by(*preview_size)
        if preview_size is not None and useful and _pixels(_header_size(path)) > _pixels(preview_size):
            try:
                return decode(preview, need, max_pixels)
            except PermanentError as exc:
                log.warning("unreadable preview %s (%s): decoding the original", preview, exc)
    return decode(path, need, max_pixels)


def _pixels(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _header_size(path: Path) -> tuple[int, int]:
    """The stored size from the header alone (no pixel decoded)."""
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    try:
        with Image.open(path) as image:
            width, height = image.size
            return width, height
    except (Image.DecompressionBombError, UnidentifiedImageError, SyntaxError, ValueError, EOFError) as exc:
        raise PermanentError(f"unreadable image header: {exc}") from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise TransientError(f"photo not found: {path}") from exc
        raise PermanentError(f"unreadable image header: {exc}") from exc


def decode(path: Path, need: Need, max_pixels: int) -> Image.Image:
    """Decode an image file for a detector (see ``load_photo``)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
    # Opening the file is outside the error translation: a storage that is briefly away is worth a retry.
    # Everything after this concerns the bytes themselves, and fails the same way every time: permanent.
    try:
        handle = path.open("rb")
    except FileNotFoundError as exc:
        raise TransientError(f"photo not found: {path}") from exc
    with handle:
        try:
            image: Image.Image = Image.open(handle)
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise PermanentError(f"image declares {width}x{height} pixels (limit {max_pixels}): "
                                     "refused as a decompression bomb")
            scale = need.scale(width, height)
            if image.format == "JPEG" and scale < 1.0:
                # draft picks the largest DCT scale whose result is still at least the requested size.
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            image.load()
            # In place: without it, an upright image (the usual case) is copied for nothing.
            ImageOps.exif_transpose(image, in_place=True)
            if image.mode != "RGB":
                image = _to_rgb(image)
        except Image.DecompressionBombError as exc:
            raise PermanentError(f"image refused as a decompression bomb: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise PermanentError(f"not an image Pillow can read: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Pillow's decoders report truncated or corrupt data as OSError ("image file is truncated",
            # "broken data stream"), some plugins as SyntaxError or ValueError.
            raise PermanentError(f"corrupt or truncated image: {exc}") from exc
    return reduce_for(image, need)


def reduce_for(image: Image.Image, need: Need) -> Image.Image:
    """Box-reduce by the largest integer factor that keeps the image covering ``need``."""
    factor = int(1.0 / need.scale(*image.size))
    if factor >= 2:
        return image.reduce(factor)
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels over white, as a viewer shows them; converting straight to RGB would
        # reveal whatever colour the transparent pixels happen to hold (often black).
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I;16"):
        # 16-bit gray: Pillow's RGB conversion clips at 255 (a white image); scale to 8 bits instead.
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def _register_heif() -> None:
    global _heif_registered  # noqa: PLW0603 (a process-wide plugin registration, done once)
    if _heif_registered:
        return
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:  # a host without pillow-heif still reads every other format
                log.warning("pillow-heif is not installed: HEIC/HEIF photos cannot be analysed")
            _heif_registered = True
