"""The files of a media item: the original (inline or as a download), thumbnails, what a browser plays,
subtitles, and face chips. All with HTTP ranges and validators (``api/file_response.py``); every path
comes from the database and is opened below the storage root without following symlinks."""

from __future__ import annotations

import logging
from pathlib import Path as StoragePath
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth import Viewer
from api.db import Conn
from api.errors import not_found
from api.file_response import (
    CACHE_IMMUTABLE,
    CACHE_ORIGINAL,
    CACHE_REVALIDATE,
    FileUnavailable,
    content_disposition,
    open_stored,
    send_stored,
    serve,
)
from api.ids import FaceIdPath, MediaIdPath
from api.playback import playback_source
from core.db import Connection
from core.settings import Settings
from core.storage import THUMB_GRID, THUMB_PREVIEW, thumbnail_rel

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["files"])

def _file_responses(*types: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of a file route: the content types it sends, and every status it answers with."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content = dict.fromkeys(types, binary)
    return {
        200: {"description": "the whole file", "content": content},
        206: {"description": "the requested range (several: multipart/byteranges)",
              "content": {**content, "multipart/byteranges": binary}},
        304: {"description": "not modified (If-None-Match)"},
        404: {"description": "no such item, or its file is missing or may not be served"},
        416: {"description": "no requested range lies within the file"},
        503: {"description": "the storage is not mounted"},
    }


_THUMB_TYPES = {"webp": "image/webp", "jpg": "image/jpeg"}

# What an item without its thumbnail file gets (a video whose poster could not be made, a file lost): a
# neutral tile, so the page's grid shows a square and the browser's console no 404. Static on purpose:
# nothing of the item goes into it, so it can carry no one's data or markup.
PLACEHOLDER_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 64 64">'
    b'<rect width="64" height="64" fill="#d9dde2"/>'
    b'<path d="M16 46 28 30l8 10 5-6 7 12z" fill="#a4acb6"/>'
    b'<circle cx="42" cy="22" r="5" fill="#a4acb6"/></svg>'
)
PLACEHOLDER_HEADER = "X-Pava-Placeholder"


def _thumbnail_responses() -> dict[int | str, dict[str, Any]]:
    responses = _file_responses("image/webp", "image/jpeg")
    responses[200] = {
        "description": f"the whole file; a static placeholder (image/svg+xml, {PLACEHOLDER_HEADER}: 1) when "
                       "the item exists but its thumbnail file does not",
        "content": {**responses[200]["content"], "image/svg+xml": {"schema": {"type": "string"}}},
    }
    responses[404] = {"description": "no such item, or not ready yet"}
    return responses


def _root(request: Request) -> StoragePath:
    settings: Settings = request.app.state.settings
    return settings.storage_root


def _media(conn: Connection, media_id: int) -> dict[str, Any]:
    row = conn.execute(
        """SELECT id, sha512, kind, format, mime_type, storage_path, original_path FROM media
            WHERE id = %s AND status = 'ready'""",
        (media_id,),
    ).fetchone()
    if row is None:
        raise not_found(f"media item {media_id}")
    return row


@router.get("/media/{media_id}/original", summary="The original file, byte for byte (HTTP ranges)",
            response_class=Response, responses=_file_responses("image/*", "video/*"))
def original(media_id: MediaIdPath, request: Request, conn: Conn, principal: Viewer,
             download: Annotated[bool, Query(description="as an attachment (Save as)")] = False) -> Response:
    row = _media(conn, media_id)
    name = PurePosixPath(row["original_path"]).name
    fallback = f"media-{media_id}.{row['format']}"
    disposition = content_disposition("attachment" if download else "inline", name, fallback)
    return send_stored(request, _root(request), row["storage_path"], row["mime_type"],
                       cache_control=CACHE_ORIGINAL, disposition=disposition,
                       what=f"the file of item {media_id}")


@router.get("/media/{media_id}/thumbnail", summary="A thumbnail: grid (WebP) or preview (JPEG)",
            response_class=Response, responses=_thumbnail_responses())
def thumbnail(media_id: MediaIdPath, request: Request, conn: Conn, principal: Viewer,
              size: Annotated[Literal["grid", "preview"], Query()] = "grid") -> Response:
    row = _media(conn, media_id)
    rel = thumbnail_rel(bytes(row["sha512"]).hex(), THUMB_GRID if size == "grid" else THUMB_PREVIEW)
    media_type = _THUMB_TYPES[rel.rsplit(".", 1)[-1]]
    try:
        file = open_stored(_root(request), rel)
    except FileUnavailable:
        # no-cache, not the real thumbnail's immutable: same URL, and a thumbnail made later must show.
        return Response(PLACEHOLDER_SVG, media_type="image/svg+xml", headers={
            "Cache-Control": CACHE_REVALIDATE, "X-Content-Type-Options": "nosniff", PLACEHOLDER_HEADER: "1"})
    return serve(request, file, media_type, cache_control=CACHE_IMMUTABLE)


@router.get("/media/{media_id}/playback",
            summary="What a browser plays: the H.264/AAC rendition when one was made, else the original",
            response_class=Response, responses=_file_responses("video/*"))
def playback(media_id: MediaIdPath, request: Request, conn: Conn, principal: Viewer) -> Response:
    row = _media(conn, media_id)
    if row["kind"] != "video":
        raise not_found(f"playback of item {media_id} (a photo)")
    rel, media_type, status = playback_source(conn, media_id, row)
    if status == "transcoded":
        try:
            rendition = open_stored(_root(request), rel)
        except FileUnavailable:
            # A rendition can be made again; until then the original is better than nothing.
            log.warning("the rendition of media %d is missing; serving the original", media_id)
            rel, media_type = row["storage_path"], row["mime_type"]
        else:
            return serve(request, rendition, media_type, cache_control=CACHE_REVALIDATE)
    return send_stored(request, _root(request), rel, media_type, cache_control=CACHE_REVALIDATE,
                       what=f"the file of item {media_id}")


@router.get("/media/{media_id}/subtitles.vtt", summary="The transcript as WebVTT subtitles",
            response_class=Response, responses=_file_responses("text/vtt"))
def subtitles(media_id: MediaIdPath, request: Request, conn: Conn, principal: Viewer) -> Response:
    _media(conn, media_id)
    found = conn.execute("SELECT subtitles_path FROM speech_result WHERE media_id = %s",
                         (media_id,)).fetchone()
    if found is None or not found["subtitles_path"]:
        raise not_found(f"subtitles of item {media_id}")
    return send_stored(request, _root(request), found["subtitles_path"], "text/vtt; charset=utf-8",
                       cache_control=CACHE_REVALIDATE, what=f"the subtitles of item {media_id}")


@router.get("/faces/{face_id}/chip", summary="A face's chip (JPEG)", response_class=Response,
            responses=_file_responses("image/jpeg"))
def face_chip(face_id: FaceIdPath, request: Request, conn: Conn, principal: Viewer) -> Response:
    found = conn.execute(
        """SELECT f.chip_path FROM face f JOIN media m ON m.id = f.media_id
            WHERE f.id = %s AND m.status = 'ready'""",
        (face_id,),
    ).fetchone()
    if found is None:
        raise not_found(f"face {face_id}")
    return send_stored(request, _root(request), found["chip_path"], "image/jpeg",
                       cache_control=CACHE_REVALIDATE, what=f"the chip of face {face_id}")
