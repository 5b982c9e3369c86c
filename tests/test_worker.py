"""The worker runtime against the real RabbitMQ and Postgres, with test-only analyzers (test_worker_app)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pika
import pytest
from support import run_pava
from test_worker_app import (
    NAME,
    InProcessWorker,
    TestAnalyzer,
    add_media,
    dead_queue,
    job,
    main_queue,
    prepare,
    publish,
    queue_depth,
    record,
    store,
    store_log,
    wait_for,
    wait_state,
    worker_process,
)

from core import db
from core.envelope import JobEnvelope
from core.settings import Settings
from core.topology import Topology, declare
from pava.services.postgres import free_port
from pava.services.rabbitmq import RabbitNode
from workers.analyzer import PermanentError


@pytest.fixture
def conn(settings: Settings) -> Any:
    prepare(settings)
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _publish_raw(settings: Settings, body: bytes, *, queue_of: str = NAME,
                 headers: dict[str, Any] | None = None) -> None:
    """Publish a message straight to an analysis's exchange route (no outbox), e.g. a duplicate or garbage."""
    topology = Topology(settings.broker)
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    try:
        channel = connection.channel()
        declare(channel, topology)
        channel.confirm_delivery()
        channel.basic_publish(topology.exchange, queue_of, body,
                              pika.BasicProperties(delivery_mode=2, headers=headers or {}), mandatory=True)
    finally:
        connection.close()


def test_jobs_done_results_committed_and_acked(settings: Settings, conn: Any) -> None:
    analyzer = TestAnalyzer(settings, "ok")
    media = [add_media(conn, settings, f"{i}.jpg") for i in range(5)]
    job_ids = [record(conn, m) for m in media]
    assert publish(settings) == 5
    with InProcessWorker(settings, analyzer, concurrency=2) as worker:
        for job_id in job_ids:
            row = wait_state(conn, job_id)
            assert row["state"] == "done", row
            assert row["analyzer_version"] == "1" and row["error"] is None and row["attempts"] == 1
            assert row["finished_at"] is not None
        metrics = worker.worker.metrics
    assert sorted(store_log(conn)) == sorted(job_ids)
    values = {r["media_id"]: r["value"] for r in conn.execute("SELECT * FROM test_result")}
    assert values[media[0]["id"]] == f"{media[0]['path']}:{len(b'pixels of 0.jpg')}"
    # The worker's connection is closed: anything it had not acked would be back in the queue.
    assert queue_depth(settings, main_queue(settings)) == 0
    assert metrics.jobs.labels(NAME, "done")._value.get() == 5
    assert metrics.duration.labels(NAME)._sum.get() >= metrics.analyze.labels(NAME)._sum.get() > 0


def test_worker_reconnects_to_the_database(settings: Settings, conn: Any) -> None:
    first = record(conn, add_media(conn, settings, "a.jpg"))
    publish(settings)
    with InProcessWorker(settings, TestAnalyzer(settings, "ok")):
        assert wait_state(conn, first)["state"] == "done"
        # The server drops the worker thread's connection (a restart, a failover, an idle timeout).
        # (This test's database only: a worker of an earlier test may still be closing its connections.)
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
                              "WHERE application_name = %s AND datname = current_database()",
                              (f"pava-worker-{NAME}",)).fetchone()
        assert killed["n"] == 1
        second = record(conn, add_media(conn, settings, "b.jpg"))
        publish(settings)
        row = wait_state(conn, second, timeout=30)
    assert row["state"] == "done", row
    assert row["attempts"] <= 2, "at most one attempt lost to the dropped connection"
    assert sorted(store_log(conn)) == [first, second]


def test_ack_only_after_commit(settings: Settings, conn: Any, rabbit: RabbitNode) -> None:
    """While the store's transaction is open the message stays unacknowledged; a failed commit is no ack."""
    in_store = threading.Event()
    release = threading.Event()
    fail_first = {"left": 1}

    def slow_then_store(c: db.Connection, item: Any, result: Any, meta: Any) -> None:
        store(c, item, result, meta)  # written inside the transaction...
        if fail_first["left"]:
            fail_first["left"] -= 1
            raise RuntimeError("commit fails this time")  # ...and rolled back
        in_store.set()
        assert release.wait(60)

    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    publish(settings)
    vhost = settings.require_amqp_url().rsplit("/", 1)[1]
    with InProcessWorker(settings, TestAnalyzer(settings, "ok"), store_function=slow_then_store):
        assert in_store.wait(30)
        # The first attempt's write was rolled back and retried through the retry queue.
        assert job(conn, job_id)["attempts"] == 2
        assert store_log(conn) == []
        assert job(conn, job_id)["state"] == "running"

        def unacked() -> bool:
            queue = rabbit.management_get(f"/api/queues/{vhost}/{main_queue(settings)}")
            assert isinstance(queue, dict)
            return queue.get("messages_unacknowledged") == 1

        wait_for(unacked, timeout=20, interval=0.5, what="the message to show as unacknowledged")
        release.set()
        assert wait_state(conn, job_id)["state"] == "done"
    assert store_log(conn) == [job_id]
    assert queue_depth(settings, main_queue(settings)) == 0


def test_redelivery_writes_nothing_twice(settings: Settings, conn: Any) -> None:
    analyzer = TestAnalyzer(settings, "ok")
    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    publish(settings)
    envelope = JobEnvelope(job_id=job_id, media_id=media["id"], analyzer=NAME, kind=media["kind"],
                           path=media["path"], sha512=media["sha512"])
    with InProcessWorker(settings, analyzer) as worker:
        wait_state(conn, job_id)
        # The same message again, as the broker redelivers after a lost ack, twice.
        _publish_raw(settings, envelope.encode())
        _publish_raw(settings, envelope.encode(), headers={"x-pava-attempt": 2})
        metrics = worker.worker.metrics
        wait_for(lambda: metrics.jobs.labels(NAME, "skipped")._value.get() == 2, what="two skips")
    assert analyzer.calls == [job_id], "a done job is not analysed again"
    assert store_log(conn) == [job_id]
    row = job(conn, job_id)
    assert row["state"] == "done" and row["attempts"] == 1
    assert queue_depth(settings, main_queue(settings)) == 0


def test_new_analyzer_version_reanalyses_and_replaces(settings: Settings, conn: Any) -> None:
    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    publish(settings)
    with InProcessWorker(settings, TestAnalyzer(settings, "ok")):
        wait_state(conn, job_id)

    class Newer(TestAnalyzer):
        version = "2"

    envelope = JobEnvelope(job_id=job_id, media_id=media["id"], analyzer=NAME, kind=media["kind"],
                           path=media["path"], sha512=media["sha512"])
    _publish_raw(settings, envelope.encode())
    with InProcessWorker(settings, Newer(settings, "ok")):
        wait_for(lambda: job(conn, job_id)["analyzer_version"] == "2", what="version 2 stored")
    rows = conn.execute("SELECT analyzer_version FROM test_result").fetchall()
    assert [r["analyzer_version"] for r in rows] == ["2"], "the result is replaced, not duplicated"


def test_transient_error_retried_via_retry_queue(settings: Settings, conn: Any) -> None:
    """Fails twice (attempts 1 and 2), succeeds on attempt 3 = max_attempts; each retry waits its tier."""
    analyzer = TestAnalyzer(settings, "flaky", failures=2)
    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    publish(settings)
    topology = Topology(settings.broker)
    started = time.monotonic()
    with InProcessWorker(settings, analyzer) as worker:
        # After the first failure the copy waits in the 1 s tier queue, not in the main queue.
        wait_for(lambda: queue_depth(settings, topology.retry_queue(NAME, 1)) == 1, timeout=10, interval=0.05,
                 what="the retry copy in the 1s queue")
        assert "retrying in 1s: TransientError: flaky failure 1" in job(conn, job_id)["error"]
        row = wait_state(conn, job_id)
        metrics = worker.worker.metrics
    elapsed = time.monotonic() - started
    assert row["state"] == "done", row
    assert row["attempts"] == 3 and row["error"] is None
    assert elapsed >= 1 + 2 - 0.5, "the two retries waited their delays (1 s, then 2 s)"
    assert analyzer.calls == [job_id] * 3
    assert store_log(conn) == [job_id]
    assert metrics.jobs.labels(NAME, "retried")._value.get() == 2
    assert queue_depth(settings, dead_queue(settings)) == 0


def test_always_failing_job_dead_lettered_and_in_status(settings: Settings, conn: Any) -> None:
    analyzer = TestAnalyzer(settings, "transient")
    media = add_media(conn, settings, "bad.jpg")
    job_id = record(conn, media)
    publish(settings)
    with InProcessWorker(settings, analyzer):
        row = wait_state(conn, job_id, timeout=40)
        wait_for(lambda: queue_depth(settings, dead_queue(settings)) == 1, what="the message in the DLQ")
    assert row["state"] == "failed"
    assert row["attempts"] == settings.broker.max_attempts == 3
    assert row["error"] == "gave up after 3 attempts: TransientError: always fails"
    assert len(analyzer.calls) == 3
    assert store_log(conn) == []

    def dead_in_status() -> dict[str, Any] | None:
        report = json.loads(run_pava(settings, "status", "--json").stdout)
        queue = next(q for q in report["queues"] if q["analysis"] == NAME)
        return report if queue["dead_lettered"] == 1 else None

    # The management API refreshes its counts every few seconds.
    report = wait_for(dead_in_status, timeout=30, interval=1, what="pava status to show the dead letter")
    assert report["broker"]["source"] == "management"
    assert report["jobs"][NAME]["failed"] == 1
    failure = report["recent_failures"][0]
    assert failure["job_id"] == job_id and failure["analyzer"] == NAME
    assert failure["storage_path"] == "originals/bad.jpg"
    assert failure["error"] == row["error"] and failure["attempts"] == 3
    human = run_pava(settings, "status").stdout
    assert "Recent failures" in human and "always fails" in human


def test_permanent_errors_fail_at_once(settings: Settings, conn: Any, tmp_path: Path) -> None:
    """PermanentError, a missing file, a path escaping the storage, a kind the analyzer refuses."""
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"not yours")
    bad = add_media(conn, settings, "corrupt.jpg")
    missing = add_media(conn, settings, "gone.jpg", write=False)
    escape = add_media(conn, settings, "link.jpg", write=False)
    (settings.storage_root / escape["path"]).symlink_to(outside)
    video = add_media(conn, settings, "clip.mp4", kind="video")
    ids = {name: record(conn, m) for name, m in
           (("bad", bad), ("missing", missing), ("escape", escape), ("video", video))}
    publish(settings)

    class PermanentForCorrupt(TestAnalyzer):
        def analyze(self, item: Any) -> str:
            if item.rel_path.endswith("corrupt.jpg"):
                raise PermanentError("corrupt input")
            return super().analyze(item)

    with InProcessWorker(settings, PermanentForCorrupt(settings, "ok")):
        rows = {name: wait_state(conn, job_id) for name, job_id in ids.items()}
        wait_for(lambda: queue_depth(settings, dead_queue(settings)) == 4, what="four dead letters")
    assert {name: r["state"] for name, r in rows.items()} == dict.fromkeys(ids, "failed")
    assert {name: r["attempts"] for name, r in rows.items()} == dict.fromkeys(ids, 1), "no retries"
    assert rows["bad"]["error"] == "corrupt input"
    assert rows["missing"]["error"] == "file missing from storage: originals/gone.jpg"
    assert "resolves outside the storage root" in rows["escape"]["error"]
    assert rows["video"]["error"] == "ocr does not analyse video items"
    assert store_log(conn) == []


def test_undecodable_messages_dead_lettered(settings: Settings, conn: Any) -> None:
    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    _publish_raw(settings, b"\xff not json")
    _publish_raw(settings, json.dumps({"v": 1, "job_id": 1}).encode())  # JSON, not an envelope
    _publish_raw(settings, json.dumps([1, 2]).encode())
    envelope = JobEnvelope(job_id=job_id, media_id=media["id"], analyzer="dhash", kind=media["kind"],
                           path=media["path"], sha512=media["sha512"])
    _publish_raw(settings, envelope.encode())  # a dhash job on the ocr queue
    publish(settings)
    with InProcessWorker(settings, TestAnalyzer(settings, "ok")) as worker:
        assert wait_state(conn, job_id)["state"] == "done", "the worker goes on after bad messages"
        wait_for(lambda: queue_depth(settings, dead_queue(settings)) == 4, what="four dead letters")
        assert worker.worker.metrics.jobs.labels(NAME, "rejected")._value.get() == 4
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    method, properties, body = connection.channel().basic_get(dead_queue(settings), auto_ack=True)
    connection.close()
    assert method is not None and body == b"\xff not json"
    assert properties.headers["x-death"][0]["reason"] == "rejected"


def test_job_timeout_is_a_transient_failure(settings: Settings, conn: Any) -> None:
    quick = settings.model_copy(update={"worker": settings.worker.model_copy(update={"job_timeout": 0.5})})
    analyzer = TestAnalyzer(quick, "slow", seconds=30)
    media = add_media(conn, settings, "a.jpg")
    job_id = record(conn, media)
    publish(settings)
    started = time.monotonic()
    with InProcessWorker(quick, analyzer):
        row = wait_state(conn, job_id, timeout=40)
    assert time.monotonic() - started < 20, "each attempt was cut at the timeout"
    assert row["state"] == "failed"
    assert row["error"] == "gave up after 3 attempts: JobTimeout: analysis exceeded 0.5s"


def test_sigterm_finishes_the_job_and_exits_0(settings: Settings, conn: Any, tmp_path: Path) -> None:
    media = [add_media(conn, settings, f"{i}.jpg") for i in range(2)]
    job_ids = [record(conn, m) for m in media]
    publish(settings)
    port = free_port()
    log = tmp_path / "worker.log"
    proc = worker_process(settings, "slow", seconds=3, extra_env={"PAVA_WORKER__METRICS_PORT": str(port)},
                          log_path=log)
    try:
        first = wait_for(lambda: next((i for i in job_ids if job(conn, i)["state"] == "running"), None),
                         timeout=30, what="a job to start")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert f'pava_jobs_in_flight{{analyzer="{NAME}"}} 1.0' in metrics
        assert "pava_job_analyze_seconds_bucket" in metrics and "pava_job_duration_seconds_sum" in metrics
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert job(conn, first)["state"] == "done", "the job in flight was finished"
    other = next(i for i in job_ids if i != first)
    assert job(conn, other)["state"] == "queued", "no new job was started after SIGTERM"
    assert store_log(conn) == [first]
    assert queue_depth(settings, main_queue(settings)) == 1, "the finished job was acked, the other one kept"
    assert "exited cleanly" in log.read_text()
