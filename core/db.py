"""Postgres access: plain psycopg 3 connections and parameterised SQL only.

Each long-lived process (ingest thread, worker thread, relay) owns its connections; nothing here is
shared between threads. Schema changes go through Alembic (``core/migrations``), never through code here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from core.settings import Settings, mask_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

Connection = psycopg.Connection[DictRow]

# Errors after which a fresh connection may succeed: the server restarted, the network blinked.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)


def connect(settings: Settings, *, autocommit: bool = False, application_name: str = "pava") -> Connection:
    """A new connection with dict rows."""
    url = settings.require_database_url()
    return psycopg.connect(
        url,
        autocommit=autocommit,
        row_factory=dict_row,
        application_name=application_name,
        connect_timeout=10,
    )


def connect_retrying(settings: Settings, *, attempts: int = 30, **kwargs: Any) -> Connection:
    """Connect, waiting with a growing delay while the database is unreachable."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return connect(settings, **kwargs)
        except TRANSIENT_DB_ERRORS as exc:
            if attempt == attempts:
                raise
            log.warning(
                "database %s unreachable (%s); retrying in %.1fs",
                mask_url(settings.require_database_url()),
                exc.__class__.__name__,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """Run a block in one transaction on a non-autocommit connection."""
    with conn.transaction():
        yield conn


def migrate(settings: Settings, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = settings.require_database_url()
    command.upgrade(cfg, revision)


def sqlalchemy_url(url: str) -> str:
    """The same URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
