"""Reading OCR results back: one ``ocr_result`` row per analysed photo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``{"text", "word_count", "mean_confidence", "rotation", "languages", "lines", "backend", "model",
    "version"}`` per photo; ``lines`` as the store kept them (text, confidence, block, box, words)."""
    rows = conn.execute(
        """SELECT media_id, text, word_count, mean_confidence, rotation, languages, lines, backend, model,
                  analyzer_version
           FROM ocr_result WHERE media_id = ANY(%s)""",
        (list(media_ids),),
    )
    return {
        row["media_id"]: {
            "text": row["text"],
            "word_count": row["word_count"],
            "mean_confidence": row["mean_confidence"],
            "rotation": row["rotation"],
            "languages": row["languages"],
            "lines": row["lines"],
            "backend": row["backend"],
            "model": row["model"],
            "version": row["analyzer_version"],
        }
        for row in rows
    }
