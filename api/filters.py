"""The filter query parameters shared by search, facets and the map: parsed once, turned into SQL once.

``FilterParams`` is what FastAPI reads and documents; ``parse_filters`` checks and types it (every problem
is a 422 naming its parameter); ``filter_sql`` turns the result into a parameterised condition over
``media m``. User values only ever travel as query parameters; the SQL around them is fixed text.

Times: a date (``2024-05-01``) is a whole day of the item's own wall-clock time (what its camera showed,
and what the grid shows), so that "the 1st of May" means the same day wherever the photo was taken; a
date-time must carry an offset and is compared with the instant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, StringConstraints

from api.errors import ApiError
from core.db import Connection
from core.media import MediaKind

MAX_TERMS = 20
MAX_LIST = 20
MAX_COUNT = 1000

# The item's wall-clock time: a hand-set time wins, then the file's; a time without a known wall clock
# (the file's modification time) is read as UTC, ingest's own convention. Migration 0009 indexes this
# exact expression: change both together.
LOCAL_TAKEN = sql.SQL(
    "COALESCE(m.manual_taken_at_local, m.taken_at_local, m.effective_taken_at AT TIME ZONE 'UTC')"
)

Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(max_length=200)]


class FilterParams(BaseModel):
    """The filter parameters, as the query string gives them (api/ROUTES.md, "Filters")."""

    q: str | None = Field(None, max_length=500, description=(
        'free text: words match as prefixes, "a quoted phrase" exactly, -word excludes, a or b either'))
    taken_from: str | None = Field(None, max_length=40, description=(
        "from this date (whole day, the item's wall-clock time) or date-time with offset, inclusive"))
    taken_to: str | None = Field(None, max_length=40, description="up to this date or date-time, inclusive")
    no_date: bool | None = Field(None, description="true: only items without a time taken; false: only with")
    bbox: str | None = Field(None, max_length=200, description=(
        "west,south,east,north in degrees; west > east crosses the antimeridian"))
    no_gps: bool | None = Field(None, description="true: only items without a position; false: only with")
    objects: list[Label] = Field(default_factory=list, alias="object", max_length=MAX_LIST, description=(
        "repeatable: 'dog' (at least one), 'person>=2', 'person<=3', 'dog=1'; counts are the most seen "
        "at once in a photo or one video keyframe"))
    person: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, max_length=MAX_LIST, description="repeatable person ids; all of them appear")
    make: ShortText | None = Field(None, description="camera make, exact, case-insensitive")
    model: ShortText | None = Field(None, description="camera model, exact, case-insensitive")
    kind: MediaKind | None = None
    format: list[Annotated[str, StringConstraints(max_length=20)]] = Field(
        default_factory=list, max_length=MAX_LIST, description="repeatable: jpeg, heic, mp4...")
    album: int | None = Field(None, ge=1, description="album id")
    favourite: bool | None = Field(None, description="true: favourites only; false: all but favourites")
    has_text: bool | None = Field(None, description="true: OCR text or a transcript; false: neither")
    source: str | None = Field(None, max_length=300, description="the ingest's --source label")


# -- parsed values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBound:
    """One end of a time range: a whole wall-clock day (``day``) or an instant (``instant``)."""

    day: date | None = None
    instant: datetime | None = None


@dataclass(frozen=True)
class Box:
    """A map area in degrees; ``west > east`` when it crosses the antimeridian, None for all longitudes."""

    west: float | None
    south: float
    east: float | None
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west is not None and self.east is not None and self.west > self.east


Operator = Literal[">=", "<=", "=", ">", "<"]


@dataclass(frozen=True)
class ObjectCount:
    """``label op count``; a bare label is ``label >= 1``."""

    label: str
    op: Operator
    count: int


@dataclass(frozen=True)
class Filters:
    """The filters, checked and typed. An empty ``Filters()`` matches every ready item."""

    text: str | None = None  # input for to_tsquery('simple', ...), built from letters and digits only
    taken_from: TimeBound | None = None
    taken_to: TimeBound | None = None
    no_date: bool | None = None
    bbox: Box | None = None
    no_gps: bool | None = None
    objects: tuple[ObjectCount, ...] = ()
    persons: tuple[int, ...] = ()
    make: str | None = None
    model: str | None = None
    kind: MediaKind | None = None
    formats: tuple[str, ...] = ()
    album: int | None = None
    favourite: bool | None = None
    has_text: bool | None = None
    source: str | None = None


class Problems:
    """Collects what is wrong with the parameters, to answer them all in one 422."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, name: str, problem: str) -> None:
        self.items.append({"field": name, "problem": problem})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise ApiError(422, f"{first['field']}: {first['problem']}", extra={"problems": self.items})


def invalid(name: str, problem: str) -> ApiError:
    """A 422 about one parameter, in the same shape as the validation errors."""
    return ApiError(422, f"{name}: {problem}", extra={"problems": [{"field": name, "problem": problem}]})


# -- free text -------------------------------------------------------------------------------------------

# A quoted phrase (an unclosed quote runs to the end), or a run of anything else up to a space or quote.
_TEXT_TOKEN = re.compile(r'(?P<neg>-?)"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)')
# Runs of letters and digits (any script): the pieces the search document is made of (file names are
# split on everything else there too), and the only characters that reach to_tsquery, where none of
# them is an operator.
_ALNUM = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class _Term:
    query: str
    negated: bool


def _term(parts: list[str], *, prefix: bool, negated: bool) -> _Term:
    # Pieces of one word ("IMG_2041") or of a phrase must be adjacent; in an unquoted word the last piece
    # matches as a prefix ("obam" finds obama), a quoted phrase matches exactly.
    pieces = [*parts[:-1], parts[-1] + (":*" if prefix else "")]
    joined = " <-> ".join(pieces)
    query = f"({joined})" if len(pieces) > 1 else joined
    return _Term(f"!{query}" if negated else query, negated)


def _terms_and_ors(text: str) -> list[_Term | None]:
    """The query's terms in order, ``None`` standing for an ``or`` between two of them."""
    items: list[_Term | None] = []
    for match in _TEXT_TOKEN.finditer(text):
        if match["phrase"] is not None:
            parts = _ALNUM.findall(match["phrase"])
            if parts:
                items.append(_term(parts, prefix=False, negated=bool(match["neg"])))
            continue
        word = match["word"]
        if word.lower() == "or":
            items.append(None)
            continue
        negated = word.startswith("-") and len(word) > 1
        parts = _ALNUM.findall(word[1:] if negated else word)
        if parts:
            items.append(_term(parts, prefix=True, negated=negated))
    return items


def _joined(items: list[_Term | None], index: int) -> bool:
    """Whether the ``or`` at ``index`` stands between two terms (else it is the word "or")."""
    return 0 < index < len(items) - 1 and None not in (items[index - 1], items[index + 1])


def text_query(text: str) -> str | None:
    """The to_tsquery input for a free-text query, or None when it has no letter or digit.

    Terms are ANDed; ``or`` joins the terms on either side of it and binds tighter than the AND, as in
    web search engines: ``beach dog or cat`` is beach & (dog | cat). An ``or`` with no term on one side
    is the word "or".
    """
    items = _terms_and_ors(text)
    groups: list[list[_Term]] = []
    for index, item in enumerate(items):
        if item is None:
            if not _joined(items, index):
                groups.append([_term(["or"], prefix=True, negated=False)])
        elif index > 0 and items[index - 1] is None and _joined(items, index - 1):
            groups[-1].append(item)
        else:
            groups.append([item])
    if sum(len(group) for group in groups) > MAX_TERMS:
        raise invalid("q", f"at most {MAX_TERMS} words")
    if not groups:
        return None
    return " & ".join(
        group[0].query if len(group) == 1 else "(" + " | ".join(term.query for term in group) + ")"
        for group in groups
    )


# -- the other parameters --------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_time(name: str, value: str, problems: Problems) -> TimeBound | None:
    value = value.strip()
    try:
        if _DATE.fullmatch(value):
            return TimeBound(day=date.fromisoformat(value))
        instant = datetime.fromisoformat(value)
    except ValueError:
        problems.add(name, "not a date (2024-05-01) or a date-time with offset (2024-05-01T12:00:00+02:00)")
        return None
    if instant.tzinfo is None:
        problems.add(name, "a date-time needs an offset (Z or +02:00); give a date for whole days")
        return None
    return TimeBound(instant=instant)


def _wrap_longitude(value: float) -> float:
    # Map libraries give longitudes beyond ±180 when the world repeats sideways.
    return value if -180 <= value <= 180 else (value + 180) % 360 - 180


def parse_box(name: str, value: str, problems: Problems) -> Box | None:
    """``west,south,east,north``; latitudes are clamped to ±90, a span of 360° or more is every longitude."""
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        problems.add(name, "four numbers: west,south,east,north (degrees)")
        return None
    west, south, east, north = numbers
    south, north = max(-90.0, south), min(90.0, north)
    if south > north:
        problems.add(name, "south is above north")
        return None
    if east - west >= 360:
        return Box(None, south, None, north)
    return Box(_wrap_longitude(west), south, _wrap_longitude(east), north)


_OBJECT = re.compile(r"\s*(?P<label>[^<>=]*[^<>=\s])\s*(?:(?P<op>>=|<=|=|>|<)\s*(?P<count>\d{1,4}))?\s*")


def parse_object(value: str, problems: Problems) -> ObjectCount | None:
    match = _OBJECT.fullmatch(value)
    if match is None:
        problems.add("object", "each is 'label', 'label>=N', 'label<=N', 'label>N', 'label<N' or 'label=N'")
        return None
    count = int(match["count"]) if match["count"] else 1
    if count > MAX_COUNT:
        problems.add("object", f"counts go up to {MAX_COUNT}")
        return None
    op: Operator = match["op"] or ">="  # type: ignore[assignment]
    return ObjectCount(match["label"], op, count)


_FORMAT = re.compile(r"[a-z0-9]{1,20}")


def parse_filters(params: FilterParams) -> Filters:
    """Check and type the parameters; every problem is reported in one 422."""
    problems = Problems()
    text = None
    if params.q and params.q.strip():
        text = text_query(params.q)
        if text is None:
            problems.add("q", "no word to search for (letters or digits)")
    taken_from = parse_time("taken_from", params.taken_from, problems) if params.taken_from else None
    taken_to = parse_time("taken_to", params.taken_to, problems) if params.taken_to else None
    if taken_from and taken_to and _after(taken_from, taken_to):
        problems.add("taken_to", "is before taken_from")
    bbox = parse_box("bbox", params.bbox, problems) if params.bbox else None
    objects = tuple(found for value in params.objects if (found := parse_object(value, problems)))
    formats = tuple(sorted({value.strip().lower() for value in params.format}))
    if any(not _FORMAT.fullmatch(value) for value in formats):
        problems.add("format", "formats are short names of letters and digits (jpeg, heic, mp4)")
    problems.raise_any()
    return Filters(
        text=text, taken_from=taken_from, taken_to=taken_to, no_date=params.no_date, bbox=bbox,
        no_gps=params.no_gps, objects=objects, persons=tuple(sorted(set(params.person))),
        make=_blank_to_none(params.make), model=_blank_to_none(params.model), kind=params.kind,
        formats=formats, album=params.album, favourite=params.favourite, has_text=params.has_text,
        source=_blank_to_none(params.source),
    )


def _after(start: TimeBound, end: TimeBound) -> bool:
    # Comparable only when both are days or both are instants (a day has no offset of its own).
    if start.day and end.day:
        return start.day > end.day
    if start.instant and end.instant:
        return start.instant > end.instant
    return False


def _blank_to_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def _filters_dependency(params: Annotated[FilterParams, Query()]) -> Filters:
    return parse_filters(params)


FilterQuery = Annotated[Filters, Depends(_filters_dependency)]


# -- SQL -------------------------------------------------------------------------------------------------


def execute(conn: Connection, query: sql.Composed, params: dict[str, Any]) -> Cursor[DictRow]:
    """Run a query built from filters, planned for its own values every time.

    psycopg prepares a statement the sixth time it runs, and Postgres then soon switches to a generic plan,
    one made without looking at the values: for these queries a much worse one (a label and a map area
    took 150 ms instead of 4, walking the time index to the end). Planning costs under a millisecond.
    """
    return conn.execute(query, params, prepare=False)


@dataclass
class Binder:
    """Hands out named placeholders (``%(f0)s``...) for values, so that no value is ever in the SQL text."""

    prefix: str = "f"
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> sql.Placeholder:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)


@dataclass(frozen=True)
class FilterSql:
    """The filters as SQL over ``media m``: ``SELECT ... FROM media m WHERE {condition}`` with ``params``.

    Free text is a condition on ``m.id``, except when the caller ranks by relevance (``ranked``): then
    ``condition`` leaves it out, and ``text_match`` and ``rank`` are expressions over ``search_doc sd`` for
    the caller's ranking query. Otherwise ``rank`` is the relevance of the row ``m`` (a subquery, for a
    select list), or NULL without free text.
    """

    condition: sql.Composable
    params: dict[str, Any]
    rank: sql.Composable
    text_match: sql.Composable | None
    unfiltered: bool  # nothing but "ready": see matching()

    def matching(self, column: str) -> sql.Composable:
        """``column`` (a media id of another table) belongs to an item matching the filters.

        Without filters that is "not a staged item": an anti-join with the few staged rows (a partial
        index), which costs nothing, instead of a semi-join with every ready id (a third of the time of a
        facet over the whole library).
        """
        if self.unfiltered:
            staged = sql.SQL("NOT EXISTS (SELECT 1 FROM media x WHERE x.id = {} AND x.status = 'staged')")
            return staged.format(sql.SQL(column))
        return sql.SQL("{} IN (SELECT m.id FROM media m WHERE {})").format(sql.SQL(column), self.condition)


def filter_sql(filters: Filters, *, ranked: bool = False) -> FilterSql:
    """The SQL of ``filters``; ``ranked``: the caller orders by relevance (see FilterSql)."""
    bind = Binder()
    conditions: list[sql.Composable] = [sql.SQL("m.status = 'ready'")]
    rank, text_match = _text(filters, bind, conditions, ranked=ranked)
    conditions += _time_conditions(filters, bind)
    conditions += _place_conditions(filters, bind)
    conditions += _column_conditions(filters, bind)
    conditions += _related_conditions(filters, bind)
    return FilterSql(condition=sql.SQL(" AND ").join(conditions), params=bind.params, rank=rank,
                     text_match=text_match, unfiltered=len(conditions) == 1)


def _text(filters: Filters, bind: Binder, conditions: list[sql.Composable], *, ranked: bool,
          ) -> tuple[sql.Composable, sql.Composable | None]:
    """(rank, match over ``sd``) for the free text; its condition on ``m`` joins ``conditions`` unless
    ``ranked``.

    The matches are collected once from the GIN index into an array, and media rows are fetched by id
    from it (``= ANY``): probing each row's document while walking a time index is slow when the matches
    gather in a few events, which is how photos come, and a semi-join costed as if pages were on disk
    scanned the whole table for a couple of thousand matches (3 to 10 times slower, measured at 100,000).
    """
    if filters.text is None:
        return sql.SQL("NULL::real"), None
    query = sql.SQL("to_tsquery('simple'::regconfig, {})").format(bind(filters.text))
    # Normalisation 1 divides by 1 + log(length): a word in a short name outranks the same word repeated
    # in a page of OCR text.
    if ranked:
        return sql.SQL("ts_rank_cd(sd.doc, {}, 1)").format(query), sql.SQL("sd.doc @@ {}").format(query)
    conditions.append(sql.SQL("m.id = ANY(ARRAY(SELECT media_id FROM search_doc WHERE doc @@ {}))")
                      .format(query))
    page_rank = sql.SQL("(SELECT ts_rank_cd(d.doc, {}, 1) FROM search_doc d WHERE d.media_id = m.id)")
    return page_rank.format(query), None


def _time_conditions(filters: Filters, bind: Binder) -> list[sql.Composable]:
    found: list[sql.Composable] = []
    if filters.no_date is not None:
        found.append(sql.SQL("m.effective_taken_at IS NULL" if filters.no_date
                             else "m.effective_taken_at IS NOT NULL"))
    for bound, is_end in ((filters.taken_from, False), (filters.taken_to, True)):
        if bound is None:
            continue
        if bound.day is not None:
            # Days are half-open ranges of wall-clock time: the end day runs to the next midnight.
            day = bound.day + timedelta(days=1) if is_end else bound.day
            found.append(sql.SQL("{} {} {}").format(
                LOCAL_TAKEN, sql.SQL("<" if is_end else ">="), bind(datetime.combine(day, time()))))
        else:
            found.append(sql.SQL("m.effective_taken_at {} {}").format(
                sql.SQL("<=" if is_end else ">="), bind(bound.instant)))
    return found


def _place_conditions(filters: Filters, bind: Binder) -> list[sql.Composable]:
    found: list[sql.Composable] = []
    if filters.no_gps is not None:
        found.append(sql.SQL("m.effective_lat IS NULL" if filters.no_gps else "m.effective_lat IS NOT NULL"))
    if filters.bbox is not None:
        found.append(box_condition(filters.bbox, bind))
    return found


def box_condition(box: Box, bind: Binder) -> sql.Composable:
    """Items placed inside ``box`` (edges included)."""
    latitude = sql.SQL("m.effective_lat BETWEEN {} AND {}").format(bind(box.south), bind(box.north))
    if box.west is None or box.east is None:
        return latitude
    if box.crosses_antimeridian:
        longitude = sql.SQL("(m.effective_lon >= {} OR m.effective_lon <= {})")
    else:
        longitude = sql.SQL("m.effective_lon BETWEEN {} AND {}")
    return sql.SQL("{} AND {}").format(latitude, longitude.format(bind(box.west), bind(box.east)))


def _column_conditions(filters: Filters, bind: Binder) -> list[sql.Composable]:
    found: list[sql.Composable] = []
    if filters.make is not None:
        found.append(sql.SQL("lower(m.make) = lower({})").format(bind(filters.make)))
    if filters.model is not None:
        found.append(sql.SQL("lower(m.model) = lower({})").format(bind(filters.model)))
    if filters.kind is not None:
        found.append(sql.SQL("m.kind = {}").format(bind(filters.kind.value)))
    if filters.formats:
        found.append(sql.SQL("m.format = ANY({})").format(bind(list(filters.formats))))
    if filters.favourite is not None:
        found.append(sql.SQL("m.favourite" if filters.favourite else "NOT m.favourite"))
    if filters.source is not None:
        found.append(sql.SQL("m.source = {}").format(bind(filters.source)))
    return found


def _related_conditions(filters: Filters, bind: Binder) -> list[sql.Composable]:
    found: list[sql.Composable] = []
    if filters.objects:
        counts = sql.SQL(" AND ").join(object_condition(wanted, bind) for wanted in filters.objects)
        found.append(sql.SQL(
            "EXISTS (SELECT 1 FROM object_scan s WHERE s.media_id = m.id AND {})").format(counts))
    for person in filters.persons:
        found.append(sql.SQL("EXISTS (SELECT 1 FROM face f WHERE f.media_id = m.id AND f.person_id = {})")
                     .format(bind(person)))
    if filters.album is not None:
        found.append(sql.SQL(
            "EXISTS (SELECT 1 FROM album_item ai WHERE ai.album_id = {} AND ai.media_id = m.id)"
        ).format(bind(filters.album)))
    if filters.has_text is not None:
        text = sql.SQL(
            "(EXISTS (SELECT 1 FROM ocr_result o WHERE o.media_id = m.id AND o.text <> '')"
            " OR EXISTS (SELECT 1 FROM speech_result r WHERE r.media_id = m.id AND r.text <> ''))")
        found.append(text if filters.has_text else sql.SQL("NOT {}").format(text))
    return found


def object_condition(wanted: ObjectCount, bind: Binder) -> sql.Composable:
    """One count condition on ``object_scan s``. An item that was scanned and has none of a label counts
    it 0 (so ``dog<=1`` includes it); an item not scanned yet matches no object condition.

    Conditions that need the label present use ``?`` or ``@>``, which the GIN index on label_counts serves.
    """
    low, high = count_range(wanted)
    label = bind(wanted.label)
    value = sql.SQL("(s.label_counts ->> {})::int").format(label)
    present = sql.SQL("s.label_counts ? {}").format(label)
    if high is not None and high < low:
        return sql.SQL("false")
    if low == high and low > 0:
        return sql.SQL("s.label_counts @> {}").format(bind(Jsonb({wanted.label: low})))
    if low == 0:
        if high is None:
            return sql.SQL("true")
        if high == 0:
            return sql.SQL("NOT {}").format(present)
        return sql.SQL("COALESCE({}, 0) <= {}").format(value, bind(high))
    found = [present]
    if low > 1:
        found.append(sql.SQL("{} >= {}").format(value, bind(low)))
    if high is not None:
        found.append(sql.SQL("{} <= {}").format(value, bind(high)))
    return sql.SQL(" AND ").join(found)


def count_range(wanted: ObjectCount) -> tuple[int, int | None]:
    """The counts ``wanted`` accepts, as (lowest, highest or None)."""
    count = wanted.count
    return {
        ">=": (count, None), ">": (count + 1, None), "=": (count, count),
        "<=": (0, count), "<": (0, count - 1),
    }[wanted.op]
