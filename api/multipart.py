"""Multipart uploads streamed straight to files in a folder, never held in memory.

Starlette's own form parser keeps each file in a ``SpooledTemporaryFile`` in the system's temporary
folder and only then hands it over, so a 4 GB upload would be written once to ``/tmp`` (often small,
often another file system) and copied again. Here python-multipart's streaming parser writes every part
to its final staging file as the bytes arrive, the request's size limit is checked on every chunk (the
answer is 413 as soon as it is crossed, not after the whole body was read), and the parser and the disk
writes run in a worker thread, one hop per received chunk, so the event loop never waits on the disk.

File names sent by the client are only used after ``safe_file_name``: a base name, valid UTF-8 text
without control characters, never empty, ``.`` or ``..``, and short enough for any file system.
"""

from __future__ import annotations

import errno
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio.to_thread
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api.errors import ApiError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger(__name__)

# Bytes of UTF-8 kept of a file name: below the usual 255 so that the ingester's collision suffix
# (``~`` and up to 128 hex digits, see ingest/naming.py) still finds room most of the time.
NAME_MAX_BYTES = 200
FALLBACK_NAME = "upload"
# Fields that are not files (a browser may add some) are read and dropped; this bounds each one.
_MAX_HEADER_BYTES = 8 * 1024
_MAX_HEADERS = 16


@dataclass(frozen=True)
class ReceivedFile:
    """One file part written to disk: ``name`` is safe to use in a path, ``sent_name`` is for messages."""

    field: str
    name: str
    sent_name: str
    path: Path
    size: int


def safe_file_name(raw: bytes) -> str:
    """A file name to store an upload under, from the ``filename`` the client sent (raw bytes).

    Only the last path component is kept, whichever separator the client's system uses, so that
    ``../../etc/x.jpg``, ``a/../../b.jpg``, ``/etc/passwd`` and ``C:\\x\\y.jpg`` all become a plain name
    in the upload's own folder. Bytes that are not UTF-8 and control or formatting characters (NUL,
    newlines, the right-to-left override that disguises an extension) become ``_``; leading dots (hidden
    files) and surrounding spaces go; what is left is cut to ``NAME_MAX_BYTES`` keeping the extension.
    """
    text = raw.decode("utf-8", errors="replace")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    # macOS sends decomposed accents; the library shows and searches names in the composed form.
    text = unicodedata.normalize("NFC", text)
    text = "".join("_" if _unwanted(char) else char for char in text)
    text = text.strip().lstrip(".").strip()
    if text.strip(".") == "":
        return FALLBACK_NAME
    return _shorten(text, NAME_MAX_BYTES)


def _unwanted(char: str) -> bool:
    # Cc: controls (NUL, newlines, escape); Cf: invisible formatting (bidi overrides); Zl/Zp: line breaks;
    # U+FFFD: where the bytes were not UTF-8.
    return char == "\ufffd" or unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _shorten(name: str, limit: int) -> str:
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode())
    return stem.encode()[:budget].decode("utf-8", errors="ignore").rstrip() + suffix


class _Sink:
    """The parser's callbacks: each part's headers are collected, then its data goes to its own file.

    Used from one worker thread at a time (the caller awaits each chunk before sending the next).
    """

    def __init__(self, folder: Path, *, fields: frozenset[str], max_files: int) -> None:
        self.folder = folder
        self.fields = fields
        self.max_files = max_files
        self.files: list[ReceivedFile] = []
        self.ended = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = b""
        self._value = b""
        self._handle: IO[bytes] | None = None
        self._current: tuple[str, str, str, Path] | None = None
        self._size = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = []
        self._field = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((self._field.strip().lower(), self._value.strip()))
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition = next((value for name, value in self._headers if name == b"content-disposition"), b"")
        # Header bytes are taken as latin-1 so that each byte maps to one character and back: the file
        # name's own bytes (UTF-8 from browsers, anything from other clients) come out unchanged.
        kind, options = parse_options_header(disposition.decode("latin-1"))
        field = options.get(b"name", b"").decode("utf-8", errors="replace")
        if kind != b"form-data" or field not in self.fields:
            return  # not a file we take: its data is dropped as it arrives
        if len(self.files) >= self.max_files:
            raise _TooManyFiles
        raw_name = options.get(b"filename", b"")
        sent = raw_name.decode("utf-8", errors="replace")
        # The staging name is ours (a counter), never the client's: the client's name is applied only by
        # the ingester as the item's relative path, after safe_file_name.
        path = self.folder / f"part-{len(self.files):05d}"
        self._handle = path.open("xb")
        self._current = (field, safe_file_name(raw_name), sent, path)
        self._size = 0

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._handle is not None:
            self._handle.write(data[start:end])
            self._size += end - start

    def _part_end(self) -> None:
        if self._handle is None or self._current is None:
            return
        self._handle.close()
        self._handle = None
        field, name, sent, path = self._current
        self.files.append(ReceivedFile(field=field, name=name, sent_name=sent, path=path, size=self._size))
        self._current = None

    def _end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class _TooManyFiles(Exception):
    pass


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(415, "send the files as multipart/form-data (with a boundary)")
    return boundary


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the upload is larger than the limit of {limit:,} bytes "
                         "(PAVA_API__UPLOAD_MAX_BYTES)")


async def receive_files(request: Request, folder: Path, *, fields: frozenset[str], max_bytes: int,
                        max_files: int) -> list[ReceivedFile]:
    """Stream a multipart body into ``folder``: one file per part named in ``fields``, in the order sent.

    Raises ``ApiError``: 415 (not multipart), 413 (body over ``max_bytes``, or more than ``max_files``
    files), 400 (malformed or cut-off body), 507 (disk full). On an error the files written so far stay
    in ``folder`` for the caller to remove with it; on success every file is closed.
    """
    boundary = _boundary(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)  # refused before a single byte is read
    sink = _Sink(folder, fields=fields, max_files=max_files)
    try:
        parser = MultipartParser(boundary, sink.callbacks(), max_header_count=_MAX_HEADERS,
                                 max_header_size=_MAX_HEADER_BYTES)
    except ValueError as exc:  # e.g. an absurdly long boundary
        raise ApiError(400, f"malformed multipart body: {exc}") from exc
    received = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            received += len(chunk)
            # Counted on what arrives, not on Content-Length, which a client may leave out or understate.
            if received > max_bytes:
                raise _too_large(max_bytes)
            await anyio.to_thread.run_sync(parser.write, chunk)
    except MultipartParseError as exc:
        raise ApiError(400, f"malformed multipart body: {exc}") from exc
    except _TooManyFiles as exc:
        raise ApiError(413, f"at most {max_files} file(s) in one request") from exc
    except ClientDisconnect as exc:
        raise ApiError(400, "the client went away before the upload was complete") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("upload refused: no space left under %s", folder)
            raise ApiError(507, "no space left in the storage for this upload",
                           code="insufficient_storage") from exc
        raise
    finally:
        sink.close()
    if not sink.ended:
        raise ApiError(400, "the multipart body ended before its closing boundary (cut off?)")
    return sink.files
