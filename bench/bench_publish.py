"""Jobs published per second with publisher confirms, through the transactional outbox.

    .venv/bin/python bench/bench_publish.py [--jobs 5000] [--repeat 2]

Starts a private RabbitMQ node and an embedded Postgres on free ports in a temporary folder (as
tests/conftest.py does), records ``--jobs`` dhash jobs with ``core.outbox.record_jobs``, and times:

- ``outbox``: ``core.outbox.publish_pending`` with ``core.broker.Publisher`` (what `pava relay` runs):
  each message waits for its own confirm before the next is sent;
- ``outbox_pipelined``: the same rows, the same SELECT ... FOR UPDATE SKIP LOCKED / DELETE per batch of
  500, but the batch is published at once and its confirms awaited together (a prototype here, on
  pika's public asynchronous adapter, not yet in core);
- ``raw_confirm_each`` and ``raw_pipelined``: the same messages without Postgres, to separate the
  broker's cost from the database's.

All go to the quorum queue ``pava.dhash`` (purged between runs). Best of ``--repeat`` runs.
Writes bench/out/publish.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
import pika.spec  # noqa: E402

from core import db  # noqa: E402
from core.broker import PERSISTENT, Publisher, connection_parameters  # noqa: E402
from core.envelope import JobEnvelope  # noqa: E402
from core.media import MediaKind  # noqa: E402
from core.outbox import publish_pending, record_jobs  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.topology import Topology  # noqa: E402
from pava.services.postgres import PostgresCluster, free_port  # noqa: E402
from pava.services.postgres import new_password as pg_password  # noqa: E402
from pava.services.rabbitmq import RabbitNode  # noqa: E402
from pava.services.rabbitmq import new_password as rabbit_password  # noqa: E402

OUT = ROOT / "bench" / "out"
BATCH = 500


class PipelinedPublisher:
    """Publishes a batch without waiting between messages, then waits for all its confirms.

    Built on pika's SelectConnection (public API): the broker acks confirms cumulatively
    (``multiple``), so a batch of 500 costs about one round trip instead of 500.
    """

    def __init__(self, params: pika.URLParameters, exchange: str) -> None:
        self.exchange = exchange
        self.channel: Any = None
        self.sent = 0  # delivery tags are 1..sent on this channel
        self.confirmed_upto = 0
        self.nacked: set[int] = set()
        self.returned = 0
        self.error: BaseException | None = None
        self.connection = pika.SelectConnection(params, on_open_callback=self._opened,
                                                on_open_error_callback=self._failed,
                                                on_close_callback=self._closed)
        self.connection.ioloop.start()  # returns once the channel is in confirm mode
        if self.error is not None:
            raise self.error

    def _opened(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._channel_open)

    def _channel_open(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self.connection.ioloop.stop())

    def _failed(self, _connection: Any, error: BaseException) -> None:
        self.error = error if isinstance(error, BaseException) else RuntimeError(str(error))
        self.connection.ioloop.stop()

    def _closed(self, _connection: Any, reason: BaseException) -> None:
        self.error = reason
        self.connection.ioloop.stop()

    def _on_return(self, *_args: Any) -> None:
        self.returned += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = (range(self.confirmed_upto + 1, method.delivery_tag + 1) if method.multiple
                else [method.delivery_tag])
        if isinstance(method, pika.spec.Basic.Nack):
            self.nacked.update(tags)
        self.confirmed_upto = max(self.confirmed_upto, method.delivery_tag)
        if self.confirmed_upto >= self.sent:
            self.connection.ioloop.stop()

    def publish_batch(self, messages: Sequence[tuple[str, bytes, str]]) -> None:
        """Publish ``(routing_key, body, message_id)`` items; returns once all are confirmed."""
        first = self.sent + 1
        for routing_key, body, message_id in messages:
            self.channel.basic_publish(
                self.exchange, routing_key, body,
                pika.BasicProperties(content_type="application/json", delivery_mode=PERSISTENT,
                                     message_id=message_id),
                mandatory=True,
            )
            self.sent += 1
        if self.confirmed_upto < self.sent:
            self.connection.ioloop.start()
        if self.error is not None:
            raise self.error
        refused = [tag for tag in self.nacked if tag >= first]
        if refused or self.returned:
            raise RuntimeError(f"{len(refused)} nacked, {self.returned} returned")

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
            self.connection.ioloop.start()


def publish_pending_pipelined(conn: db.Connection, publisher: PipelinedPublisher, *,
                              batch: int = BATCH) -> int:
    """``core.outbox.publish_pending``'s transaction per batch, with the batch's confirms pipelined."""
    total = 0
    while True:
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, job_id, routing_key, body FROM outbox ORDER BY id LIMIT %s"
                " FOR UPDATE SKIP LOCKED",
                (batch,),
            ).fetchall()
            if not rows:
                return total
            publisher.publish_batch([(r["routing_key"], JobEnvelope.model_validate(r["body"]).encode(),
                                      f"job-{r['job_id']}") for r in rows])
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([r["id"] for r in rows],))
            conn.execute("UPDATE job SET state = 'queued', updated_at = now()"
                         " WHERE id = ANY(%s) AND state = 'pending'", ([r["job_id"] for r in rows],))
        total += len(rows)


def seed(conn: db.Connection, jobs: int) -> list[tuple[int, str, str]]:
    media = []
    with conn.transaction():
        for n in range(jobs):
            digest = hashlib.sha512(f"bench-{n}".encode()).digest()
            row = conn.execute(
                """INSERT INTO media (sha512, status, kind, format, mime_type, size_bytes, storage_path,
                                      original_path)
                   VALUES (%s, 'ready', 'photo', 'jpeg', 'image/jpeg', 4000000, %s, %s) RETURNING id""",
                (digest, f"originals/bench/{n:06d}.jpg", f"bench/{n:06d}.jpg"),
            ).fetchone()
            assert row is not None
            media.append((row["id"], f"originals/bench/{n:06d}.jpg", digest.hex()))
    return media


def fill_outbox(conn: db.Connection, media: list[tuple[int, str, str]]) -> None:
    with conn.transaction():
        for media_id, path, sha in media:
            record_jobs(conn, media_id=media_id, kind=MediaKind.PHOTO, path=path, sha512_hex=sha,
                        analyses=["dhash"], reset=True)


def purge(settings: Settings, queue: str) -> None:
    connection = pika.BlockingConnection(connection_parameters(settings))
    connection.channel().queue_purge(queue)
    connection.close()


def timed(run: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    count = run()
    elapsed = time.perf_counter() - started
    if count != expected:
        raise RuntimeError(f"published {count}, expected {expected}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="pava-bench-publish-"))
    base.chmod(0o755)
    cluster = PostgresCluster(base / "pg" / "data", free_port(), pg_password(), fast_unsafe=False)
    node = RabbitNode(base / "rabbitmq", amqp_port=free_port(), management_port=free_port(),
                      dist_port=free_port(), epmd_port=free_port(),
                      node_name=f"pavabench{uuid.uuid4().hex[:8]}@localhost", password=rabbit_password())
    try:
        cluster.start()
        node.start()
        settings = Settings(database_url=cluster.create_database("bench"),  # type: ignore[arg-type]
                            amqp_url=node.amqp_url("/"))  # type: ignore[arg-type]
        db.migrate(settings)
        topology = Topology(settings.broker)
        queue = topology.queue("dhash")
        with Publisher(settings) as publisher:
            publisher.publish("dhash", b"{}")  # declares the topology
        purge(settings, queue)

        results: dict[str, list[float]] = {"outbox": [], "outbox_pipelined": [], "raw_confirm_each": [],
                                           "raw_pipelined": []}
        with db.connect(settings, autocommit=True) as conn:
            media = seed(conn, args.jobs)
            bodies = [("dhash", JobEnvelope(job_id=n + 1, media_id=media_id, analyzer="dhash",
                                            kind=MediaKind.PHOTO, path=path, sha512=sha).encode())
                      for n, (media_id, path, sha) in enumerate(media)]
            for _ in range(args.repeat):
                fill_outbox(conn, media)
                with Publisher(settings) as publisher:
                    results["outbox"].append(timed(lambda p=publisher: publish_pending(conn, p), args.jobs))
                purge(settings, queue)

                fill_outbox(conn, media)
                pipelined = PipelinedPublisher(connection_parameters(settings), topology.exchange)
                try:
                    results["outbox_pipelined"].append(
                        timed(lambda p=pipelined: publish_pending_pipelined(conn, p), args.jobs))
                finally:
                    pipelined.close()
                purge(settings, queue)

                with Publisher(settings) as publisher:
                    def each(p: Publisher = publisher) -> int:
                        for key, body in bodies:
                            p.publish(key, body)
                        return len(bodies)
                    results["raw_confirm_each"].append(timed(each, args.jobs))
                purge(settings, queue)

                pipelined = PipelinedPublisher(connection_parameters(settings), topology.exchange)
                try:
                    def batched(p: PipelinedPublisher = pipelined) -> int:
                        for start in range(0, len(bodies), BATCH):
                            p.publish_batch([(k, b, "raw") for k, b in bodies[start:start + BATCH]])
                        return len(bodies)
                    results["raw_pipelined"].append(timed(batched, args.jobs))
                finally:
                    pipelined.close()
                purge(settings, queue)

        report: dict[str, Any] = {
            "jobs": args.jobs,
            "repeat": args.repeat,
            "queue_type": "quorum",
            "batch": BATCH,
            "message_bytes": len(bodies[0][1]),
            "postgres_fsync": True,
            "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                        "python": platform.python_version()},
        }
        for name, runs in results.items():
            best = min(runs)
            report[name] = {"best_seconds": round(best, 3), "per_second": round(args.jobs / best),
                            "runs_seconds": [round(r, 3) for r in runs]}
        report["pipelined_speedup"] = round(min(results["outbox"]) / min(results["outbox_pipelined"]), 2)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "publish.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
    finally:
        node.destroy()
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
