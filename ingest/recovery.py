"""Crash recovery: finish or undo the work of ingesters that died (kill -9, power loss, OOM).

A staged row whose advisory lock is free has no living owner (session-level locks end with the
session). For each one, under its lock:

- media: its file is in storage -> check the content, render the thumbnails again, mark it ready and
  record its jobs; its file is not in storage -> delete the row (the file is still in the drop folder,
  and the next walk ingests it from scratch);
- aliases and rejections: file in place -> ready; not -> delete the row;
- temporary files of the row's interrupted copy or thumbnail write are deleted either way.

The drop-folder copy of a file whose move was interrupted after the link (or copy) is removed by the
next walk, which recognises it (same inode, or same content, path, size and mtime).

Runs before every walk, and is safe beside live ingesters: their rows are locked and skipped.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass

from core.db import Connection
from core.media import MediaKind
from core.settings import Settings
from core.storage import resolve
from ingest import hashing, moves, records, thumbnails, video
from ingest.outcome import Rejected

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    completed: int = 0  # staged rows finished (made ready)
    removed: int = 0  # staged rows deleted (their file had not reached storage)
    temporaries: int = 0  # temporary files deleted
    conflicts: int = 0  # staged rows left alone because storage holds something unexpected

    def to_json(self) -> dict[str, int]:
        return {"completed": self.completed, "removed": self.removed, "temporaries": self.temporaries,
                "conflicts": self.conflicts}


def _render(settings: Settings, path: str, kind: str, fmt: str,
            orientation: int | None) -> tuple[bytes, bytes] | None:
    """Thumbnails of a stored file (they were encoded in memory by the process that died)."""
    try:
        if kind == MediaKind.PHOTO:
            rendered = thumbnails.render_photo(path, fmt, orientation, settings.ingest)
            return rendered.grid, rendered.preview
        info = video.probe(path)
        frame = video.poster_frame(path, info, settings.ingest.thumb_preview_size)
        if frame is None:
            return None
        with frame:
            return thumbnails.render_frame(frame, settings.ingest)
    except Rejected as exc:
        # It decoded when it was first read, so this should not happen; the item is kept regardless.
        log.warning("cannot render thumbnails of %s during recovery: %s", path, exc)
        return None


def recover_media(settings: Settings, conn: Connection, media_id: int,
                  report: RecoveryReport | None = None) -> None:
    """Finish or delete one staged media row. The caller holds its advisory lock."""
    report = report if report is not None else RecoveryReport()
    row = records.media_by_id(conn, media_id)
    if row is None or row["status"] != "staged":
        return
    destination = resolve(settings.storage_root, row["storage_path"])
    sha_hex = bytes(row["sha512"]).hex()
    report.temporaries += moves.remove_temporaries(destination)
    report.temporaries += thumbnails.remove_thumbnail_temporaries(settings.storage_root, sha_hex)
    try:
        st = os.lstat(destination)
    except FileNotFoundError:
        records.delete_staged(conn, records.MEDIA, media_id)
        report.removed += 1
        log.info("recovery: removed staged item %d (%s never reached storage)", media_id,
                 row["original_path"])
        return
    if not stat.S_ISREG(st.st_mode) or hashing.hash_path(destination)[0] != bytes(row["sha512"]):
        report.conflicts += 1
        log.error("recovery: %s does not hold the content of staged item %d; left for an operator",
                  row["storage_path"], media_id)
        return
    rendered = _render(settings, str(destination), row["kind"], row["format"], row["orientation"])
    if rendered is not None:
        thumbnails.write_thumbnails(settings.storage_root, sha_hex, *rendered)
    records.mark_media_ready(conn, media_id, kind=row["kind"], storage_path=row["storage_path"],
                             sha512_hex=sha_hex)
    report.completed += 1
    log.info("recovery: completed staged item %d (%s)", media_id, row["storage_path"])


def _recover_file_row(settings: Settings, conn: Connection, namespace: int, row_id: int,
                      report: RecoveryReport) -> None:
    """Aliases and rejections: ready if their file reached its place, else deleted."""
    column = "duplicate_path" if namespace == records.ALIAS else "quarantine_path"
    table = "media_alias" if namespace == records.ALIAS else "rejection"
    row = conn.execute(
        f"SELECT {column} AS path, status FROM {table} WHERE id = %s", (row_id,)  # noqa: S608 (constants)
    ).fetchone()
    if row is None or row["status"] != "staged":
        return
    if row["path"] is None:
        records.mark_ready(conn, namespace, row_id)
        return
    destination = resolve(settings.storage_root, row["path"])
    report.temporaries += moves.remove_temporaries(destination)
    if os.path.lexists(destination):
        records.mark_ready(conn, namespace, row_id)
        report.completed += 1
        log.info("recovery: completed staged %s %d (%s)", table, row_id, row["path"])
    else:
        records.delete_staged(conn, namespace, row_id)
        report.removed += 1
        log.info("recovery: removed staged %s %d", table, row_id)


def recover(settings: Settings, conn: Connection) -> RecoveryReport:
    """Finish or undo every staged row whose owner is gone. ``conn`` must be in autocommit mode."""
    report = RecoveryReport()
    for namespace in (records.MEDIA, records.ALIAS, records.REJECTION):
        for row_id in records.staged_ids(conn, namespace):
            if not records.try_lock(conn, namespace, row_id):
                continue  # a live ingester owns it
            try:
                if namespace == records.MEDIA:
                    recover_media(settings, conn, row_id, report)
                else:
                    _recover_file_row(settings, conn, namespace, row_id, report)
            finally:
                records.unlock(conn, namespace, row_id)
    if report.completed or report.removed or report.temporaries or report.conflicts:
        log.info("recovery: %s", report.to_json())
    return report
