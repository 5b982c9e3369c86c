"""The RabbitMQ side of a worker: one pika connection, owned by the thread that calls ``run``.

Discipline (after dramatiq and pika's threaded consumer example):

- decode at the edge: a body that is not a valid envelope is dead-lettered at once (nack, no requeue);
- analyses run in a thread pool, so this thread keeps serving heartbeats through long jobs;
- acks, nacks and retry publishes happen on this thread, requested with ``add_callback_threadsafe``;
- a retry is a copy published to the retry exchange (a TTL queue per delay tier), confirmed by the broker
  before the original is acked, so a crash in between duplicates a job but never loses one;
- on stop: cancel the consumer, let the jobs in flight finish while heartbeats go on, settle them, close;
- a lost connection is reopened with a growing delay that resets after a good run; jobs that were in
  flight on the lost connection are redelivered by the broker (and skipped if they completed).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from core.broker import PERSISTENT, TRANSIENT_BROKER_ERRORS, connection_parameters
from core.envelope import CONTENT_TYPE, EnvelopeError, decode
from core.settings import Settings, mask_url
from core.topology import Topology, declare
from workers.jobs import Action, Delivery, JobRunner, Outcome
from workers.metrics import WorkerMetrics

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-pava-attempt"
ERROR_HEADER = "x-pava-error"

RECONNECT_MIN = 1.0
RECONNECT_MAX = 30.0
# A connection that lasted this long, or delivered a message, was a good run: the next delay starts over.
GOOD_RUN_SECONDS = 30.0
# How often the loop looks at the stop flag; heartbeats are served all along.
POLL_SECONDS = 0.25


def attempt_of(headers: dict[str, Any] | None) -> int:
    """The attempt number a message carries (1 when it has never been retried)."""
    value = (headers or {}).get(ATTEMPT_HEADER, 1)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def retry_headers(headers: dict[str, Any] | None, attempt: int, reason: str | None) -> dict[str, Any]:
    """Headers of a retry copy: the producer's own headers, not the broker's dead-letter bookkeeping."""
    kept = {k: v for k, v in (headers or {}).items() if not k.startswith("x-")}
    kept[ATTEMPT_HEADER] = attempt
    if reason:
        kept[ERROR_HEADER] = reason[:500]
    return kept


@dataclass(frozen=True)
class _Message:
    """A delivery being worked on, and where its settlement must go."""

    connection: pika.BlockingConnection
    channel: Any
    tag: int
    properties: Any
    body: bytes


class Consumer:
    """Consumes one analysis's queue and hands each job to a ``JobRunner`` in a thread pool."""

    def __init__(self, settings: Settings, name: str, runner: JobRunner, *, concurrency: int,
                 metrics: WorkerMetrics) -> None:
        self.settings = settings
        self.name = name
        self.runner = runner
        self.concurrency = concurrency
        self.metrics = metrics
        self.topology = Topology(settings.broker)
        self.queue = self.topology.queue(name)
        self._stop = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"pava-{name}")
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._retry_channel: Any = None
        self._consumer_tag: str | None = None
        self._in_flight: dict[int, Future[Outcome]] = {}
        self._delivered = 0
        self.connections = 0  # how many times a connection was opened (tests, metrics)
        self.ready = threading.Event()  # set while consuming (tests wait for it)

    # -- control, callable from any thread or a signal handler ---------------------------------------

    def stop(self) -> None:
        """Ask ``run`` to stop consuming, finish the jobs in flight and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop``; reconnects by itself. Returns once every job in flight has finished."""
        delay = RECONNECT_MIN
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self._delivered = 0
                try:
                    self._consume()
                except TRANSIENT_BROKER_ERRORS as exc:
                    log.warning("broker connection to %s lost: %s: %s",
                                mask_url(self.settings.require_amqp_url()), exc.__class__.__name__, exc)
                finally:
                    self.ready.clear()
                    self._close()
                if self._stop.is_set():
                    break
                if self._delivered or time.monotonic() - started >= GOOD_RUN_SECONDS:
                    delay = RECONNECT_MIN
                log.info("reconnecting to the broker in %.1fs", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
        finally:
            # Jobs still running had their connection lost: let them finish (their results are committed;
            # the broker redelivers their messages, which are then skipped as done).
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.settings))
        self._connection = connection
        self.connections += 1
        if self.connections > 1:
            self.metrics.reconnects.labels(self.name).inc()
        self._in_flight = {}
        channel = connection.channel()
        declare(channel, self.topology, analyses=(self.name,))
        channel.basic_qos(prefetch_count=self.concurrency)
        retry_channel = connection.channel()
        retry_channel.confirm_delivery()
        self._channel, self._retry_channel = channel, retry_channel
        self._consumer_tag = channel.basic_consume(self.queue, on_message_callback=self._on_message)
        log.info("consuming %s (concurrency %d) on %s", self.queue, self.concurrency,
                 mask_url(self.settings.require_amqp_url()))
        self.ready.set()
        while not self._stop.is_set():
            connection.process_data_events(time_limit=POLL_SECONDS)
        self._drain(connection, channel)

    def _drain(self, connection: pika.BlockingConnection, channel: Any) -> None:
        """Stop deliveries, finish what is in flight while heartbeats go on, then close."""
        # Unstarted messages held by the channel are nacked (requeued) by pika's basic_cancel.
        channel.basic_cancel(self._consumer_tag)
        for tag, future in list(self._in_flight.items()):
            if future.cancel():
                self._in_flight.pop(tag, None)
                channel.basic_reject(tag, requeue=True)
        if self._in_flight:
            log.info("stopping: waiting for %d job(s) in flight", len(self._in_flight))
        while self._in_flight:
            connection.process_data_events(time_limit=POLL_SECONDS)
        connection.close()
        log.info("stopped consuming %s", self.queue)

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._retry_channel = None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*TRANSIENT_BROKER_ERRORS):
                connection.close()

    # -- on the connection's thread ----------------------------------------------------------------

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        tag = method.delivery_tag
        self._delivered += 1
        try:
            envelope = decode(body)
            if envelope.analyzer != self.name:
                raise EnvelopeError(f"a job for {envelope.analyzer!r} reached the {self.name!r} queue")
        except EnvelopeError as exc:
            log.error("dead-lettering message %s (delivery %d) from %s: %s",
                      properties.message_id, tag, self.queue, exc)
            channel.basic_nack(tag, requeue=False)
            self.metrics.outcome("rejected")
            return
        delivery = Delivery(envelope=envelope, attempt=attempt_of(properties.headers),
                            redelivered=bool(method.redelivered))
        assert self._connection is not None
        message = _Message(self._connection, channel, tag, properties, body)
        self.metrics.in_flight.labels(self.name).inc()
        future = self._executor.submit(self.runner.handle, delivery)
        self._in_flight[tag] = future
        future.add_done_callback(functools.partial(self._finished, message))

    def _finished(self, message: _Message, future: Future[Outcome]) -> None:
        """In the worker thread: hand the settlement to the connection's thread."""
        self.metrics.in_flight.labels(self.name).dec()
        if future.cancelled():
            return
        settle: Callable[[], None] = functools.partial(self._settle, message, future)
        try:
            message.connection.add_callback_threadsafe(settle)
        except pika.exceptions.ConnectionWrongStateError:
            log.warning("delivery %d finished after its connection closed; redelivered later", message.tag)

    def _settle(self, message: _Message, future: Future[Outcome]) -> None:
        channel, tag, properties, body = message.channel, message.tag, message.properties, message.body
        if self._in_flight.get(tag) is future:
            del self._in_flight[tag]
        if channel is not self._channel or not channel.is_open:
            log.warning("delivery %d finished on a closed channel; the broker redelivers it", tag)
            return
        exc = future.exception()
        if exc is not None:  # JobRunner.handle never raises; if it ever does, let the broker try again.
            log.error("delivery %d: unexpected error in the runtime; requeued", tag, exc_info=exc)
            channel.basic_nack(tag, requeue=True)
            return
        outcome = future.result()
        if outcome.action is Action.ACK:
            channel.basic_ack(tag)
        elif outcome.action is Action.DEAD:
            channel.basic_nack(tag, requeue=False)
        else:
            if not self._publish_retry(properties, body, outcome):
                channel.basic_nack(tag, requeue=True)
                return
            channel.basic_ack(tag)
        self.metrics.outcome(outcome.status)

    def _publish_retry(self, properties: Any, body: bytes, outcome: Outcome) -> bool:
        assert outcome.delay is not None and outcome.next_attempt is not None
        routing_key = self.topology.retry_routing_key(self.name, outcome.delay)
        try:
            # Blocks until the broker confirms: only then is the original acked.
            self._retry_channel.basic_publish(
                exchange=self.topology.retry_exchange,
                routing_key=routing_key,
                body=body,
                properties=pika.BasicProperties(
                    content_type=properties.content_type or CONTENT_TYPE,
                    delivery_mode=PERSISTENT,
                    message_id=properties.message_id,
                    headers=retry_headers(properties.headers, outcome.next_attempt, outcome.reason),
                ),
                mandatory=True,
            )
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            # No retry queue took it (topology changed under us?): requeue the original rather than lose it.
            log.error("retry publish to %s/%s refused (%s); requeueing the original",
                      self.topology.retry_exchange, routing_key, exc.__class__.__name__)
            return False
        log.info("job retry %d scheduled in %ds via %s", outcome.next_attempt, outcome.delay, routing_key)
        return True
