"""The sorts of ``GET /api/media`` and their keyset cursors.

Every sort is a total order: (sort key, id), both in the same direction, so that the next page is simply
"after the last row" (a row comparison the sort's index serves) and ties never repeat or skip an item.
Items without a date are last in both time sorts: their key is -infinity (newest first) or +infinity
(oldest first), which keeps the key NOT NULL, so the row comparison needs no special case for them.

A cursor is URL-safe base64 of ``[sort, key value, id]``; it is only trusted as far as its types are
checked, and a cursor of another sort is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import sql

from api.filters import invalid
from api.paging import timestamp

SortName = Literal["-taken_at", "taken_at", "-ingested_at", "ingested_at", "relevance"]


@dataclass(frozen=True)
class Sort:
    name: SortName
    key: sql.Composable  # the ORDER BY expression (besides m.id)
    descending: bool
    cursor_key: Callable[[sql.Composable], sql.Composable]  # the key expression over the cursor's value
    value: Callable[[dict[str, Any]], Any]  # a row's key value, as it goes into a cursor
    check: Callable[[Any], Any]  # a cursor's key value -> the query parameter (TypeError/ValueError if bad)


def _time(row: dict[str, Any], column: str) -> str | None:
    value: datetime | None = row[column]
    return value.isoformat() if value is not None else None


def _instant(value: Any, *, nullable: bool) -> datetime | None:
    return None if value is None and nullable else timestamp(value)


def _rank(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise TypeError("not a rank")
    return float(value)


def _taken(name: SortName, descending: bool) -> Sort:
    # Must match migration 0009's indexes media_taken_desc / media_taken_asc exactly.
    missing = "-infinity" if descending else "infinity"
    return Sort(
        name=name,
        key=sql.SQL("COALESCE(m.effective_taken_at, {}::timestamptz)").format(sql.Literal(missing)),
        descending=descending,
        cursor_key=lambda value: sql.SQL("COALESCE({}::timestamptz, {}::timestamptz)").format(
            value, sql.Literal(missing)),
        value=lambda row: _time(row, "effective_taken_at"),
        check=lambda value: _instant(value, nullable=True),
    )


def _ingested(name: SortName, descending: bool) -> Sort:
    return Sort(name=name, key=sql.SQL("m.ingested_at"), descending=descending,
                cursor_key=lambda value: sql.SQL("{}::timestamptz").format(value),
                value=lambda row: _time(row, "ingested_at"),
                check=lambda value: _instant(value, nullable=False))


def relevance(rank: sql.Composable) -> Sort:
    """Best match first; ``rank`` is the filters' ts_rank_cd expression."""
    return Sort(name="relevance", key=rank, descending=True,
                cursor_key=lambda value: sql.SQL("{}::real").format(value),
                value=lambda row: row["rank"], check=_rank)


def sort_name(name: SortName | None, *, has_text: bool) -> SortName:
    """The sort asked for; by default relevance with free text, else newest taken first."""
    if name is None:
        return "relevance" if has_text else "-taken_at"
    if name == "relevance" and not has_text:
        raise invalid("sort", "relevance needs free text (q)")
    return name


def sort_for(name: SortName, *, rank: sql.Composable) -> Sort:
    """The sort ``name``; ``rank`` is the filters' relevance expression (see api.filters.filter_sql)."""
    if name == "relevance":
        return relevance(rank)
    if name in ("-taken_at", "taken_at"):
        return _taken(name, descending=name.startswith("-"))
    return _ingested(name, descending=name.startswith("-"))


def order_by(sort: Sort, id_column: str = "m.id") -> sql.Composable:
    direction = sql.SQL("DESC" if sort.descending else "ASC")
    return sql.SQL("{key} {direction}, {id} {direction}").format(key=sort.key, direction=direction,
                                                                 id=sql.SQL(id_column))


def encode_cursor(sort: Sort, row: dict[str, Any]) -> str:
    plain = json.dumps([sort.name, sort.value(row), int(row["id"])], separators=(",", ":"))
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


def after_cursor(sort: Sort, cursor: str, params: dict[str, Any], id_column: str = "m.id") -> sql.Composable:
    """The condition "after the cursor's row" in the sort's order; its values are added to ``params``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(decoded, list) or len(decoded) != 3:
            raise ValueError("not a cursor")
        name, value, media_id = decoded
        if not isinstance(media_id, int) or isinstance(media_id, bool):
            raise TypeError("not an id")
        checked = sort.check(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("cursor", "not a cursor this list gave out; start again without it") from exc
    if name != sort.name:
        raise invalid("cursor", f"this cursor was given out for another sort than {sort.name}")
    params["cursor_value"], params["cursor_id"] = checked, media_id
    return sql.SQL("({key}, {id}) {comparison} ({cursor_key}, %(cursor_id)s)").format(
        key=sort.key, id=sql.SQL(id_column), comparison=sql.SQL("<" if sort.descending else ">"),
        cursor_key=sort.cursor_key(sql.Placeholder("cursor_value")))
