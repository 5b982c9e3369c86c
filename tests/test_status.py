"""`pava status`, `pava wait` and `pava requeue` against real Postgres and RabbitMQ."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr
from support import run_pava
from test_worker_app import add_media, job, queue_depth, record, wait_for

from core import db
from core.analyses import ANALYSES
from core.settings import Settings
from core.topology import Topology

QUEUE_FIELDS = {"analysis", "queue", "ready", "unacked", "consumers", "retrying", "dead_lettered"}


@pytest.fixture
def conn(settings: Settings) -> Any:
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _with_broker(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"broker": settings.broker.model_copy(update=changes)})


def _status(settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(run_pava(settings, "status", "--json").stdout)
    return report


def _set_state(conn: Any, job_id: int, state: str, error: str | None = None) -> None:
    conn.execute("UPDATE job SET state = %s, error = %s WHERE id = %s", (state, error, job_id))


def test_status_json_shape_and_counts(settings: Settings, conn: Any) -> None:
    items = [add_media(conn, settings, f"{i}.jpg") for i in range(4)]
    jobs = [record(conn, m, "dhash") for m in items]
    assert "published 4 job(s)" in run_pava(settings, "relay", "--once").stdout
    _set_state(conn, jobs[0], "done")
    _set_state(conn, jobs[1], "failed", "corrupt input")
    _set_state(conn, jobs[2], "running")
    record(conn, items[0], "ocr")  # recorded, not published: in the outbox, pending

    def ready_counted() -> dict[str, Any] | None:
        report = _status(settings)
        dhash = next(q for q in report["queues"] if q["analysis"] == "dhash")
        return report if dhash["ready"] == 4 else None

    report = wait_for(ready_counted, timeout=30, interval=1, what="management counts")  # refreshed every 5 s
    assert set(report) == {"generated_at", "broker", "queues", "jobs", "outbox", "recent_failures"}
    assert report["broker"] == {"source": "management", "error": None}
    assert [q["analysis"] for q in report["queues"]] == list(ANALYSES)
    for queue in report["queues"]:
        assert set(queue) == QUEUE_FIELDS
        assert queue["queue"] == Topology(settings.broker).queue(queue["analysis"])
    dhash = next(q for q in report["queues"] if q["analysis"] == "dhash")
    assert dhash == {"analysis": "dhash", "queue": "pava.dhash", "ready": 4, "unacked": 0, "consumers": 0,
                     "retrying": 0, "dead_lettered": 0}
    assert set(report["jobs"]) == set(ANALYSES)
    assert report["jobs"]["dhash"] == {"pending": 0, "queued": 1, "running": 1, "done": 1, "failed": 1,
                                       "total": 4}
    assert report["jobs"]["ocr"]["pending"] == 1
    assert report["outbox"] == 1
    assert report["recent_failures"] == [{
        "job_id": jobs[1], "media_id": items[1]["id"], "analyzer": "dhash", "storage_path": "originals/1.jpg",
        "attempts": 0, "error": "corrupt input", "failed_at": report["recent_failures"][0]["failed_at"],
    }]
    human = run_pava(settings, "status").stdout
    for text in ("Queues", "Jobs", "outbox: 1", "Recent failures", "corrupt input", "pava.dhash"):
        assert text in human


def test_status_falls_back_to_amqp_then_to_nothing(settings: Settings, conn: Any) -> None:
    record(conn, add_media(conn, settings, "a.jpg"), "dhash")
    run_pava(settings, "relay", "--once")
    no_api = _with_broker(settings, management_url="http://127.0.0.1:9/rabbitmq")
    report = _status(no_api)
    assert report["broker"]["source"] == "amqp" and "127.0.0.1:9" in report["broker"]["error"]
    dhash = next(q for q in report["queues"] if q["analysis"] == "dhash")
    assert dhash["ready"] == 1 and dhash["unacked"] is None and dhash["dead_lettered"] == 0

    no_broker = no_api.model_copy(update={"amqp_url": SecretStr("amqp://u:secret@127.0.0.1:9/x")})
    result = run_pava(no_broker, "status", "--json")
    report = json.loads(result.stdout)
    assert report["broker"]["source"] == "unavailable"
    assert all(q["ready"] is None for q in report["queues"])
    assert report["jobs"]["dhash"]["queued"] == 1, "the database part is still there"
    assert "secret" not in result.stdout + result.stderr


def test_wait_returns_when_nothing_is_left(settings: Settings, conn: Any) -> None:
    assert run_pava(settings, "wait", "--timeout", "5").returncode == 0
    items = [add_media(conn, settings, f"{i}.jpg") for i in range(2)]
    jobs = [record(conn, m, "dhash") for m in items]
    result = run_pava(settings, "wait", "--timeout", "0.5", check=False)
    assert result.returncode == 1
    assert "dhash: pending 2" in result.stdout and "outbox: 2" in result.stdout
    run_pava(settings, "relay", "--once")
    _set_state(conn, jobs[0], "done")
    _set_state(conn, jobs[1], "running")
    result = run_pava(settings, "wait", "--timeout", "0.5", check=False)
    assert result.returncode == 1 and "dhash: running 1" in result.stdout and "outbox: 0" in result.stdout
    _set_state(conn, jobs[1], "failed", "x")
    result = run_pava(settings, "wait", "--timeout", "5")
    assert result.returncode == 0 and "all jobs finished" in result.stdout


def test_requeue_modes(settings: Settings, conn: Any) -> None:
    photos = [add_media(conn, settings, f"{i}.jpg") for i in range(2)]
    video = add_media(conn, settings, "v.mp4", kind="video")
    done, failed = (record(conn, p, "dhash") for p in photos)
    run_pava(settings, "relay", "--once")
    _set_state(conn, done, "done")
    conn.execute("UPDATE job SET state = 'failed', error = 'boom', attempts = 3 WHERE id = %s", (failed,))
    queue = Topology(settings.broker).queue("dhash")
    assert queue_depth(settings, queue) == 2

    out = run_pava(settings, "requeue", "dhash").stdout  # --missing is the default
    assert "requeued 1 dhash job(s) (missing); published 1" in out
    assert {r["media_id"] for r in conn.execute("SELECT media_id FROM job WHERE analyzer = 'dhash'")} == {
        photos[0]["id"], photos[1]["id"], video["id"]}

    assert "requeued 1 dhash job(s) (failed)" in run_pava(settings, "requeue", "dhash", "--failed").stdout
    row = job(conn, failed)
    assert row["state"] == "queued" and row["attempts"] == 0 and row["error"] is None
    assert job(conn, done)["state"] == "done"

    out = run_pava(settings, "requeue", "ocr", "--missing").stdout
    assert "requeued 2 ocr job(s)" in out, "ocr applies to photos only"

    assert "requeued 3 dhash job(s) (all)" in run_pava(settings, "requeue", "dhash", "--all").stdout
    assert job(conn, done)["state"] == "queued"
    wait_for(lambda: queue_depth(settings, queue) == 2 + 1 + 1 + 3, timeout=10, what="every message queued")

    assert run_pava(settings, "requeue", "dhash", "--missing", "--failed", check=False).returncode == 2
    assert run_pava(settings, "requeue", "nope", check=False).returncode == 2

    # Broker down: the jobs are recorded all the same and wait in the outbox for the relay.
    down = settings.model_copy(update={"amqp_url": SecretStr("amqp://u:p@127.0.0.1:9/x")})
    out = run_pava(down, "requeue", "dhash", "--all").stdout
    assert "requeued 3 dhash job(s) (all); broker unreachable" in out
    assert conn.execute("SELECT count(*) AS n FROM outbox").fetchone()["n"] == 3
