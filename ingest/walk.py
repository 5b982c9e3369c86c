"""Walking the drop folder: what to offer to the pipeline, what to leave alone.

Symlinks are never followed (a symlink is offered as itself, and the pipeline rejects it without reading
through it), so the walk cannot loop through links or escape the folder; bind-mount loops are cut by
remembering each directory's (device, inode). Names are handled as bytes, so a name that is not UTF-8
is offered too (and rejected with its bytes kept), never crashing the walk or being silently dropped.
"""

# ruff: noqa: PTH115, PTH116, PTH118
# Paths here are bytes (a file name need not be UTF-8) and symlinks must be handled as links, never
# followed: the os functions say exactly that, pathlib cannot carry bytes.

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest import outcome

log = logging.getLogger(__name__)

# Names written by downloaders, editors and copy tools while a file is incomplete (compared lower-case).
TEMP_SUFFIXES = (
    b"~", b".tmp", b".temp", b".part", b".partial", b".crdownload", b".download", b".swp", b".swo",
    b".swx", b".!ut", b".!qb", b".opdownload", b".filepart", b".aria2", b".pava-tmp",
)
TEMP_PREFIXES = (b"~$",)
# Files and folders that operating systems and NAS boxes leave behind: never media, never ours to move.
SYSTEM_NAMES = frozenset({b"thumbs.db", b"desktop.ini", b"icon\r", b"@eadir", b"#recycle", b"#snapshot",
                          b"lost+found", b"$recycle.bin", b"system volume information"})


def display_path(rel: bytes) -> str:
    """A relative path as text: UTF-8, with any undecodable byte written as a ``\\xNN`` escape."""
    return rel.decode("utf-8", "backslashreplace")


def is_utf8(rel: bytes) -> bool:
    try:
        rel.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def skip_reason(name: bytes) -> str | None:
    """Why a file with this name is not offered at all (hidden or temporary), or None."""
    lower = name.lower()
    if name.startswith(b".") or lower in SYSTEM_NAMES:
        return outcome.HIDDEN
    if lower.endswith(TEMP_SUFFIXES) or name.startswith(TEMP_PREFIXES):
        return outcome.TEMPORARY
    return None


@dataclass(frozen=True)
class Entry:
    """One file (or symlink, or other non-directory) found under ``root``, with its lstat at walk time."""

    root: Path
    rel: bytes
    stat: os.stat_result
    name_as: str | None = None  # the relative path to record instead of ``rel`` (API uploads)
    link_note: str | None = None  # for a symlink: what it pointed to when the walk saw it

    @property
    def path(self) -> str:
        """The relative path as stored in the database and used under originals/."""
        return self.name_as if self.name_as is not None else display_path(self.rel)

    @property
    def abspath(self) -> bytes:
        return os.path.join(os.fsencode(self.root), self.rel)

    @property
    def utf8(self) -> bool:
        return is_utf8(self.rel)


@dataclass(frozen=True)
class Skip:
    """A file the walk leaves alone, with the reason (hidden, temporary, unsettled)."""

    root: Path
    rel: bytes
    reason: str

    @property
    def path(self) -> str:
        return display_path(self.rel)


def describe_symlink(root: bytes, rel: bytes) -> str:
    """What a symlink points to, said without reading through it. Decided during the walk, before any
    file is moved: once one link of a loop is quarantined, the other would merely look dangling."""
    path = os.path.join(root, rel)
    try:
        target = os.fsdecode(os.readlink(path))
    except OSError:
        target = "?"
    try:
        os.stat(path)  # resolves the chain (metadata only), to tell a loop from a dangling link
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symlink loop (-> {target}); symlinks are never followed"
        return f"dangling symlink (-> {target}); symlinks are never followed"
    real = os.path.realpath(path)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        return f"symlink pointing outside the drop folder (-> {target}); not read"
    return f"symlink (-> {target}); symlinks are never followed, the file it points to is ingested itself"


def unsettled(st: os.stat_result, settle_seconds: float, now: float) -> bool:
    """True when the file was modified too recently to be complete.

    A modification time in the future (a camera clock, ``cp -p`` of such a file) says nothing about
    whether the file is still being written, so the inode change time, which the user cannot set,
    decides instead.
    """
    if settle_seconds <= 0:
        return False
    last = st.st_mtime if st.st_mtime <= now else st.st_ctime
    return last > now - settle_seconds


def walk(root: Path, *, settle_seconds: float, exclude: Iterable[Path] = (),
         on_error: Callable[[str, OSError], None] | None = None) -> Iterator[Entry | Skip]:
    """Every non-directory entry under ``root``, depth first, in name order.

    ``exclude`` names directories never to enter (the storage root, when it lies inside the drop
    folder). A directory that cannot be listed is reported to ``on_error`` and the walk goes on.
    """
    root_b = os.fsencode(root)
    excluded: set[tuple[int, int]] = set()
    for path in exclude:
        try:
            st = os.stat(path)
        except OSError:
            continue
        excluded.add((st.st_dev, st.st_ino))
    seen: set[tuple[int, int]] = set()
    try:
        st = os.stat(root_b)
    except OSError as exc:
        if on_error:
            on_error("", exc)
        return
    seen.add((st.st_dev, st.st_ino))
    stack: list[bytes] = [b""]
    now = time.time()
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root_b, rel_dir) if rel_dir else root_b) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", display_path(rel_dir) or ".", exc.strerror)
            if on_error:
                on_error(display_path(rel_dir), exc)
            continue
        subdirs: list[bytes] = []
        for entry in entries:
            name = entry.name
            rel = os.path.join(rel_dir, name) if rel_dir else name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished between listing and stat
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if skip_reason(name) == outcome.HIDDEN or key in excluded or key in seen:
                    continue
                seen.add(key)
                subdirs.append(rel)
                continue
            reason = skip_reason(name)
            if reason is None and not stat.S_ISLNK(st.st_mode) and unsettled(st, settle_seconds, now):
                reason = outcome.UNSETTLED
            if reason is not None:
                yield Skip(root, rel, reason)
                continue
            note = describe_symlink(root_b, rel) if stat.S_ISLNK(st.st_mode) else None
            yield Entry(root, rel, st, link_note=note)
        # Depth first in name order: push in reverse so the first name is visited first.
        stack.extend(reversed(subdirs))
