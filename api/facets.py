"""Facet counts over the items matching a set of filters (``GET /api/facets``, and ``GET /api/stats`` over
the whole library).

The facets read from media's own columns (cameras, formats, kinds, months, years, places, sources, the
total and the bytes) come from one pass with GROUPING SETS; labels and people need their own tables and
have a query each.

Over the whole library (no filter), the columns and the labels are summed from the deltas that triggers
keep (migration 0010: a few thousand rows instead of every item and its labels), by the same grouping,
so the two ways cannot disagree on what a group is; people still come from their index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, get_args

from psycopg import sql
from pydantic import BaseModel

from api.filters import LOCAL_TAKEN, FilterSql, execute
from core.db import Connection
from core.media import MediaKind

FacetName = Literal["labels", "people", "cameras", "formats", "kinds", "years", "months", "places", "sources"]
FACETS: tuple[FacetName, ...] = get_args(FacetName)
TOP = 50  # the longest list of a facet (months and years: all of them)


class ValueCount(BaseModel):
    value: str
    count: int


class PersonCount(BaseModel):
    id: int
    name: str
    count: int


class CameraCount(BaseModel):
    make: str | None
    model: str | None
    count: int


class FormatCount(BaseModel):
    kind: MediaKind
    format: str
    count: int


class YearCount(BaseModel):
    year: int
    count: int


class MonthCount(BaseModel):
    month: str  # "2024-05"
    count: int


class PlaceCount(BaseModel):
    country_code: str | None
    country: str | None
    count: int


_Counted = TypeVar("_Counted", CameraCount, FormatCount, PlaceCount)


@dataclass
class ColumnFacets:
    """What the GROUPING SETS scan gives; a facet that was not asked for stays empty."""

    total: int = 0
    bytes: int = 0
    cameras: list[CameraCount] | None = None
    formats: list[FormatCount] | None = None
    kinds: list[ValueCount] | None = None
    years: list[YearCount] | None = None
    months: list[MonthCount] | None = None
    places: list[PlaceCount] | None = None
    sources: list[ValueCount] | None = None


# The grouped columns, in the order GROUPING() numbers its bits (the first is the highest).
_COLUMNS = ("make", "model", "kind", "format", "country_code", "country", "source", "month")
# Grouping set -> the facets it serves.
_SETS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("make", "model"): ("cameras",),
    ("kind", "format"): ("formats", "kinds"),
    ("country_code", "country"): ("places",),
    ("source",): ("sources",),
    ("month",): ("months", "years"),
}


def _mask(grouped: Sequence[str], columns: Sequence[str]) -> int:
    """GROUPING(*grouped) for a row of the set ``columns``: a 1 bit for each column not in the set."""
    width = len(grouped)
    return sum(1 << (width - 1 - i) for i, name in enumerate(grouped) if name not in columns)


def column_facets(conn: Connection, where: FilterSql, wanted: Collection[str]) -> ColumnFacets:
    sets = [columns for columns, serves in _SETS.items() if any(name in wanted for name in serves)]
    # GROUPING() and the select list may name only columns that some set groups by.
    grouped = [name for name in _COLUMNS if any(name in columns for columns in sets)]
    grouping_sets = sql.SQL(", ").join(
        [sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))) for columns in sets]
        + [sql.SQL("()")])
    selected = sql.SQL("").join(sql.SQL("{}, ").format(sql.Identifier(name)) for name in grouped)
    rows: sql.Composable
    if where.unfiltered:
        # Every ready item: the deltas' sums (a group can sum to 0 until the deltas are folded).
        rows = sql.SQL(
            """SELECT d.make, d.model, d.kind, d.format, d.country_code, d.country, d.source, d.month,
                      d.n, d.bytes
                 FROM media_facet_delta d WHERE d.ready""")
    else:
        rows = sql.SQL(
            """SELECT m.make, m.model, m.kind, m.format, m.country_code, m.country, m.source,
                      date_trunc('month', {local}) AS month, 1 AS n, m.size_bytes AS bytes
                 FROM media m WHERE {condition}""").format(local=LOCAL_TAKEN, condition=where.condition)
    query = sql.SQL(
        """
        SELECT {grouping} AS grouping, {selected} sum(h.n) AS count, sum(h.bytes) AS bytes
          FROM ({rows}) h
         GROUP BY GROUPING SETS ({grouping_sets})
        """
    ).format(
        grouping=sql.SQL("GROUPING({})").format(sql.SQL(", ").join(map(sql.Identifier, grouped)))
        if grouped else sql.SQL("0"),
        selected=selected, rows=rows, grouping_sets=grouping_sets)
    rows_by_set: dict[int, list[dict[str, Any]]] = {}
    total_mask = _mask(grouped, ())
    for row in execute(conn, query, where.params):
        # The total's row is there even with no item (its sums then NULL); other groups only with items.
        if row["grouping"] == total_mask or row["count"]:
            rows_by_set.setdefault(int(row["grouping"]), []).append(row)
    found = ColumnFacets()
    for row in rows_by_set.get(total_mask, []):
        found.total, found.bytes = int(row["count"] or 0), int(row["bytes"] or 0)
    for columns in sets:
        _fill(found, columns, rows_by_set.get(_mask(grouped, columns), []), wanted)
    return found


def _fill(found: ColumnFacets, columns: tuple[str, ...], rows: list[dict[str, Any]],
          wanted: Collection[str]) -> None:
    if columns == ("make", "model"):
        found.cameras = _top([CameraCount(make=r["make"], model=r["model"], count=r["count"]) for r in rows
                              if r["make"] is not None or r["model"] is not None],
                             lambda c: (c.make or "", c.model or ""))
    elif columns == ("kind", "format"):
        formats = [FormatCount(kind=r["kind"], format=r["format"], count=r["count"]) for r in rows]
        kinds: Counter[str] = Counter()
        for item in formats:
            kinds[item.kind.value] += item.count
        found.formats = _top(formats, lambda f: (f.kind.value, f.format)) if "formats" in wanted else None
        found.kinds = _values(kinds) if "kinds" in wanted else None
    elif columns == ("country_code", "country"):
        places = [PlaceCount(country_code=r["country_code"], country=r["country"], count=r["count"])
                  for r in rows if r["country_code"] is not None or r["country"] is not None]
        found.places = _top(places, lambda p: (p.country or "", p.country_code or ""))
    elif columns == ("source",):
        found.sources = _values(Counter({r["source"]: int(r["count"]) for r in rows if r["source"]}))
    else:
        _fill_time(found, [r for r in rows if r["month"] is not None], wanted)


def _fill_time(found: ColumnFacets, rows: list[dict[str, Any]], wanted: Collection[str]) -> None:
    months: list[tuple[datetime, int]] = sorted((r["month"], int(r["count"])) for r in rows)
    years: Counter[int] = Counter()
    for month, count in months:
        years[month.year] += count
    if "months" in wanted:
        found.months = [MonthCount(month=f"{month.year:04d}-{month.month:02d}", count=count)
                        for month, count in months]
    if "years" in wanted:
        found.years = [YearCount(year=year, count=count) for year, count in sorted(years.items())]


def _top(items: list[_Counted], name: Callable[[_Counted], tuple[str, str]]) -> list[_Counted]:
    # Most first; ties by name, so that the order is stable from one request to the next.
    return sorted(items, key=lambda item: (-item.count, name(item)))[:TOP]


def _values(counts: Counter[str]) -> list[ValueCount]:
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP]
    return [ValueCount(value=value, count=count) for value, count in ordered]


def label_facet(conn: Connection, where: FilterSql) -> list[ValueCount]:
    """Object labels: how many matching items show each (at least once)."""
    if where.unfiltered:
        return _all_labels(conn)
    # The set-returning function in the select list (ProjectSet) costs a third less than a lateral join.
    query = sql.SQL(
        """
        SELECT label AS value, count(*) AS count
          FROM (SELECT jsonb_object_keys(s.label_counts) AS label FROM object_scan s WHERE {matching}) k
         GROUP BY label
         ORDER BY count DESC, value
         LIMIT {top}
        """
    ).format(matching=where.matching("s.media_id"), top=sql.Literal(TOP))
    return [ValueCount(value=r["value"], count=r["count"]) for r in execute(conn, query, where.params)]


def _all_labels(conn: Connection) -> list[ValueCount]:
    """The labels of every ready item: the deltas count the scans of all items, staged ones included
    (a delta cannot know the status, which is another table's row), so the labels of the few staged items
    are taken off."""
    query = sql.SQL(
        """
        SELECT label AS value, sum(n) AS count
          FROM (SELECT d.label, d.n FROM object_label_delta d
                UNION ALL
                SELECT jsonb_object_keys(s.label_counts), -1
                  FROM media x JOIN object_scan s ON s.media_id = x.id
                 WHERE x.status = 'staged') k
         GROUP BY label
        HAVING sum(n) > 0
         ORDER BY count DESC, value
         LIMIT {top}
        """
    ).format(top=sql.Literal(TOP))
    return [ValueCount(value=r["value"], count=r["count"]) for r in execute(conn, query, {})]


def people_facet(conn: Connection, where: FilterSql) -> list[PersonCount]:
    """People (hidden ones left out): how many matching items show each."""
    # face_person_media (0009) hands the faces over sorted by person and item: the distinct count streams.
    query = sql.SQL(
        """
        SELECT p.id, p.name, pm.count
          FROM (SELECT f.person_id, count(DISTINCT f.media_id) AS count FROM face f
                 WHERE f.person_id IS NOT NULL AND {matching}
                 GROUP BY f.person_id) pm
          JOIN person p ON p.id = pm.person_id
         WHERE NOT p.hidden
         ORDER BY pm.count DESC, p.id
         LIMIT {top}
        """
    ).format(matching=where.matching("f.media_id"), top=sql.Literal(TOP))
    rows = execute(conn, query, where.params)
    return [PersonCount(id=r["id"], name=r["name"], count=r["count"]) for r in rows]
