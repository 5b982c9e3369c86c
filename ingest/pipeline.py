"""One file through the whole ingest: open safely, hash once, deduplicate, validate by decoding, read
metadata, store, thumbnail, queue its analyses.

Order of work, and why:

1. ``lstat`` from the walk: symlinks and special files are rejected without being opened.
2. ``open(O_NOFOLLOW)``, ``fstat``: the descriptor is the file the walk saw (same inode, size, mtime),
   or the file is skipped as still changing. Every later reader (exiftool, ffprobe, ffmpeg) is given
   ``/proc/<pid>/fd/<n>``, the very inode that was hashed, never the name (which could be swapped).
3. SHA-512 while reading; photos are kept in memory for the decoder, so they are read once.
4. Hash already stored: an exact duplicate, moved to ``duplicates/`` and recorded as an alias (the
   expensive decode is skipped). The database's unique index decides races, not this lookup.
5. Type from content, metadata, decode at reduced size (the validation), thumbnails encoded in memory.
6. Row first: staged media row (locked) -> move into ``originals/`` -> write thumbnails -> one
   transaction marks it ready and records its jobs (transactional outbox). See ``ingest.records``.
"""

# ruff: noqa: PTH108, PTH110, PTH115
# Paths here are bytes (a file name need not be UTF-8) and symlinks must be handled as links, never
# followed: the os functions say exactly that, pathlib cannot carry bytes.

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow

from core import db, geocode
from core.media import MediaKind
from core.settings import Settings
from core.storage import DUPLICATES, ORIGINALS, QUARANTINE, resolve, safe_relative
from ingest import (
    detect,
    failpoints,
    hashing,
    metadata,
    metadata_gps,
    metadata_time,
    moves,
    naming,
    outcome,
    records,
    recovery,
    thumbnails,
    video,
)
from ingest.outcome import Outcome, Rejected, Skipped
from ingest.walk import Entry, describe_symlink

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def file_time(st: os.stat_result) -> datetime:
    """The modification time at the database's precision (microseconds), exactly, without float error."""
    return _EPOCH + timedelta(microseconds=st.st_mtime_ns // 1000)


def fd_path(fd: int, fallback: bytes) -> str:
    """A path other processes can open that names the inode behind ``fd`` (Linux), else the file's path."""
    proc = f"/proc/{os.getpid()}/fd/{fd}"
    return proc if os.path.exists(proc) else os.fsdecode(fallback)


@dataclass
class Analysed:
    """Everything known about a new file before it is stored."""

    kind: MediaKind
    columns: dict[str, Any]
    grid: bytes | None = None
    preview: bytes | None = None


_same_file = moves.same_file


def _same_link(entry: Entry, stored: Path) -> bool:
    """Both symlinks, to the same target (a symlink copied to another file system is a new link)."""
    try:
        return stored.is_symlink() and os.readlink(stored) == os.fsdecode(os.readlink(entry.abspath))
    except OSError:
        return False


class Ingester:
    """Ingests files one at a time with its own database connection and exiftool process.

    Used by one thread at a time (a batch lends one to each pool thread; the API may keep one per
    worker thread and call ``ingest_path`` for each uploaded file).
    """

    def __init__(self, settings: Settings, *, source: str = "") -> None:
        self.settings = settings
        self.source = source
        self.storage_root = settings.storage_root
        self._conn: db.Connection | None = None
        self.exif = metadata.ExifSession()
        thumbnails.configure(settings.ingest)

    # --- resources ---------------------------------------------------------------------------------

    @property
    def conn(self) -> db.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = db.connect_retrying(self.settings, autocommit=True, application_name="pava-ingest")
        return self._conn

    def close(self) -> None:
        self.exif.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Ingester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- entry points ------------------------------------------------------------------------------

    def ingest_path(self, path: Path, *, relpath: str | None = None) -> Outcome:
        """Ingest one file given by path; ``relpath`` is the name it gets under originals/ (default: its
        file name)."""
        path = Path(path)
        if relpath is not None:
            safe_relative(relpath)
        entry = Entry(path.parent.resolve(), os.fsencode(path.name), os.lstat(path), name_as=relpath)
        return self.ingest(entry)

    def ingest(self, entry: Entry) -> Outcome:
        """One walked file to exactly one outcome. Unexpected failures raise (the file stays in place)."""
        try:
            return self._ingest(entry)
        except Skipped as skip:
            return Outcome("skipped", entry.path, reason=skip.reason, detail=skip.detail or None)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            # The connection is gone (server restart): its locks went with it, so recovery can take over
            # any staged row; a fresh connection is made for the next file.
            if self._conn is not None:
                self._conn.close()
            raise

    # --- the steps ---------------------------------------------------------------------------------

    def _ingest(self, entry: Entry) -> Outcome:
        st = entry.stat
        if not entry.utf8:
            return self._reject(entry, st, None, None, Rejected(
                outcome.NON_UTF8_NAME, f"the name {entry.path!r} is not valid UTF-8 (the path is recorded "
                                       "with \\x escapes, the content is kept as it is)"))
        if stat.S_ISLNK(st.st_mode):
            note = entry.link_note or describe_symlink(os.fsencode(entry.root), entry.rel)
            symlink = Rejected(outcome.SYMLINK, note)
            return self._reject(entry, st, None, None, symlink)
        if not stat.S_ISREG(st.st_mode):
            return self._reject(entry, st, None, None, Rejected(
                outcome.NOT_REGULAR_FILE, f"not a regular file ({_file_kind(st.st_mode)})"))
        try:
            fd = os.open(entry.abspath, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise Skipped(outcome.VANISHED) from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Skipped(outcome.CHANGED, "became a symlink after the walk") from exc
            return self._reject(entry, st, None, None, Rejected(outcome.UNREADABLE,
                                                                f"cannot be opened: {exc.strerror}"))
        try:
            return self._ingest_open(entry, fd)
        finally:
            os.close(fd)

    def _ingest_open(self, entry: Entry, fd: int) -> Outcome:
        walked = entry.stat
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _same_file(st, walked):
            raise Skipped(outcome.CHANGED, "replaced after the walk")
        if (st.st_size, st.st_mtime_ns) != (walked.st_size, walked.st_mtime_ns):
            raise Skipped(outcome.CHANGED, "modified after the walk (still being written?)")
        if st.st_size == 0:
            return self._reject(entry, st, fd, hashing.Digest(_EMPTY_SHA512, 0, b""),
                                Rejected(outcome.EMPTY, "the file is empty (0 bytes)"))
        limit = self.settings.ingest.max_file_bytes
        if st.st_size > limit:
            return self._reject(entry, st, fd, None, Rejected(
                outcome.TOO_LARGE, f"{st.st_size:,} bytes, over the limit of {limit:,}"))
        try:
            head = os.pread(fd, detect.HEAD_BYTES, 0)
            digest = hashing.read_and_hash(fd, st.st_size, keep=detect.sniff(head) == MediaKind.PHOTO)
        except hashing.ChangedWhileReading as exc:
            raise Skipped(outcome.CHANGED, str(exc)) from exc
        except OSError as exc:
            unreadable = Rejected(outcome.UNREADABLE, f"read error: {exc.strerror}")
            return self._reject(entry, st, fd, None, unreadable)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            raise Skipped(outcome.CHANGED, "modified while being read")

        existing = self._stored(digest.sha512)
        if existing is not None:
            return self._duplicate(entry, fd, st, digest, existing)
        try:
            analysed = self._analyse(entry, fd, st, head, digest)
        except Rejected as rejected:
            return self._reject(entry, st, fd, digest, rejected)
        return self._store_new(entry, fd, st, digest, analysed)

    # --- existing content --------------------------------------------------------------------------

    def _stored(self, sha512: bytes) -> DictRow | None:
        """The ready media row with this content, or None; waits for (or finishes) a staged one."""
        row = records.media_by_sha(self.conn, sha512)
        if row is None or row["status"] == "ready":
            return row
        # Another thread or process is storing the same content right now: wait for its lock. If its
        # owner died, the lock is free and the row still staged: finish or remove it ourselves.
        staged_id = int(row["id"])
        records.lock(self.conn, records.MEDIA, staged_id)
        try:
            recovery.recover_media(self.settings, self.conn, staged_id)
            row = records.media_by_sha(self.conn, sha512)
        finally:
            records.unlock(self.conn, records.MEDIA, staged_id)
        if row is not None and row["status"] != "ready":
            # Recovery found storage holding something else: an operator must look (logged there).
            raise RuntimeError(f"item {staged_id} with the same content is staged and cannot be completed")
        return row

    def _is_leftover(self, entry: Entry, st: os.stat_result, stored_rel: str, row: DictRow,
                     same_content: bool) -> bool:
        """Is this drop-folder file the source of an earlier move that was interrupted before the source
        was removed? Either the same inode (a hard-link move), or (a cross-device copy) the same content,
        relative path, size and mtime with an inode unchanged since the row was recorded; a copy dropped
        again later has a newer inode change time and is a real duplicate."""
        try:
            if _same_file(os.lstat(resolve(self.storage_root, stored_rel)), st):
                return True
        except FileNotFoundError:
            return False
        recorded_at: datetime = row["recorded_at"]
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        return (same_content and row["original_path"] == entry.path and row["size_bytes"] == size
                and row["file_mtime"] == file_time(st) and st.st_ctime <= recorded_at.timestamp())

    def _remove_leftover(self, entry: Entry, st: os.stat_result) -> None:
        current = os.lstat(entry.abspath)
        if _same_file(current, st):
            os.unlink(entry.abspath)

    def _duplicate(self, entry: Entry, fd: int, st: os.stat_result, digest: hashing.Digest,
                   media: DictRow) -> Outcome:
        media_id = int(media["id"])
        if self._is_leftover(entry, st, media["storage_path"], media, same_content=True):
            self._remove_leftover(entry, st)
            return Outcome("skipped", entry.path, media_id=media_id, reason=outcome.ALREADY_INGESTED,
                           detail="finished an interrupted move", stored_path=media["storage_path"])
        for alias in records.aliases_of(self.conn, media_id):
            if self._is_leftover(entry, st, alias["duplicate_path"], alias, same_content=True):
                self._remove_leftover(entry, st)
                return Outcome("skipped", entry.path, media_id=media_id, reason=outcome.ALREADY_INGESTED,
                               detail="finished an interrupted move", stored_path=alias["duplicate_path"])
        for rel in naming.candidates(DUPLICATES, entry.path, digest.hex):
            destination = resolve(self.storage_root, rel)
            if os.path.lexists(destination):
                continue
            alias_id = records.insert_staged_alias(
                self.conn, media_id=media_id, original_path=entry.path, source=self.source,
                duplicate_path=rel, size_bytes=st.st_size, file_mtime=file_time(st))
            if alias_id is None:
                continue
            try:
                self._move(entry, st, destination, fd=fd, sha512=digest.sha512, namespace=records.ALIAS,
                           row_id=alias_id)
            except moves.DestinationTaken:
                continue
            finally:
                records.unlock(self.conn, records.ALIAS, alias_id)
            return Outcome("duplicate", entry.path, media_id=media_id, duplicate_of=media_id, stored_path=rel,
                           kind=media["kind"])
        raise AssertionError("unreachable: candidate names are endless")

    def _move(self, entry: Entry, st: os.stat_result, destination: Path, *, fd: int | None,
              sha512: bytes | None, namespace: int, row_id: int) -> None:
        """Move the file for a staged (locked) row; on failure the row is deleted and the file stays."""
        tag = f"{namespace:x}-{row_id}"
        failpoints.point("before_move")
        try:
            moves.move(entry.abspath, st, destination, fd=fd, sha512=sha512, tag=tag)
        except moves.DestinationTaken:
            records.delete_staged(self.conn, namespace, row_id)
            raise
        except moves.SourceVanished as exc:
            records.delete_staged(self.conn, namespace, row_id)
            raise Skipped(outcome.VANISHED) from exc
        except moves.SourceChanged as exc:
            records.delete_staged(self.conn, namespace, row_id)
            raise Skipped(outcome.CHANGED, str(exc)) from exc
        except BaseException:
            # Anything else (disk full, I/O error, interrupt): clean up what is certainly ours, and leave
            # the row to recovery if the file might already be in place.
            moves.remove_temporaries(destination)
            if not os.path.lexists(destination):
                records.delete_staged(self.conn, namespace, row_id)
            raise
        if namespace != records.MEDIA:
            records.mark_ready(self.conn, namespace, row_id)

    # --- new content -------------------------------------------------------------------------------

    def _analyse(self, entry: Entry, fd: int, st: os.stat_result, head: bytes,
                 digest: hashing.Digest) -> Analysed:
        path = fd_path(fd, entry.abspath)
        tags = self.exif.read(path)
        detected = detect.resolve(head, tags.get("File:FileType"), tags.get("File:MIMEType"), entry.path,
                                  tags.get("File:FileTypeExtension"))
        warnings = metadata.exiftool_warnings(tags)
        columns: dict[str, Any] = {
            "kind": detected.kind.value, "format": detected.format, "mime_type": detected.mime_type,
        }
        extra: dict[str, Any] = {"file_type": tags.get("File:FileType")}
        grid = preview = None
        if detected.kind == MediaKind.PHOTO:
            orientation = metadata.orientation(tags)
            source = digest.data if digest.data is not None else path
            rendered = thumbnails.render_photo(source, detected.format, orientation, self.settings.ingest)
            grid, preview = rendered.grid, rendered.preview
            columns.update(orientation=orientation, width=rendered.width, height=rendered.height)
            extra.update(stored_width=rendered.stored_width, stored_height=rendered.stored_height)
        else:
            info = video.probe(path)
            columns.update(orientation=info.orientation, width=info.width, height=info.height,
                           duration_s=info.duration_s, video_codec=info.video_codec,
                           audio_codec=info.audio_codec, frame_rate=info.frame_rate)
            extra.update(stored_width=info.coded_width, stored_height=info.coded_height,
                         rotation=info.rotation, container=info.container, streams=info.streams)
            frame = video.poster_frame(path, info, self.settings.ingest.thumb_preview_size)
            if frame is None:
                warnings.append({"code": "no_poster_frame",
                                 "detail": "no frame could be decoded for a thumbnail"})
            else:
                with frame:
                    grid, preview = thumbnails.render_frame(frame, self.settings.ingest)

        camera = metadata.camera(tags)
        columns.update(make=camera.make, model=camera.model, lens=camera.lens, aperture=camera.aperture,
                       exposure_time=camera.exposure_time, iso=camera.iso, focal_length=camera.focal_length)
        taken = metadata_time.taken_at(tags, video=detected.kind == MediaKind.VIDEO, file_mtime=file_time(st))
        columns.update(taken_at=taken.instant, taken_at_local=taken.local,
                       taken_at_offset_minutes=taken.offset_minutes, taken_at_source=taken.source)
        position, gps_warnings = metadata_gps.position(tags)
        warnings.extend(gps_warnings)
        if position is not None:
            columns.update(gps_lat=position.lat, gps_lon=position.lon, gps_alt=position.alt)
            place = geocode.reverse(position.lat, position.lon)
            columns.update(place_name=place.name, place_admin1=place.admin1, place_admin2=place.admin2,
                           country_code=place.country_code, country=place.country)
        columns.update(
            sha512=digest.sha512, size_bytes=st.st_size, original_path=entry.path, source=self.source,
            file_mtime=file_time(st), metadata={**extra, "tags": metadata.curated(tags)}, warnings=warnings,
        )
        return Analysed(detected.kind, columns, grid, preview)

    def _store_new(self, entry: Entry, fd: int, st: os.stat_result, digest: hashing.Digest,
                   analysed: Analysed) -> Outcome:
        for rel in naming.candidates(ORIGINALS, entry.path, digest.hex):
            destination = resolve(self.storage_root, rel)
            if os.path.lexists(destination):
                continue
            media_id = records.insert_staged_media(self.conn, {**analysed.columns, "storage_path": rel})
            if media_id is None:
                existing = self._stored(digest.sha512)
                if existing is not None:  # the same content won a race with us
                    return self._duplicate(entry, fd, st, digest, existing)
                continue  # the name is taken by another item (or the racing owner gave up: next name)
            try:
                try:
                    self._move(entry, st, destination, fd=fd, sha512=digest.sha512,
                               namespace=records.MEDIA, row_id=media_id)
                except moves.DestinationTaken:
                    continue
                failpoints.point("after_move")
                if analysed.grid is not None and analysed.preview is not None:
                    thumbnails.write_thumbnails(self.storage_root, digest.hex, analysed.grid,
                                                analysed.preview)
                failpoints.point("after_thumbnails")
                jobs = records.mark_media_ready(self.conn, media_id, kind=analysed.kind.value,
                                                storage_path=rel, sha512_hex=digest.hex)
            finally:
                records.unlock(self.conn, records.MEDIA, media_id)
            return Outcome("new", entry.path, media_id=media_id, stored_path=rel, kind=analysed.kind.value,
                           jobs=jobs)
        raise AssertionError("unreachable: candidate names are endless")

    # --- rejections --------------------------------------------------------------------------------

    def _reject(self, entry: Entry, st: os.stat_result, fd: int | None, digest: hashing.Digest | None,
                rejected: Rejected) -> Outcome:
        sha512 = digest.sha512 if digest else None
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        mtime = file_time(st)
        for row in records.rejections_at(self.conn, entry.path):
            quarantined = row["quarantine_path"]
            if quarantined is None:
                # Left in place by an earlier run (quarantine disabled): recorded once, not at every run.
                if (not self.settings.ingest.quarantine and row["reason"] == rejected.reason
                        and row["size_bytes"] == size and row["file_mtime"] == mtime):
                    return Outcome("skipped", entry.path, reason=outcome.ALREADY_REJECTED,
                                   detail=row["reason"])
                continue
            if sha512 is not None:
                same_content = row["sha512"] is not None and bytes(row["sha512"]) == sha512
            else:
                stored = resolve(self.storage_root, quarantined)
                same_content = stat.S_ISLNK(st.st_mode) and _same_link(entry, stored)
            if self._is_leftover(entry, st, quarantined, {**row, "original_path": entry.path}, same_content):
                self._remove_leftover(entry, st)
                return Outcome("skipped", entry.path, reason=outcome.ALREADY_REJECTED,
                               detail="finished an interrupted move to quarantine", stored_path=quarantined)
        log.info("rejected %s: %s (%s)", entry.path, rejected.reason, rejected.detail)
        common: dict[str, Any] = {"original_path": entry.path, "source": self.source,
                                  "reason": rejected.reason, "detail": rejected.detail, "sha512": sha512,
                                  "size_bytes": size, "file_mtime": mtime}
        if not self.settings.ingest.quarantine:
            records.insert_rejection(self.conn, quarantine_path=None, **common)
            return Outcome("rejected", entry.path, reason=rejected.reason, detail=rejected.detail)
        for rel in naming.candidates(QUARANTINE, entry.path, digest.hex if digest else None):
            destination = resolve(self.storage_root, rel)
            if os.path.lexists(destination):
                continue
            rejection_id = records.insert_rejection(self.conn, quarantine_path=rel, **common)
            if rejection_id is None:
                continue
            try:
                self._move(entry, st, destination, fd=fd, sha512=sha512, namespace=records.REJECTION,
                           row_id=rejection_id)
            except moves.DestinationTaken:
                continue
            except moves.CannotMove as exc:
                detail = f"{rejected.detail}; left in place: {exc}"
                records.leave_rejection_in_place(self.conn, rejection_id, detail)
                return Outcome("rejected", entry.path, reason=rejected.reason, detail=detail)
            finally:
                records.unlock(self.conn, records.REJECTION, rejection_id)
            return Outcome("rejected", entry.path, reason=rejected.reason, detail=rejected.detail,
                           stored_path=rel)
        raise AssertionError("unreachable: candidate names are endless")


_EMPTY_SHA512 = bytes.fromhex(
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"


def ingest_file(settings: Settings, path: Path | str, *, relpath: str | None = None,
                source: str = "") -> Outcome:
    """Ingest one file (for the API's uploads): the same pipeline as a batch, with its own connection and
    exiftool process for the call. ``relpath`` names it under originals/ (default: its file name).

    Returns an ``Outcome``: ``status`` new / duplicate / rejected / skipped, ``media_id`` (the stored item
    the file now belongs to), ``duplicate_of`` (for a duplicate), ``reason`` and ``detail``.
    """
    with Ingester(settings, source=source) as ingester:
        return ingester.ingest_path(Path(path), relpath=relpath)


__all__ = ["Ingester", "Outcome", "ingest_file"]
