"""Users of the web page and the API: names, roles and argon2id password hashes in Postgres.

Shared by the API (logins, the admin pages), ``pava user`` and ``pava up`` (the first admin). Passwords are
never stored or logged; only their argon2id hash in PHC form is.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.db import Connection

if TYPE_CHECKING:
    from argon2 import PasswordHasher

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 accepts more, but a megabyte "password" is a denial-of-service tool


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may (admin > editor > viewer)."""
        return self.rank >= needed.rank


class UserError(ValueError):
    """A name, role or password that cannot be accepted; the message says why."""


class UserExists(UserError):
    pass


class UserNotFound(LookupError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool = False
    created_at: datetime | None = None
    last_login_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": self.role.value, "disabled": self.disabled,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@functools.cache
def hasher() -> PasswordHasher:
    """argon2id with the library's current defaults (RFC 9106's second recommendation)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UserError("a user name is 1 to 64 letters, digits or . _ @ -, starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


def generate_password() -> str:
    """A random password for a new account (about 130 bits, easy to copy: no symbols)."""
    return secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")


def hash_password(password: str) -> str:
    return hasher().hash(check_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Constant-time check; never raises for a wrong password."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that the answer takes as long."""
    return hasher().hash(secrets.token_hex(16))


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def _user(row: dict[str, Any]) -> User:
    return User(id=int(row["id"]), name=str(row["name"]), role=Role(row["role"]),
                disabled=bool(row["disabled"]), created_at=row.get("created_at"),
                last_login_at=row.get("last_login_at"))


def create_user(conn: Connection, name: str, password: str, role: Role | str = Role.VIEWER) -> User:
    """Add a user; ``UserExists`` if the name (case-insensitive) is taken."""
    import psycopg

    role = Role(role)
    check_name(name)
    password_hash = hash_password(password)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO app_user (name, password_hash, role) VALUES (%s, %s, %s)"
                " RETURNING id, name, role, disabled, created_at, last_login_at",
                (name, password_hash, role.value),
            ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise UserExists(f"a user named {name!r} exists already") from exc
    assert row is not None
    return _user(row)


def find_user(conn: Connection, name: str) -> tuple[User, str] | None:
    """The user and its password hash, by name (case-insensitive)."""
    row = conn.execute(
        "SELECT id, name, role, disabled, created_at, last_login_at, password_hash"
        " FROM app_user WHERE lower(name) = lower(%s)", (name,)
    ).fetchone()
    return (_user(row), str(row["password_hash"])) if row else None


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(
        "SELECT id, name, role, disabled, created_at, last_login_at FROM app_user WHERE id = %s", (user_id,)
    ).fetchone()
    if row is None:
        raise UserNotFound(f"no user {user_id}")
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    rows = conn.execute(
        "SELECT id, name, role, disabled, created_at, last_login_at FROM app_user ORDER BY lower(name)"
    ).fetchall()
    return [_user(r) for r in rows]


def count_users(conn: Connection) -> int:
    row = conn.execute("SELECT count(*) AS n FROM app_user").fetchone()
    return int(row["n"]) if row else 0


def set_password(conn: Connection, user_id: int, password: str, *, revoke_sessions: bool = True) -> None:
    """Change a password; by default every session of the user ends (a reset is usually for a reason)."""
    password_hash = hash_password(password)
    with conn.transaction():
        row = conn.execute(
            "UPDATE app_user SET password_hash = %s, updated_at = now() WHERE id = %s RETURNING id",
            (password_hash, user_id),
        ).fetchone()
        if row is None:
            raise UserNotFound(f"no user {user_id}")
        if revoke_sessions:
            revoke_all_sessions(conn, user_id)


def update_user(conn: Connection, user_id: int, *, role: Role | str | None = None,
                disabled: bool | None = None) -> User:
    """Change a role or (dis)able an account; disabling ends its sessions. The last enabled admin can be
    neither demoted nor disabled, so that the library never locks its owner out."""
    with conn.transaction():
        current = conn.execute("SELECT role, disabled FROM app_user WHERE id = %s FOR UPDATE",
                               (user_id,)).fetchone()
        if current is None:
            raise UserNotFound(f"no user {user_id}")
        new_role = Role(role) if role is not None else Role(current["role"])
        new_disabled = bool(current["disabled"]) if disabled is None else disabled
        losing_admin = current["role"] == Role.ADMIN and not current["disabled"] and (
            new_role != Role.ADMIN or new_disabled)
        if losing_admin and _other_admins(conn, user_id) == 0:
            raise UserError("this is the last enabled admin: make another admin first")
        row = conn.execute(
            "UPDATE app_user SET role = %s, disabled = %s, updated_at = now() WHERE id = %s"
            " RETURNING id, name, role, disabled, created_at, last_login_at",
            (new_role.value, new_disabled, user_id),
        ).fetchone()
        if new_disabled:
            revoke_all_sessions(conn, user_id)
    assert row is not None
    return _user(row)


def delete_user(conn: Connection, user_id: int) -> None:
    with conn.transaction():
        current = conn.execute("SELECT role, disabled FROM app_user WHERE id = %s FOR UPDATE",
                               (user_id,)).fetchone()
        if current is None:
            raise UserNotFound(f"no user {user_id}")
        if current["role"] == Role.ADMIN and not current["disabled"] and _other_admins(conn, user_id) == 0:
            raise UserError("this is the last enabled admin: make another admin first")
        conn.execute("DELETE FROM app_user WHERE id = %s", (user_id,))


def _other_admins(conn: Connection, user_id: int) -> int:
    # Locks the other admins' rows too, so that two requests cannot each demote "the other" admin.
    rows = conn.execute(
        "SELECT id FROM app_user WHERE role = 'admin' AND NOT disabled AND id <> %s FOR UPDATE", (user_id,)
    ).fetchall()
    return len(rows)


def revoke_all_sessions(conn: Connection, user_id: int) -> int:
    """End every open session of a user (logout everywhere, password change, disabled account)."""
    cur = conn.execute(
        "UPDATE user_session SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
    )
    return cur.rowcount


def ensure_first_admin(conn: Connection, name: str = "admin") -> str | None:
    """On a library without users, create an admin with a generated password and return that password
    (to be shown once); None when users exist already. Serialised with an advisory lock, so two
    ``pava up`` at once cannot both create one."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(727270)")
        if count_users(conn) > 0:
            return None
        password = generate_password()
        conn.execute(
            "INSERT INTO app_user (name, password_hash, role) VALUES (%s, %s, 'admin')",
            (check_name(name), hash_password(password)),
        )
    return password
