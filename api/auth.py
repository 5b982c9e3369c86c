"""Sessions and the dependencies that guard every route.

A login gives an opaque random token (256 bits). Only HMAC-SHA256(secret key, token) is stored, so the
sessions table lets nobody log in. Clients send the token as ``Authorization: Bearer``; the browser gets
it as a Secure, HttpOnly, SameSite=Strict cookie instead, and then must echo the CSRF token (an HMAC of its
session token, also handed over in a readable cookie) in ``X-CSRF-Token`` on every unsafe request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from psycopg_pool import ConnectionPool

from api.errors import ApiError
from core.db import Connection
from core.settings import Settings
from core.users import Role, User

log = logging.getLogger(__name__)

# Used when no key is set in development only; create_app refuses it in production.
DEVELOPMENT_SECRET = "pava-development-only-secret-key-do-not-use-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32

SESSION_COOKIE_SECURE = "__Host-pava_session"  # the __Host- prefix: Secure, Path=/, no Domain
SESSION_COOKIE_PLAIN = "pava_session"
CSRF_COOKIE = "pava_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_seen_at is written at most this often per session: a write per request would cost more than
# the request itself.
SEEN_RESOLUTION = timedelta(minutes=5)


class SecretError(RuntimeError):
    """The configured secret key is missing or weak outside development."""


def secret_key(settings: Settings) -> bytes:
    """The key for token hashes; refuses a missing, short or default key outside development."""
    configured = settings.api.secret_key.get_secret_value() if settings.api.secret_key else ""
    if settings.env == "production":
        if not configured or configured == DEVELOPMENT_SECRET:
            raise SecretError("PAVA_API__SECRET_KEY must be set to a private random value in production "
                              "(e.g. `openssl rand -hex 32`)")
        if len(configured) < MIN_SECRET_LENGTH:
            raise SecretError(f"PAVA_API__SECRET_KEY must have at least {MIN_SECRET_LENGTH} characters")
    if not configured:
        log.warning("PAVA_API__SECRET_KEY is not set: using the development key (refused in production)")
        configured = DEVELOPMENT_SECRET
    return configured.encode()


def hash_token(key: bytes, token: str) -> bytes:
    return hmac.new(key, token.encode(), hashlib.sha256).digest()


def csrf_for(key: bytes, token: str) -> str:
    return hmac.new(key, b"csrf\0" + token.encode(), hashlib.sha256).hexdigest()


def session_cookie_name(settings: Settings) -> str:
    return SESSION_COOKIE_SECURE if settings.api.cookie_secure else SESSION_COOKIE_PLAIN


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: datetime


def create_session(conn: Connection, settings: Settings, key: bytes, user: User, *, user_agent: str = "",
                   ip: str = "") -> NewSession:
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=settings.api.session_hours)
    with conn.transaction():
        conn.execute(
            "INSERT INTO user_session (user_id, token_hash, expires_at, user_agent, ip)"
            " VALUES (%s, %s, %s, %s, %s)",
            (user.id, hash_token(key, token), expires, user_agent[:300], ip[:64]),
        )
        conn.execute("UPDATE app_user SET last_login_at = now() WHERE id = %s", (user.id,))
        # Housekeeping rides on logins: sessions ended more than a day ago go.
        conn.execute(
            "DELETE FROM user_session WHERE expires_at < now() - interval '1 day'"
            " OR revoked_at < now() - interval '1 day'"
        )
    return NewSession(token=token, csrf_token=csrf_for(key, token), expires_at=expires)


def set_session_cookies(response: Response, settings: Settings, session: NewSession) -> None:
    max_age = int(settings.api.session_hours * 3600)
    secure = settings.api.cookie_secure
    response.set_cookie(session_cookie_name(settings), session.token, max_age=max_age, path="/",
                        secure=secure, httponly=True, samesite="strict")
    # Readable by the page's script, which copies it into X-CSRF-Token; useless to another site.
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, path="/", secure=secure,
                        httponly=False, samesite="strict")


def clear_session_cookies(response: Response, settings: Settings) -> None:
    secure = settings.api.cookie_secure
    response.delete_cookie(session_cookie_name(settings), path="/", secure=secure, httponly=True,
                           samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their session, and whether the token came in a cookie."""

    user: User
    session_id: int
    via_cookie: bool

    @property
    def role(self) -> Role:
        return self.user.role


def _token_from(request: Request, settings: Settings) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <token>'",
                           headers={"WWW-Authenticate": "Bearer"})
        return value.strip(), False
    cookie = request.cookies.get(session_cookie_name(settings))
    return (cookie, True) if cookie else (None, False)


def lookup_session(conn: Connection, key: bytes, token: str) -> tuple[User, int, datetime] | None:
    row = conn.execute(
        """
        SELECT s.id AS session_id, s.last_seen_at, u.id, u.name, u.role, u.disabled
          FROM user_session s JOIN app_user u ON u.id = s.user_id
         WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled
        """,
        (hash_token(key, token),),
    ).fetchone()
    if row is None:
        return None
    user = User(id=int(row["id"]), name=str(row["name"]), role=Role(row["role"]))
    return user, int(row["session_id"]), row["last_seen_at"]


def authenticate(request: Request, conn: Connection) -> Principal:
    """The caller, or 401; for cookie sessions on unsafe methods, a valid CSRF token or 403."""
    settings: Settings = request.app.state.settings
    key: bytes = request.app.state.secret_key
    token, via_cookie = _token_from(request, settings)
    if not token:
        raise ApiError(401, "log in first (POST /api/auth/login)", headers={"WWW-Authenticate": "Bearer"})
    found = lookup_session(conn, key, token)
    if found is None:
        raise ApiError(401, "the session has expired or was ended; log in again",
                       headers={"WWW-Authenticate": "Bearer"})
    user, session_id, last_seen = found
    if via_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_for(key, token)):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header (cookie sessions need it)",
                           code="csrf")
    if datetime.now(UTC) - last_seen > SEEN_RESOLUTION:
        conn.execute("UPDATE user_session SET last_seen_at = now() WHERE id = %s", (session_id,))
    principal = Principal(user=user, session_id=session_id, via_cookie=via_cookie)
    request.state.principal = principal
    return principal


def _current(request: Request) -> Principal:
    # A connection of its own, given back at once: a long upload (which needs no other) must not hold
    # one of the pool's connections while its body streams in.
    pool: ConnectionPool[Connection] = request.app.state.pool
    with pool.connection() as conn:
        return authenticate(request, conn)


CurrentUser = Annotated[Principal, Depends(_current)]


@functools.cache
def require(role: Role) -> Callable[..., Any]:
    """A dependency that lets through callers whose role is at least ``role`` (403 otherwise). Cached:
    one function per role, so FastAPI runs it once per request however many routers ask for it."""

    def dependency(principal: CurrentUser) -> Principal:
        if not principal.role.allows(role):
            raise ApiError(403, f"this needs the {role.value} role (you are {principal.role.value})")
        return principal

    dependency.__name__ = f"require_{role.value}"
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Editor = Annotated[Principal, Depends(require(Role.EDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
