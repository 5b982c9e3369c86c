"""The API's database connections: one psycopg pool per process, autocommit connections with dict rows.

Reads run statement by statement; a route that writes wraps its statements in ``conn.transaction()``, so
that a request's changes are committed before its answer is sent, never after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from core.db import Connection
from core.settings import Settings


def open_pool(settings: Settings) -> ConnectionPool[Connection]:
    """A pool of autocommit connections; opening waits until the database answers (or fails clearly)."""
    pool: ConnectionPool[Connection] = ConnectionPool(
        settings.require_database_url(),
        min_size=1,
        max_size=settings.api.pool_size,
        kwargs={"autocommit": True, "row_factory": dict_row, "application_name": "pava-api",
                "connect_timeout": 10},
        open=False,
        # A connection that the server closed (restart, idle timeout) is replaced, not handed out.
        check=ConnectionPool.check_connection,
        timeout=30,
        name="pava-api",
    )
    pool.open(wait=True, timeout=30)
    return pool


def get_conn(request: Request) -> Iterator[Connection]:
    """A pooled connection for one request."""
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_conn)]

# Errors that mean the database is away, not that the request was wrong: answered with 503.
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)
