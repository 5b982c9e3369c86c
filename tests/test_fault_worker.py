"""Faults in workers: kill -9 in the middle of jobs. Nothing lost, nothing stored twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from test_worker_app import (
    add_media,
    job,
    main_queue,
    prepare,
    publish,
    queue_depth,
    record,
    store_log,
    wait_for,
    wait_state,
    worker_process,
)

from core import db
from core.settings import Settings

pytestmark = pytest.mark.fault


@pytest.fixture
def conn(settings: Settings) -> Any:
    prepare(settings)
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _terminate(proc: Any, log: Path) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()


def test_kill_9_mid_job_then_another_worker_completes_it_once(settings: Settings, conn: Any,
                                                               tmp_path: Path) -> None:
    media = add_media(conn, settings, "slow.jpg")
    job_id = record(conn, media)
    publish(settings)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = worker_process(settings, "slow", seconds=5, log_path=first_log)
    try:
        wait_state(conn, job_id, ("running",))
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    assert job(conn, job_id)["state"] == "running" and store_log(conn) == []
    second = worker_process(settings, "slow", seconds=0.5, log_path=second_log)
    try:
        row = wait_state(conn, job_id, timeout=60)
        _terminate(second, second_log)
    finally:
        if second.poll() is None:
            second.kill()
    assert row["state"] == "done", row
    assert row["attempts"] == 2, "the killed run counts as an attempt"
    assert store_log(conn) == [job_id], "stored exactly once"
    assert queue_depth(settings, main_queue(settings)) == 0


def test_kill_9_during_a_stream_of_jobs_stores_each_once(settings: Settings, conn: Any,
                                                         tmp_path: Path) -> None:
    """Killed at an arbitrary point of a batch: some job may be between commit and ack; its redelivery is
    recognised as done and stores nothing."""
    job_ids = [record(conn, add_media(conn, settings, f"{i}.jpg")) for i in range(40)]
    publish(settings)
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    for round_, log in enumerate(logs[:2]):
        proc = worker_process(settings, "slow", seconds=0.05, concurrency=2, log_path=log)
        try:
            wait_for(lambda n=round_: len(store_log(conn)) >= 10 * (n + 1), timeout=60, interval=0.02,
                     what="some jobs done")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    last = worker_process(settings, "ok", concurrency=2, log_path=logs[2])
    try:
        for job_id in job_ids:
            assert wait_state(conn, job_id, timeout=60)["state"] == "done"
        _terminate(last, logs[2])
    finally:
        if last.poll() is None:
            last.kill()
    stored = store_log(conn)
    assert sorted(stored) == sorted(job_ids), "every job stored exactly once"
    assert queue_depth(settings, main_queue(settings)) == 0
