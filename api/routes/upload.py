"""Upload: files streamed to disk under the storage root, then put through the drop folder's pipeline.

Every file ends as what the ingester says about it: ``new`` (stored, analyses queued), ``duplicate`` (the
same bytes are already in the library: ``duplicate_of`` says which item), ``rejected`` (recorded with a
reason code such as ``decompression_bomb`` or ``truncated``, and quarantined) or ``error`` (an unexpected
failure, logged). An upload lands under ``originals/uploads/<user>/<YYYY-MM-DD>/<name>`` (UTC date), with
source ``upload:<user>``, so that ``source=upload:<user>`` finds everything a user sent.

The API never imports the ingester (DESIGN: ``api`` imports ``core`` only): ``pava api`` hands its
one-file entry point over as ``app.state.ingest``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import Editor
from api.errors import ApiError
from api.multipart import ReceivedFile, receive_files
from api.staging import staging_folder
from core.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["upload"])

UPLOAD_FIELDS = frozenset({"files"})
UPLOAD_DIR = "uploads"


class FileOutcome(BaseModel):
    name: str = Field(description="the name the file was stored under (the sent name made safe)")
    status: Literal["new", "duplicate", "rejected", "error"]
    media_id: int | None = Field(description="the library item these bytes now belong to")
    duplicate_of: int | None = Field(description="for a duplicate: the item that had these bytes already")
    reason: str | None = Field(description="for a rejection or error: a short stable code")
    detail: str | None


class UploadOut(BaseModel):
    files: list[FileOutcome] = Field(description="one entry per file, in the order they were sent")


def upload_relpath(user: str, name: str, now: datetime) -> str:
    """Where an upload goes, relative to ``originals/``: by user and day, keeping the (safe) name."""
    # User names are [A-Za-z0-9][A-Za-z0-9._@-]* (core.users), never '.', '..' or a separator.
    return f"{UPLOAD_DIR}/{user}/{now.astimezone(UTC):%Y-%m-%d}/{name}"


def _ingest_all(ingest: Callable[..., Any], settings: Settings, files: list[ReceivedFile], user: str,
                ) -> list[FileOutcome]:
    now = datetime.now(UTC)
    results = []
    for received in files:
        relpath = upload_relpath(user, received.name, now)
        try:
            outcome = ingest(settings, received.path, relpath=relpath, source=f"upload:{user}")
        except Exception:
            # One bad file (or a database hiccup) must not lose the answer for the others.
            log.exception("upload of %r by %s failed", received.sent_name, user)
            results.append(FileOutcome(name=received.name, status="error", media_id=None, duplicate_of=None,
                                       reason="internal", detail="the ingester failed; see the API log"))
            continue
        status = outcome.status
        if status == "skipped":
            # Only a file that changed or vanished while being ingested is skipped: ours cannot be
            # touched by anyone else, so this would be a fault worth seeing.
            log.warning("upload %r was skipped by the ingester: %s", relpath, outcome.reason)
            status = "error"
        results.append(FileOutcome(name=received.name, status=status, media_id=outcome.media_id,
                                   duplicate_of=outcome.duplicate_of, reason=outcome.reason,
                                   detail=outcome.detail))
    return results


@router.post(
    "/upload", response_model=UploadOut, summary="Upload photos and videos (multipart, field 'files')",
    responses={413: {"description": "over PAVA_API__UPLOAD_MAX_BYTES or PAVA_API__UPLOAD_MAX_FILES"},
               415: {"description": "not multipart/form-data"},
               503: {"description": "this API process has no ingester"}},
)
async def upload(request: Request, principal: Editor) -> UploadOut:
    settings: Settings = request.app.state.settings
    ingest: Callable[..., Any] | None = request.app.state.ingest
    if ingest is None:
        raise ApiError(503, "uploads are not available: this API process was started without the ingester "
                            "(run it with `pava api`)")
    with staging_folder(settings.storage_root) as folder:
        files = await receive_files(request, folder, fields=UPLOAD_FIELDS,
                                    max_bytes=settings.api.upload_max_bytes,
                                    max_files=settings.api.upload_max_files)
        if not files:
            raise ApiError(422, "no files in the upload (send them in the multipart field 'files')",
                           extra={"problems": [{"field": "files", "problem": "no file"}]})
        log.info("upload by %s: %d file(s), %d bytes", principal.user.name, len(files),
                 sum(f.size for f in files))
        results = await anyio.to_thread.run_sync(_ingest_all, ingest, settings, files, principal.user.name)
    return UploadOut(files=results)

