"""What a browser is given to play a video: the H.264/AAC rendition the transcode worker made, else the
original. Read from the ``rendition`` table (migration 0008) and the transcode job; nothing here runs
ffmpeg."""

from __future__ import annotations

from typing import Any

from api.media_models import Playback, PlaybackStatus
from core.db import Connection


def playback_source(conn: Connection, media_id: int, row: dict[str, Any]) -> tuple[str, str, PlaybackStatus]:
    """(storage-relative path, content type, status) for a video whose media row is ``row`` (with
    ``storage_path`` and ``mime_type``). A rendition's absence is explained by the transcode job."""
    found = conn.execute(
        "SELECT status, path, mime_type FROM rendition WHERE media_id = %s", (media_id,),
    ).fetchone()
    if found is not None and found["status"] == "transcoded" and found["path"]:
        return found["path"], found["mime_type"] or "video/mp4", "transcoded"
    if found is not None:
        # not_needed: the transcoder says which type browsers accept the original as (a QuickTime .mov
        # of H.264 plays when announced as video/mp4, not as video/quicktime).
        return row["storage_path"], found["mime_type"] or row["mime_type"], "not_needed"
    job = conn.execute(
        "SELECT state FROM job WHERE media_id = %s AND analyzer = 'transcode'", (media_id,),
    ).fetchone()
    status: PlaybackStatus = "unknown"
    if job is not None and job["state"] == "failed":
        status = "failed"
    elif job is not None and job["state"] in ("pending", "queued", "running"):
        status = "pending"
    return row["storage_path"], row["mime_type"], status


def playback(conn: Connection, media_id: int, row: dict[str, Any]) -> Playback:
    """The detail's ``playback`` member for a video."""
    _, mime_type, status = playback_source(conn, media_id, row)
    return Playback(url=f"/api/media/{media_id}/playback", mime_type=mime_type, status=status)
