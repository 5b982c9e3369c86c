"""Reading faces back: the scan row of each analysed item and its faces with their people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per item (encodings left out: 128 floats per face serve no reader)::

        {"face_count", "frames", "analyzer", "version", "backend", "model",
         "faces": [{"id", "index", "frame_ms", "box": [x, y, w, h] normalised, "score",
                    "person_id", "person_name", "chip_path"}]}
    """
    results: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        """SELECT media_id, face_count, frames, analyzer, analyzer_version, backend, model
           FROM face_scan WHERE media_id = ANY(%s)""",
        (list(media_ids),),
    ):
        results[row["media_id"]] = {
            "face_count": row["face_count"], "frames": row["frames"], "analyzer": row["analyzer"],
            "version": row["analyzer_version"], "backend": row["backend"], "model": row["model"], "faces": [],
        }
    for row in conn.execute(
        """SELECT f.id, f.media_id, f.face_index, f.frame_ms, f.box_x, f.box_y, f.box_w, f.box_h, f.score,
                  f.person_id, p.name AS person_name, f.chip_path
           FROM face f LEFT JOIN person p ON p.id = f.person_id
           WHERE f.media_id = ANY(%s) ORDER BY f.media_id, f.face_index""",
        (list(media_ids),),
    ):
        entry = results.get(row["media_id"])
        if entry is not None:
            entry["faces"].append({
                "id": row["id"], "index": row["face_index"], "frame_ms": row["frame_ms"],
                "box": [row["box_x"], row["box_y"], row["box_w"], row["box_h"]], "score": row["score"],
                "person_id": row["person_id"], "person_name": row["person_name"] or None,
                "chip_path": row["chip_path"],
            })
    return results
