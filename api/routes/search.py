"""Search: the library as a list (filters, sorts, cursor pages), its facet counts, and its map clusters.

All three take the same filters (``api/filters.py``), so a facet count or a map cluster counts exactly
the items the list would show.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from psycopg import sql
from pydantic import BaseModel, Field

from api import clusters, facets, ordering
from api.db import Conn
from api.facets import (
    FACETS,
    CameraCount,
    FacetName,
    FormatCount,
    MonthCount,
    PersonCount,
    PlaceCount,
    ValueCount,
    YearCount,
)
from api.filters import FilterQuery, FilterSql, Problems, filter_sql, invalid, parse_box
from api.summaries import SUMMARY_COLUMNS, MediaSummary, summary
from core.db import Connection

router = APIRouter(prefix="/api", tags=["search"])

DEFAULT_LIMIT = 100

SortQuery = Annotated[ordering.SortName | None, Query(
    description="-taken_at (default; items without a date last), taken_at, -ingested_at, ingested_at, "
                "relevance (default with q)")]
CursorQuery = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]


class MediaPage(BaseModel):
    items: list[MediaSummary]
    next_cursor: str | None = Field(description="pass as cursor= for the next page; null on the last page")
    total: int | None = Field(description="items matching the filters, with with_total=true (else null)")


@router.get("/media", response_model=MediaPage, summary="Search and list the library, a page at a time")
def list_media(
    filters: FilterQuery,
    request: Request,
    conn: Conn,
    *,
    sort: SortQuery = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = DEFAULT_LIMIT,
    with_total: Annotated[bool, Query(description="also count every matching item")] = False,
) -> MediaPage:
    where = filter_sql(filters)
    order = ordering.sort_for(sort, rank=where.rank, has_text=where.has_text)
    limit = min(limit, request.app.state.settings.api.page_max)
    params = dict(where.params, limit=limit + 1)
    condition = where.condition
    if cursor:
        condition = sql.SQL("{} AND {}").format(condition, ordering.after_cursor(order, cursor, params))
    query = sql.SQL("SELECT {columns}, {rank} AS rank FROM {source} WHERE {condition}"
                    " ORDER BY {order} LIMIT %(limit)s").format(
        columns=sql.SQL(SUMMARY_COLUMNS), rank=where.rank, source=where.source, condition=condition,
        order=ordering.order_by(order))
    rows = conn.execute(query, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return MediaPage(
        items=[summary(row) for row in rows],
        next_cursor=ordering.encode_cursor(order, rows[-1]) if more else None,
        total=count_matching(conn, where) if with_total else None,
    )


def count_matching(conn: Connection, where: FilterSql) -> int:
    query = sql.SQL("SELECT count(*) AS n FROM {source} WHERE {condition}").format(
        source=where.source, condition=where.condition)
    row = conn.execute(query, where.params).fetchone()
    return int(row["n"]) if row else 0


class FacetsOut(BaseModel):
    """Counts of the items matching the filters; only the facets asked for are present."""

    total: int
    labels: list[ValueCount] | None = None
    people: list[PersonCount] | None = None
    cameras: list[CameraCount] | None = None
    formats: list[FormatCount] | None = None
    kinds: list[ValueCount] | None = None
    years: list[YearCount] | None = None
    months: list[MonthCount] | None = None
    places: list[PlaceCount] | None = None
    sources: list[ValueCount] | None = None


@router.get("/facets", response_model=FacetsOut, response_model_exclude_unset=True,
            summary="Counts per label, person, camera, format, kind, year, month, country and source")
def facet_counts(
    filters: FilterQuery,
    conn: Conn,
    facet: Annotated[list[FacetName] | None, Query(
        description="repeatable: the facets to count (all when none is given); lists are the 50 largest, "
                    "by count (years and months: all, by time)")] = None,
) -> FacetsOut:
    wanted = set(facet or FACETS)
    where = filter_sql(filters)
    columns = facets.column_facets(conn, where, wanted)
    found: dict[str, object] = {name: getattr(columns, name) for name in wanted
                                if name not in ("labels", "people")}
    if "labels" in wanted:
        found["labels"] = facets.label_facet(conn, where)
    if "people" in wanted:
        found["people"] = facets.people_facet(conn, where)
    return FacetsOut.model_validate({"total": columns.total, **found})


@router.get("/map", response_model=clusters.MapClusters,
            summary="The matching items with a position, clustered on a grid that follows the zoom")
def map_clusters(
    filters: FilterQuery,
    conn: Conn,
    view: Annotated[str | None, Query(max_length=200, description=(
        "the map's viewport, west,south,east,north (west > east crosses the antimeridian); "
        "the whole world when omitted. Separate from the bbox filter"))] = None,
    zoom: Annotated[int, Query(ge=0, le=22, description="the map's zoom (web map tiles)")] = 2,
) -> clusters.MapClusters:
    box = clusters.WORLD
    if view is not None:
        problems = Problems()
        parsed = parse_box("view", view, problems)
        problems.raise_any()
        if parsed is None:
            raise invalid("view", "west,south,east,north")
        box = parsed
    return clusters.clusters(conn, filter_sql(filters), box, zoom)
