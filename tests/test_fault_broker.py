"""Faults in the broker: RabbitMQ restarted while jobs are published and consumed.

The relay and the worker run as real processes and must reconnect by themselves; every job ends done,
each stored once. The ``rabbit`` node is shared by the session, so it is always started again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import popen_pava
from test_worker_app import (
    add_media,
    job,
    main_queue,
    prepare,
    queue_depth,
    record,
    store_log,
    wait_for,
    worker_process,
)

from core import db
from core.outbox import pending_count
from core.settings import Settings
from pava.services.rabbitmq import RabbitNode

pytestmark = pytest.mark.fault

JOBS = 60


@pytest.fixture
def conn(settings: Settings) -> Any:
    prepare(settings)
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def test_rabbitmq_restart_during_publish_and_consume(settings: Settings, conn: Any, rabbit: RabbitNode,
                                                     tmp_path: Path) -> None:
    relay_log, worker_log = tmp_path / "relay.log", tmp_path / "worker.log"
    with relay_log.open("w") as out:
        relay = popen_pava(settings, "relay", "--poll", "1", stdout=out, stderr=out)
    worker = worker_process(settings, "slow", seconds=0.05, concurrency=2, log_path=worker_log)
    job_ids: list[int] = []
    recorded = threading.Event()

    def produce() -> None:
        # Jobs keep being recorded (only into Postgres: the relay publishes) before, during and after
        # the outage, as an ingest would.
        with db.connect(settings, autocommit=True) as own:
            for i in range(JOBS):
                job_ids.append(record(own, add_media(own, settings, f"{i}.jpg")))
                time.sleep(0.1)
        recorded.set()

    producer = threading.Thread(target=produce)
    try:
        producer.start()
        wait_for(lambda: len(store_log(conn)) >= 10, timeout=60, what="jobs flowing before the outage")
        rabbit.stop_app()
        try:
            # During the outage: recording goes on, nothing is published or consumed.
            time.sleep(3)
            assert pending_count(conn) > 0
        finally:
            rabbit.start_app()
        producer.join(60)
        assert recorded.is_set()
        wait_for(lambda: all(job(conn, i)["state"] == "done" for i in job_ids), timeout=120, interval=0.5,
                 what="every job done after the restart")
        assert pending_count(conn) == 0
        for proc, log in ((relay, relay_log), (worker, worker_log)):
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(60) == 0, log.read_text()
    finally:
        for proc in (relay, worker):
            if proc.poll() is None:
                proc.kill()
        producer.join(60)
    assert sorted(store_log(conn)) == sorted(job_ids), "every job stored exactly once"
    assert queue_depth(settings, main_queue(settings)) == 0
    assert "broker connection" in worker_log.read_text() and "reconnecting" in worker_log.read_text()
    assert "unavailable" in relay_log.read_text()
