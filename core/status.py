"""``pava status``: what the broker holds and what the database says, as one plain dictionary.

JSON shape (``pava status --json``; field names are a stable interface, documented in the README)::

    {
      "generated_at": "2026-11-22T10:00:00+00:00",       # ISO 8601, UTC
      "broker": {
        "source": "management" | "amqp" | "unavailable",  # where the queue counts came from
        "error": null | "why the management API or the broker could not be read"
      },
      "queues": [                                         # one per analysis, in README order
        {
          "analysis": "dhash",
          "queue": "pava.dhash",
          "ready": 0,           # waiting for a worker
          "unacked": 0,         # delivered to a worker, not yet acknowledged (null from "amqp")
          "consumers": 1,       # workers attached
          "retrying": 0,        # waiting in the delayed-retry queues of this analysis
          "dead_lettered": 0    # in <queue>.dead: failed for good (or undecodable)
        }                       # counts are null when the broker could not be read
      ],
      "jobs": {                                           # every analysis, every state, zeros included
        "dhash": {"pending": 0, "queued": 0, "running": 0, "done": 0, "failed": 0, "total": 0}
      },
      "outbox": 0,                                        # jobs recorded but not yet published
      "recent_failures": [                                # newest first, at most ``failures`` entries
        {"job_id": 1, "media_id": 1, "analyzer": "dhash", "storage_path": "originals/a.jpg",
         "attempts": 3, "error": "the reason", "failed_at": "2026-11-22T10:00:00+00:00"}
      ]
    }

Queue counts come from the management HTTP API (``settings.broker.management_url``, with the AMQP
URL's credentials and vhost); if it cannot be reached, from passive ``queue_declare`` on the AMQP
connection, which knows ready messages and consumers but not unacknowledged ones. The management API
refreshes its counts every few seconds, so they may lag the database by that much.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from base64 import b64encode
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pika.exceptions

from core.analyses import ANALYSES
from core.broker import TRANSIENT_BROKER_ERRORS, connect
from core.db import Connection
from core.settings import Settings, mask_url
from core.topology import Topology

log = logging.getLogger(__name__)

JOB_STATES = ("pending", "queued", "running", "done", "failed")
HTTP_TIMEOUT = 5.0


def amqp_vhost(url: str) -> str:
    """The vhost an AMQP URL names (``/`` when it names none), as pika reads it."""
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Jobs per analysis and state, with zeros for what is absent."""
    counts = {name: dict.fromkeys((*JOB_STATES, "total"), 0) for name in ANALYSES}
    for row in conn.execute("SELECT analyzer, state, count(*) AS n FROM job GROUP BY analyzer, state"):
        entry = counts.setdefault(row["analyzer"], dict.fromkeys((*JOB_STATES, "total"), 0))
        entry[row["state"]] = int(row["n"])
        entry["total"] += int(row["n"])
    return counts


def outbox_size(conn: Connection) -> int:
    row = conn.execute("SELECT count(*) AS n FROM outbox").fetchone()
    return int(row["n"]) if row else 0


def recent_failures(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT j.id, j.media_id, j.analyzer, m.storage_path, j.attempts, j.error, j.updated_at
           FROM job j JOIN media m ON m.id = j.media_id
           WHERE j.state = 'failed' ORDER BY j.updated_at DESC, j.id DESC LIMIT %s""",
        (limit,),
    )
    return [
        {"job_id": r["id"], "media_id": r["media_id"], "analyzer": r["analyzer"],
         "storage_path": r["storage_path"], "attempts": r["attempts"], "error": r["error"],
         "failed_at": _iso(r["updated_at"])}
        for r in rows
    ]


def _management_queues(settings: Settings) -> dict[str, dict[str, Any]]:
    """Queue name -> the management API's record, for the AMQP URL's vhost."""
    amqp = urlsplit(settings.require_amqp_url())
    vhost = amqp_vhost(settings.require_amqp_url())
    base = settings.broker.management_url.rstrip("/")
    columns = "name,messages,messages_ready,messages_unacknowledged,consumers"
    url = f"{base}/api/queues/{quote(vhost, safe='')}?columns={columns}"
    request = urllib.request.Request(url)  # noqa: S310 (an http URL from our own settings)
    credentials = f"{unquote(amqp.username or '')}:{unquote(amqp.password or '')}"
    request.add_header("Authorization", "Basic " + b64encode(credentials.encode()).decode())
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
        records = json.loads(response.read())
    return {record["name"]: record for record in records}


def _from_management(topology: Topology, records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def total(name: str, field: str) -> int:
        return int(records.get(name, {}).get(field) or 0)

    queues = []
    for analysis in ANALYSES:
        name = topology.queue(analysis)
        retry_names = [topology.retry_queue(analysis, d) for d in sorted(set(topology.settings.retry_delays))]
        queues.append({
            "analysis": analysis, "queue": name,
            "ready": total(name, "messages_ready"), "unacked": total(name, "messages_unacknowledged"),
            "consumers": total(name, "consumers"),
            "retrying": sum(total(r, "messages") for r in retry_names),
            "dead_lettered": total(topology.dead_queue(analysis), "messages"),
        })
    return queues


def _from_amqp(settings: Settings, topology: Topology) -> list[dict[str, Any]]:
    """Passive declares: ready counts and consumers only. A queue that does not exist counts as empty."""
    connection = connect(settings)
    try:
        channel = connection.channel()

        def declared(name: str) -> tuple[int, int]:
            nonlocal channel
            try:
                method = channel.queue_declare(name, passive=True).method
            except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet
                channel = connection.channel()
                return 0, 0
            return int(method.message_count), int(method.consumer_count)

        queues = []
        for analysis in ANALYSES:
            ready, consumers = declared(topology.queue(analysis))
            retrying = sum(declared(topology.retry_queue(analysis, d))[0]
                           for d in sorted(set(topology.settings.retry_delays)))
            queues.append({
                "analysis": analysis, "queue": topology.queue(analysis), "ready": ready, "unacked": None,
                "consumers": consumers, "retrying": retrying,
                "dead_lettered": declared(topology.dead_queue(analysis))[0],
            })
        return queues
    finally:
        connection.close()


def broker_status(settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(broker, queues)`` as the JSON shape above describes."""
    topology = Topology(settings.broker)
    try:
        queues = _from_management(topology, _management_queues(settings))
        return {"source": "management", "error": None}, queues
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        management_error = f"management API at {mask_url(settings.broker.management_url)}: {exc}"
        log.debug("%s; falling back to AMQP", management_error)
    try:
        return {"source": "amqp", "error": management_error}, _from_amqp(settings, topology)
    except TRANSIENT_BROKER_ERRORS as exc:
        error = f"{management_error}; AMQP: {exc.__class__.__name__}: {exc}"
    empty = [{"analysis": a, "queue": topology.queue(a), "ready": None, "unacked": None, "consumers": None,
              "retrying": None, "dead_lettered": None} for a in ANALYSES]
    return {"source": "unavailable", "error": error}, empty


def collect(settings: Settings, conn: Connection, *, failures: int = 20) -> dict[str, Any]:
    """The whole status report (see the module docstring for its shape)."""
    broker, queues = broker_status(settings)
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "broker": broker,
        "queues": queues,
        "jobs": job_counts(conn),
        "outbox": outbox_size(conn),
        "recent_failures": recent_failures(conn, failures),
    }


def unfinished(conn: Connection) -> dict[str, Any]:
    """What ``pava wait`` waits for: jobs not yet done or failed, per analysis and state, and the outbox."""
    jobs: dict[str, dict[str, int]] = {}
    for row in conn.execute(
        """SELECT analyzer, state, count(*) AS n FROM job
           WHERE state IN ('pending', 'queued', 'running')
           GROUP BY analyzer, state ORDER BY analyzer, state"""
    ):
        jobs.setdefault(row["analyzer"], {})[row["state"]] = int(row["n"])
    return {"jobs": jobs, "outbox": outbox_size(conn)}
