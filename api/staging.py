"""Where uploads wait while they are received: ``<storage root>/.uploads/<random>/``, one folder per request.

Inside the storage root, so that the ingester's move of a received file into ``originals/`` is a rename
on the same file system, not a second copy of every byte. The folder is private (0700), named randomly,
and removed when the request ends, however it ends. A folder left by a process that was killed is
removed by a later request once it is a day old (an upload still running for a day is not plausible).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

STAGING_DIR = ".uploads"
STALE_SECONDS = 24 * 3600


def staging_root(storage_root: Path) -> Path:
    return storage_root / STAGING_DIR


@contextmanager
def staging_folder(storage_root: Path) -> Iterator[Path]:
    """A new private folder under ``<storage root>/.uploads``, removed with its content on exit."""
    base = staging_root(storage_root)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    _remove_stale(base)
    folder = Path(tempfile.mkdtemp(dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale(base: Path) -> None:
    cutoff = time.time() - STALE_SECONDS
    for entry in base.iterdir():
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                log.info("removing an upload folder left by an interrupted request: %s", entry)
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            continue  # another request removed it meanwhile
