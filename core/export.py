"""``pava export``: every ready media item as one JSON object, streamed from a server-side cursor.

Items are read in batches in one read-only, repeatable-read transaction (a consistent snapshot), so a
million items never sit in memory and the aliases, jobs and results of a batch cost one query each.

Fields of each object (a stable interface, documented in the README):

    id              integer
    sha512          128 lowercase hex digits
    kind            "photo" | "video"
    format          e.g. "jpeg", "heic", "mp4" (from the content, not the extension)
    mime_type       e.g. "image/jpeg"
    size_bytes      integer
    storage_path    relative to the storage root, e.g. "originals/2024/a.jpg"
    original_path   where it was found, relative to the drop folder
    source          the ingest's --source label ("" when none)
    ingested_at     ISO 8601 with offset (UTC)
    taken_at        ISO 8601 with offset (UTC) or null
    taken_at_local  ISO 8601 without offset: the wall-clock time the camera recorded, or null
    taken_at_offset_minutes  the camera's UTC offset in minutes, or null when unknown
    taken_at_source "exif" | "quicktime" | "xmp" | "file_mtime" (a fallback) | null
    camera          {make, model, lens, aperture, exposure_time, iso, focal_length}; members may be null
    gps             {lat, lon, alt} (alt may be null) or null
    place           {name, admin1, admin2, country_code, country} or null
    width, height   displayed size (orientation applied), or null
    orientation     EXIF orientation 1..8, or null
    video           {duration_s, video_codec, audio_codec, frame_rate} for videos, else null
    aliases         [{original_path, source, duplicate_path, created_at}]: exact duplicates found later
    jobs            {analyzer: {state, version, error}} for each analysis recorded for the item
    results         {analyzer: result or null} for each analysis with an export hook, e.g.
                    dhash: {"hash": 16 hex digits, "keyframes": [{"ms": int, "hash": 16 hex digits}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TextIO

from psycopg import IsolationLevel

from core.db import Connection

# hook(conn, media_ids) -> {media_id: JSON-able result}; one call per batch of items.
ResultHook = Callable[[Connection, Sequence[int]], Mapping[int, Any]]

_COLUMNS = """id, sha512, kind, format, mime_type, size_bytes, storage_path, original_path, source,
    ingested_at, taken_at, taken_at_local, taken_at_offset_minutes, taken_at_source, make, model, lens,
    aperture, exposure_time, iso, focal_length, gps_lat, gps_lon, gps_alt, place_name, place_admin1,
    place_admin2, country_code, country, width, height, orientation, duration_s, video_codec, audio_codec,
    frame_rate"""


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _item(row: Mapping[str, Any], aliases: list[dict[str, Any]], jobs: dict[str, Any],
          results: dict[str, Any]) -> dict[str, Any]:
    has_place = any(row[k] is not None for k in ("place_name", "country_code", "country"))
    return {
        "id": row["id"],
        "sha512": bytes(row["sha512"]).hex(),
        "kind": row["kind"],
        "format": row["format"],
        "mime_type": row["mime_type"],
        "size_bytes": row["size_bytes"],
        "storage_path": row["storage_path"],
        "original_path": row["original_path"],
        "source": row["source"],
        "ingested_at": _iso(row["ingested_at"]),
        "taken_at": _iso(row["taken_at"]),
        "taken_at_local": _iso(row["taken_at_local"]),
        "taken_at_offset_minutes": row["taken_at_offset_minutes"],
        "taken_at_source": row["taken_at_source"],
        "camera": {
            "make": row["make"], "model": row["model"], "lens": row["lens"], "aperture": row["aperture"],
            "exposure_time": row["exposure_time"], "iso": row["iso"], "focal_length": row["focal_length"],
        },
        "gps": ({"lat": row["gps_lat"], "lon": row["gps_lon"], "alt": row["gps_alt"]}
                if row["gps_lat"] is not None else None),
        "place": ({"name": row["place_name"], "admin1": row["place_admin1"], "admin2": row["place_admin2"],
                   "country_code": row["country_code"], "country": row["country"]} if has_place else None),
        "width": row["width"],
        "height": row["height"],
        "orientation": row["orientation"],
        "video": ({"duration_s": row["duration_s"], "video_codec": row["video_codec"],
                   "audio_codec": row["audio_codec"], "frame_rate": row["frame_rate"]}
                  if row["kind"] == "video" else None),
        "aliases": aliases,
        "jobs": jobs,
        "results": results,
    }


def _aliases(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(
        """SELECT media_id, original_path, source, duplicate_path, created_at FROM media_alias
           WHERE media_id = ANY(%s) AND status = 'ready' ORDER BY media_id, id""",
        (ids,),
    ):
        found.setdefault(r["media_id"], []).append({
            "original_path": r["original_path"], "source": r["source"], "duplicate_path": r["duplicate_path"],
            "created_at": _iso(r["created_at"]),
        })
    return found


def _jobs(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for r in conn.execute(
        """SELECT media_id, analyzer, state, analyzer_version, error FROM job
           WHERE media_id = ANY(%s) ORDER BY id""",
        (ids,),
    ):
        found.setdefault(r["media_id"], {})[r["analyzer"]] = {
            "state": r["state"], "version": r["analyzer_version"], "error": r["error"],
        }
    return found


def iter_items(conn: Connection, hooks: Mapping[str, ResultHook], *,
               batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every ready media item, ordered by id. ``conn`` must not be in a transaction; it is used for one."""
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction(), conn.cursor(name="pava_export") as cursor:
        cursor.itersize = batch
        cursor.execute(f"SELECT {_COLUMNS} FROM media WHERE status = 'ready' ORDER BY id")  # noqa: S608 (constant)
        while rows := cursor.fetchmany(batch):
            ids = [r["id"] for r in rows]
            aliases = _aliases(conn, ids)
            jobs = _jobs(conn, ids)
            results = {name: hook(conn, ids) for name, hook in hooks.items()}
            for row in rows:
                media_id = row["id"]
                yield _item(row, aliases.get(media_id, []), jobs.get(media_id, {}),
                            {name: found.get(media_id) for name, found in results.items()})


def write(items: Iterator[dict[str, Any]], out: TextIO, *, jsonl: bool) -> int:
    """Write items as JSON lines, or as one JSON array written piece by piece. Returns the count."""
    count = 0
    if jsonl:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    out.write("[")
    for item in items:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
