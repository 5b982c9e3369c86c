"""The outbox relay (workers.relay) against real Postgres and RabbitMQ: woken by LISTEN, stops cleanly."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from test_worker_app import add_media, job, queue_depth, record, wait_for

from core import db
from core.settings import Settings
from core.topology import Topology
from workers.relay import Relay


@pytest.fixture
def conn(settings: Settings) -> Any:
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def test_relay_publishes_on_notify_and_stops(settings: Settings, conn: Any) -> None:
    first = record(conn, add_media(conn, settings, "before.jpg"), "dhash")  # waiting before the relay starts
    # A poll interval far longer than the test: only the notification can explain a prompt publish.
    relay = Relay(settings, poll_interval=300)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    queue = Topology(settings.broker).queue("dhash")
    try:
        wait_for(lambda: job(conn, first)["state"] == "queued", timeout=20, what="the backlog published")
        time.sleep(0.5)  # the relay is now waiting on LISTEN
        started = time.monotonic()
        second = record(conn, add_media(conn, settings, "after.jpg"), "dhash")
        wait_for(lambda: job(conn, second)["state"] == "queued", timeout=20, interval=0.02,
                 what="the new job published")
        assert time.monotonic() - started < 3, "woken by NOTIFY, not by the poll"
        assert queue_depth(settings, queue) == 2
        # The database drops the relay's connections: it reconnects, LISTENs again, and goes on.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name LIKE 'pava-relay%%'")
        third = record(conn, add_media(conn, settings, "later.jpg"), "dhash")
        wait_for(lambda: job(conn, third)["state"] == "queued", timeout=30, what="published after reconnect")
    finally:
        relay.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert relay.published == 3
    assert queue_depth(settings, queue) == 3
