"""One job, start to finish, in a worker thread: no RabbitMQ here.

``JobRunner.handle`` turns a decoded delivery into an ``Outcome`` (ack, retry or dead-letter) that the
consumer carries out on the connection's thread. Every database write is keyed by the job row, which is
locked while it is read and written, so a redelivered or concurrently delivered job writes nothing twice:

    begin:   lock the job; done with this analyzer version -> skip; else running, attempts + 1
    analyze: outside any transaction (it may take minutes)
    commit:  lock the job again; done meanwhile -> skip; else store(...) + done, in one transaction

Errors are sorted here: ``PermanentError`` and unsafe or missing files fail the job for good; anything
else (``TransientError``, database errors, timeouts, bugs) is retried until ``max_attempts``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core import db
from core.db import TRANSIENT_DB_ERRORS, Connection
from core.envelope import JobEnvelope
from core.settings import Settings
from core.storage import UnsafePathError, resolve
from core.topology import Topology
from workers.analyzer import Analyzer, MediaItem, PermanentError, Store
from workers.metrics import WorkerMetrics
from workers.timeout import call_with_timeout

log = logging.getLogger(__name__)

# Stored reasons are for people reading `pava status`; a traceback belongs in the worker's log.
_MAX_REASON = 2000


class Action(StrEnum):
    ACK = "ack"  # results committed, or nothing to do
    RETRY = "retry"  # publish a delayed copy, then ack the original
    DEAD = "dead"  # nack without requeue: the queue dead-letters it


@dataclass(frozen=True)
class Delivery:
    """A decoded message: the envelope and the attempt number it carries (1 for the first)."""

    envelope: JobEnvelope
    attempt: int = 1
    redelivered: bool = False


@dataclass(frozen=True)
class Outcome:
    """What to do with the message, and what happened (``status`` is a metrics outcome label)."""

    action: Action
    status: str  # done, skipped, retried, failed
    reason: str | None = None
    attempt: int = 1
    next_attempt: int | None = None  # RETRY: the attempt number the delayed copy carries
    delay: int | None = None  # RETRY: seconds, one of the configured retry tiers


class MissingFileError(PermanentError):
    """The item's file is not on the storage."""


class _Mismatch(Exception):
    """The envelope does not describe the job row it names: dead-letter it, leave the row alone."""


@dataclass(frozen=True)
class _Begun:
    skip: bool
    attempts: int = 0


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if not isinstance(exc, PermanentError | UnsafePathError):
        text = f"{exc.__class__.__name__}: {text}"
    return text[:_MAX_REASON]


class JobRunner:
    """Runs jobs of one analysis. Thread-safe: each worker thread gets its own database connection."""

    def __init__(self, settings: Settings, analyzer: Analyzer[Any], store: Store,
                 metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.analyzer = analyzer
        self.store = store
        self.metrics = metrics or WorkerMetrics(analyzer.name)
        self.topology = Topology(settings.broker)
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    # -- database connections, one per thread -------------------------------------------------------

    def _conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = db.connect(self.settings, autocommit=True,
                              application_name=f"pava-worker-{self.analyzer.name}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop_conn(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                conn.close()

    def close(self) -> None:
        """Close every thread's connection (after the worker threads have stopped)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                conn.close()

    # -- the job ------------------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> Outcome:
        """Run one job; never raises (every failure becomes an Outcome)."""
        started = time.monotonic()
        try:
            return self._handle(delivery)
        finally:
            self.metrics.duration.labels(self.analyzer.name).observe(time.monotonic() - started)

    def _handle(self, delivery: Delivery) -> Outcome:
        envelope = delivery.envelope
        attempt = delivery.attempt
        try:
            conn = self._conn()
            begun = self._begin(conn, envelope)
            if begun is None:
                log.warning("job %d no longer exists (media deleted?); dropping its message", envelope.job_id)
                return Outcome(Action.ACK, "skipped", "job no longer exists", attempt)
            if begun.skip:
                log.debug("job %d already done with %s %s; redelivery ignored",
                          envelope.job_id, self.analyzer.name, self.analyzer.version)
                return Outcome(Action.ACK, "skipped", "already done", attempt)
            # A crash mid-job (kill -9, lost connection) counts as an attempt too: the row remembers it.
            attempt = max(attempt, begun.attempts)
            item = self._item(envelope)
            if not self.analyzer.accepts(item):
                raise PermanentError(f"{self.analyzer.name} does not analyse {item.kind} items")
            self.analyzer.load()
            analyze_started = time.monotonic()
            try:
                result = call_with_timeout(lambda: self.analyzer.analyze(item),
                                           self.settings.worker.job_timeout)
            finally:
                self.metrics.analyze.labels(self.analyzer.name).observe(time.monotonic() - analyze_started)
            commit_started = time.monotonic()
            stored = self._commit(conn, item, result)
            self.metrics.commit.labels(self.analyzer.name).observe(time.monotonic() - commit_started)
        except _Mismatch as exc:
            log.error("dead-lettering job %d: %s", envelope.job_id, exc)
            return Outcome(Action.DEAD, "failed", str(exc), attempt)
        except (PermanentError, UnsafePathError) as exc:
            return self._fail(envelope, _reason(exc), attempt)
        except Exception as exc:
            if isinstance(exc, TRANSIENT_DB_ERRORS):
                self._drop_conn()
            log.warning("job %d (media %d) attempt %d failed: %s", envelope.job_id, envelope.media_id,
                        attempt, _reason(exc), exc_info=not isinstance(exc, TRANSIENT_DB_ERRORS))
            return self._retry_or_fail(envelope, _reason(exc), attempt)
        if not stored:
            return Outcome(Action.ACK, "skipped", "done meanwhile by another delivery", attempt)
        log.debug("job %d (media %d) done", envelope.job_id, envelope.media_id)
        return Outcome(Action.ACK, "done", None, attempt)

    def _begin(self, conn: Connection, envelope: JobEnvelope) -> _Begun | None:
        with conn.transaction():
            row = conn.execute(
                "SELECT media_id, analyzer, state, analyzer_version FROM job WHERE id = %s FOR UPDATE",
                (envelope.job_id,),
            ).fetchone()
            if row is None:
                return None
            if row["media_id"] != envelope.media_id or row["analyzer"] != envelope.analyzer:
                raise _Mismatch(f"envelope names media {envelope.media_id}/{envelope.analyzer}, "
                                f"job row has {row['media_id']}/{row['analyzer']}")
            if row["state"] == "done" and row["analyzer_version"] == self.analyzer.version:
                return _Begun(skip=True)
            updated = conn.execute(
                """UPDATE job SET state = 'running', attempts = attempts + 1, updated_at = now()
                   WHERE id = %s RETURNING attempts""",
                (envelope.job_id,),
            ).fetchone()
            assert updated is not None
            return _Begun(skip=False, attempts=int(updated["attempts"]))

    def _item(self, envelope: JobEnvelope) -> MediaItem:
        root = self.settings.storage_root
        if not root.is_dir():
            # The storage is not mounted on this host: a host problem, not the item's. Retried.
            raise OSError(f"storage root {root} is not a directory (not mounted?)")
        path = resolve(root, envelope.path)
        real = path.resolve()
        if not real.is_relative_to(root.resolve()):
            raise UnsafePathError(f"{envelope.path!r} resolves outside the storage root")
        if not real.is_file():
            raise MissingFileError(f"file missing from storage: {envelope.path}")
        return MediaItem(media_id=envelope.media_id, job_id=envelope.job_id, kind=envelope.kind,
                         path=Path(real), rel_path=envelope.path, sha512=envelope.sha512, storage_root=root)

    def _commit(self, conn: Connection, item: MediaItem, result: Any) -> bool:
        meta = self.analyzer.meta()
        with conn.transaction():
            # The row lock serialises two deliveries of the same job that ran at once: the second one
            # waits here, then sees `done` and stores nothing.
            row = conn.execute("SELECT state, analyzer_version FROM job WHERE id = %s FOR UPDATE",
                               (item.job_id,)).fetchone()
            if row is None or (row["state"] == "done" and row["analyzer_version"] == meta.version):
                return False
            self.store(conn, item, result, meta)
            conn.execute(
                """UPDATE job SET state = 'done', analyzer_version = %s, error = NULL, finished_at = now(),
                                  updated_at = now()
                   WHERE id = %s""",
                (meta.version, item.job_id),
            )
        return True

    def _fail(self, envelope: JobEnvelope, reason: str, attempt: int) -> Outcome:
        """Record the failure, then dead-letter. If the database cannot take it, retry instead."""
        try:
            conn = self._conn()
            with conn.transaction():
                # A job completed by another delivery with this version stays done.
                conn.execute(
                    """UPDATE job SET state = 'failed', error = %s, finished_at = now(), updated_at = now()
                       WHERE id = %s AND NOT (state = 'done' AND analyzer_version IS NOT DISTINCT FROM %s)""",
                    (reason, envelope.job_id, self.analyzer.version),
                )
        except TRANSIENT_DB_ERRORS as exc:
            self._drop_conn()
            log.warning("job %d failed (%s) but the database is unreachable (%s); retrying it later",
                        envelope.job_id, reason, exc.__class__.__name__)
            # Dead-lettering now would leave the row `running` forever: keep the message alive instead.
            delay = self.topology.retry_delay(max(attempt, 1))
            return Outcome(Action.RETRY, "retried", reason, attempt, next_attempt=attempt, delay=delay)
        log.error("job %d (media %d, %s) failed: %s", envelope.job_id, envelope.media_id, envelope.path,
                  reason)
        return Outcome(Action.DEAD, "failed", reason, attempt)

    def _retry_or_fail(self, envelope: JobEnvelope, reason: str, attempt: int) -> Outcome:
        max_attempts = self.settings.broker.max_attempts
        if attempt >= max_attempts:
            return self._fail(envelope, f"gave up after {attempt} attempts: {reason}"[:_MAX_REASON], attempt)
        delay = self.topology.retry_delay(attempt)
        try:
            conn = self._conn()
            with conn.transaction():
                conn.execute(
                    """UPDATE job SET state = 'queued', error = %s, updated_at = now()
                       WHERE id = %s AND state = 'running'""",
                    (f"attempt {attempt} failed, retrying in {delay}s: {reason}"[:_MAX_REASON],
                     envelope.job_id),
                )
        except TRANSIENT_DB_ERRORS:
            # Only bookkeeping: the message carries the retry either way.
            self._drop_conn()
        return Outcome(Action.RETRY, "retried", reason, attempt, next_attempt=attempt + 1, delay=delay)
