"""Settings of the local stack only (ports, node name, timeouts) and the layout of its state folder.

They live apart from ``core.settings.Settings`` because no worker, ingester or API process needs them:
only ``pava up`` and ``pava down`` do. Environment variables: ``PAVA_STACK__<FIELD>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    """Ports and limits of the services ``pava up`` starts itself."""

    model_config = SettingsConfigDict(env_prefix="PAVA_STACK__", env_file=".env", extra="ignore")

    postgres_port: int = Field(
        default=5433, ge=1, le=65535, description="local Postgres port (not 5432: left to a system one)")
    amqp_port: int = Field(default=5672, ge=1, le=65535, description="AMQP port of the local RabbitMQ node")
    management_port: int = Field(
        default=15672, ge=1, le=65535, description="RabbitMQ console and management API port")
    dist_port: int = Field(
        default=25672, ge=1, le=65535, description="Erlang distribution port of the local RabbitMQ node")
    epmd_port: int = Field(
        default=4369, ge=1, le=65535, description="Erlang port mapper port used by the local node")
    node_name: str = Field(
        default="pava@localhost", description="Erlang node name (a fixed host part survives a renamed host)")
    wait_timeout: float = Field(default=600.0, gt=0, description="seconds `pava up` waits for the analyses")
    sample: bool = Field(
        default=True, description="fill an empty drop folder with the sample set on a first run")


@dataclass(frozen=True)
class StackPaths:
    """Where the stack keeps its state, all under ``settings.home`` (default ``var/``)."""

    home: Path

    @property
    def postgres_data(self) -> Path:
        return self.home / "postgres" / "data"

    @property
    def rabbitmq(self) -> Path:
        return self.home / "rabbitmq"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def supervisor(self) -> Path:
        return self.home / "supervisor"

    @property
    def logs(self) -> Path:
        return self.home / "log"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.home / "stack.lock"
