"""The RabbitMQ topology, declared idempotently by every process that uses it.

    exchange <prefix>            direct, durable: routing key = analysis name
      -> queue <prefix>.<name>   quorum, durable; dead-letters (at least once) to the DLX
    exchange <prefix>.retry      direct, durable: routing key = <name>.<tier>
      -> queue <prefix>.<name>.retry.<seconds>s   classic, durable, message TTL; when it expires the
         message dead-letters back to <prefix> with routing key <name> (delayed retry, no plugin)
    exchange <prefix>.dlx        direct, durable: routing key = analysis name
      -> queue <prefix>.<name>.dead   quorum, durable: what failed for good, kept for inspection

One TTL per retry queue (not per message), so a long delay never blocks a short one behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.analyses import ANALYSES
from core.settings import BrokerSettings


@dataclass(frozen=True)
class Topology:
    """Names derived from the broker settings."""

    settings: BrokerSettings

    @property
    def exchange(self) -> str:
        return self.settings.exchange

    @property
    def retry_exchange(self) -> str:
        return f"{self.settings.exchange}.retry"

    @property
    def dead_exchange(self) -> str:
        return f"{self.settings.exchange}.dlx"

    def queue(self, analysis: str) -> str:
        return f"{self.settings.queue_prefix}.{analysis}"

    def dead_queue(self, analysis: str) -> str:
        return f"{self.settings.queue_prefix}.{analysis}.dead"

    def retry_queue(self, analysis: str, delay: int) -> str:
        return f"{self.settings.queue_prefix}.{analysis}.retry.{delay}s"

    @staticmethod
    def retry_routing_key(analysis: str, delay: int) -> str:
        return f"{analysis}.{delay}s"

    def retry_delay(self, attempt: int) -> int:
        """The delay before retry number ``attempt`` (1-based), from the configured tiers."""
        delays = self.settings.retry_delays
        return delays[min(attempt, len(delays)) - 1]


def declare(channel: Any, topology: Topology, analyses: tuple[str, ...] = ANALYSES) -> None:
    """Declare exchanges and queues on a pika channel; safe to repeat."""
    channel.exchange_declare(topology.exchange, exchange_type="direct", durable=True)
    channel.exchange_declare(topology.retry_exchange, exchange_type="direct", durable=True)
    channel.exchange_declare(topology.dead_exchange, exchange_type="direct", durable=True)
    for name in analyses:
        channel.queue_declare(
            topology.queue(name),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": topology.dead_exchange,
                "x-dead-letter-routing-key": name,
                # at-least-once dead-lettering needs reject-publish overflow on quorum queues.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                # A message redelivered this often (a worker crashing on it each time) is poison.
                "x-delivery-limit": 20,
            },
        )
        channel.queue_bind(topology.queue(name), topology.exchange, routing_key=name)
        channel.queue_declare(topology.dead_queue(name), durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(topology.dead_queue(name), topology.dead_exchange, routing_key=name)
        for delay in sorted(set(topology.settings.retry_delays)):
            retry = topology.retry_queue(name, delay)
            channel.queue_declare(
                retry,
                durable=True,
                arguments={
                    "x-message-ttl": delay * 1000,
                    "x-dead-letter-exchange": topology.exchange,
                    "x-dead-letter-routing-key": name,
                },
            )
            channel.queue_bind(
                retry, topology.retry_exchange, routing_key=topology.retry_routing_key(name, delay)
            )
