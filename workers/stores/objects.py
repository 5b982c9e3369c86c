"""Writing and exporting object detections (tables in ``core/migrations/versions/0002_objects.py``)."""

from __future__ import annotations

from collections.abc import Sequence
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


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``pava export``'s view: per item, the scan (backend, model, threshold, counts) and its detections
    (``frame_ms`` null for a photo), best first within each frame. Two queries per batch."""
    results: dict[int, dict[str, Any]] = {}
    ids = list(media_ids)
    for row in conn.execute(
        """SELECT media_id, analyzer_version, backend, model, min_confidence, frames, label_counts
           FROM object_scan WHERE media_id = ANY(%s)""",
        (ids,),
    ):
        results[row["media_id"]] = {
            "version": row["analyzer_version"],
            "backend": row["backend"],
            "model": row["model"],
            "min_confidence": round(float(row["min_confidence"]), 4),
            "frames": row["frames"],
            "counts": row["label_counts"],
            "detections": [],
        }
    for row in conn.execute(
        """SELECT media_id, frame_ms, label, confidence, x, y, w, h FROM object_detection
           WHERE media_id = ANY(%s) ORDER BY media_id, frame_ms NULLS FIRST, confidence DESC, id""",
        (ids,),
    ):
        entry = results.get(row["media_id"])
        if entry is None:  # detections without a scan row cannot be written by store(); skip defensively
            continue
        entry["detections"].append({
            "label": row["label"],
            "confidence": round(float(row["confidence"]), 4),
            "box": [round(float(row[k]), 5) for k in ("x", "y", "w", "h")],
            "frame_ms": row["frame_ms"],
        })
    return results
