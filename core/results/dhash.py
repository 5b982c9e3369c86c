"""Reading dHash rows (``perceptual_hash``) back: a photo's hash, a video's keyframes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import Connection
from core.perceptual import to_hex, to_unsigned


def export(conn: Connection, media_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per media id that has hashes,
    ``{"hash": 16 hex digits, "keyframes": [{"ms": int, "hash": 16 hex digits}, ...]}``.

    A photo has its hash and no keyframes; a video has its keyframes in time order and, as ``hash``,
    its first keyframe's (the representative; see workers/analyzers/dhash.py). Items without rows
    are absent from the result.
    """
    out: dict[int, dict[str, Any]] = {}
    if not media_ids:
        return out
    rows = conn.execute(
        "SELECT media_id, frame_ms, hash FROM perceptual_hash WHERE media_id = ANY(%s::bigint[])"
        " ORDER BY media_id, frame_ms NULLS FIRST",
        (list(media_ids),),
    ).fetchall()
    for row in rows:
        entry = out.setdefault(int(row["media_id"]), {"hash": None, "keyframes": []})
        text = to_hex(to_unsigned(int(row["hash"])))
        if row["frame_ms"] is None:
            entry["hash"] = text
        else:
            entry["keyframes"].append({"ms": int(row["frame_ms"]), "hash": text})
            if entry["hash"] is None:
                entry["hash"] = text
    return out
