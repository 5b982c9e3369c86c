"""Search: the library as a list (filters, sorts, cursor pages), its facet counts, and its map clusters.

All three take the same filters (``api/filters.py``), so a facet count or a map cluster counts exactly
the items the list would show.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from psycopg import sql
from pydantic import BaseModel, Field

from api import clusters, facets, ordering, snapshot_cache
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
from api.filters import (
    Box,
    FilterQuery,
    Filters,
    FilterSql,
    Problems,
    execute,
    filter_sql,
    invalid,
    parse_box,
)
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
    name = ordering.sort_name(sort, has_text=filters.text is not None)
    where = filter_sql(filters, ranked=name == "relevance")
    order = ordering.sort_for(name, rank=where.rank)
    limit = min(limit, request.app.state.settings.api.page_max)
    params = dict(where.params, limit=limit + 1)
    query = _page_query(where, order, cursor, params)
    rows = execute(conn, query, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return MediaPage(
        items=[summary(row) for row in rows],
        next_cursor=ordering.encode_cursor(order, rows[-1]) if more else None,
        total=count_matching(conn, filter_sql(filters)) if with_total else None,
    )


def _page_query(where: FilterSql, order: ordering.Sort, cursor: str | None,
                params: dict[str, Any]) -> sql.Composed:
    """One page (``limit`` + 1 rows, to tell whether there is another) after ``cursor``."""
    if where.text_match is not None:
        return _ranked_page_query(where, where.text_match, order, cursor, params)
    condition = where.condition
    if cursor:
        condition = sql.SQL("{} AND {}").format(condition, ordering.after_cursor(order, cursor, params))
    return sql.SQL("SELECT {columns}, {rank} AS rank FROM media m WHERE {condition}"
                   " ORDER BY {order} LIMIT %(limit)s").format(
        columns=sql.SQL(SUMMARY_COLUMNS), rank=where.rank,
        condition=condition, order=ordering.order_by(order))


def _ranked_page_query(where: FilterSql, text_match: sql.Composable, order: ordering.Sort,
                       cursor: str | None, params: dict[str, Any]) -> sql.Composed:
    # Ranked and cut to a page on the search documents alone, then joined to media for that page only:
    # a word common to half the library ranks tens of thousands of documents, and sorting them whole
    # (with their media rows) spilled to disk where a bounded top-N sort keeps a page in memory. The other
    # filters are applied before the ranking, from a materialised set of ids: joined after the sort,
    # they would keep the sort from being bounded.
    with_clause: sql.Composable = sql.SQL("")
    matching = where.matching("sd.media_id")
    if not where.unfiltered:
        with_clause = sql.SQL("WITH matching AS MATERIALIZED (SELECT m.id FROM media m WHERE {}) ").format(
            where.condition)
        matching = sql.SQL("sd.media_id IN (SELECT id FROM matching)")
    conditions = [text_match, matching]
    if cursor:
        conditions.append(ordering.after_cursor(order, cursor, params, id_column="sd.media_id"))
    return sql.SQL(
        """
        {with_clause}
        SELECT {columns}, r.rank
          FROM (SELECT sd.media_id, {rank} AS rank FROM search_doc sd WHERE {conditions}
                 ORDER BY {inner_order} LIMIT %(limit)s) r
          JOIN media m ON m.id = r.media_id
         ORDER BY r.rank DESC, m.id DESC
        """
    ).format(with_clause=with_clause, columns=sql.SQL(SUMMARY_COLUMNS), rank=where.rank,
             conditions=sql.SQL(" AND ").join(conditions),
             inner_order=ordering.order_by(order, id_column="sd.media_id"))


def count_matching(conn: Connection, where: FilterSql) -> int:
    query = sql.SQL("SELECT count(*) AS n FROM media m WHERE {condition}").format(condition=where.condition)
    row = execute(conn, query, where.params).fetchone()
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
    request: Request,
    conn: Conn,
    facet: Annotated[list[FacetName] | None, Query(
        description="repeatable: the facets to count (all when none is given); lists are the 50 largest, "
                    "by count (years and months: all, by time)")] = None,
) -> FacetsOut:
    wanted = frozenset(facet or FACETS)
    return snapshot_cache.for_app(request.app).get(
        conn, ("facets", filters, wanted), lambda c: _facets(c, filters, wanted))


def _facets(conn: Connection, filters: Filters, wanted: frozenset[str]) -> FacetsOut:
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
    return clusters.clusters(conn, filter_sql(filters), _viewport(view), zoom)


def _viewport(view: str | None) -> Box:
    if view is None:
        return clusters.WORLD
    problems = Problems()
    box = parse_box("view", view, problems)
    problems.raise_any()
    if box is None:  # parse_box reported why
        raise invalid("view", "west,south,east,north")
    return box
