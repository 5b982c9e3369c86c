"""Rows for the search, facets, map and stats tests, written straight into the test database: media items
with times, positions, places and cameras, and what the workers would have stored for them (object
labels, OCR text, transcripts, faces), plus people, albums and comments. The search documents are made
by the schema's triggers, as in production.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.db import Connection
from core.settings import Settings
from tests.support import insert_media

# Columns a test may set on a media row besides those insert_media takes.
MEDIA_COLUMNS = frozenset({
    "source", "ingested_at", "taken_at", "taken_at_local", "taken_at_offset_minutes", "taken_at_source",
    "make", "model", "gps_lat", "gps_lon", "place_name", "place_admin1", "country_code", "country",
    "favourite", "manual_lat", "manual_lon", "manual_taken_at", "manual_taken_at_local",
    "manual_taken_at_offset_minutes", "size_bytes", "status",
})


@dataclass(frozen=True)
class Taken:
    """A time taken: the instant in UTC and the camera's wall-clock time ("2019-07-14 08:00")."""

    utc: str
    local: str

    def columns(self, prefix: str = "") -> dict[str, Any]:
        instant = datetime.fromisoformat(self.utc).replace(tzinfo=UTC)
        local = datetime.fromisoformat(self.local)
        offset = round((local - instant.replace(tzinfo=None)).total_seconds() / 60)
        return {f"{prefix}taken_at": instant, f"{prefix}taken_at_local": local,
                f"{prefix}taken_at_offset_minutes": offset}


def add_media(conn: Connection, path: str, *, kind: str = "photo", format: str | None = None,
              taken: Taken | None = None, labels: dict[str, int] | None = None, ocr: str | None = None,
              speech: str | None = None, **columns: Any) -> int:
    """One item (``path`` is its original path) and the analysis results given; returns its id.

    ``labels`` None: objects not analysed yet; ``{}``: analysed, nothing found.
    """
    unknown = set(columns) - MEDIA_COLUMNS
    assert not unknown, unknown
    mime = {"jpeg": "image/jpeg", "heic": "image/heic", "png": "image/png", "mp4": "video/mp4",
            "mov": "video/quicktime"}.get(format or "")
    media_id = insert_media(conn, path.rsplit("/", 1)[-1], sha512=hashlib.sha512(path.encode()).digest(),
                            kind=kind, format=format, mime_type=mime, original_path=path,
                            storage_path=f"originals/{hashlib.sha1(path.encode()).hexdigest()}",
                            status=columns.pop("status", "ready"))
    if taken is not None:
        columns.update(taken.columns(), taken_at_source="exif")
    if columns:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in columns)
        conn.execute(sql.SQL("UPDATE media SET {} WHERE id = %(id)s").format(assignments),
                     {**columns, "id": media_id})
    if labels is not None:
        add_labels(conn, media_id, labels)
    if ocr is not None:
        conn.execute(
            "INSERT INTO ocr_result (media_id, text, word_count, languages, analyzer, analyzer_version,"
            " backend, model) VALUES (%s, %s, %s, 'eng', 'ocr', '1', 'tesseract', '5')",
            (media_id, ocr, len(ocr.split())))
    if speech is not None:
        conn.execute(
            "INSERT INTO speech_result (media_id, status, language, text, analyzer, analyzer_version,"
            " backend, model) VALUES (%s, %s, 'en', %s, 'speech', '1', 'faster-whisper', 'tiny')",
            (media_id, "transcribed" if speech else "no_speech", speech))
    return media_id


def add_labels(conn: Connection, media_id: int, labels: dict[str, int]) -> None:
    conn.execute(
        "INSERT INTO object_scan (media_id, analyzer, analyzer_version, backend, model, min_confidence,"
        " frames, detections, label_counts) VALUES (%s, 'objects', '1', 'ssd', 'test', 0.5, 1, %s, %s)",
        (media_id, sum(labels.values()), Jsonb(labels)))


def add_person(conn: Connection, name: str, *, hidden: bool = False) -> int:
    row = conn.execute("INSERT INTO person (name, hidden) VALUES (%s, %s) RETURNING id",
                       (name, hidden)).fetchone()
    assert row is not None
    return int(row["id"])


def add_face(conn: Connection, media_id: int, person_id: int | None, *, index: int = 0,
             frame_ms: int | None = None) -> int:
    encoding = "[" + ",".join(["0.01"] * 128) + "]"
    row = conn.execute(
        "INSERT INTO face (media_id, face_index, frame_ms, box_x, box_y, box_w, box_h, score, encoding,"
        " chip_path, person_id, analyzer, analyzer_version, backend, model)"
        " VALUES (%s, %s, %s, 0.1, 0.1, 0.2, 0.2, 1.0, %s::vector, 'chip.jpg', %s,"
        " 'faces', '1', 'hog', 'test')"
        " RETURNING id",
        (media_id, index, frame_ms, encoding, person_id)).fetchone()
    assert row is not None
    return int(row["id"])


def add_album(conn: Connection, name: str, media_ids: list[int]) -> int:
    row = conn.execute("INSERT INTO album (name) VALUES (%s) RETURNING id", (name,)).fetchone()
    assert row is not None
    for media_id in media_ids:
        conn.execute("INSERT INTO album_item (album_id, media_id) VALUES (%s, %s)", (row["id"], media_id))
    return int(row["id"])


def add_comment(conn: Connection, media_id: int, body: str) -> None:
    conn.execute("INSERT INTO media_comment (media_id, author, body) VALUES (%s, 'editor', %s)",
                 (media_id, body))


def add_job(conn: Connection, media_id: int, analyzer: str, state: str) -> None:
    conn.execute("INSERT INTO job (media_id, analyzer, state) VALUES (%s, %s, %s)",
                 (media_id, analyzer, state))


def settings_without_broker(tmp_path: Path, database_url: str) -> Settings:
    """Settings for API tests that publish nothing: the shared fixture's own database, and no vhost (one
    costs seconds of rabbitmqctl on a busy machine)."""
    return Settings(_env_file=None, home=tmp_path / "var",  # type: ignore[call-arg,unused-ignore]
                    storage_root=tmp_path / "storage", drop_dir=tmp_path / "drop",
                    database_url=database_url)  # type: ignore[arg-type]
