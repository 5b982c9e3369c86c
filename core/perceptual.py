"""dHash: a 64-bit perceptual hash of an image, and the integer helpers around it.

The definition is imagehash's ``dhash`` (so hashes are comparable with that widely used library):
grayscale, resize to 9x8, bit = ``pixel[x + 1] > pixel[x]`` for the 8 comparisons of each of the 8
rows, row-major, first bit most significant. Unlike ``imagehash.dhash(Image.open(f))`` the EXIF
orientation is applied first, so a rotated phone photo hashes like its upright copy.

Speed comes from never decoding a full-size image: a JPEG is decoded with libjpeg's DCT scaling
(``Image.draft``) straight to a gray image at 1/2..1/8 of its size, and only that small image is
rotated and resized. Everything heavy is imported inside the functions, so the CLI and the API can
import this module for the integer helpers without Pillow or numpy.

This module lives in ``core`` because the CLI and the API hash a query image too, and neither may
import ``workers``; it raises its own errors and the dHash analyzer maps them to PermanentError.
"""

from __future__ import annotations

import logging
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

log = logging.getLogger(__name__)

HASH_BITS = 64
HASH_WIDTH = 9  # 9 columns give 8 left/right comparisons per row
HASH_HEIGHT = 8
_MASK64 = (1 << 64) - 1

# The JPEG decoder is asked for an image no smaller than this: libjpeg then picks the largest
# DCT scale (1/8 at most) that stays above it. About 32 source pixels per hash cell keep the result
# close to imagehash's LANCZOS resize of the full image: on the corpus a request of 72x64 differed
# by 1.0 bit on average, 144x128 by 0.6, 288x256 by 0.1 (bench/README.md has the 12 MP figures).
# A 12-megapixel photo is decoded at 1/8 (500x375) either way.
_DRAFT_SIZE = (HASH_WIDTH * 32, HASH_HEIGHT * 32)

_heif_lock = threading.Lock()
_heif_registered = False


class ImageHashError(ValueError):
    """The file cannot be hashed: not an image, corrupt or truncated, or too large (a bomb).

    Permanent by nature: the same bytes fail the same way again. A missing or unreadable file is an
    ``OSError`` instead, because a storage mount that is briefly away is worth a retry.
    """


class UnsupportedImageError(ImageHashError):
    """Pillow does not recognise the format (text, RAW, an unknown container)."""


# --- integer helpers -----------------------------------------------------------------------------


def to_signed(value: int) -> int:
    """The unsigned 64-bit hash as Postgres ``bigint`` stores it (two's complement)."""
    if not 0 <= value <= _MASK64:
        raise ValueError(f"not an unsigned 64-bit value: {value}")
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """The signed ``bigint`` form back to the unsigned 64-bit hash."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"not a signed 64-bit value: {value}")
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Number of differing bits; accepts signed or unsigned forms (compared as 64-bit patterns)."""
    return ((a ^ b) & _MASK64).bit_count()


def to_hex(value: int) -> str:
    """16 lowercase hex digits, the same text ``str(imagehash.dhash(...))`` prints."""
    return f"{value & _MASK64:016x}"


def from_hex(text: str) -> int:
    """Parse the 16-hex-digit form back to the unsigned hash."""
    if len(text) != 16:
        raise ValueError(f"a dHash is 16 hex digits, got {text!r}")
    return int(text, 16)


def bands(value: int) -> tuple[int, int, int, int]:
    """The four 16-bit bands, most significant first: the b0..b3 columns of ``perceptual_hash``."""
    value &= _MASK64
    return ((value >> 48) & 0xFFFF, (value >> 32) & 0xFFFF, (value >> 16) & 0xFFFF, value & 0xFFFF)


# --- hashing -------------------------------------------------------------------------------------


def dhash_pixels(pixels: npt.NDArray[np.uint8] | npt.NDArray[np.integer]) -> int:
    """dHash of a 9-wide, 8-high gray array (rows x columns = 8 x 9): unsigned 64-bit integer."""
    import numpy as np

    array = np.asarray(pixels)
    if array.shape != (HASH_HEIGHT, HASH_WIDTH):
        raise ValueError(f"expected an 8x9 array (rows x columns), got {array.shape}")
    diff = array[:, 1:] > array[:, :-1]
    # packbits is big-endian within each byte: row-major bits, first bit most significant.
    return int.from_bytes(np.packbits(diff.ravel()).tobytes(), "big")


def dhash_image(image: Image.Image) -> int:
    """dHash of a decoded image, as it is (no orientation applied here: see ``dhash_file``)."""
    import numpy as np
    from PIL import Image

    gray = image if image.mode == "L" else image.convert("L")
    # A plain LANCZOS, as imagehash does: Pillow's reducing_gap shortcut was measured to move the
    # hash by 2 to 3 bits on average, more than everything else together.
    small = gray.resize((HASH_WIDTH, HASH_HEIGHT), Image.Resampling.LANCZOS)
    return dhash_pixels(np.asarray(small, dtype=np.uint8))


def _register_heif() -> None:
    global _heif_registered  # noqa: PLW0603 (a process-wide, idempotent plugin registration)
    if _heif_registered:
        return
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif
            except ImportError:  # HEIC is optional for the API host; JPEG and friends still work
                log.debug("pillow-heif not installed: HEIC/HEIF images cannot be hashed")
            else:
                pillow_heif.register_heif_opener()
            _heif_registered = True


def load_small(path: Path | str, *, max_pixels: int | None = None, min_size: tuple[int, int] = _DRAFT_SIZE,
               ) -> Image.Image:
    """Open an image reduced cheaply to no less than ``min_size``, orientation applied, mode L or RGB.

    Raises ``ImageHashError`` for anything that is not a decodable image of acceptable size, and lets
    ``OSError`` through when the file itself cannot be opened.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    # Opened here, outside the decode guard, so that a missing file stays an OSError (retried).
    with Path(path).open("rb") as handle:
        try:
            with Image.open(handle) as image:
                width, height = image.size
                # Image.open only parsed the header: refuse before any pixel is decoded.
                if limit is not None and width * height > limit:
                    raise ImageHashError(
                        f"image of {width}x{height} = {width * height} pixels exceeds the limit of {limit}"
                    )
                if image.format == "JPEG":
                    # Decode the luma channel only, at the smallest DCT scale >= min_size.
                    image.draft("L", min_size)
                image.load()
                # exif_transpose reads the orientation from the (still attached) EXIF and returns a
                # rotated copy; on the drafted image this costs next to nothing.
                oriented = ImageOps.exif_transpose(image)
                result = oriented if oriented is not None else image.copy()
        except ImageHashError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageHashError(f"decompression bomb refused: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise UnsupportedImageError(f"not an image format Pillow can read: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            # Pillow reports truncation and corrupt streams as OSError/SyntaxError/ValueError, and
            # some plugins let struct.error escape on malformed headers.
            raise ImageHashError(f"cannot decode image: {exc}") from exc
    if result.mode not in ("L", "RGB"):
        result = result.convert("L")
    return result


def dhash_file(path: Path | str, *, max_pixels: int | None = None) -> int:
    """dHash (unsigned 64-bit) of an image file, EXIF orientation applied.

    ``max_pixels`` refuses images with more pixels than this before decoding (default: Pillow's
    ``Image.MAX_IMAGE_PIXELS``). Raises ``ImageHashError`` for bad images, ``OSError`` when the file
    cannot be opened at all.
    """
    image = load_small(path, max_pixels=max_pixels)
    try:
        return dhash_image(image)
    finally:
        image.close()
