"""The storage layout. Every path stored in the database or sent in a message is relative to the root,
so that a worker host may mount the storage anywhere.

    originals/    moved in from the drop folder, keeping its hierarchy; never modified
    duplicates/   exact duplicates (same SHA-512) of an original, kept, never analysed
    quarantine/   rejected files, kept as they came
    derived/      thumbnails, face chips, subtitles: everything pava makes and can make again
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

ORIGINALS = "originals"
DUPLICATES = "duplicates"
QUARANTINE = "quarantine"
DERIVED = "derived"

THUMB_GRID = "grid"
THUMB_PREVIEW = "preview"


class UnsafePathError(ValueError):
    """A relative path that would leave the storage root."""


def safe_relative(rel: str) -> PurePosixPath:
    """Validate a storage-relative path from a message or a database row."""
    path = PurePosixPath(rel)
    if path.is_absolute() or not path.parts or any(part in ("..", "") for part in path.parts):
        raise UnsafePathError(f"not a safe relative path: {rel!r}")
    return path


def resolve(root: Path, rel: str) -> Path:
    """The absolute path of a storage-relative path, refusing anything that escapes the root."""
    return root / safe_relative(rel)


def thumbnail_rel(sha512_hex: str, size_name: str) -> str:
    """Where the thumbnail of a given size lives: named by content, so re-rendering overwrites it."""
    ext = "webp" if size_name == THUMB_GRID else "jpg"
    return f"{DERIVED}/thumbs/{sha512_hex[:2]}/{sha512_hex[2:4]}/{sha512_hex}.{size_name}.{ext}"


def derived_dir_rel(sha512_hex: str, what: str) -> str:
    """A per-item folder for derived files of one kind (face chips, subtitles...)."""
    return f"{DERIVED}/{what}/{sha512_hex[:2]}/{sha512_hex[2:4]}/{sha512_hex}"
