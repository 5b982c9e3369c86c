"""Reading speech results back: one ``speech_result`` row per video and its timed segments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per video: ``{"status", "language", "text", "subtitles", "segments": [{"start", "end", "text"}],
    ...}``; ``subtitles`` is the WebVTT file's storage-relative path, or null."""
    ids = list(media_ids)
    results: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        """SELECT media_id, status, language, language_probability, duration_s, text, subtitles_path,
                  backend, model, analyzer_version
           FROM speech_result WHERE media_id = ANY(%s)""",
        (ids,),
    ):
        results[row["media_id"]] = {
            "status": row["status"],
            "language": row["language"],
            "language_probability": row["language_probability"],
            "duration_s": row["duration_s"],
            "text": row["text"],
            "subtitles": row["subtitles_path"],
            "backend": row["backend"],
            "model": row["model"],
            "version": row["analyzer_version"],
            "segments": [],
        }
    for row in conn.execute(
        "SELECT media_id, start_s, end_s, text FROM speech_segment WHERE media_id = ANY(%s) "
        "ORDER BY media_id, seq",
        (ids,),
    ):
        results[row["media_id"]]["segments"].append(
            {"start": round(row["start_s"], 3), "end": round(row["end_s"], 3), "text": row["text"]}
        )
    return results
