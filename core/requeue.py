"""``pava requeue``: record jobs again for one analysis, through the outbox like any other job.

    missing  ready media of the kinds the analysis applies to that have no job for it yet
    failed   the analysis's failed jobs, reset to pending with their attempts cleared
    all      every ready media item of those kinds: existing jobs reset, missing ones created

Media are walked by id in batches, one transaction each, so a large library never holds one long
transaction nor all its rows in memory.
"""

from __future__ import annotations

from typing import Literal

from core.analyses import ANALYSES, APPLIES_TO
from core.db import Connection
from core.media import MediaKind
from core.outbox import record_jobs

Mode = Literal["missing", "failed", "all"]
MODES: tuple[Mode, ...] = ("missing", "failed", "all")

_SELECT = {
    "missing": """SELECT m.id, m.kind, m.storage_path, m.sha512 FROM media m
                  WHERE m.status = 'ready' AND m.kind = ANY(%(kinds)s) AND m.id > %(after)s
                    AND NOT EXISTS (SELECT 1 FROM job j WHERE j.media_id = m.id AND j.analyzer = %(analyzer)s)
                  ORDER BY m.id LIMIT %(limit)s""",
    "failed": """SELECT m.id, m.kind, m.storage_path, m.sha512 FROM job j JOIN media m ON m.id = j.media_id
                 WHERE j.analyzer = %(analyzer)s AND j.state = 'failed' AND m.id > %(after)s
                 ORDER BY m.id LIMIT %(limit)s""",
    "all": """SELECT m.id, m.kind, m.storage_path, m.sha512 FROM media m
              WHERE m.status = 'ready' AND m.kind = ANY(%(kinds)s) AND m.id > %(after)s
              ORDER BY m.id LIMIT %(limit)s""",
}


def requeue(conn: Connection, analyzer: str, mode: Mode, *, batch: int = 1000) -> int:
    """Record the jobs ``mode`` selects; returns how many were (re)queued. Publishing is the caller's."""
    if analyzer not in ANALYSES:
        raise ValueError(f"unknown analyzer {analyzer!r} (known: {', '.join(ANALYSES)})")
    if mode not in _SELECT:
        raise ValueError(f"unknown mode {mode!r}")
    kinds = sorted(kind.value for kind in APPLIES_TO[analyzer])
    total = 0
    after = 0
    while True:
        with conn.transaction():
            rows = conn.execute(_SELECT[mode], {"analyzer": analyzer, "kinds": kinds, "after": after,
                                                "limit": batch}).fetchall()
            for row in rows:
                total += len(record_jobs(conn, media_id=row["id"], kind=MediaKind(row["kind"]),
                                         path=row["storage_path"], sha512_hex=bytes(row["sha512"]).hex(),
                                         analyses=[analyzer], reset=mode != "missing"))
        if len(rows) < batch:
            return total
        after = rows[-1]["id"]
