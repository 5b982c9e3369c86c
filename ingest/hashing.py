"""SHA-512 while reading: each file is read once, and (for photos of a sane size) its bytes are kept for
decoding so that the decoder does not read it again.

hashlib releases the GIL on large updates, so several threads hash in parallel.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

CHUNK = 1 << 20

# Photos up to this size are kept in memory after hashing and decoded from there (one read). Larger
# files (a panorama TIFF, a video) are decoded from the file by whoever needs them.
KEEP_MAX_BYTES = 256 * 1024 * 1024


class ChangedWhileReading(Exception):
    """The file's size differs from what fstat said: someone is writing to it."""


@dataclass(frozen=True)
class Digest:
    sha512: bytes
    size: int
    data: bytes | None  # the whole file, when kept

    @property
    def hex(self) -> str:
        return self.sha512.hex()


def read_and_hash(fd: int, size: int, *, keep: bool) -> Digest:
    """Hash the open file from offset 0, keeping its bytes when ``keep`` (and it is small enough).

    Reads with ``pread`` so the descriptor's offset does not matter; raises ``ChangedWhileReading`` if
    the file turns out shorter or longer than ``size``.
    """
    hasher = hashlib.sha512()
    keep = keep and size <= KEEP_MAX_BYTES
    buf = bytearray(size) if keep else bytearray(min(size, CHUNK) or 1)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        if keep:
            n = os.preadv(fd, [view[pos:pos + CHUNK]], pos)
            chunk = view[pos:pos + n]
        else:
            n = os.preadv(fd, [view[:min(CHUNK, size - pos)]], pos)
            chunk = view[:n]
        if n == 0:
            raise ChangedWhileReading(f"file ended at {pos} bytes, expected {size}")
        hasher.update(chunk)
        pos += n
    if os.pread(fd, 1, size):
        raise ChangedWhileReading(f"file grew beyond {size} bytes while being read")
    return Digest(hasher.digest(), size, bytes(buf) if keep else None)


def hash_path(path: str | bytes | os.PathLike[str]) -> tuple[bytes, int]:
    """SHA-512 and size of a file, not following a final symlink (used by recovery and tests)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        digest = read_and_hash(fd, size, keep=False)
        return digest.sha512, digest.size
    finally:
        os.close(fd)
