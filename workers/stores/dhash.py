"""Persisting dHash results (read back by ``core/results/dhash.py``).

``store`` runs inside the runtime's transaction that marks the job done. It upserts this run's rows
keyed by (media_id, frame_ms) and deletes any row of the item that this run did not produce (a video
re-analysed with another threshold has other keyframes), so a redelivered or re-queued job leaves
exactly one copy of the latest result.
"""

from __future__ import annotations

from typing import Any

from core.db import Connection
from core.perceptual import to_signed
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.dhash import DhashResult

_UPSERT = """
    INSERT INTO perceptual_hash (media_id, frame_ms, hash, analyzer, analyzer_version)
    SELECT %(media_id)s, frame_ms, hash, %(analyzer)s, %(version)s
    FROM unnest(%(frames)s::integer[], %(hashes)s::bigint[]) AS r(frame_ms, hash)
    ON CONFLICT (media_id, frame_ms) DO UPDATE
        SET hash = EXCLUDED.hash, analyzer = EXCLUDED.analyzer, analyzer_version = EXCLUDED.analyzer_version
"""

# frame_ms is NULL for a photo: coalesce to -1 (never a real timestamp, which are >= 0) to compare.
_DELETE_OTHERS = """
    DELETE FROM perceptual_hash
    WHERE media_id = %(media_id)s AND coalesce(frame_ms, -1) <> ALL(%(keep)s::integer[])
"""


def store(conn: Connection, item: MediaItem, result: Any, meta: ResultMeta) -> None:
    """Write ``result`` (a DhashResult) for ``item``, replacing whatever an earlier run stored."""
    if not isinstance(result, DhashResult):
        raise TypeError(f"dhash store expects a DhashResult, got {type(result).__name__}")
    rows = result.rows()
    frames = [frame_ms for frame_ms, _ in rows]
    if rows:
        conn.execute(_UPSERT, {
            "media_id": item.media_id, "analyzer": meta.analyzer, "version": meta.version,
            "frames": frames, "hashes": [to_signed(value) for _, value in rows],
        })
    keep = [-1 if frame_ms is None else frame_ms for frame_ms in frames]
    conn.execute(_DELETE_OTHERS, {"media_id": item.media_id, "keep": keep})
