"""Reading object detections back (tables in ``core/migrations/versions/0002_objects.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per item, the scan (backend, model, threshold, counts) and its detections (``frame_ms`` null for a
    photo), best first within each frame. Two queries per batch."""
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
        if entry is None:  # detections without a scan row cannot be written by the store; skip defensively
            continue
        entry["detections"].append({
            "label": row["label"],
            "confidence": round(float(row["confidence"]), 4),
            "box": [round(float(row[k]), 5) for k in ("x", "y", "w", "h")],
            "frame_ms": row["frame_ms"],
        })
    return results
