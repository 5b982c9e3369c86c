"""Reading one media item whole for ``GET /api/media/{id}``: its row, its results through the same
readers as ``pava export`` (``core/results``), and what users added (comments, albums).

A fixed number of queries per item. Only ready items exist for the API: a staged row is a file still
being moved in.
"""

from __future__ import annotations

import logging
from typing import Any

from api.errors import not_found
from api.media_models import (
    AlbumRef,
    Alias,
    Box,
    Camera,
    Comment,
    DetectedObject,
    ExifGps,
    Face,
    FileTime,
    JobInfo,
    Keyframe,
    ManualGps,
    ManualTime,
    MediaDetail,
    NearDuplicate,
    Objects,
    Ocr,
    OcrLine,
    OcrWord,
    Place,
    Speech,
    SpeechSegment,
    TimeInfo,
    Urls,
    VideoInfo,
)
from api.playback import playback
from api.summaries import SUMMARY_COLUMNS, summary
from core import neardup
from core.db import Connection
from core.results import dhash, faces, objects, ocr, speech

log = logging.getLogger(__name__)

# A video's near-duplicates are looked up from this many of its keyframes at most: each keyframe is one
# index search, and the page wants an answer in milliseconds. GET /api/media/{id}/similar has them all.
NEAR_DUPLICATE_KEYFRAMES = 64
NEAR_DUPLICATES_SHOWN = 24

_DETAIL_COLUMNS = f"""{SUMMARY_COLUMNS}, m.sha512, m.size_bytes, m.source, m.storage_path, m.lens, m.aperture,
    m.exposure_time, m.iso, m.focal_length, m.gps_lat, m.gps_lon, m.gps_alt, m.manual_lat, m.manual_lon,
    m.manual_gps_at, gps_user.name AS manual_gps_by_name, m.taken_at, m.taken_at_offset_minutes,
    m.taken_at_source, m.manual_taken_at, m.manual_taken_at_offset_minutes, m.manual_taken_at_set_at,
    time_user.name AS manual_taken_at_by_name, m.place_admin1, m.place_admin2, m.orientation,
    m.video_codec, m.audio_codec, m.frame_rate"""


def media_row(conn: Connection, media_id: int) -> dict[str, Any]:
    """The item's row with the names of who set its time and position, or 404."""
    row = conn.execute(
        f"""SELECT {_DETAIL_COLUMNS}
              FROM media m
              LEFT JOIN app_user gps_user ON gps_user.id = m.manual_gps_by
              LEFT JOIN app_user time_user ON time_user.id = m.manual_taken_at_by
             WHERE m.id = %s AND m.status = 'ready'""",  # noqa: S608 (constant column list)
        (media_id,),
    ).fetchone()
    if row is None:
        raise not_found(f"media item {media_id}")
    return row


def load_detail(conn: Connection, media_id: int, *, near_duplicate_threshold: int) -> MediaDetail:
    """The detail of a ready item, or 404."""
    row = media_row(conn, media_id)
    ids = [media_id]
    hashes = dhash.export(conn, ids).get(media_id)
    base = summary(row).model_dump(exclude={"place"})
    return MediaDetail(
        **base,
        sha512=bytes(row["sha512"]).hex(),
        size_bytes=row["size_bytes"],
        source=row["source"],
        storage_path=row["storage_path"],
        camera=Camera(make=row["make"], model=row["model"], lens=row["lens"], aperture=row["aperture"],
                      exposure_time=row["exposure_time"], iso=row["iso"], focal_length=row["focal_length"]),
        exif_gps=ExifGps(lat=row["gps_lat"], lon=row["gps_lon"], alt=row["gps_alt"])
        if row["gps_lat"] is not None else None,
        manual_gps=ManualGps(lat=row["manual_lat"], lon=row["manual_lon"], set_at=row["manual_gps_at"],
                             set_by=row["manual_gps_by_name"]) if row["manual_lat"] is not None else None,
        time=_time(row),
        place=_place(row),
        video=VideoInfo(duration_s=row["duration_s"], video_codec=row["video_codec"],
                        audio_codec=row["audio_codec"], frame_rate=row["frame_rate"])
        if row["kind"] == "video" else None,
        orientation=row["orientation"],
        aliases=_aliases(conn, media_id),
        objects=_objects(objects.export(conn, ids).get(media_id)),
        faces=_faces(faces.export(conn, ids).get(media_id)),
        ocr=_ocr(ocr.export(conn, ids).get(media_id)),
        speech=_speech(media_id, speech.export(conn, ids).get(media_id)),
        keyframes=[Keyframe(ms=k["ms"], hash=k["hash"]) for k in hashes["keyframes"]] if hashes else [],
        dhash=hashes["hash"] if hashes else None,
        near_duplicates=_near_duplicates(conn, media_id, near_duplicate_threshold) if hashes else [],
        comments=list_comments(conn, media_id),
        albums=_albums(conn, media_id),
        jobs=_jobs(conn, media_id),
        playback=playback(conn, media_id, row) if row["kind"] == "video" else None,
        urls=Urls(original=f"/api/media/{media_id}/original",
                  download=f"/api/media/{media_id}/original?download=true",
                  thumbnail=f"/api/media/{media_id}/thumbnail?size=grid",
                  preview=f"/api/media/{media_id}/thumbnail?size=preview"),
    )


def _time(row: dict[str, Any]) -> TimeInfo:
    exif = None
    if row["taken_at"] is not None:
        exif = FileTime(taken_at=row["taken_at"], taken_at_local=row["taken_at_local"],
                        offset_minutes=row["taken_at_offset_minutes"], source=row["taken_at_source"])
    manual = None
    if row["manual_taken_at"] is not None:
        manual = ManualTime(taken_at=row["manual_taken_at"], taken_at_local=row["manual_taken_at_local"],
                            offset_minutes=row["manual_taken_at_offset_minutes"],
                            set_at=row["manual_taken_at_set_at"], set_by=row["manual_taken_at_by_name"])
    return TimeInfo(exif=exif, manual=manual)


def _place(row: dict[str, Any]) -> Place | None:
    place = Place(name=row["place_name"], admin1=row["place_admin1"], admin2=row["place_admin2"],
                  country_code=row["country_code"], country=row["country"])
    return place if any(v is not None for v in place.model_dump().values()) else None


def _box(values: list[float]) -> Box:
    x, y, w, h = values
    return Box(x=x, y=y, w=w, h=h)


def _objects(found: dict[str, Any] | None) -> Objects | None:
    if found is None:
        return None
    return Objects(
        backend=found["backend"], model=found["model"], counts=found["counts"] or {},
        items=[DetectedObject(label=d["label"], confidence=d["confidence"], frame_ms=d["frame_ms"],
                              box=_box(d["box"])) for d in found["detections"]],
    )


def _faces(found: dict[str, Any] | None) -> list[Face]:
    if found is None:
        return []
    return [Face(id=f["id"], frame_ms=f["frame_ms"], box=_box(f["box"]), person_id=f["person_id"],
                 person_name=f["person_name"], chip_url=f"/api/faces/{f['id']}/chip") for f in found["faces"]]


def _ocr(found: dict[str, Any] | None) -> Ocr | None:
    if found is None:
        return None
    lines = [
        OcrLine(text=line["text"], confidence=line["confidence"], block=line["block"], box=_box(line["box"]),
                words=[OcrWord(text=w["text"], confidence=w["confidence"], box=_box(w["box"]))
                       for w in line.get("words", [])])
        for line in found["lines"] or []
    ]
    return Ocr(text=found["text"], rotation=found["rotation"], lines=lines)


def _speech(media_id: int, found: dict[str, Any] | None) -> Speech | None:
    if found is None:
        return None
    return Speech(
        status=found["status"], language=found["language"], text=found["text"],
        segments=[SpeechSegment(start_s=s["start"], end_s=s["end"], text=s["text"])
                  for s in found["segments"]],
        subtitles_url=f"/api/media/{media_id}/subtitles.vtt" if found["subtitles"] else None,
    )


def _aliases(conn: Connection, media_id: int) -> list[Alias]:
    rows = conn.execute(
        """SELECT original_path, source, duplicate_path, created_at FROM media_alias
            WHERE media_id = %s AND status = 'ready' ORDER BY id""",
        (media_id,),
    ).fetchall()
    return [Alias(**r) for r in rows]


def _near_duplicates(conn: Connection, media_id: int, threshold: int) -> list[NearDuplicate]:
    try:
        hashes = neardup.media_hashes(conn, media_id)[:NEAR_DUPLICATE_KEYFRAMES]
    except neardup.UnknownMediaError:
        return []
    matches = neardup.similar_to_hashes(conn, hashes, threshold, exclude_media_id=media_id)
    matches = matches[:NEAR_DUPLICATES_SHOWN]
    if not matches:
        return []
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM media m WHERE m.id = ANY(%s) AND m.status = 'ready'",  # noqa: S608
        ([m.media_id for m in matches],),
    )}
    return [NearDuplicate(**summary(rows[m.media_id]).model_dump(), distance=m.distance, frame_ms=m.frame_ms)
            for m in matches if m.media_id in rows]


def list_comments(conn: Connection, media_id: int) -> list[Comment]:
    """The item's comments, oldest first."""
    rows = conn.execute(
        """SELECT id, media_id, author, user_id, body, created_at FROM media_comment
            WHERE media_id = %s ORDER BY created_at, id""",
        (media_id,),
    ).fetchall()
    return [Comment(**r) for r in rows]


def _albums(conn: Connection, media_id: int) -> list[AlbumRef]:
    rows = conn.execute(
        """SELECT a.id, a.name FROM album_item i JOIN album a ON a.id = i.album_id
            WHERE i.media_id = %s ORDER BY lower(a.name), a.id""",
        (media_id,),
    ).fetchall()
    return [AlbumRef(**r) for r in rows]


def _jobs(conn: Connection, media_id: int) -> dict[str, JobInfo]:
    rows = conn.execute("SELECT analyzer, state, error FROM job WHERE media_id = %s ORDER BY id", (media_id,))
    return {r["analyzer"]: JobInfo(state=r["state"], error=r["error"]) for r in rows}
