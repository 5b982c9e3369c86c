"""Writes a faces result: the scan row, one row per face (encoding in pgvector), the face chips, and
the grouping of the new faces into people, all inside the caller's transaction.

Idempotent: faces are keyed by (media, face_index) and upserted, extra rows of an earlier, longer
result are deleted, and chips are written to ``<face_index>.jpg`` (stale ones removed), so a
redelivered job leaves exactly one set of rows and files. A face that comes back with (nearly) the same
encoding keeps its person, including one the user placed by hand; a different face at that index starts
unassigned again.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from psycopg.types.json import Jsonb

from core import people
from core.db import Connection
from core.settings import FacesSettings
from core.storage import derived_dir_rel, resolve
from workers.analyzer import MediaItem, ResultMeta
from workers.analyzers.faces import FacesResult

log = logging.getLogger(__name__)

_CHIP_NAME = re.compile(r"^(\d+)\.jpg$")


def chip_rel(sha512_hex: str, face_index: int) -> str:
    """Storage-relative path of a face chip."""
    return f"{derived_dir_rel(sha512_hex, 'faces')}/{face_index}.jpg"


def store(conn: Connection, item: MediaItem, result: FacesResult, meta: ResultMeta) -> None:
    defaults = FacesSettings.model_validate({})
    max_distance = float(meta.extra.get("people_max_distance", defaults.people_max_distance))
    min_faces = int(meta.extra.get("people_min_faces", defaults.people_min_faces))
    # Taken first, before any face row is touched: person assignment elsewhere updates face rows, and
    # holding row locks while waiting for the advisory lock could deadlock with it.
    people.lock(conn)
    # Persons that may lose faces here: only they can end up empty.
    before = [r["person_id"] for r in conn.execute(
        "SELECT DISTINCT person_id FROM face WHERE media_id = %s AND person_id IS NOT NULL", (item.media_id,)
    )]
    _write_chips(item, result)
    conn.execute(
        """
        INSERT INTO face_scan (media_id, face_count, frames, width, height, analyzer, analyzer_version,
                               backend, model, params)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (media_id) DO UPDATE SET
            face_count = EXCLUDED.face_count, frames = EXCLUDED.frames, width = EXCLUDED.width,
            height = EXCLUDED.height, analyzer = EXCLUDED.analyzer,
            analyzer_version = EXCLUDED.analyzer_version, backend = EXCLUDED.backend, model = EXCLUDED.model,
            params = EXCLUDED.params, created_at = now()
        """,
        (item.media_id, len(result.faces), result.frames, result.width, result.height, meta.analyzer,
         meta.version, meta.backend, meta.model, Jsonb(meta.extra)),
    )
    unassigned: list[int] = []
    for index, face in enumerate(result.faces):
        x, y, w, h = (min(1.0, max(0.0, v)) for v in face.box)
        row = conn.execute(
            """
            INSERT INTO face AS f (media_id, face_index, frame_ms, box_x, box_y, box_w, box_h, score,
                                   encoding, chip_path, analyzer, analyzer_version, backend, model)
            VALUES (%(media)s, %(index)s, %(ms)s, %(x)s, %(y)s, %(w)s, %(h)s, %(score)s, %(enc)s::vector,
                    %(chip)s, %(analyzer)s, %(version)s, %(backend)s, %(model)s)
            ON CONFLICT (media_id, face_index) DO UPDATE SET
                frame_ms = EXCLUDED.frame_ms, box_x = EXCLUDED.box_x, box_y = EXCLUDED.box_y,
                box_w = EXCLUDED.box_w, box_h = EXCLUDED.box_h, score = EXCLUDED.score,
                chip_path = EXCLUDED.chip_path, analyzer = EXCLUDED.analyzer,
                analyzer_version = EXCLUDED.analyzer_version, backend = EXCLUDED.backend,
                model = EXCLUDED.model,
                person_id = CASE WHEN f.encoding <-> EXCLUDED.encoding <= %(same)s THEN f.person_id END,
                assigned_by = CASE WHEN f.encoding <-> EXCLUDED.encoding <= %(same)s THEN f.assigned_by
                                   ELSE 'auto' END,
                encoding = EXCLUDED.encoding
            RETURNING id, person_id, assigned_by
            """,
            {"media": item.media_id, "index": index, "ms": face.frame_ms, "x": x, "y": y,
             "w": max(w, 1e-6), "h": max(h, 1e-6), "score": face.score,
             "enc": people.vector_literal(face.encoding), "chip": chip_rel(item.sha512, index),
             "analyzer": meta.analyzer, "version": meta.version, "backend": meta.backend, "model": meta.model,
             "same": people.SAME_FACE_DISTANCE},
        ).fetchone()
        assert row is not None
        if row["person_id"] is None and row["assigned_by"] == "auto":
            unassigned.append(int(row["id"]))
    conn.execute("DELETE FROM face WHERE media_id = %s AND face_index >= %s",
                 (item.media_id, len(result.faces)))
    report = people.assign_faces(conn, unassigned, max_distance=max_distance, min_faces=min_faces)
    people.delete_empty_persons(conn, before)
    log.debug("media %s: %d faces stored, people %s", item.media_id, len(result.faces), report.as_dict())


def _write_chips(item: MediaItem, result: FacesResult) -> None:
    folder = resolve(item.storage_root, derived_dir_rel(item.sha512, "faces"))
    if result.faces:
        folder.mkdir(parents=True, exist_ok=True)
    for index, face in enumerate(result.faces):
        _write_atomically(folder / f"{index}.jpg", face.chip_jpeg)
    if folder.is_dir():
        for path in folder.iterdir():
            match = _CHIP_NAME.match(path.name)
            if match and int(match.group(1)) >= len(result.faces):
                path.unlink(missing_ok=True)
        if not result.faces and not any(folder.iterdir()):
            folder.rmdir()


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (the web page) never sees half a chip: write beside it, then rename over it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".chip-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
