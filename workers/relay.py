"""``pava relay``: the long-running outbox relay.

It publishes what ``core.outbox`` holds, then sleeps until Postgres says there is more
(``LISTEN pava_outbox``, notified by ``record_jobs`` on commit), with a poll as a fallback for a
notification missed while its connection was down. While the broker is down it backs off with a
growing delay; rows stay in the outbox until the broker confirms them, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from core import db
from core.broker import TRANSIENT_BROKER_ERRORS, Publisher
from core.db import TRANSIENT_DB_ERRORS, Connection
from core.outbox import publish_pending
from core.settings import Settings, mask_url

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
# Granularity of waits: how fast a stop request is noticed.
TICK = 0.5
# An idle broker connection is closed after this long: this thread does not serve its heartbeats while it
# waits on Postgres, so the broker would drop it anyway.
IDLE_CLOSE_SECONDS = 20.0


class Relay:
    """Publishes the outbox until ``stop``; survives broker and database restarts."""

    def __init__(self, settings: Settings, *, poll_interval: float = 5.0) -> None:
        self.settings = settings
        self.poll_interval = poll_interval
        self.published = 0
        self._stop = threading.Event()
        self._listen: Connection | None = None
        self._work: Connection | None = None

    def stop(self) -> None:
        """Thread-safe and signal-safe: only sets a flag."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        publisher = Publisher(self.settings)
        delay = BACKOFF_MIN
        last_publish = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    work, listen = self._connections()
                    count = publish_pending(work, publisher)
                except TRANSIENT_BROKER_ERRORS as exc:
                    log.warning("broker %s unavailable (%s: %s); retrying in %.1fs",
                                mask_url(self.settings.require_amqp_url()), exc.__class__.__name__, exc,
                                delay)
                    self._stop.wait(delay)
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                except TRANSIENT_DB_ERRORS as exc:
                    log.warning("database unavailable (%s); retrying in %.1fs", exc.__class__.__name__, delay)
                    self._close_db()
                    self._stop.wait(delay)
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                delay = BACKOFF_MIN
                if count:
                    self.published += count
                    last_publish = time.monotonic()
                    log.info("published %d job(s)", count)
                elif time.monotonic() - last_publish > IDLE_CLOSE_SECONDS:
                    publisher.close()
                self._wait_for_work(listen)
        finally:
            publisher.close()
            self._close_db()
            log.info("relay stopped after publishing %d job(s)", self.published)

    def _connections(self) -> tuple[Connection, Connection]:
        if self._work is None or self._work.closed or self._work.broken:
            self._work = db.connect(self.settings, autocommit=True, application_name="pava-relay")
        if self._listen is None or self._listen.closed or self._listen.broken:
            self._listen = db.connect(self.settings, autocommit=True, application_name="pava-relay-listen")
            self._listen.execute("LISTEN pava_outbox")
        return self._work, self._listen

    def _wait_for_work(self, listen: Connection) -> bool:
        """Wait for a notification, the poll interval or a stop; True if notified."""
        deadline = time.monotonic() + self.poll_interval
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                for _ in listen.notifies(timeout=min(TICK, remaining), stop_after=1):
                    return True
            except TRANSIENT_DB_ERRORS:
                # Reconnected (and LISTENing again) on the next round; publish at once in case we missed one.
                self._close_db()
                return True
        return True

    def _close_db(self) -> None:
        for conn in (self._work, self._listen):
            if conn is not None:
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    conn.close()
        self._work = self._listen = None


def publish_once(settings: Settings) -> int:
    """Publish what the outbox holds now (``pava relay --once``, ``pava requeue``). Raises if the broker
    is down."""
    with db.connect(settings, autocommit=True, application_name="pava-relay") as conn, \
            Publisher(settings) as publisher:
        return publish_pending(conn, publisher)
