"""The short form of a media item that every list answers with (search, albums, people, on this day...).

One SQL column list and one model, so that a grid cell looks the same whichever route filled it. Queries
select ``SUMMARY_COLUMNS`` from ``media m`` (the alias matters) and pass each row to ``summary``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

SUMMARY_COLUMNS = """m.id, m.kind, m.format, m.mime_type, m.width, m.height, m.duration_s, m.original_path,
    m.effective_taken_at, m.taken_at_local, m.manual_taken_at_local, m.effective_lat, m.effective_lon,
    m.manual_lat IS NOT NULL AS position_manual, m.manual_taken_at IS NOT NULL AS time_manual,
    m.place_name, m.country_code, m.country, m.favourite, m.make, m.model, m.ingested_at"""


class PlaceShort(BaseModel):
    name: str | None
    country_code: str | None
    country: str | None


class MediaSummary(BaseModel):
    id: int
    kind: Literal["photo", "video"]
    format: str
    mime_type: str
    width: int | None
    height: int | None
    duration_s: float | None
    name: str = Field(description="the file's name as it was dropped or uploaded")
    original_path: str
    taken_at: datetime | None = Field(description="when it was taken (a time set by hand wins), UTC")
    taken_at_local: datetime | None = Field(description="the wall-clock time, without offset")
    time_source: Literal["file", "manual"] | None
    lat: float | None = Field(description="position (one set by hand wins over the file's GPS)")
    lon: float | None
    position_source: Literal["exif", "manual"] | None
    place: PlaceShort | None
    favourite: bool
    make: str | None
    model: str | None
    ingested_at: datetime
    thumbnail_url: str
    rank: float | None = Field(None, description="relevance of a free-text match, higher is better")


def summary(row: dict[str, Any]) -> MediaSummary:
    media_id = int(row["id"])
    has_position = row["effective_lat"] is not None
    has_place = row["place_name"] is not None or row["country_code"] is not None
    time_manual = bool(row["time_manual"])
    return MediaSummary(
        id=media_id, kind=row["kind"], format=row["format"], mime_type=row["mime_type"], width=row["width"],
        height=row["height"], duration_s=row["duration_s"],
        name=str(row["original_path"]).rsplit("/", 1)[-1], original_path=row["original_path"],
        taken_at=row["effective_taken_at"],
        taken_at_local=row["manual_taken_at_local"] if time_manual else row["taken_at_local"],
        time_source=("manual" if time_manual else "file") if row["effective_taken_at"] is not None else None,
        lat=row["effective_lat"], lon=row["effective_lon"],
        position_source=("manual" if row["position_manual"] else "exif") if has_position else None,
        place=PlaceShort(name=row["place_name"], country_code=row["country_code"], country=row["country"])
        if has_place else None,
        favourite=bool(row["favourite"]), make=row["make"], model=row["model"],
        ingested_at=row["ingested_at"],
        thumbnail_url=f"/api/media/{media_id}/thumbnail",
        rank=row.get("rank"),
    )
