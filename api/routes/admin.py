"""Administration (admin role only): the pipeline's status, jobs and their retries, re-queues, the
ingester's rejections, and user accounts.

Jobs go through the transactional outbox like every other job: a retry or re-queue records the job
(reset to pending) and its outbox message in one transaction, and the outbox relay publishes it. The
API never talks to RabbitMQ to queue work; it only reads queue counts for the status.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, require
from api.db import Conn
from api.errors import ApiError, not_found
from api.paging import Cursor, Limit, decode_cursor, integer, invalid, next_cursor, page_limit, timestamp
from core import users
from core.analyses import ANALYSES
from core.db import Connection
from core.media import MediaKind
from core.outbox import record_jobs
from core.requeue import requeue as requeue_jobs
from core.settings import Settings
from core.status import collect
from core.users import Role

log = logging.getLogger(__name__)

# Every route here needs the admin role; the dependency on the router makes that impossible to forget.
router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require(Role.ADMIN))])
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]

JobState = Literal["pending", "queued", "running", "done", "failed"]


# --- status -----------------------------------------------------------------------------------------------


class BrokerInfo(BaseModel):
    source: Literal["management", "amqp", "unavailable"] = Field(description="where queue counts came from")
    error: str | None


class QueueInfo(BaseModel):
    """Counts are null when the broker could not be read (``unacked`` also when read over AMQP)."""

    analysis: str
    queue: str
    ready: int | None
    unacked: int | None
    consumers: int | None
    retrying: int | None
    dead_lettered: int | None


class JobCounts(BaseModel):
    pending: int
    queued: int
    running: int
    done: int
    failed: int
    total: int


class RecentFailure(BaseModel):
    job_id: int
    media_id: int
    analyzer: str
    storage_path: str
    attempts: int
    error: str | None
    failed_at: datetime | None


class StatusOut(BaseModel):
    """What ``pava status --json`` prints (core/status.py)."""

    # A field added to the command's report later reaches the admin page too, instead of being dropped.
    model_config = ConfigDict(extra="allow")

    generated_at: datetime
    broker: BrokerInfo
    queues: list[QueueInfo]
    jobs: dict[str, JobCounts]
    outbox: int = Field(description="jobs recorded but not yet published")
    recent_failures: list[RecentFailure]


@router.get("/status", response_model=StatusOut,
            summary="Queues, jobs per analysis and state, outbox, recent failures")
def status(request: Request, conn: Conn) -> StatusOut:
    settings: Settings = request.app.state.settings
    # A broker that is down is reported in the answer (broker.source "unavailable"), not as an error:
    # this page is where an admin looks when something is wrong.
    return StatusOut.model_validate(collect(settings, conn))


# --- jobs -------------------------------------------------------------------------------------------------


class JobOut(BaseModel):
    id: int
    media_id: int
    analyzer: str
    state: JobState
    attempts: int
    error: str | None
    updated_at: datetime
    name: str = Field(description="the item's file name")


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


_JOBS = sql.SQL("SELECT j.id, j.media_id, j.analyzer, j.state, j.attempts, j.error, j.updated_at,"
                " m.original_path FROM job j JOIN media m ON m.id = j.media_id")


def _job(row: dict[str, Any]) -> JobOut:
    return JobOut(id=row["id"], media_id=row["media_id"], analyzer=row["analyzer"], state=row["state"],
                  attempts=row["attempts"], error=row["error"], updated_at=row["updated_at"],
                  name=str(row["original_path"]).rsplit("/", 1)[-1])


def _check_analyzer(value: str | None, field: str = "analyzer") -> None:
    if value is not None and value not in ANALYSES:
        raise invalid(field, f"one of {', '.join(ANALYSES)}")


@router.get("/jobs", response_model=JobPage, summary="Jobs, most recently changed first")
def jobs(request: Request, conn: Conn, *, state: JobState | None = None, analyzer: str | None = None,
         cursor: Cursor = None, limit: Limit = None) -> JobPage:
    size = page_limit(request, limit)
    _check_analyzer(analyzer)
    after = decode_cursor(cursor, timestamp, integer)
    rows = conn.execute(
        _JOBS + sql.SQL(
            """ WHERE (%(state)s::text IS NULL OR j.state = %(state)s)
                  AND (%(analyzer)s::text IS NULL OR j.analyzer = %(analyzer)s)
                  AND (%(after_at)s::timestamptz IS NULL
                       OR (j.updated_at, j.id) < (%(after_at)s, %(after_id)s))
                ORDER BY j.updated_at DESC, j.id DESC LIMIT %(limit)s"""),
        {"state": state, "analyzer": analyzer, "after_at": after[0] if after else None,
         "after_id": after[1] if after else None, "limit": size + 1},
    ).fetchall()
    return JobPage(items=[_job(r) for r in rows[:size]],
                   next_cursor=next_cursor(rows, size, lambda r: (r["updated_at"], r["id"])))


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=JobOut,
             summary="Queue a failed job again (attempts cleared); the outbox relay publishes it",
             responses={404: {"description": "no such job"}, 409: {"description": "the job has not failed"}})
def retry(job_id: int, principal: AdminUser, conn: Conn) -> JobOut:
    with conn.transaction():
        # Locked, so that two retries at once (a double click) cannot both queue it.
        row = conn.execute(
            """SELECT j.state, j.analyzer, m.id AS media_id, m.kind, m.storage_path, m.sha512
               FROM job j JOIN media m ON m.id = j.media_id WHERE j.id = %s FOR UPDATE OF j""",
            (job_id,),
        ).fetchone()
        if row is None:
            raise not_found(f"job {job_id}")
        if row["state"] != "failed":
            raise ApiError(409, f"job {job_id} is {row['state']}, not failed: only failed jobs are retried "
                                "(POST /api/admin/requeue re-runs an analysis for every item)")
        record_jobs(conn, media_id=row["media_id"], kind=MediaKind(row["kind"]), path=row["storage_path"],
                    sha512_hex=bytes(row["sha512"]).hex(), analyses=[row["analyzer"]], reset=True)
        fresh = conn.execute(_JOBS + sql.SQL(" WHERE j.id = %s"), (job_id,)).fetchone()
    log.info("%s retried job %d (%s of item %d)", principal.user.name, job_id, row["analyzer"],
             row["media_id"])
    assert fresh is not None
    return _job(fresh)


class RequeueIn(BaseModel):
    analyzer: str
    mode: Literal["missing", "failed", "all"] = Field(
        description="missing: items without this job; failed: failed jobs; all: every item of its kinds")


class RequeueOut(BaseModel):
    queued: int


@router.post("/requeue", response_model=RequeueOut,
             summary="Record jobs of one analysis again, like `pava requeue`")
def requeue(body: RequeueIn, principal: AdminUser, conn: Conn) -> RequeueOut:
    _check_analyzer(body.analyzer)
    queued = requeue_jobs(conn, body.analyzer, body.mode)
    log.info("%s re-queued %s --%s: %d job(s)", principal.user.name, body.analyzer, body.mode, queued)
    return RequeueOut(queued=queued)


# --- rejections -------------------------------------------------------------------------------------------


class RejectionOut(BaseModel):
    id: int
    original_path: str = Field(description="where the file was dropped or uploaded")
    source: str
    reason: str = Field(description="a short stable code: decompression_bomb, truncated, unsupported_type...")
    detail: str
    quarantine_path: str | None = Field(description="where it is kept (storage-relative); null: left where "
                                                    "it was")
    size_bytes: int | None
    created_at: datetime


class RejectionPage(BaseModel):
    items: list[RejectionOut]
    next_cursor: str | None


@router.get("/rejections", response_model=RejectionPage, summary="Files the ingester refused, newest first")
def rejections(request: Request, conn: Conn, cursor: Cursor = None, limit: Limit = None) -> RejectionPage:
    size = page_limit(request, limit)
    after = decode_cursor(cursor, integer)
    rows = conn.execute(
        """SELECT id, original_path, source, reason, detail, quarantine_path, size_bytes, created_at
           FROM rejection WHERE status = 'ready' AND (%(after)s::bigint IS NULL OR id < %(after)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"after": after[0] if after else None, "limit": size + 1},
    ).fetchall()
    return RejectionPage(items=[RejectionOut(**r) for r in rows[:size]],
                         next_cursor=next_cursor(rows, size, lambda r: (r["id"],)))


# --- users ------------------------------------------------------------------------------------------------


class AccountOut(BaseModel):
    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime | None
    last_login_at: datetime | None


class NewUserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role = Role.VIEWER
    password: str | None = Field(None, min_length=users.MIN_PASSWORD_LENGTH,
                                 max_length=users.MAX_PASSWORD_LENGTH,
                                 description="omit to have one generated (returned once)")


class UserPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = Field(None, description="a disabled account's sessions end at once")


class NewPasswordIn(BaseModel):
    password: str | None = Field(None, min_length=users.MIN_PASSWORD_LENGTH,
                                 max_length=users.MAX_PASSWORD_LENGTH,
                                 description="omit to have one generated (returned once)")


class UserWithPassword(BaseModel):
    user: AccountOut
    password: str | None = Field(description="the generated password, shown this once; null when one was "
                                             "given")


def _user_out(user: users.User) -> AccountOut:
    return AccountOut(id=user.id, name=user.name, role=user.role, disabled=user.disabled,
                   created_at=user.created_at, last_login_at=user.last_login_at)


def _get_user(conn: Connection, user_id: int) -> users.User:
    try:
        return users.get_user(conn, user_id)
    except users.UserNotFound as exc:
        raise not_found(f"user {user_id}") from exc


@router.get("/users", response_model=list[AccountOut], summary="Every account (never a password hash)")
def list_users(conn: Conn) -> list[AccountOut]:
    return [_user_out(u) for u in users.list_users(conn)]


@router.post("/users", status_code=201, response_model=UserWithPassword, summary="Add an account",
             responses={409: {"description": "the name is taken"},
                        422: {"description": "bad name or password"}})
def create_user(body: NewUserIn, principal: AdminUser, conn: Conn) -> UserWithPassword:
    generated = users.generate_password() if body.password is None else None
    try:
        user = users.create_user(conn, body.name, body.password or generated or "", body.role)
    except users.UserExists as exc:
        raise ApiError(409, str(exc)) from exc
    except users.UserError as exc:
        raise invalid("name", str(exc)) from exc
    log.info("%s created user %s (%s)", principal.user.name, user.name, user.role.value)
    return UserWithPassword(user=_user_out(user), password=generated)


@router.patch("/users/{user_id}", response_model=AccountOut, summary="Change a role, disable or enable",
              responses={409: {"description": "it would leave no enabled admin"}})
def update_user(user_id: int, body: UserPatch, principal: AdminUser, conn: Conn) -> AccountOut:
    try:
        user = users.update_user(conn, user_id, role=body.role, disabled=body.disabled)
    except users.UserNotFound as exc:
        raise not_found(f"user {user_id}") from exc
    except users.UserError as exc:  # the last enabled admin
        raise ApiError(409, str(exc)) from exc
    log.info("%s changed user %s: %s", principal.user.name, user.name, body.model_dump(exclude_none=True))
    return _user_out(user)


@router.post("/users/{user_id}/password", response_model=UserWithPassword,
             summary="Set or generate a new password (the user's sessions end)")
def reset_password(user_id: int, body: NewPasswordIn, principal: AdminUser, conn: Conn) -> UserWithPassword:
    generated = users.generate_password() if body.password is None else None
    try:
        users.set_password(conn, user_id, body.password or generated or "")
    except users.UserNotFound as exc:
        raise not_found(f"user {user_id}") from exc
    except users.UserError as exc:
        raise invalid("password", str(exc)) from exc
    user = _get_user(conn, user_id)
    log.info("%s reset the password of %s", principal.user.name, user.name)
    return UserWithPassword(user=_user_out(user), password=generated)


@router.post("/users/{user_id}/revoke", status_code=204, summary="End every session of a user")
def revoke(user_id: int, principal: AdminUser, conn: Conn) -> Response:
    user = _get_user(conn, user_id)
    ended = users.revoke_all_sessions(conn, user_id)
    log.info("%s ended %d session(s) of %s", principal.user.name, ended, user.name)
    return Response(status_code=204)


@router.delete("/users/{user_id}", status_code=204, summary="Delete an account",
               responses={409: {"description": "it is the last enabled admin"}})
def delete_user(user_id: int, principal: AdminUser, conn: Conn) -> Response:
    try:
        users.delete_user(conn, user_id)
    except users.UserNotFound as exc:
        raise not_found(f"user {user_id}") from exc
    except users.UserError as exc:
        raise ApiError(409, str(exc)) from exc
    log.info("%s deleted user %d", principal.user.name, user_id)
    return Response(status_code=204)

