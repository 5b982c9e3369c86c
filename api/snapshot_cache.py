"""Results of read-only aggregate queries, kept while the database has not changed.

Facet counts and stats aggregate the whole library: tens of milliseconds of CPU at 100,000 items, asked
again every time the page opens, while the library changes only when something is ingested, analysed or
edited. A result is kept with the snapshot it was computed under (``pg_current_snapshot()``: xmin, xmax
and the transactions in progress) and served again only under an equal snapshot. Two equal snapshots see
exactly the same committed rows, so a served result is the one the queries would give now: no staleness
window, no time to live. Any commit anywhere moves the snapshot on, and the next request computes afresh.

The queries run in one REPEATABLE READ, READ ONLY transaction, so that the snapshot read is the one they
see (and the several queries of a facets request agree with each other).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi import FastAPI

from core.db import Connection

T = TypeVar("T")
ENTRIES = 64  # distinct filter sets kept per process; each is a few kilobytes of counts


class SnapshotCache:
    def __init__(self, entries: int = ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[str, Any]] = OrderedDict()
        self._size = entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, conn: Connection, key: Hashable, compute: Callable[[Connection], T]) -> T:
        """``compute(conn)``, or its result from an earlier call under the same snapshot."""
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute("SELECT pg_current_snapshot()::text AS snapshot").fetchone()
            assert row is not None
            snapshot = str(row["snapshot"])
            with self._lock:
                found = self._entries.get(key)
                if found is not None and found[0] == snapshot:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    result: T = found[1]
                    return result
                self.misses += 1
            result = compute(conn)
        with self._lock:
            self._entries[key] = (snapshot, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return result


def for_app(app: FastAPI) -> SnapshotCache:
    """The application's cache (one per process), made on first use."""
    cache: SnapshotCache | None = getattr(app.state, "snapshot_cache", None)
    if cache is None:
        cache = SnapshotCache()
        app.state.snapshot_cache = cache
    return cache
