"""Stats: the library in numbers (with the analyses' progress), and "on this day" in earlier years."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from psycopg import sql
from pydantic import BaseModel, Field

from api import facets, snapshot_cache
from api.db import Conn
from api.facets import CameraCount, MonthCount, PersonCount, PlaceCount, ValueCount, YearCount
from api.filters import LOCAL_TAKEN, Filters, execute, filter_sql, invalid
from api.summaries import SUMMARY_COLUMNS, MediaSummary, summary
from core.db import Connection
from core.status import job_counts

router = APIRouter(prefix="/api", tags=["stats"])

JOB_STATES = ("pending", "queued", "running", "done", "failed")


class Totals(BaseModel):
    items: int
    photos: int
    videos: int
    bytes: int = Field(description="size of the originals")


class Progress(BaseModel):
    pending: int = Field(description="recorded, not yet handed to the broker")
    queued: int
    running: int
    done: int
    failed: int


class StatsOut(BaseModel):
    totals: Totals
    years: list[YearCount]
    months: list[MonthCount]
    cameras: list[CameraCount]
    labels: list[ValueCount]
    places: list[PlaceCount]
    people: list[PersonCount]
    progress: dict[str, Progress] = Field(description="jobs per analysis and state")


@router.get("/stats", response_model=StatsOut, summary="Totals, counts by time, camera, label, place and "
            "person, and the analyses' progress")
def stats(request: Request, conn: Conn) -> StatsOut:
    return snapshot_cache.for_app(request.app).get(conn, ("stats",), _stats)


def _stats(conn: Connection) -> StatsOut:
    where = filter_sql(Filters())
    columns = facets.column_facets(conn, where, {"kinds", "cameras", "years", "months", "places"})
    kinds = {item.value: item.count for item in columns.kinds or []}
    progress = {name: Progress(**{state: counts.get(state, 0) for state in JOB_STATES})
                for name, counts in job_counts(conn).items()}
    return StatsOut(
        totals=Totals(items=columns.total, photos=kinds.get("photo", 0), videos=kinds.get("video", 0),
                      bytes=columns.bytes),
        years=columns.years or [], months=columns.months or [], cameras=columns.cameras or [],
        labels=facets.label_facet(conn, where), places=columns.places or [],
        people=facets.people_facet(conn, where), progress=progress,
    )


class YearItems(BaseModel):
    year: int
    items: list[MediaSummary]


class OnThisDay(BaseModel):
    years: list[YearItems] = Field(description="earlier years, most recent first")


_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


def _month_day(value: str | None) -> tuple[int, int]:
    if value is None:
        today = date.today()
        return today.month, today.day
    match = _MONTH_DAY.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        date(2000, int(match[1]), int(match[2]))  # a leap year: 02-29 is a day
    except ValueError as exc:
        raise invalid("date", "a day of the year as MM-DD, e.g. 05-01") from exc
    return int(match[1]), int(match[2])


@router.get("/stats/on-this-day", response_model=OnThisDay,
            summary="Items taken on this day (of the items' own wall-clock time) in earlier years")
def on_this_day(
    conn: Conn,
    day: Annotated[str | None, Query(alias="date", max_length=5, description="MM-DD (default today)")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="items per year at most")] = 50,
) -> OnThisDay:
    month, day_of_month = _month_day(day)
    # The year in progress is left out: its "this day" is today, not a memory.
    query = sql.SQL(
        """
        SELECT * FROM (
            SELECT {columns}, date_part('year', {local})::int AS year,
                   row_number() OVER (PARTITION BY date_part('year', {local})
                                      ORDER BY {local}, m.id) AS position
              FROM media m
             WHERE m.status = 'ready'
               AND date_part('month', {local}) = %(month)s AND date_part('day', {local}) = %(day)s
               AND date_part('year', {local}) < %(this_year)s) ranked
         WHERE position <= %(limit)s
         ORDER BY year DESC, position
        """
    ).format(columns=sql.SQL(SUMMARY_COLUMNS), local=LOCAL_TAKEN)
    years: dict[int, list[MediaSummary]] = {}
    params = {"month": month, "day": day_of_month, "limit": limit, "this_year": date.today().year}
    for row in execute(conn, query, params):
        years.setdefault(int(row["year"]), []).append(summary(row))
    return OnThisDay(years=[YearItems(year=year, items=items) for year, items in years.items()])
