"""Edits an editor makes to media items: favourite, a time and a position set by hand, album membership.
Shared by ``PATCH /api/media/{id}``, ``POST /api/media/bulk`` and the album routes.

What is set by hand is kept beside what the file says (``manual_*`` columns, migration 0006): clearing it
brings the file's own value back. A hand-set position is placed offline like the file's (``core.geocode``);
clearing it places the item at its file position again, or nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime, StrictBool, field_validator

from api.errors import ApiError
from api.ids import MediaId
from core import geocode
from core.db import Connection

log = logging.getLogger(__name__)

# Old prints get scanned, so the past reaches far; the bounds keep "local - offset" and Postgres happy.
EARLIEST_YEAR = 1800
LATEST_YEAR = 2200
BULK_MAX = 10000


class TakenAtIn(BaseModel):
    """A time set by hand: the wall-clock time, and the UTC offset where it was taken when known."""

    model_config = ConfigDict(extra="forbid")

    local: NaiveDatetime = Field(description="wall-clock time without offset, e.g. 2024-05-01T12:00:00")
    offset_minutes: int | None = Field(
        None, ge=-1080, le=1080,
        description="UTC offset in minutes (120 for UTC+2); without it the local time is read as UTC, "
        "as the ingester does for files that record no offset")

    @field_validator("local")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"the year must be within {EARLIEST_YEAR}..{LATEST_YEAR}")
        return value

    def instant(self) -> datetime:
        return self.local.replace(tzinfo=UTC) - timedelta(minutes=self.offset_minutes or 0)


class GpsIn(BaseModel):
    """A position set by hand (WGS84 decimal degrees)."""

    model_config = ConfigDict(extra="forbid")

    # strict: a JSON string or boolean is not a coordinate; allow_inf_nan: Python's JSON reader takes NaN.
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)


class _EditFields(BaseModel):
    """The editable fields. Absent: left as it is; ``null`` for time or position: clear the hand-set value."""

    model_config = ConfigDict(extra="forbid")

    favourite: StrictBool | None = None
    taken_at: TakenAtIn | None = Field(None, description="null clears a hand-set time")
    gps: GpsIn | None = Field(None, description="null clears a hand-set position")

    @field_validator("favourite")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        # Only reached when the field was sent: null is not a value of a yes/no field.
        if value is None:
            raise ValueError("must be true or false")
        return value


class MediaPatch(_EditFields):
    """``PATCH /api/media/{id}``."""


class BulkEdit(_EditFields):
    """``POST /api/media/bulk``: the same edits on every listed item, all or none."""

    ids: list[MediaId] = Field(min_length=1, max_length=BULK_MAX)
    add_to_album: MediaId | None = Field(None, description="an album id to add every item to")


@dataclass(frozen=True)
class Edits:
    """What to change; ``None`` for favourite and album, or a False ``set_*``, means leave it."""

    favourite: bool | None = None
    set_time: bool = False
    time: TakenAtIn | None = None
    set_gps: bool = False
    gps: GpsIn | None = None
    album_id: int | None = None

    @classmethod
    def of(cls, body: _EditFields) -> Edits:
        given = body.model_fields_set
        return cls(favourite=body.favourite, set_time="taken_at" in given, time=body.taken_at,
                   set_gps="gps" in given, gps=body.gps,
                   album_id=body.add_to_album if isinstance(body, BulkEdit) else None)

    @property
    def empty(self) -> bool:
        return self.favourite is None and not self.set_time and not self.set_gps and self.album_id is None


def invalid(field: str, message: str, **extra: Any) -> ApiError:
    return ApiError(422, f"{field}: {message}", extra={"problems": [{"field": field, "problem": message}],
                                                       **extra})


def lock_media(conn: Connection, ids: Sequence[int], *, field: str = "ids") -> list[int]:
    """Lock the ready items ``ids`` for this transaction; 422 naming the ones that do not exist."""
    wanted = sorted(set(ids))
    found = {int(r["id"]) for r in conn.execute(
        "SELECT id FROM media WHERE id = ANY(%s) AND status = 'ready' ORDER BY id FOR UPDATE", (wanted,),
    )}
    missing = [i for i in wanted if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise invalid(field, f"no media item with id {shown}", missing_ids=missing)
    return wanted


@dataclass(frozen=True)
class _Placed:
    name: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    country_code: str | None = None
    country: str | None = None


def _place(lat: float, lon: float) -> _Placed:
    found = geocode.reverse(lat, lon)
    return _Placed(found.name, found.admin1, found.admin2, found.country_code, found.country)


def places_for(conn: Connection, ids: Sequence[int], edits: Edits) -> dict[int, _Placed] | _Placed | None:
    """The place each item gets from a position edit, worked out before any row is locked (the geocoder
    loads its table on first use): one place for a hand-set position, the file's own per item when the
    hand-set one is cleared, None when the position is not edited."""
    if not edits.set_gps:
        return None
    if edits.gps is not None:
        return _place(edits.gps.lat, edits.gps.lon)
    # The file's position never changes after ingest, so reading it outside the transaction is safe.
    rows = conn.execute("SELECT id, gps_lat, gps_lon FROM media WHERE id = ANY(%s)", (list(ids),)).fetchall()
    cache: dict[tuple[float, float], _Placed] = {}
    placed: dict[int, _Placed] = {}
    for row in rows:
        if row["gps_lat"] is None:
            placed[int(row["id"])] = _Placed()
            continue
        key = (float(row["gps_lat"]), float(row["gps_lon"]))
        if key not in cache:
            cache[key] = _place(*key)
        placed[int(row["id"])] = cache[key]
    return placed


def apply(conn: Connection, ids: Sequence[int], edits: Edits, places: dict[int, _Placed] | _Placed | None,
          user_id: int) -> None:
    """Write ``edits`` to the (locked, existing) items ``ids`` inside the caller's transaction."""
    ids = list(ids)
    if edits.favourite is not None:
        conn.execute("UPDATE media SET favourite = %s WHERE id = ANY(%s)", (edits.favourite, ids))
    if edits.set_time:
        _write_time(conn, ids, edits.time, user_id)
    if edits.set_gps:
        _write_position(conn, ids, edits.gps, places, user_id)
    if edits.album_id is not None:
        add_to_album(conn, edits.album_id, ids, user_id, field="add_to_album")


def _write_time(conn: Connection, ids: list[int], time: TakenAtIn | None, user_id: int) -> None:
    if time is None:
        conn.execute(
            """UPDATE media SET manual_taken_at = NULL, manual_taken_at_local = NULL,
                      manual_taken_at_offset_minutes = NULL, manual_taken_at_by = NULL,
                      manual_taken_at_set_at = NULL
                WHERE id = ANY(%s)""",
            (ids,),
        )
        return
    conn.execute(
        """UPDATE media SET manual_taken_at = %s, manual_taken_at_local = %s,
                  manual_taken_at_offset_minutes = %s, manual_taken_at_by = %s, manual_taken_at_set_at = now()
            WHERE id = ANY(%s)""",
        (time.instant(), time.local, time.offset_minutes, user_id, ids),
    )


def _write_position(conn: Connection, ids: list[int], gps: GpsIn | None,
                    places: dict[int, _Placed] | _Placed | None, user_id: int) -> None:
    if gps is not None:
        assert isinstance(places, _Placed)
        conn.execute(
            """UPDATE media SET manual_lat = %s, manual_lon = %s, manual_gps_at = now(), manual_gps_by = %s,
                      place_name = %s, place_admin1 = %s, place_admin2 = %s, country_code = %s, country = %s
                WHERE id = ANY(%s)""",
            (gps.lat, gps.lon, user_id, places.name, places.admin1, places.admin2, places.country_code,
             places.country, ids),
        )
        return
    assert isinstance(places, dict)
    each = [places.get(i, _Placed()) for i in ids]
    conn.execute(
        """UPDATE media AS m
              SET manual_lat = NULL, manual_lon = NULL, manual_gps_at = NULL, manual_gps_by = NULL,
                  place_name = v.name, place_admin1 = v.admin1, place_admin2 = v.admin2,
                  country_code = v.country_code, country = v.country
             FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
                  AS v(id, name, admin1, admin2, country_code, country)
            WHERE m.id = v.id""",
        (ids, [p.name for p in each], [p.admin1 for p in each], [p.admin2 for p in each],
         [p.country_code for p in each], [p.country for p in each]),
    )


def add_to_album(conn: Connection, album_id: int, ids: Sequence[int], user_id: int, *,
                 field: str | None = None) -> int:
    """Add items to an album (those already in it stay as they were); the number newly added. An unknown
    album is a 404, or a 422 on ``field`` when the album was named in the body."""
    album = conn.execute("SELECT id FROM album WHERE id = %s FOR UPDATE", (album_id,)).fetchone()
    if album is None:
        if field is not None:
            raise invalid(field, f"no album with id {album_id}")
        raise ApiError(404, f"album {album_id} not found")
    added = conn.execute(
        """INSERT INTO album_item (album_id, media_id, added_by)
           SELECT %s, media_id, %s FROM unnest(%s::bigint[]) AS media_id
           ON CONFLICT DO NOTHING""",
        (album_id, user_id, list(ids)),
    ).rowcount
    if added:
        conn.execute("UPDATE album SET updated_at = now() WHERE id = %s", (album_id,))
    return added
