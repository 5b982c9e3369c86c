"""Similar items and duplicates: near-duplicates by dHash (``core.neardup``), search by an uploaded image
or video (hashed, nothing stored), exact duplicates (items with aliases) and near-duplicate groups.

Search by a video needs its keyframes, which ``workers.keyframes`` computes with ffmpeg; the API may not
import ``workers`` (DESIGN), so ``pava api`` hands that function over as ``app.state.video_hashes``
(``(settings, path) -> [(frame_ms, hash)]``) like the ingester. Without it, a video query is a 422 that
says so, and images work as always.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from psycopg import sql
from pydantic import BaseModel, Field

from api.db import Conn
from api.errors import ApiError, not_found
from api.media_models import Alias
from api.multipart import receive_files
from api.paging import Cursor, Limit, decode_cursor, integer, next_cursor, page_limit
from api.staging import staging_folder
from api.summaries import SUMMARY_COLUMNS, MediaSummary, summary
from core import neardup
from core.db import Connection
from core.perceptual import ImageHashError, UnsupportedImageError, dhash_file
from core.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["similar"])

QueryHashes = list[tuple[int | None, int]]
VideoHasher = Callable[[Settings, Path], QueryHashes]

# The pair search behind groups probes, per stored hash, every band value within the band's radius:
# 188 values at T=8, 1,108 at T=12, about 4,600 at T=16. A group listing at a large T over a big
# library would be a denial of service that any viewer could start, so it is capped here (the
# command line, `pava neardup-groups`, is not).
GROUPS_MAX_THRESHOLD = 12

Threshold = Annotated[int | None, Query(ge=0, le=32, description="Hamming distance T (default: the "
                                        "configured PAVA_DHASH__NEAR_DUPLICATE_THRESHOLD)")]


class SimilarItem(MediaSummary):
    distance: int = Field(description="bits differing between the two dHashes (0..64)")
    frame_ms: int | None = Field(description="the matching keyframe of a video item; null for a photo")
    query_frame_ms: int | None = Field(description="which keyframe of a video query matched")


class DuplicateItem(MediaSummary):
    aliases: list[Alias]


class DuplicatePage(BaseModel):
    items: list[DuplicateItem]
    next_cursor: str | None


class Edge(BaseModel):
    a: int
    b: int
    distance: int


class Group(BaseModel):
    members: list[MediaSummary]
    edges: list[Edge] = Field(description="pairs within the threshold, with their smallest distance")


def _threshold(settings: Settings, value: int | None) -> int:
    return settings.dhash.near_duplicate_threshold if value is None else value


def summaries(conn: Connection, ids: Iterable[int]) -> dict[int, MediaSummary]:
    """The summaries of ready items, by id (absent ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = sql.SQL("SELECT {columns} FROM media m WHERE m.id = ANY(%s) AND m.status = 'ready'").format(
        columns=sql.SQL(SUMMARY_COLUMNS))
    return {int(row["id"]): summary(row) for row in conn.execute(query, (wanted,))}


def _similar_items(conn: Connection, matches: Sequence[neardup.Similar], limit: int) -> list[SimilarItem]:
    chosen = matches[:limit]
    found = summaries(conn, (m.media_id for m in chosen))
    return [SimilarItem(**found[m.media_id].model_dump(), distance=m.distance, frame_ms=m.frame_ms,
                        query_frame_ms=m.query_frame_ms)
            for m in chosen if m.media_id in found]


@router.get("/media/{media_id}/similar", response_model=list[SimilarItem],
            summary="Items whose dHash is within T of this item's, nearest first",
            responses={404: {"description": "no such item"},
                       409: {"description": "the item has no dHash yet (its dhash job is not done)"}})
def media_similar(media_id: int, request: Request, conn: Conn, threshold: Threshold = None,
                  limit: Limit = None) -> list[SimilarItem]:
    settings: Settings = request.app.state.settings
    size = page_limit(request, limit)
    try:
        matches = neardup.similar_to_media(conn, media_id, _threshold(settings, threshold))
    except neardup.UnknownMediaError as exc:
        if conn.execute("SELECT 1 FROM media WHERE id = %s AND status = 'ready'", (media_id,)).fetchone():
            raise ApiError(409, f"item {media_id} has no dHash yet (its dhash job is not done)") from exc
        raise not_found(f"media item {media_id}") from exc
    return _similar_items(conn, matches, size)


def query_hashes(settings: Settings, path: Path, video_hashes: VideoHasher | None) -> QueryHashes:
    """The dHash of an image file, or the keyframe hashes of a video (``ApiError`` 422 otherwise)."""
    try:
        return [(None, dhash_file(path, max_pixels=settings.ingest.max_image_pixels))]
    except UnsupportedImageError:
        pass  # not an image Pillow reads: perhaps a video
    except ImageHashError as exc:  # corrupt, truncated, a decompression bomb
        raise ApiError(422, f"the image cannot be used: {exc}") from exc
    if video_hashes is None:
        raise ApiError(422, "not an image this server can read (search by video is not enabled in this "
                            "API process)")
    try:
        found = video_hashes(settings, path)
    except Exception as exc:  # the hasher's error types live in workers, which the API cannot import
        log.info("search by file: not a readable video either: %s", exc)
        raise ApiError(422, "neither an image nor a video this server can read") from exc
    if not found:
        raise ApiError(422, "the video has no picture to compare (no video stream)")
    return found


@router.post("/similar", response_model=list[SimilarItem],
             summary="Search by image or video: items within T of an uploaded file (nothing is stored)",
             responses={413: {"description": "over PAVA_API__UPLOAD_MAX_BYTES"},
                        415: {"description": "not multipart/form-data"},
                        422: {"description": "no file, or not a readable image or video"}})
async def similar_to_file(request: Request, conn: Conn, threshold: Threshold = None,
                          limit: Limit = None) -> list[SimilarItem]:
    settings: Settings = request.app.state.settings
    size = page_limit(request, limit)
    video_hashes: VideoHasher | None = getattr(request.app.state, "video_hashes", None)
    with staging_folder(settings.storage_root) as folder:
        files = await receive_files(request, folder, fields=frozenset({"file"}),
                                    max_bytes=settings.api.upload_max_bytes, max_files=1)
        if not files:
            raise ApiError(422, "send the image or video in the multipart field 'file'",
                           extra={"problems": [{"field": "file", "problem": "no file"}]})
        hashes = await anyio.to_thread.run_sync(query_hashes, settings, files[0].path, video_hashes)

    def search() -> list[SimilarItem]:
        matches = neardup.similar_to_hashes(conn, hashes, _threshold(settings, threshold))
        return _similar_items(conn, matches, size)

    # The connection is synchronous: its queries run in a worker thread, never on the event loop.
    return await anyio.to_thread.run_sync(search)


@router.get("/duplicates", response_model=DuplicatePage,
            summary="Exact duplicates: items whose bytes were dropped or uploaded more than once")
def duplicates(request: Request, conn: Conn, cursor: Cursor = None, limit: Limit = None) -> DuplicatePage:
    size = page_limit(request, limit)
    after = decode_cursor(cursor, integer)
    query = sql.SQL(
        """SELECT {columns} FROM media m
           WHERE m.status = 'ready' AND (%(after)s::bigint IS NULL OR m.id < %(after)s)
             AND EXISTS (SELECT 1 FROM media_alias a WHERE a.media_id = m.id AND a.status = 'ready')
           ORDER BY m.id DESC LIMIT %(limit)s"""
    ).format(columns=sql.SQL(SUMMARY_COLUMNS))
    rows = conn.execute(query, {"after": after[0] if after else None, "limit": size + 1}).fetchall()
    page = rows[:size]
    aliases: dict[int, list[Alias]] = {}
    for row in conn.execute(
        """SELECT media_id, original_path, source, duplicate_path, created_at FROM media_alias
           WHERE media_id = ANY(%s) AND status = 'ready' ORDER BY created_at, id""",
        ([r["id"] for r in page],),
    ):
        aliases.setdefault(int(row["media_id"]), []).append(Alias(
            original_path=row["original_path"], source=row["source"], duplicate_path=row["duplicate_path"],
            created_at=row["created_at"]))
    items = [DuplicateItem(**summary(r).model_dump(), aliases=aliases.get(int(r["id"]), [])) for r in page]
    return DuplicatePage(items=items, next_cursor=next_cursor(rows, size, lambda r: (r["id"],)))


@router.get("/duplicates/groups", response_model=list[Group],
            summary="Near-duplicate groups with their pairwise distances (for a graph), largest first")
def duplicate_groups(request: Request, conn: Conn, threshold: Threshold = None,
                     limit: Limit = None) -> list[Group]:
    settings: Settings = request.app.state.settings
    size = page_limit(request, limit)
    value = _threshold(settings, threshold)
    largest = max(GROUPS_MAX_THRESHOLD, settings.dhash.near_duplicate_threshold)
    if value > largest:
        raise ApiError(422, f"threshold: at most {largest} for groups",
                       extra={"problems": [{"field": "threshold", "problem": f"at most {largest}"}]})
    found = neardup.groups(conn, value)[:size]
    members = summaries(conn, (m.media_id for g in found for m in g.members))
    return [_group(g, members) for g in found]


def _group(group: neardup.Group, members: dict[int, MediaSummary]) -> Group:
    return Group(members=[members[m.media_id] for m in group.members if m.media_id in members],
                 edges=[Edge(a=a, b=b, distance=d) for a, b, d in group.edges])

