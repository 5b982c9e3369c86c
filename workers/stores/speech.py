"""Speech results in Postgres: one ``speech_result`` row per video and its timed ``speech_segment`` rows.

A re-run or a redelivered job replaces both: the upsert of the result row locks it first, so two writers
of the same item cannot interleave their delete and insert of the segments.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from core.db import Connection
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.speech import SpeechResult


def store(conn: Connection, item: MediaItem, result: SpeechResult, meta: ResultMeta) -> None:
    """Write ``result`` inside the caller's transaction."""
    conn.execute(
        """
        INSERT INTO speech_result (media_id, status, language, language_probability, duration_s,
                                   loudness_max_db, text, segment_count, subtitles_path,
                                   analyzer, analyzer_version, backend, model, params)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (media_id) DO UPDATE SET
            status = EXCLUDED.status, language = EXCLUDED.language,
            language_probability = EXCLUDED.language_probability, duration_s = EXCLUDED.duration_s,
            loudness_max_db = EXCLUDED.loudness_max_db, text = EXCLUDED.text,
            segment_count = EXCLUDED.segment_count, subtitles_path = EXCLUDED.subtitles_path,
            analyzer = EXCLUDED.analyzer, analyzer_version = EXCLUDED.analyzer_version,
            backend = EXCLUDED.backend, model = EXCLUDED.model, params = EXCLUDED.params, created_at = now()
        """,
        (
            item.media_id,
            result.status,
            result.language,
            result.language_probability,
            result.duration_s,
            _finite(result.loudness_max_db),
            result.text,
            len(result.segments),
            result.subtitles_rel,
            meta.analyzer,
            meta.version,
            meta.backend,
            meta.model,
            Jsonb({**meta.extra, "timings": result.timings}),
        ),
    )
    conn.execute("DELETE FROM speech_segment WHERE media_id = %s", (item.media_id,))
    if result.segments:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO speech_segment
                       (media_id, seq, start_s, end_s, text, avg_logprob, no_speech_prob)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                [
                    (item.media_id, seq, s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob)
                    for seq, s in enumerate(result.segments)
                ],
            )



def _finite(value: float | None) -> float | None:
    # volumedetect reports -inf for digital silence; Postgres real takes it, JSON does not: keep NULL.
    return value if value is not None and value != float("-inf") else None
