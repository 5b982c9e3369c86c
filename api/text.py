"""Plain text that users type (comments, album names): kept exactly as given, but only what Postgres and
UTF-8 can hold. JSON can carry a NUL character or a lone surrogate (``"\\u0000"``, ``"\\ud800"``); Postgres
text cannot store the first and UTF-8 cannot encode the second, so they are a 422 here instead of a 500
from the database."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Limits as the schema checks them (migration 0006), so that a 422 comes before the database's error.
CommentBody = Annotated[str, Field(min_length=1, max_length=10000), AfterValidator(storable),
                        AfterValidator(not_blank)]
AlbumName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(storable),
                      AfterValidator(not_blank)]
AlbumDescription = Annotated[str, Field(max_length=5000), AfterValidator(storable)]
