"""What happened to one input file, and the reason codes pava records.

Every file the walk offers ends in exactly one outcome. ``new``, ``duplicate`` and ``rejected`` are
recorded in the database (media, media_alias, rejection); ``skipped`` leaves the file where it is for a
later run (still being written, hidden, or already handled by an earlier interrupted run); ``error`` is an
unexpected failure, logged, with the file left in place so that a rerun tries it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["new", "duplicate", "rejected", "skipped", "error"]

# Rejection reasons (rejection.reason): short, stable codes; the human explanation goes to ``detail``.
EMPTY = "empty"
UNSUPPORTED_TYPE = "unsupported_type"
CORRUPT = "corrupt"
TRUNCATED = "truncated"
DECOMPRESSION_BOMB = "decompression_bomb"
TOO_LARGE = "too_large"
SYMLINK = "symlink"
NOT_REGULAR_FILE = "not_regular_file"
NON_UTF8_NAME = "non_utf8_name"
UNREADABLE = "unreadable"
NO_VIDEO_STREAM = "no_video_stream"

REJECTION_REASONS = frozenset({
    EMPTY, UNSUPPORTED_TYPE, CORRUPT, TRUNCATED, DECOMPRESSION_BOMB, TOO_LARGE, SYMLINK, NOT_REGULAR_FILE,
    NON_UTF8_NAME, UNREADABLE, NO_VIDEO_STREAM,
})

# Skip reasons: the file stays in the drop folder.
HIDDEN = "hidden"
TEMPORARY = "temporary"
UNSETTLED = "unsettled"  # modified less than settle_seconds ago: probably still being written
CHANGED = "changed"  # size or mtime changed between the walk and the read, or during the read
VANISHED = "vanished"  # gone before it could be read or moved (another process took it)
ALREADY_INGESTED = "already_ingested"  # leftover of an interrupted move: the stored file is this file
ALREADY_REJECTED = "already_rejected"  # rejected earlier and left in place (quarantine disabled)


class Rejected(Exception):
    """Raised by any step that finds the input unacceptable; the pipeline records and quarantines it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Skipped(Exception):
    """Raised when the input must be left alone for now (see the skip reasons above)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Outcome:
    """The result of ingesting one file; ``path`` is its path relative to the drop folder."""

    status: Status
    path: str
    media_id: int | None = None
    duplicate_of: int | None = None
    reason: str | None = None
    detail: str | None = None
    stored_path: str | None = None  # storage-relative: originals/..., duplicates/... or quarantine/...
    kind: str | None = None
    jobs: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status, "path": self.path, "media_id": self.media_id,
            "duplicate_of": self.duplicate_of, "reason": self.reason, "detail": self.detail,
            "stored_path": self.stored_path, "kind": self.kind, "jobs": len(self.jobs),
        }
