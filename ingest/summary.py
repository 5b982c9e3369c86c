"""The summary of one ingest run, as ``pava ingest --json`` prints it.

JSON fields (stable; documented in the README):

``root``            the folder (or file) ingested, absolute
``source``          the ``--source`` label recorded with every item ("" when none)
``started_at``, ``finished_at``  ISO 8601 UTC; ``elapsed_s`` seconds
``files``           files offered by the walk (new + duplicate + rejected + skipped + errors)
``new``             files stored as new items (under originals/)
``duplicate``       exact duplicates of stored items (moved under duplicates/, recorded as aliases)
``rejected``        files refused (moved under quarantine/, or left in place when quarantine is off)
``skipped``         files left in the drop folder for now (see ``skipped_by_reason``)
``skipped_by_reason``  {reason: count}: hidden, temporary, unsettled (still being written), changed,
                    vanished, already_ingested / already_rejected (leftovers of an interrupted run)
``errors``          files that failed unexpectedly (left in place; a rerun retries them)
``rejections``      [{path, reason, detail, quarantine_path}] one per rejected file; ``reason`` is a short
                    code: empty, unsupported_type, corrupt, truncated, decompression_bomb, too_large,
                    symlink, not_regular_file, non_utf8_name, unreadable, no_video_stream
``failures``        [{path, error}] one per error
``jobs_queued``     analysis jobs recorded by this run (one per analysis that applies to each new item)
``jobs_published``  outbox messages delivered to RabbitMQ at the end of the run (this run's and any
                    earlier ones still waiting)
``outbox_pending``  jobs still waiting in the outbox afterwards (the relay or a later run publishes them)
``broker_error``    why publishing stopped (broker unreachable), or null
``recovered``       {completed, removed, temporaries, conflicts}: work of interrupted runs finished first
``kinds``           {photo: n, video: n} among the new items
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.outcome import Outcome
from ingest.recovery import RecoveryReport


@dataclass
class Summary:
    root: str
    source: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    counts: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    jobs_queued: int = 0
    jobs_published: int = 0
    outbox_pending: int = 0
    broker_error: str | None = None
    recovered: RecoveryReport = field(default_factory=RecoveryReport)

    def add(self, result: Outcome) -> None:
        self.counts[result.status] += 1
        if result.status == "skipped":
            self.skipped_by_reason[result.reason or "unknown"] += 1
        elif result.status == "rejected":
            self.rejections.append({"path": result.path, "reason": result.reason, "detail": result.detail,
                                    "quarantine_path": result.stored_path})
        elif result.status == "new":
            self.kinds[result.kind or "unknown"] += 1
        self.jobs_queued += len(result.jobs)

    def skip(self, reason: str) -> None:
        self.counts["skipped"] += 1
        self.skipped_by_reason[reason] += 1

    def fail(self, path: str, error: str) -> None:
        self.counts["error"] += 1
        self.failures.append({"path": path, "error": error})

    @property
    def busy(self) -> bool:
        """Anything but walk-level skips happened (used by --watch to decide whether to report)."""
        return bool(self.counts["new"] or self.counts["duplicate"] or self.counts["rejected"]
                    or self.counts["error"] or self.jobs_published)

    def finish(self) -> None:
        self.finished_at = datetime.now(UTC)

    def to_json(self) -> dict[str, Any]:
        finished = self.finished_at or datetime.now(UTC)
        return {
            "root": self.root,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "elapsed_s": round((finished - self.started_at).total_seconds(), 3),
            "files": sum(self.counts.values()),
            "new": self.counts["new"],
            "duplicate": self.counts["duplicate"],
            "rejected": self.counts["rejected"],
            "skipped": self.counts["skipped"],
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "errors": self.counts["error"],
            "rejections": self.rejections,
            "failures": self.failures,
            "jobs_queued": self.jobs_queued,
            "jobs_published": self.jobs_published,
            "outbox_pending": self.outbox_pending,
            "broker_error": self.broker_error,
            "recovered": self.recovered.to_json(),
            "kinds": dict(sorted(self.kinds.items())),
        }

    def line(self) -> str:
        """One human line for the terminal."""
        counts = self.counts
        text = (f"{counts['new']} new, {counts['duplicate']} duplicate, {counts['rejected']} rejected, "
                f"{counts['skipped']} skipped")
        if self.counts["error"]:
            text += f", {self.counts['error']} failed"
        text += f"; {self.jobs_queued} jobs queued"
        if self.outbox_pending:
            text += f", {self.outbox_pending} waiting in the outbox"
        return text
