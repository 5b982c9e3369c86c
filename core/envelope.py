"""The job message: a small versioned JSON envelope, decoded once at the consumer's edge."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.analyses import ANALYSES
from core.media import MediaKind
from core.storage import safe_relative

VERSION = 1
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A message body that is not a valid envelope: never retried, dead-lettered at once."""


class JobEnvelope(BaseModel):
    """One analysis of one media item. ``path`` is relative to the storage root."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = Field(VERSION, description="envelope version")
    job_id: int = Field(gt=0)
    media_id: int = Field(gt=0)
    analyzer: str
    kind: MediaKind
    path: str
    sha512: str = Field(pattern=r"^[0-9a-f]{128}$")

    @field_validator("analyzer")
    @classmethod
    def _known_analyzer(cls, value: str) -> str:
        if value not in ANALYSES:
            raise ValueError(f"unknown analyzer {value!r}")
        return value

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        safe_relative(value)
        return value

    @field_validator("v")
    @classmethod
    def _supported_version(cls, value: int) -> int:
        if value != VERSION:
            raise ValueError(f"unsupported envelope version {value}")
        return value

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def encode(self) -> bytes:
        return json.dumps(self.to_body(), separators=(",", ":")).encode()


def decode(body: bytes) -> JobEnvelope:
    """Parse a message body; any defect raises ``EnvelopeError`` with the reason."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("message body is not a JSON object")
    try:
        return JobEnvelope.model_validate(data)
    except ValidationError as exc:
        raise EnvelopeError(f"invalid job envelope: {exc.errors(include_url=False)}") from exc
