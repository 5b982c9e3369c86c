"""Login, logout, who am I, own password, and the check nginx makes before the RabbitMQ console."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api.auth import (
    CurrentUser,
    Principal,
    clear_session_cookies,
    create_session,
    require,
    set_session_cookies,
)
from api.db import Conn
from api.errors import ApiError
from core import users
from core.db import Connection
from core.settings import Settings
from core.users import Role

log = logging.getLogger(__name__)

public = APIRouter(prefix="/api/auth", tags=["auth"])
router = APIRouter(prefix="/api/auth", tags=["auth"])


class UserOut(BaseModel):
    id: int
    name: str
    role: Role


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=users.MAX_PASSWORD_LENGTH)


class LoginOut(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>' (browsers get a cookie)")
    csrf_token: str = Field(description="cookie sessions send it as X-CSRF-Token on unsafe requests")
    expires_at: datetime
    user: UserOut


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=users.MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=users.MAX_PASSWORD_LENGTH)


def _client_ip(request: Request) -> str:
    # uvicorn resolves X-Forwarded-For from trusted proxies only (PAVA_API__FORWARDED_ALLOW_IPS).
    return request.client.host if request.client else ""


def _throttled(conn: Connection, settings: Settings, name: str, ip: str) -> bool:
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM login_attempt
                 WHERE lower(name) = lower(%(name)s) AND NOT success
                   AND at > now() - make_interval(secs => %(window)s)) AS by_name,
               (SELECT count(*) FROM login_attempt
                 WHERE ip = %(ip)s AND NOT success
                   AND at > now() - make_interval(secs => %(window)s)) AS by_ip
        """,
        {"name": name, "ip": ip, "window": settings.api.login_window_seconds},
    ).fetchone()
    assert row is not None
    return (int(row["by_name"]) >= settings.api.login_max_failures_per_name
            or int(row["by_ip"]) >= settings.api.login_max_failures_per_ip)


@public.post("/login", response_model=LoginOut, summary="Log in: a bearer token, and cookies for browsers",
             responses={401: {"description": "wrong name or password"},
                        429: {"description": "too many failed attempts"}})
def login(body: LoginIn, request: Request, response: Response, conn: Conn) -> LoginOut:
    settings: Settings = request.app.state.settings
    ip = _client_ip(request)
    if _throttled(conn, settings, body.name, ip):
        raise ApiError(429, "too many failed logins; wait a few minutes",
                       headers={"Retry-After": str(settings.api.login_window_seconds)})
    found = users.find_user(conn, body.name)
    # The same argon2 work whether the user exists or not: timing tells nothing about names.
    ok = users.verify_password(found[1] if found else users.dummy_hash(), body.password)
    if not found or not ok or found[0].disabled:
        conn.execute("INSERT INTO login_attempt (name, ip, success) VALUES (%s, %s, false)",
                     (body.name[:64], ip))
        log.info("failed login for %r from %s", body.name[:64], ip)
        raise ApiError(401, "wrong user name or password")
    user, password_hash = found
    if users.needs_rehash(password_hash):
        conn.execute("UPDATE app_user SET password_hash = %s WHERE id = %s",
                     (users.hash_password(body.password), user.id))
    conn.execute("INSERT INTO login_attempt (name, ip, success) VALUES (%s, %s, true)", (user.name, ip))
    session = create_session(conn, settings, request.app.state.secret_key, user,
                             user_agent=request.headers.get("user-agent", ""), ip=ip)
    set_session_cookies(response, settings, session)
    return LoginOut(token=session.token, csrf_token=session.csrf_token, expires_at=session.expires_at,
                    user=UserOut(id=user.id, name=user.name, role=user.role))


@router.post("/logout", status_code=204, summary="End this session")
def logout(principal: CurrentUser, request: Request, response: Response, conn: Conn) -> Response:
    conn.execute("UPDATE user_session SET revoked_at = now() WHERE id = %s", (principal.session_id,))
    clear_session_cookies(response, request.app.state.settings)
    response.status_code = 204
    return response


@router.post("/logout-all", status_code=204, summary="End every session of this user")
def logout_all(principal: CurrentUser, request: Request, response: Response, conn: Conn) -> Response:
    users.revoke_all_sessions(conn, principal.user.id)
    clear_session_cookies(response, request.app.state.settings)
    response.status_code = 204
    return response


@router.get("/me", response_model=UserOut, summary="The logged-in user")
def me(principal: CurrentUser) -> UserOut:
    return UserOut(id=principal.user.id, name=principal.user.name, role=principal.user.role)


@router.post("/password", status_code=204, summary="Change one's own password (ends the other sessions)")
def change_password(body: PasswordIn, principal: CurrentUser, conn: Conn) -> Response:
    found = users.find_user(conn, principal.user.name)
    if found is None or not users.verify_password(found[1], body.current_password):
        raise ApiError(403, "the current password is wrong")
    try:
        users.set_password(conn, principal.user.id, body.new_password, revoke_sessions=False)
    except users.UserError as exc:
        raise ApiError(422, str(exc)) from exc
    conn.execute("UPDATE user_session SET revoked_at = now() WHERE user_id = %s AND id <> %s"
                 " AND revoked_at IS NULL", (principal.user.id, principal.session_id))
    return Response(status_code=204)


@router.get("/console", status_code=204, summary="nginx's auth_request for /rabbitmq/: 204 for admins only",
            responses={401: {"description": "not logged in"}, 403: {"description": "not an admin"}})
def console_check(principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> Response:
    return Response(status_code=204)
