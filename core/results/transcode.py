"""Reading browser renditions back (``rendition``, migration 0008): what a browser should be given to play
a video, the original or the H.264/AAC MP4 made for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per video looked at::

        {"status": "transcoded" | "not_needed", "reason", "path", "mime_type", "video_codec",
         "audio_codec", "width", "height", "size_bytes"}

    ``transcoded``: ``path`` is the MP4's storage-relative path, and the other fields describe it.
    ``not_needed``: the original plays in browsers as it is; ``path`` and ``size_bytes`` are null, the
    codecs and displayed size are the original's, and ``mime_type`` is the type to serve the original
    with (``video/mp4`` for a QuickTime .mov too: browsers refuse ``video/quicktime``).
    """
    results: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        """SELECT media_id, status, reason, path, mime_type, video_codec, audio_codec, width, height,
                  size_bytes
           FROM rendition WHERE media_id = ANY(%s::bigint[])""",
        (list(media_ids),),
    ):
        results[int(row["media_id"])] = {
            "status": row["status"], "reason": row["reason"], "path": row["path"],
            "mime_type": row["mime_type"], "video_codec": row["video_codec"],
            "audio_codec": row["audio_codec"], "width": row["width"], "height": row["height"],
            "size_bytes": row["size_bytes"],
        }
    return results
