"""Settings of the local stack only (ports, node name, timeouts) and the layout of its state folder.

They live apart from ``core.settings.Settings`` because no worker, ingester or API process needs them:
only ``pava up`` and ``pava down`` do. Environment variables: ``PAVA_STACK__<FIELD>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


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
    https_port: int = Field(
        default=8443, ge=1, le=65535,
        description="nginx's HTTPS port: the web page, /api/ and /rabbitmq/ (below 1024 needs root)")
    http_port: int = Field(
        default=8080, ge=1, le=65535, description="nginx's plain-HTTP port; it only redirects to HTTPS")
    server_names: str = Field(
        default="", description="comma-separated names (or addresses) the self-signed certificate covers "
        "besides localhost, 127.0.0.1, ::1 and this host's names; the first is used in printed URLs")
    tls_cert: Path | None = Field(
        default=None, description="a real certificate (PEM, full chain) instead of the self-signed one; "
        "with PAVA_STACK__TLS_KEY")
    tls_key: Path | None = Field(default=None, description="the unencrypted PEM key of PAVA_STACK__TLS_CERT")
    map_tiles: str = Field(
        default="https://tile.openstreetmap.org",
        description="space-separated origins the web page's map may load tiles from "
        "(Content-Security-Policy)")
    hsts_max_age: int = Field(
        default=31536000, ge=0,
        description="seconds browsers keep to HTTPS for this host (Strict-Transport-Security)")

    @field_validator("map_tiles")
    @classmethod
    def _origins(cls, value: str) -> str:
        # The value goes into nginx's config and the page's CSP: only plain origins may.
        for origin in value.split():
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://tile.openstreetmap.org")
        return " ".join(value.split())

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> StackSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("PAVA_STACK__TLS_CERT and PAVA_STACK__TLS_KEY are set together, or neither")
        return self

    @property
    def names(self) -> list[str]:
        """The extra names of ``server_names``, in order."""
        return [n.strip() for n in self.server_names.split(",") if n.strip()]


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
    def nginx(self) -> Path:
        return self.home / "nginx"

    @property
    def ssl(self) -> Path:
        return self.home / "ssl"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.home / "stack.lock"
