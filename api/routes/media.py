"""One media item: its detail, the edits an editor makes to it, and the same edits on many at once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth import Editor, Viewer
from api.db import Conn
from api.errors import not_found
from api.ids import MediaIdPath
from api.media_detail import load_detail
from api.media_edit import BulkEdit, Edits, MediaPatch, apply, invalid, lock_media, places_for
from api.media_models import MediaDetail
from core.db import Connection
from core.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["media"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such media item"}}


class BulkResult(BaseModel):
    updated: int


def _detail(request: Request, conn: Connection, media_id: int) -> MediaDetail:
    settings: Settings = request.app.state.settings
    return load_detail(conn, media_id, near_duplicate_threshold=settings.dhash.near_duplicate_threshold)


@router.get("/media/{media_id}", response_model=MediaDetail, summary="Everything about one media item",
            responses=_NOT_FOUND)
def get_media(media_id: MediaIdPath, request: Request, conn: Conn, principal: Viewer) -> MediaDetail:
    return _detail(request, conn, media_id)


@router.patch("/media/{media_id}", response_model=MediaDetail,
              summary="Set favourite, or set or clear a hand-set time or position (editors)",
              responses={**_NOT_FOUND, 403: {"description": "not an editor"}})
def patch_media(media_id: MediaIdPath, body: MediaPatch, request: Request, conn: Conn,
                principal: Editor) -> MediaDetail:
    edits = Edits.of(body)
    if edits.empty:
        raise invalid("body", "nothing to change: give favourite, taken_at or gps")
    places = places_for(conn, [media_id], edits)
    with conn.transaction():
        found = conn.execute("SELECT id FROM media WHERE id = %s AND status = 'ready' FOR UPDATE",
                             (media_id,)).fetchone()
        if found is None:
            raise not_found(f"media item {media_id}")
        apply(conn, [media_id], edits, places, principal.user.id)
    log.info("media %d edited by %s: %s", media_id, principal.user.name, sorted(body.model_fields_set))
    return _detail(request, conn, media_id)


@router.post("/media/bulk", response_model=BulkResult,
             summary="The same edits on many items, all or none (editors)",
             responses={403: {"description": "not an editor"},
                        422: {"description": "unknown ids (listed in missing_ids) or nothing to change"}})
def bulk_edit(body: BulkEdit, conn: Conn, principal: Editor) -> BulkResult:
    edits = Edits.of(body)
    if edits.empty:
        raise invalid("body", "nothing to change: give favourite, taken_at, gps or add_to_album")
    places = places_for(conn, body.ids, edits)
    with conn.transaction():
        ids = lock_media(conn, body.ids)
        apply(conn, ids, edits, places, principal.user.id)
    log.info("bulk edit of %d items by %s: %s", len(ids), principal.user.name,
             sorted(body.model_fields_set - {"ids"}))
    return BulkResult(updated=len(ids))
