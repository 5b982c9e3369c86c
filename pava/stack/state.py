"""What the stack keeps between runs: generated secrets, the environment file it writes for later ``pava``
commands, and ``stack.json``, the record of what ``pava up`` started (``pava down`` reads it).

Secrets are files of mode 0600 in a folder of mode 0700, created once and never printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

log = logging.getLogger(__name__)

STATE_VERSION = 1


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to ``path`` with mode 0600 (never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def secret(directory: Path, name: str, nbytes: int = 24) -> tuple[str, bool]:
    """The secret stored as ``directory/name``, generated on first use (``nbytes`` random bytes). Returns
    (value, was_generated)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / name
    if path.exists():
        value = path.read_text().strip()
        if value:
            path.chmod(0o600)
            return value, False
    # URL-safe characters only: the value goes into postgresql:// and amqp:// URLs unquoted.
    value = secrets.token_urlsafe(nbytes)
    _write_private(path, value + "\n")
    log.info("generated a new secret in %s", path)
    return value, True


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write ``KEY='value'`` lines (dotenv syntax, mode 0600) that later ``pava`` commands read."""
    lines = [
        "# Written by `pava up`: how to reach the services it runs. Rewritten on every `pava up`;",
        "# set the same variables in the environment or in .env to override them.",
    ]
    for key, value in sorted(values.items()):
        if "'" in value or "\n" in value:
            raise ValueError(f"{key} holds a character that cannot be written to an env file")
        lines.append(f"{key}='{value}'")
    _write_private(path, "\n".join(lines) + "\n")


def read_env_file(path: Path) -> dict[str, str]:
    """The values of an env file written by ``write_env_file`` (empty when it does not exist)."""
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


@dataclass
class ServiceState:
    """One service of the stack."""

    mode: str = "none"  # "local": run by this stack; "external": a URL the user gave; "none": not set up
    started: bool = False  # started by `pava up` and not stopped since: `pava down` stops it
    info: dict[str, Any] = field(default_factory=dict)  # ports, folders, pid: never secrets


@dataclass
class StackState:
    """The content of ``stack.json``."""

    postgres: ServiceState = field(default_factory=ServiceState)
    rabbitmq: ServiceState = field(default_factory=ServiceState)
    epmd: ServiceState = field(default_factory=ServiceState)
    supervisord: ServiceState = field(default_factory=ServiceState)
    web: ServiceState = field(default_factory=ServiceState)  # nginx and the API (supervisord programs)
    sample: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""
    version: int = STATE_VERSION

    @classmethod
    def load(cls, path: Path) -> StackState:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable %s (%s)", path, exc)
            return cls()
        state = cls()
        for name in ("postgres", "rabbitmq", "epmd", "supervisord", "web"):
            raw = data.get(name) or {}
            setattr(state, name, ServiceState(
                mode=str(raw.get("mode", "none")), started=bool(raw.get("started", False)),
                info=dict(raw.get("info") or {}),
            ))
        state.sample = dict(data.get("sample") or {})
        state.updated_at = str(data.get("updated_at", ""))
        return state

    def save(self, path: Path) -> None:
        self.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock: two `pava up`/`down` at once would race on the same services."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another `pava up` or `pava down` holds %s; waiting for it", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
