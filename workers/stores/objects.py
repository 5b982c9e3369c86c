"""Writing object detections (tables in ``core/migrations/versions/0002_objects.py``); reading them back
is ``core/results/objects.py``."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from core.db import Connection
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.objects.result import ObjectsResult


def store(conn: Connection, item: MediaItem, result: Any, meta: ResultMeta) -> None:
    """Replace the item's detections with ``result``, inside the caller's transaction.

    The scan row is upserted first: its row lock makes a second writer for the same item wait until the
    first commits, so the second's delete then sees (and removes) the first's rows. A redelivered job
    therefore leaves exactly one set of detections, never two.
    """
    assert isinstance(result, ObjectsResult), f"objects store got {type(result).__name__}"
    # The result says which backend and model really ran (auto may have fallen back); meta names the
    # analyzer and its version.
    conn.execute(
        """INSERT INTO object_scan (media_id, analyzer, analyzer_version, backend, model, min_confidence,
                                    frames, detections, label_counts, analyzed_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
           ON CONFLICT (media_id) DO UPDATE SET
               analyzer = EXCLUDED.analyzer, analyzer_version = EXCLUDED.analyzer_version,
               backend = EXCLUDED.backend, model = EXCLUDED.model, min_confidence = EXCLUDED.min_confidence,
               frames = EXCLUDED.frames, detections = EXCLUDED.detections,
               label_counts = EXCLUDED.label_counts, analyzed_at = EXCLUDED.analyzed_at""",
        (item.media_id, meta.analyzer, meta.version, result.backend, result.model, result.min_confidence,
         result.frames, len(result.detections), Jsonb(result.label_counts())),
    )
    conn.execute("DELETE FROM object_detection WHERE media_id = %s", (item.media_id,))
    if not result.detections:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO object_detection (media_id, frame_ms, label, confidence, x, y, w, h,
                                             analyzer, analyzer_version, backend, model)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (item.media_id, d.frame_ms, d.label, d.confidence, d.x, d.y, d.w, d.h,
                 meta.analyzer, meta.version, result.backend, result.model)
                for d in result.detections
            ],
        )
