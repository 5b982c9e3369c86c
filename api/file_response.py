"""Serving files from the storage root: opened without following any symlink, sent with HTTP ranges,
validators (ETag, Last-Modified, If-None-Match, If-Range) and safe headers.

Every path comes from a database row and goes through ``core.storage.resolve``, which refuses absolute
paths and ``..``. The file is then opened one component at a time below the root with ``O_NOFOLLOW``, so a
symlink anywhere under the root (pava never makes one; the ingester refuses them) is refused too, and a
path swapped for a link between a check and the open cannot lead outside: there is no check-then-open.
The open descriptor is what is served, so the bytes sent are those of the file that was checked.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import anyio.to_thread
from fastapi import Request, Response
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import ApiError
from api.ranges import RangeNotSatisfiable, parse_range
from core.storage import UnsafePathError, resolve

log = logging.getLogger(__name__)

CHUNK = 256 * 1024

# Content-addressed files (thumbnails are named by the SHA-512 of their original) never change under
# their URL; "private" because every answer depends on who is logged in.
CACHE_IMMUTABLE = "private, max-age=31536000, immutable"
# Originals are never modified, but a day is enough and leaves room for a restore from backup.
CACHE_ORIGINAL = "private, max-age=86400"
# Files that a later analysis may replace (renditions, subtitles, face chips): revalidate every time.
CACHE_REVALIDATE = "private, no-cache"


class FileUnavailable(Exception):
    """The row names no file that may be served: missing, not a regular file, or refused."""


@dataclass
class StoredFile:
    """An open regular file under the storage root. Closed by the response that sends it."""

    fd: int
    size: int
    mtime: float
    etag: str

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def open_stored(root: Path, rel: str) -> StoredFile:
    """Open ``rel`` (storage-relative) for reading without following a symlink at any level below the
    root. Raises ``FileUnavailable`` for anything that cannot or must not be served, and a 503 when the
    storage root itself is away (an unmounted share)."""
    try:
        parts = resolve(root, rel).relative_to(root).parts
    except UnsafePathError as exc:
        log.error("refused to serve a stored path that leaves the storage root: %r", rel)
        raise FileUnavailable("unsafe path") from exc
    # The root itself may be a symlink (a mount point chosen by the operator); nothing below it may be.
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        log.error("the storage root %s cannot be opened: %s", root, exc.strerror)
        raise ApiError(503, "the storage is not available; try again later",
                       headers={"Retry-After": "30"}) from exc
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=directory)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: a FIFO put in place of a file must not hang the request.
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            log.error("refused to serve %r: a symlink or non-directory on the way", rel)
        elif exc.errno != errno.ENOENT:
            log.warning("cannot open %r: %s", rel, exc.strerror)
        raise FileUnavailable(exc.strerror or "cannot open") from exc
    finally:
        os.close(directory)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        log.error("refused to serve %r: not a regular file", rel)
        raise FileUnavailable("not a regular file")
    # Strong validator from what identifies this version of the file on disk.
    etag = f'"{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"'
    return StoredFile(fd=fd, size=info.st_size, mtime=info.st_mtime, etag=etag)


def content_disposition(kind: Literal["inline", "attachment"], name: str, fallback: str) -> str:
    """A Content-Disposition value (RFC 6266) for a name that came from a user's file: control
    characters, quotes, slashes and backslashes removed; an ASCII ``filename`` for old clients and the
    exact name as UTF-8 in ``filename*``."""
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"\\/').strip().lstrip(".")
    cleaned = cleaned[:200] or fallback
    ascii_name = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._()+ -]", "_", ascii_name).strip() or fallback
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


def _not_modified(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match")
    if sent is None:
        return False
    # Weak comparison (RFC 9110 13.1.2): a W/ prefix does not matter here.
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return "*" in tags or etag in tags


def _range_applies(request: Request, file: StoredFile, last_modified: str) -> bool:
    condition = request.headers.get("if-range")
    if condition is None:
        return True
    # Strong comparison only: a range of another version of the file would corrupt the client's copy.
    return condition.strip() in (file.etag, last_modified)


def serve(request: Request, file: StoredFile, media_type: str, *, cache_control: str,
          disposition: str | None = None) -> Response:
    """The response for an opened file (which it then owns and closes): 200, 206 (one range, or several
    as multipart/byteranges), 304, or a JSON 416."""
    try:
        last_modified = formatdate(file.mtime, usegmt=True)
        headers = {
            "ETag": file.etag, "Last-Modified": last_modified, "Cache-Control": cache_control,
            "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff",
        }
        if disposition is not None:
            headers["Content-Disposition"] = disposition
        if _not_modified(request, file.etag):
            file.close()
            return Response(status_code=304, headers=headers)
        ranges = None
        if _range_applies(request, file, last_modified):
            ranges = parse_range(request.headers.get("range"), file.size)
    except RangeNotSatisfiable as exc:
        file.close()
        raise ApiError(416, f"the range asked for is outside the file ({exc.size} bytes)",
                       headers={"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"}) from exc
    except BaseException:
        file.close()
        raise
    if ranges is None:
        headers["Content-Length"] = str(file.size)
        return FileBody(file, [(0, file.size)], status_code=200, headers=headers, media_type=media_type)
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
        headers["Content-Length"] = str(end - start)
        return FileBody(file, ranges, status_code=206, headers=headers, media_type=media_type)
    boundary = secrets.token_hex(16)
    parts: list[bytes | tuple[int, int]] = []
    for index, (start, end) in enumerate(ranges):
        lead = "\r\n" if index else ""
        parts.append(f"{lead}--{boundary}\r\nContent-Type: {media_type}\r\n"
                     f"Content-Range: bytes {start}-{end - 1}/{file.size}\r\n\r\n".encode("latin-1"))
        parts.append((start, end))
    parts.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    headers["Content-Length"] = str(sum(len(p) if isinstance(p, bytes) else p[1] - p[0] for p in parts))
    return FileBody(file, parts, status_code=206, headers=headers,
                    media_type=f"multipart/byteranges; boundary={boundary}")


class FileBody(StreamingResponse):
    """Streams byte ranges of an open file (and literal bytes between them), then closes it. Reads run
    in a worker thread (``pread``: no shared file position), 256 KiB at a time; a client that goes away
    stops the stream (Starlette's disconnect handling)."""

    def __init__(self, file: StoredFile, parts: Sequence[bytes | tuple[int, int]], *, status_code: int,
                 headers: dict[str, str], media_type: str) -> None:
        self.file = file
        super().__init__(self._chunks(parts), status_code=status_code, headers=headers, media_type=media_type)

    async def _chunks(self, parts: Sequence[bytes | tuple[int, int]]) -> AsyncIterator[bytes]:
        for part in parts:
            if isinstance(part, bytes):
                yield part
                continue
            position, end = part
            while position < end:
                chunk = await anyio.to_thread.run_sync(os.pread, self.file.fd, min(CHUNK, end - position),
                                                       position)
                if not chunk:
                    # The file shrank while being sent: end the response short rather than pad it.
                    raise OSError(errno.EIO, "file shorter than when it was opened")
                position += len(chunk)
                yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.file.close()

    def __del__(self) -> None:
        # A response built but never sent (an error between the route and the server) still closes.
        self.file.close()


def send_stored(request: Request, root: Path, rel: str | None, media_type: str, *, cache_control: str,
                disposition: str | None = None, what: str = "file") -> Response:
    """Open and serve one stored file, or answer 404 when there is none that may be served."""
    if not rel:
        raise ApiError(404, f"{what} not found")
    try:
        file = open_stored(root, rel)
    except FileUnavailable as exc:
        raise ApiError(404, f"{what} not available") from exc
    return serve(request, file, media_type, cache_control=cache_control, disposition=disposition)
