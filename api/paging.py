"""Keyset pagination for the list routes: opaque cursors and page sizes.

A cursor is the sort key of the last item of a page (for example ``(updated_at, id)``), as URL-safe
base64 of a JSON list. It is opaque to clients and trusted by nobody: decoding checks every value's type,
and anything else is a 422 on the ``cursor`` parameter, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request

from api.errors import ApiError

Limit = Annotated[int | None, Query(ge=1, description="items per page: 100 unless given, at most "
                                                       "PAVA_API__PAGE_MAX (500 by default)")]
DEFAULT_LIMIT = 100
Cursor = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]


def page_limit(request: Request, limit: int | None) -> int:
    """The page size: ``limit`` checked against the configured largest page, or the default (which a
    smaller configured largest page lowers rather than turns into an error)."""
    largest: int = request.app.state.settings.api.page_max
    if limit is None:
        return min(DEFAULT_LIMIT, largest)
    if limit > largest:
        raise invalid("limit", f"at most {largest}")
    return limit


def invalid(field: str, problem: str) -> ApiError:
    return ApiError(422, f"{field}: {problem}", extra={"problems": [{"field": field, "problem": problem}]})


def encode_cursor(*values: int | str | datetime | None) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """The values of a cursor, each passed through its converter (``int``, ``timestamp``...), or None."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong number of values")
        return tuple(convert(value) for convert, value in zip(types, values, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("cursor", "not a cursor this list gave out; start again without it") from exc


def integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    return value


def timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a time without offset")
    return parsed


def next_cursor(rows: Sequence[Any], limit: int, key: Callable[[Any], Sequence[Any]]) -> str | None:
    """The cursor after a page fetched with ``limit + 1`` rows (None when there is no further page)."""
    if len(rows) <= limit:
        return None
    return encode_cursor(*key(rows[limit - 1]))
