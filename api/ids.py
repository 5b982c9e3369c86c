"""Ids in paths and bodies: positive and within Postgres bigint, so that "abc", "-1" or 2**70 are a 422
before any query (and a stray ``..`` in a path never reaches one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_BIGINT = 2**63 - 1

MediaId = Annotated[int, Field(ge=1, le=MAX_BIGINT)]

MediaIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="a media item's id")]
FaceIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="a face's id")]
AlbumIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="an album's id")]
CommentIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="a comment's id")]
