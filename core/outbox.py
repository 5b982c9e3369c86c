"""Transactional outbox: jobs are recorded in the same transaction as the media they belong to, and
published afterwards. A broker outage delays jobs; it never loses one.

A crash between publish and delete re-publishes a message: workers are idempotent, so that is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.broker import TRANSIENT_BROKER_ERRORS, Publisher
from core.db import Connection
from core.envelope import JobEnvelope
from core.media import MediaKind

log = logging.getLogger(__name__)


def record_jobs(
    conn: Connection,
    *,
    media_id: int,
    kind: MediaKind,
    path: str,
    sha512_hex: str,
    analyses: Iterable[str],
    reset: bool = False,
) -> list[int]:
    """Record one job per analysis and its outbox message, inside the caller's transaction.

    An existing job is left alone unless ``reset`` is true (requeue), in which case it goes back to
    pending with its attempts cleared. Returns the ids of the jobs that were (re)queued.
    """
    job_ids: list[int] = []
    for analyzer in analyses:
        if reset:
            row = conn.execute(
                """
                INSERT INTO job (media_id, analyzer) VALUES (%s, %s)
                ON CONFLICT (media_id, analyzer) DO UPDATE
                   SET state = 'pending', attempts = 0, error = NULL, updated_at = now(), finished_at = NULL
                RETURNING id
                """,
                (media_id, analyzer),
            ).fetchone()
        else:
            row = conn.execute(
                """
                INSERT INTO job (media_id, analyzer) VALUES (%s, %s)
                ON CONFLICT (media_id, analyzer) DO NOTHING RETURNING id
                """,
                (media_id, analyzer),
            ).fetchone()
        if row is None:
            continue
        envelope = JobEnvelope(
            job_id=row["id"], media_id=media_id, analyzer=analyzer, kind=kind, path=path, sha512=sha512_hex
        )
        conn.execute(
            "INSERT INTO outbox (job_id, routing_key, body) VALUES (%s, %s, %s::jsonb)",
            (row["id"], analyzer, envelope.encode().decode()),
        )
        job_ids.append(row["id"])
    conn.execute("SELECT pg_notify('pava_outbox', '')")
    return job_ids


def publish_pending(conn: Connection, publisher: Publisher, *, batch: int = 500) -> int:
    """Publish what the outbox holds, batch by batch, until it is empty. Returns messages published.

    Rows are locked with SKIP LOCKED so several relays can run at once; a row is deleted in the same
    transaction that saw its publish confirmed. Broker errors propagate after the current batch's
    confirmed messages are committed, so nothing confirmed is published again needlessly.
    """
    total = 0
    while True:
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, job_id, routing_key, body FROM outbox"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (batch,),
            ).fetchall()
            if not rows:
                return total
            done: list[int] = []
            jobs: list[int] = []
            error: BaseException | None = None
            for row in rows:
                try:
                    publisher.publish(
                        row["routing_key"],
                        JobEnvelope.model_validate(row["body"]).encode(),
                        message_id=f"job-{row['job_id']}",
                    )
                except TRANSIENT_BROKER_ERRORS as exc:
                    error = exc
                    break
                done.append(row["id"])
                jobs.append(row["job_id"])
            if done:
                conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (done,))
                conn.execute(
                    "UPDATE job SET state = 'queued', updated_at = now()"
                    " WHERE id = ANY(%s) AND state = 'pending'",
                    (jobs,),
                )
            total += len(done)
        if error is not None:
            publisher.close()
            raise error


def pending_count(conn: Connection) -> int:
    row = conn.execute("SELECT count(*) AS n FROM outbox").fetchone()
    return int(row["n"]) if row else 0
