"""The ingester's SQL: staged rows, their advisory locks, and the step to ready.

Protocol (row first): a row is inserted as ``staged`` and, in the same statement, locked with a
session-level advisory lock; then the file is moved; then (for media) thumbnails are written; then one
transaction marks it ``ready`` and records its jobs in the outbox. A staged row whose lock is free
belongs to a process that died: crash recovery finishes it or deletes it (``ingest.recovery``).

Uniqueness is the database's job: ``INSERT ... ON CONFLICT DO NOTHING`` on media.sha512 and on every
storage path, never a check followed by an insert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from core.analyses import analyses_for
from core.db import Connection
from core.media import MediaKind
from core.outbox import record_jobs

# Advisory lock namespaces (high 16 bits of the 64-bit key; ids fill the low 48 bits), chosen so that
# they cannot meet other users of advisory locks that key on small integers.
MEDIA = 0x7101
ALIAS = 0x7102
REJECTION = 0x7103

_TABLES = {MEDIA: "media", ALIAS: "media_alias", REJECTION: "rejection"}

MEDIA_COLUMNS = (
    "sha512", "kind", "format", "mime_type", "size_bytes", "storage_path", "original_path", "source",
    "file_mtime", "taken_at", "taken_at_local", "taken_at_offset_minutes", "taken_at_source", "make", "model",
    "lens", "aperture", "exposure_time", "iso", "focal_length", "gps_lat", "gps_lon", "gps_alt",
    "orientation", "width", "height", "duration_s", "video_codec", "audio_codec", "frame_rate", "place_name",
    "place_admin1", "place_admin2", "country_code", "country", "metadata", "warnings",
)


def lock_key(namespace: int, row_id: int) -> int:
    return (namespace << 48) | row_id


def try_lock(conn: Connection, namespace: int, row_id: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (lock_key(namespace, row_id),)).fetchone()
    return bool(row and row["got"])


def lock(conn: Connection, namespace: int, row_id: int) -> None:
    """Wait for the lock (the process working on the row finishes, or dies and its session ends)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(namespace, row_id),))


def unlock(conn: Connection, namespace: int, row_id: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(namespace, row_id),))


def staged_ids(conn: Connection, namespace: int) -> list[int]:
    table = _TABLES[namespace]
    rows = conn.execute(f"SELECT id FROM {table} WHERE status = 'staged' ORDER BY id").fetchall()  # noqa: S608
    return [r["id"] for r in rows]


def delete_staged(conn: Connection, namespace: int, row_id: int) -> None:
    table = _TABLES[namespace]
    conn.execute(f"DELETE FROM {table} WHERE id = %s AND status = 'staged'", (row_id,))  # noqa: S608


# --- media -------------------------------------------------------------------------------------------

def media_by_sha(conn: Connection, sha512: bytes) -> DictRow | None:
    return conn.execute(
        """SELECT id, status, kind, format, storage_path, original_path, source, size_bytes, file_mtime,
                  ingested_at AS recorded_at
             FROM media WHERE sha512 = %s""",
        (sha512,),
    ).fetchone()


def media_by_id(conn: Connection, media_id: int) -> DictRow | None:
    return conn.execute("SELECT * FROM media WHERE id = %s", (media_id,)).fetchone()


def insert_staged_media(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert and lock a staged media row; None when its hash or its storage path is already taken."""
    params = {name: values.get(name) for name in MEDIA_COLUMNS}
    params["source"] = params["source"] or ""
    params["metadata"] = Jsonb(params["metadata"] or {})
    params["warnings"] = Jsonb(params["warnings"] or [])
    columns = ", ".join(MEDIA_COLUMNS)
    placeholders = ", ".join(f"%({name})s" for name in MEDIA_COLUMNS)
    row = conn.execute(
        f"""WITH ins AS (INSERT INTO media (status, {columns}) VALUES ('staged', {placeholders})
                         ON CONFLICT DO NOTHING RETURNING id)
            SELECT id, pg_advisory_lock((%(ns)s::bigint << 48) | id) FROM ins""",  # noqa: S608 (constant)
        {**params, "ns": MEDIA},
    ).fetchone()
    return int(row["id"]) if row else None


def mark_media_ready(conn: Connection, media_id: int, *, kind: str, storage_path: str,
                     sha512_hex: str) -> list[int]:
    """One transaction: the item becomes visible and its jobs enter the outbox together."""
    with conn.transaction():
        updated = conn.execute(
            "UPDATE media SET status = 'ready' WHERE id = %s AND status = 'staged' RETURNING id", (media_id,)
        ).fetchone()
        if updated is None:
            return []
        media_kind = MediaKind(kind)
        return record_jobs(conn, media_id=media_id, kind=media_kind, path=storage_path, sha512_hex=sha512_hex,
                           analyses=analyses_for(media_kind))


# --- aliases (exact duplicates) ------------------------------------------------------------------------

def aliases_of(conn: Connection, media_id: int) -> list[DictRow]:
    return conn.execute(
        """SELECT id, original_path, duplicate_path, size_bytes, file_mtime, created_at AS recorded_at
             FROM media_alias
            WHERE media_id = %s AND status = 'ready'""",
        (media_id,),
    ).fetchall()


def insert_staged_alias(conn: Connection, *, media_id: int, original_path: str, source: str,
                        duplicate_path: str, size_bytes: int, file_mtime: datetime) -> int | None:
    row = conn.execute(
        """WITH ins AS (INSERT INTO media_alias (media_id, status, original_path, source, duplicate_path,
                                                 size_bytes, file_mtime)
                        VALUES (%s, 'staged', %s, %s, %s, %s, %s)
                        ON CONFLICT (duplicate_path) DO NOTHING RETURNING id)
           SELECT id, pg_advisory_lock((%s::bigint << 48) | id) FROM ins""",
        (media_id, original_path, source, duplicate_path, size_bytes, file_mtime, ALIAS),
    ).fetchone()
    return int(row["id"]) if row else None


def mark_ready(conn: Connection, namespace: int, row_id: int) -> None:
    table = _TABLES[namespace]
    conn.execute(f"UPDATE {table} SET status = 'ready' WHERE id = %s", (row_id,))  # noqa: S608


# --- rejections ----------------------------------------------------------------------------------------

def rejections_at(conn: Connection, original_path: str) -> list[DictRow]:
    return conn.execute(
        """SELECT id, reason, quarantine_path, sha512, size_bytes, file_mtime, created_at AS recorded_at
             FROM rejection
            WHERE original_path = %s AND status = 'ready'""",
        (original_path,),
    ).fetchall()


def insert_rejection(conn: Connection, *, original_path: str, source: str, reason: str, detail: str,
                     quarantine_path: str | None, sha512: bytes | None, size_bytes: int | None,
                     file_mtime: datetime | None) -> int | None:
    """A staged (locked) rejection when the file is to be quarantined, a ready one when left in place.
    None when the quarantine path is taken."""
    status = "staged" if quarantine_path else "ready"
    row = conn.execute(
        """WITH ins AS (INSERT INTO rejection (original_path, source, reason, detail, status, quarantine_path,
                                               sha512, size_bytes, file_mtime)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                        ON CONFLICT (quarantine_path) DO NOTHING RETURNING id)
           SELECT id, CASE WHEN %s THEN pg_advisory_lock((%s::bigint << 48) | id) END FROM ins""",
        (original_path, source, reason, detail, status, quarantine_path, sha512, size_bytes, file_mtime,
         status == "staged", REJECTION),
    ).fetchone()
    return int(row["id"]) if row else None


def leave_rejection_in_place(conn: Connection, rejection_id: int, detail: str) -> None:
    conn.execute(
        "UPDATE rejection SET status = 'ready', quarantine_path = NULL, detail = %s WHERE id = %s",
        (detail, rejection_id),
    )
