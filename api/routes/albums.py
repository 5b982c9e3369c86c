"""Albums: named, hand-picked sets of media items. Listing an album's items is a search filter
(``GET /api/media?album={id}``); here are the albums themselves and their membership."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import Editor, Viewer
from api.db import Conn
from api.errors import not_found
from api.ids import AlbumIdPath, MediaId
from api.media_edit import BULK_MAX, add_to_album, invalid, lock_media
from api.summaries import SUMMARY_COLUMNS, MediaSummary, summary
from api.text import AlbumDescription, AlbumName
from core.db import Connection

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["albums"])

_EDITOR: dict[int | str, dict[str, Any]] = {403: {"description": "not an editor"}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such album"}}


class Album(BaseModel):
    id: int
    name: str
    description: str
    count: int = Field(description="number of items")
    cover: MediaSummary | None = Field(description="the item added first; null for an empty album")
    created_at: datetime
    updated_at: datetime = Field(description="last change of the name, description or items")


class AlbumIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AlbumName
    description: AlbumDescription = ""


class AlbumPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AlbumName | None = None
    description: AlbumDescription | None = None

    @field_validator("name", "description")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Only reached when the field was sent: leave it out to keep it, send "" to empty a description.
        if value is None:
            raise ValueError("must be a string, not null")
        return value


class MediaIdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_ids: list[MediaId] = Field(min_length=1, max_length=BULK_MAX)


class Added(BaseModel):
    added: int = Field(description="items newly added (those already in the album are not counted)")


class Removed(BaseModel):
    removed: int


_ALBUMS = """
    SELECT a.id, a.name, a.description, a.created_at, a.updated_at,
           (SELECT count(*) FROM album_item i WHERE i.album_id = a.id) AS count,
           (SELECT i.media_id FROM album_item i JOIN media cm ON cm.id = i.media_id AND cm.status = 'ready'
             WHERE i.album_id = a.id ORDER BY i.added_at, i.media_id LIMIT 1) AS cover_id
      FROM album a
"""


def _albums(conn: Connection, rows: list[dict[str, Any]]) -> list[Album]:
    covers: dict[int, MediaSummary] = {}
    cover_ids = [r["cover_id"] for r in rows if r["cover_id"] is not None]
    if cover_ids:
        covers = {int(r["id"]): summary(r) for r in conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM media m WHERE m.id = ANY(%s)", (cover_ids,),  # noqa: S608
        )}
    return [Album(id=r["id"], name=r["name"], description=r["description"], count=r["count"],
                  cover=covers.get(r["cover_id"]) if r["cover_id"] is not None else None,
                  created_at=r["created_at"], updated_at=r["updated_at"]) for r in rows]


def _album(conn: Connection, album_id: int) -> Album:
    rows = conn.execute(_ALBUMS + " WHERE a.id = %s", (album_id,)).fetchall()
    if not rows:
        raise not_found(f"album {album_id}")
    return _albums(conn, rows)[0]


def _lock_album(conn: Connection, album_id: int) -> None:
    if conn.execute("SELECT 1 FROM album WHERE id = %s FOR UPDATE", (album_id,)).fetchone() is None:
        raise not_found(f"album {album_id}")


@router.get("/albums", response_model=list[Album], summary="Every album, by name")
def list_albums(conn: Conn, principal: Viewer) -> list[Album]:
    rows = conn.execute(_ALBUMS + " ORDER BY lower(a.name), a.id").fetchall()
    return _albums(conn, rows)


@router.post("/albums", response_model=Album, status_code=201, summary="Make an album (editors)",
             responses=_EDITOR)
def create_album(body: AlbumIn, conn: Conn, principal: Editor) -> Album:
    row = conn.execute(
        "INSERT INTO album (name, description, created_by) VALUES (%s, %s, %s) RETURNING id",
        (body.name, body.description, principal.user.id),
    ).fetchone()
    assert row is not None
    log.info("album %d made by %s", row["id"], principal.user.name)
    return _album(conn, int(row["id"]))


@router.get("/albums/{album_id}", response_model=Album, summary="One album", responses=_NOT_FOUND)
def get_album(album_id: AlbumIdPath, conn: Conn, principal: Viewer) -> Album:
    return _album(conn, album_id)


@router.patch("/albums/{album_id}", response_model=Album, summary="Rename or describe an album (editors)",
              responses={**_EDITOR, **_NOT_FOUND})
def patch_album(album_id: AlbumIdPath, body: AlbumPatch, conn: Conn, principal: Editor) -> Album:
    given = body.model_fields_set
    if not given:
        raise invalid("body", "nothing to change: give name or description")
    row = conn.execute(
        """UPDATE album SET name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
                  description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
                  updated_at = now()
            WHERE id = %(id)s RETURNING id""",
        {"set_name": "name" in given, "name": body.name, "set_description": "description" in given,
         "description": body.description, "id": album_id},
    ).fetchone()
    if row is None:
        raise not_found(f"album {album_id}")
    return _album(conn, album_id)


@router.delete("/albums/{album_id}", status_code=204, summary="Delete an album (its items stay) (editors)",
               responses={**_EDITOR, **_NOT_FOUND})
def delete_album(album_id: AlbumIdPath, conn: Conn, principal: Editor) -> Response:
    if conn.execute("DELETE FROM album WHERE id = %s RETURNING id", (album_id,)).fetchone() is None:
        raise not_found(f"album {album_id}")
    log.info("album %d deleted by %s", album_id, principal.user.name)
    return Response(status_code=204)


@router.post("/albums/{album_id}/items", response_model=Added, summary="Add items to an album (editors)",
             responses={**_EDITOR, **_NOT_FOUND,
                        422: {"description": "unknown media ids (listed in missing_ids): nothing added"}})
def add_items(album_id: AlbumIdPath, body: MediaIdsIn, conn: Conn, principal: Editor) -> Added:
    with conn.transaction():
        _lock_album(conn, album_id)
        ids = lock_media(conn, body.media_ids, field="media_ids")
        added = add_to_album(conn, album_id, ids, principal.user.id)
    return Added(added=added)


@router.post("/albums/{album_id}/items/remove", response_model=Removed,
             summary="Take items out of an album (editors)", responses={**_EDITOR, **_NOT_FOUND})
def remove_items(album_id: AlbumIdPath, body: MediaIdsIn, conn: Conn, principal: Editor) -> Removed:
    with conn.transaction():
        _lock_album(conn, album_id)
        removed = conn.execute("DELETE FROM album_item WHERE album_id = %s AND media_id = ANY(%s)",
                               (album_id, list(body.media_ids))).rowcount
        if removed:
            conn.execute("UPDATE album SET updated_at = now() WHERE id = %s", (album_id,))
    return Removed(removed=removed)
