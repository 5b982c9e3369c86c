"""OCR results in Postgres: one ``ocr_result`` row per photo, replaced whole by a re-run or a redelivery."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from core.db import Connection
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.ocr import OcrResult, result_json


def store(conn: Connection, item: MediaItem, result: OcrResult, meta: ResultMeta) -> None:
    """Write ``result`` inside the caller's transaction (an upsert keyed by the media item)."""
    data = result_json(result)
    mean = result.mean_confidence
    conn.execute(
        """
        INSERT INTO ocr_result (media_id, text, word_count, mean_confidence, languages, rotation,
                                orientation_confidence, width, height, source, lines,
                                analyzer, analyzer_version, backend, model, params)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (media_id) DO UPDATE SET
            text = EXCLUDED.text, word_count = EXCLUDED.word_count,
            mean_confidence = EXCLUDED.mean_confidence, languages = EXCLUDED.languages,
            rotation = EXCLUDED.rotation, orientation_confidence = EXCLUDED.orientation_confidence,
            width = EXCLUDED.width, height = EXCLUDED.height, source = EXCLUDED.source,
            lines = EXCLUDED.lines,
            analyzer = EXCLUDED.analyzer, analyzer_version = EXCLUDED.analyzer_version,
            backend = EXCLUDED.backend, model = EXCLUDED.model, params = EXCLUDED.params, created_at = now()
        """,
        (
            item.media_id,
            result.text,
            len(result.words),
            mean,
            result.languages,
            result.rotation,
            result.orientation_confidence,
            result.width,
            result.height,
            result.source,
            Jsonb(data["lines"]),
            meta.analyzer,
            meta.version,
            meta.backend,
            meta.model,
            Jsonb({**meta.extra, "timings": result.timings}),
        ),
    )
