"""Persisting browser renditions: one ``rendition`` row per video (migration 0008), also when none was
needed. A redelivered or re-queued job replaces the row (keyed by media id) and, being named by content,
the file; nothing is written twice.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from core.db import Connection
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.transcode import TranscodeResult

_UPSERT = """
    INSERT INTO rendition (media_id, status, reason, path, mime_type, video_codec, audio_codec, width, height,
                           duration_s, size_bytes, analyzer, analyzer_version, backend, model, params)
    VALUES (%(media_id)s, %(status)s, %(reason)s, %(path)s, %(mime_type)s, %(video_codec)s, %(audio_codec)s,
            %(width)s, %(height)s, %(duration_s)s, %(size_bytes)s, %(analyzer)s, %(version)s, %(backend)s,
            %(model)s, %(params)s)
    ON CONFLICT (media_id) DO UPDATE SET
        status = EXCLUDED.status, reason = EXCLUDED.reason, path = EXCLUDED.path,
        mime_type = EXCLUDED.mime_type, video_codec = EXCLUDED.video_codec,
        audio_codec = EXCLUDED.audio_codec, width = EXCLUDED.width, height = EXCLUDED.height,
        duration_s = EXCLUDED.duration_s, size_bytes = EXCLUDED.size_bytes, analyzer = EXCLUDED.analyzer,
        analyzer_version = EXCLUDED.analyzer_version, backend = EXCLUDED.backend, model = EXCLUDED.model,
        params = EXCLUDED.params, created_at = now()
"""


def store(conn: Connection, item: MediaItem, result: Any, meta: ResultMeta) -> None:
    """Write ``result`` (a TranscodeResult) for ``item`` inside the caller's transaction."""
    if not isinstance(result, TranscodeResult):
        raise TypeError(f"transcode store expects a TranscodeResult, got {type(result).__name__}")
    conn.execute(_UPSERT, {
        "media_id": item.media_id, "status": result.status, "reason": result.reason, "path": result.path,
        "mime_type": result.mime_type, "video_codec": result.video_codec, "audio_codec": result.audio_codec,
        "width": result.width, "height": result.height, "duration_s": result.duration_s,
        "size_bytes": result.size_bytes, "analyzer": meta.analyzer, "version": meta.version,
        "backend": meta.backend, "model": meta.model, "params": Jsonb({**meta.extra, **result.params}),
    })
