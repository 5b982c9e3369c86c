"""Effective settings: one pydantic-settings model, prefix ``PAVA_``, nested groups with ``__``.

Secrets are ``SecretStr`` so that they never reach a log line or ``repr``; ``pava config`` prints the
masked form. Outside development, a URL that still carries a well-known default credential is refused.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Credentials that ship with RabbitMQ and with most Postgres tutorials: never acceptable in production.
_DEFAULT_CREDENTIALS = {("guest", "guest"), ("postgres", "postgres"), ("postgres", ""), ("pava", "pava")}


class IngestSettings(BaseModel):
    """How the drop folder is walked and how files are checked and rendered."""

    settle_seconds: float = Field(2.0, ge=0, description="a file whose mtime is newer than this is still being written")
    workers: int = Field(2, ge=1, le=64, description="files processed in parallel")
    max_image_pixels: int = Field(
        200_000_000, ge=1_000_000, description="decoded pixels above which an image is refused as a bomb"
    )
    max_file_bytes: int = Field(64 * 1024**3, ge=1, description="files larger than this are refused")
    thumb_grid_size: int = Field(360, ge=32, le=2048, description="long side of the grid thumbnail (WebP)")
    thumb_preview_size: int = Field(1440, ge=256, le=8192, description="long side of the preview (JPEG)")
    quarantine: bool = Field(True, description="move rejected files to storage/quarantine (else leave them)")
    watch_interval: float = Field(2.0, gt=0, description="seconds between scans with --watch")


class BrokerSettings(BaseModel):
    """RabbitMQ topology names and consumer behaviour."""

    exchange: str = "pava"
    queue_prefix: str = "pava"
    retry_delays: list[int] = Field(default_factory=lambda: [5, 30, 300], description="seconds, per retry tier")
    max_attempts: int = Field(5, ge=1, description="deliveries before a transiently failing job is dead-lettered")
    heartbeat: int = Field(60, ge=0)
    management_url: str = Field("http://127.0.0.1:15672", description="RabbitMQ management API for `pava status`")


class WorkerSettings(BaseModel):
    """Worker process behaviour."""

    concurrency: int = Field(1, ge=1, le=64)
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus metrics port; 0 disables")
    job_timeout: float = Field(3600.0, gt=0, description="seconds a single analysis may take")


class DhashSettings(BaseModel):
    """Perceptual hashing and near-duplicate search."""

    near_duplicate_threshold: int = Field(8, ge=0, le=32, description="Hamming distance T for near-duplicates")
    keyframe_threshold: int = Field(10, ge=1, le=64, description="Hamming distance that starts a new keyframe")
    keyframe_sample_fps: float = Field(5.0, gt=0, le=60, description="frames sampled per second of video")
    max_keyframes: int = Field(500, ge=1, description="upper bound on keyframes kept per video")


class Settings(BaseSettings):
    """Everything pava reads from the environment (``PAVA_*``) or a ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="PAVA_",
        env_nested_delimiter="__",
        # The local stack writes the URLs it generated to var/stack.env; a user's .env and the real
        # environment both take precedence over it.
        env_file=(PROJECT_ROOT / "var" / "stack.env", ".env"),
        extra="ignore",
    )

    env: Literal["development", "production"] = "development"
    home: Path = Field(PROJECT_ROOT / "var", description="state of the local stack: data, logs, pid files")
    storage_root: Path = Field(PROJECT_ROOT / "var" / "storage", description="originals, duplicates, derived")
    drop_dir: Path = Field(PROJECT_ROOT / "var" / "drop", description="the folder `pava up` ingests")
    database_url: SecretStr | None = Field(None, description="postgresql://...; unset: the local embedded one")
    amqp_url: SecretStr | None = Field(None, description="amqp://...; unset: the local RabbitMQ node")
    log_level: str = "INFO"

    ingest: IngestSettings = IngestSettings()
    broker: BrokerSettings = BrokerSettings()
    worker: WorkerSettings = WorkerSettings()
    dhash: DhashSettings = DhashSettings()

    @model_validator(mode="after")
    def _refuse_default_credentials(self) -> Settings:
        if self.env != "production":
            return self
        for name in ("database_url", "amqp_url"):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"PAVA_{name.upper()} must be set in production")
            parts = urlsplit(value.get_secret_value())
            if (parts.username or "", parts.password or "") in _DEFAULT_CREDENTIALS or not parts.password:
                raise ValueError(f"PAVA_{name.upper()} uses an empty or default credential; refused in production")
        return self

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError("PAVA_DATABASE_URL is not set (run `pava up`, or export it)")
        return self.database_url.get_secret_value()

    def require_amqp_url(self) -> str:
        if self.amqp_url is None:
            raise RuntimeError("PAVA_AMQP_URL is not set (run `pava up`, or export it)")
        return self.amqp_url.get_secret_value()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and ``pava config``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked."""
    data = settings.model_dump(mode="json")
    for name in ("database_url", "amqp_url"):
        secret = getattr(settings, name)
        data[name] = mask_url(secret.get_secret_value()) if secret is not None else None
    return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (tests build their own ``Settings``)."""
    return Settings()
