"""The API server and user accounts.

    pava api [--host H] [--port P] [--processes N]   serve the API (uvicorn; nginx is the public door)
    pava user add NAME [--role R] [--password-stdin]  add a user; prints a generated password unless given
    pava user passwd NAME [--password-stdin]          set a new password (ends the user's sessions)
    pava user list [--json]
    pava user role NAME ROLE | disable NAME | enable NAME | revoke NAME | remove NAME
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer

from core import db, users
from core.settings import get_settings

T = TypeVar("T")

user_app = typer.Typer(no_args_is_help=True, help="Accounts of the web page and the API.")


@contextmanager
def _connection() -> Iterator[db.Connection]:
    with db.connect(get_settings(), autocommit=True) as conn:
        yield conn


def _run(operation: Callable[[db.Connection], T]) -> T:
    try:
        with _connection() as conn:
            return operation(conn)
    except (users.UserError, users.UserNotFound) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated): read one line from stdin, or generate one to print once."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            typer.echo("error: no password on standard input", err=True)
            raise typer.Exit(2)
        return line, False
    return users.generate_password(), True


def _user_id(conn: db.Connection, name: str) -> int:
    found = users.find_user(conn, name)
    if found is None:
        raise users.UserNotFound(f"no user named {name!r}")
    return found[0].id


@user_app.command()
def add(name: str = typer.Argument(..., help="user name"),
        role: Annotated[users.Role, typer.Option("--role", help="admin, editor, viewer")] = users.Role.VIEWER,
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin")
        ) -> None:
    """Add a user. Without --password-stdin a password is generated and printed once."""
    password, generated = _password(password_stdin)
    user = _run(lambda conn: users.create_user(conn, name, password, role))
    typer.echo(f"user {user.name} ({user.role.value}) added")
    if generated:
        typer.echo(f"password: {password}")


@user_app.command()
def passwd(name: str = typer.Argument(..., help="user name"),
           password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin")
           ) -> None:
    """Set a new password; every session of the user ends."""
    password, generated = _password(password_stdin)
    _run(lambda conn: users.set_password(conn, _user_id(conn, name), password))
    typer.echo(f"password of {name} changed; its sessions were ended")
    if generated:
        typer.echo(f"password: {password}")


@user_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="print JSON: [{id, name, role, disabled, ...}]")
          ) -> None:
    """Users, by name."""
    found = _run(users.list_users)
    if as_json:
        typer.echo(json.dumps([u.as_json() for u in found]))
        return
    for user in found:
        flag = "  (disabled)" if user.disabled else ""
        typer.echo(f"{user.id:>6}  {user.name:<24} {user.role.value:<7}{flag}")


@user_app.command()
def role(name: Annotated[str, typer.Argument()],
         new_role: Annotated[users.Role, typer.Argument(metavar="ROLE")]) -> None:
    """Change a user's role."""
    _run(lambda conn: users.update_user(conn, _user_id(conn, name), role=new_role))


@user_app.command()
def disable(name: str = typer.Argument(...)) -> None:
    """Disable an account (its sessions end; it cannot log in)."""
    _run(lambda conn: users.update_user(conn, _user_id(conn, name), disabled=True))


@user_app.command()
def enable(name: str = typer.Argument(...)) -> None:
    """Enable a disabled account."""
    _run(lambda conn: users.update_user(conn, _user_id(conn, name), disabled=False))


@user_app.command()
def revoke(name: str = typer.Argument(...)) -> None:
    """End every session of a user."""
    count = _run(lambda conn: users.revoke_all_sessions(conn, _user_id(conn, name)))
    typer.echo(f"{count} sessions ended")


@user_app.command()
def remove(name: str = typer.Argument(...)) -> None:
    """Delete a user (comments stay, without their account)."""
    _run(lambda conn: users.delete_user(conn, _user_id(conn, name)))


def api(host: str = typer.Option(None, "--host", help="default PAVA_API__HOST"),
        port: int = typer.Option(None, "--port", help="default PAVA_API__PORT"),
        processes: int = typer.Option(None, "--processes", help="default PAVA_API__PROCESSES")) -> None:
    """Serve the API with uvicorn (behind nginx, which terminates TLS)."""
    import uvicorn

    from api.auth import SecretError, secret_key

    settings = get_settings()
    try:
        secret_key(settings)  # refuse before forking workers, with a clear message
    except SecretError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    uvicorn.run(
        "pava.serve:app_factory", factory=True,
        host=host or settings.api.host, port=port or settings.api.port,
        workers=processes or settings.api.processes,
        proxy_headers=True, forwarded_allow_ips=settings.api.forwarded_allow_ips,
        server_header=False, date_header=True, log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=20,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.command(name="api")(api)
