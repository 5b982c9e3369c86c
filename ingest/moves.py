"""Moving a file from the drop folder into storage without ever clobbering, losing or altering it.

Same file system: ``link`` the inode under its new name (which fails rather than overwrite), check that
the linked inode is the one that was read and hashed, then ``unlink`` the old name. Across file systems:
copy into a temporary file beside the destination while hashing it again, ``fsync``, compare the hash,
``link`` the temporary file to its final name (again no clobber), and only then remove the source.

Temporary files are named ``.<name>.<tag>.pava-tmp`` where the tag names the database row that owns
the move, so crash recovery can find and delete the leftovers of exactly that row.
"""

# ruff: noqa: PTH101, PTH108, PTH115, PTH211
# Paths here are bytes (a file name need not be UTF-8) and symlinks must be handled as links, never
# followed: the os functions say exactly that, pathlib cannot carry bytes.

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from pathlib import Path

from ingest import failpoints

log = logging.getLogger(__name__)

TMP_SUFFIX = ".pava-tmp"
_COPY_CHUNK = 1 << 20


class DestinationTaken(Exception):
    """Something already exists at the destination name: choose another name."""


class SourceChanged(Exception):
    """The name in the drop folder no longer refers to the content that was read."""


class SourceVanished(Exception):
    """The source name disappeared (another process moved it)."""


class CannotMove(Exception):
    """The file cannot be moved (cross-device special file, no permission to remove the source...)."""


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """Same inode, and unchanged: an inode number freed by a deletion is reused at once by the next file
    created, so device and inode alone cannot tell a swapped file from the one that was read. A link
    changes neither size nor mtime (only ctime), so this holds across the move."""
    return os.path.samestat(a, b) and (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def tmp_name(destination: Path, tag: str) -> Path:
    return destination.with_name(f".{destination.name}.{tag}{TMP_SUFFIX}")


def remove_temporaries(destination: Path) -> int:
    """Delete the temporary files of an interrupted move to ``destination`` (crash recovery)."""
    removed = 0
    if destination.parent.is_dir():
        for leftover in destination.parent.glob(f".{destination.name}.*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_source(source: bytes, expected: os.stat_result, destination: Path) -> None:
    """Unlink the drop-folder name, but only while it still names the inode that was stored."""
    try:
        current = os.lstat(source)
    except FileNotFoundError:
        return  # already gone: the content is safe at the destination
    if not same_file(current, expected) and not same_file(current, os.lstat(destination)):
        raise SourceChanged("the drop-folder name was replaced while the file was being moved")
    try:
        os.unlink(source)
    except FileNotFoundError:
        return
    except PermissionError as exc:
        raise CannotMove(f"cannot remove it from the drop folder: {exc.strerror}") from exc


def _copy_across(source: bytes, expected: os.stat_result, destination: Path, *, fd: int | None,
                 sha512: bytes | None, tag: str) -> None:
    tmp = tmp_name(destination, tag)
    tmp.unlink(missing_ok=True)
    if stat.S_ISLNK(expected.st_mode):
        os.symlink(os.readlink(source), tmp)
    elif stat.S_ISREG(expected.st_mode) and fd is not None:
        hasher = hashlib.sha512()
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            pos = 0
            while True:
                chunk = os.pread(fd, _COPY_CHUNK, pos)
                if not chunk:
                    break
                hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
                pos += len(chunk)
            os.fsync(out)
        finally:
            os.close(out)
        if sha512 is not None and hasher.digest() != sha512:
            tmp.unlink(missing_ok=True)
            raise SourceChanged("the file changed while it was being copied")
        os.chmod(tmp, stat.S_IMODE(expected.st_mode))
        os.utime(tmp, ns=(expected.st_atime_ns, expected.st_mtime_ns))
    else:
        raise CannotMove("a special file cannot be moved to another file system")
    try:
        os.link(tmp, destination, follow_symlinks=False)
    except FileExistsError as exc:
        raise DestinationTaken(str(destination)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(destination.parent)


def move(source: bytes, expected: os.stat_result, destination: Path, *, fd: int | None = None,
         sha512: bytes | None = None, tag: str = "x") -> None:
    """Move ``source`` (an absolute path, bytes) to ``destination``, never overwriting.

    ``expected`` is the stat of what was read (fstat of ``fd``, or lstat for a symlink or special
    file): the move refuses to store anything else. Symlinks are moved as links, never followed.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        if stat.S_ISREG(expected.st_mode) and expected.st_nlink > 1 and fd is not None:
            # The file has other names outside the drop folder: a stored inode shared with them could be
            # changed through them later. Store a copy of our own instead.
            raise OSError(errno.EMLINK, "the file has other hard links")
        os.link(source, destination, follow_symlinks=False)
    except FileExistsError as exc:
        raise DestinationTaken(str(destination)) from exc
    except FileNotFoundError as exc:
        raise SourceVanished(os.fsdecode(source)) from exc
    except OSError as exc:
        # EXDEV: another file system. EPERM/EMLINK/ENOTSUP: hard links refused (vfat, some network
        # file systems, protected_hardlinks) or not wanted (above): copy instead.
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        log.debug("not linking (%s), copying %s", exc.strerror, os.fsdecode(source))
        _copy_across(source, expected, destination, fd=fd, sha512=sha512, tag=tag)
        failpoints.point("after_link")
        try:
            _remove_source(source, expected, destination)
        except (SourceChanged, CannotMove):
            destination.unlink(missing_ok=True)
            raise
        return
    if not same_file(os.lstat(destination), expected):
        # The name was swapped for another file between the read and the link: store nothing.
        os.unlink(destination)
        raise SourceChanged("the drop-folder name now refers to a different file")
    failpoints.point("after_link")
    try:
        _remove_source(source, expected, destination)
    except (SourceChanged, CannotMove):
        os.unlink(destination)
        raise
