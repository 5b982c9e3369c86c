"""RabbitMQ connections and a publisher with confirms (pika's blocking adapter)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pika
import pika.exceptions

from core.settings import Settings
from core.topology import Topology, declare

log = logging.getLogger(__name__)

# Errors after which a new connection may succeed: the broker restarted, the network blinked.
TRANSIENT_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)

PERSISTENT = pika.DeliveryMode.Persistent


def connection_parameters(settings: Settings) -> pika.URLParameters:
    params = pika.URLParameters(settings.require_amqp_url())
    params.heartbeat = settings.broker.heartbeat
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.client_properties = {"connection_name": "pava"}
    return params


def connect(settings: Settings) -> pika.BlockingConnection:
    return pika.BlockingConnection(connection_parameters(settings))


class Publisher:
    """A channel in confirm mode: ``publish`` returns only once the broker has the message on disk.

    Not thread-safe (a pika connection belongs to one thread); create one per thread.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = Topology(settings.broker)
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None

    def _ensure(self) -> Any:
        if (
            self._connection is None
            or self._connection.is_closed
            or self._channel is None
            or self._channel.is_closed
        ):
            self.close()
            self._connection = connect(self.settings)
            self._channel = self._connection.channel()
            declare(self._channel, self.topology)
            self._channel.confirm_delivery()
        return self._channel

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        exchange: str | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish one persistent message and wait for the broker's confirm (raises if refused)."""
        channel = self._ensure()
        channel.basic_publish(
            exchange=self.topology.exchange if exchange is None else exchange,
            routing_key=routing_key,
            body=body,
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=PERSISTENT,
                headers=headers or {},
                message_id=message_id,
            ),
            mandatory=True,
        )

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(*TRANSIENT_BROKER_ERRORS):
                self._connection.close()
        self._connection = None
        self._channel = None

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
