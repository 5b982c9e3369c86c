"""The workers and the outbox relay under supervisord: config rendered into ``var/supervisor/``, logs in
``var/log/``, control through its own unix socket (never a TCP port, so nothing else on the host can
drive it).

Programs: one ``pava worker NAME`` per analyzer in ``workers.registry.REGISTRY`` (a new analyzer gets its
worker by being registered, nothing else), and ``pava relay``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from pava.stack.config import StackPaths
from workers.registry import REGISTRY

log = logging.getLogger(__name__)

# Workers finish the job in hand on SIGTERM. A job longer than this is killed and redelivered later: that
# is safe (results are written idempotently) and keeps `pava down` from hanging on a long video.
WORKER_STOP_SECONDS = 60


@dataclass(frozen=True)
class Program:
    """One supervised program."""

    name: str
    argv: list[str]
    stop_seconds: int = 20


def pava_argv(*args: str) -> list[str]:
    """The argv that runs the ``pava`` command line with the interpreter running now (the project's venv)."""
    return [sys.executable, "-m", "pava", *args]


def missing_requirements(path: Path, seen: set[Path] | None = None) -> list[str]:
    """Distributions named in a requirements file (and the files it includes with ``-r``) that are not
    installed beside this interpreter. Versions are not compared: this answers "can it start at all"."""
    seen = set() if seen is None else seen
    if path in seen or not path.exists():
        return []
    seen.add(path)
    missing: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            missing += missing_requirements(path.parent / line.split(None, 1)[1].strip(), seen)
            continue
        match = _REQUIREMENT_NAME.match(line)
        if not line or line.startswith("-") or match is None:
            continue
        try:
            metadata.distribution(match.group(0))
        except metadata.PackageNotFoundError:
            missing.append(match.group(0))
    return missing


_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def programs(project_root: Path) -> tuple[list[Program], dict[str, list[str]]]:
    """What the stack supervises: a worker per registered analyzer whose requirements are installed, then
    the relay. Also returns the analyzers left out, with what they miss: a host may run only some workers
    (their jobs wait in their queues for a host that has them)."""
    found: list[Program] = []
    skipped: dict[str, list[str]] = {}
    for name in sorted(REGISTRY):
        missing = missing_requirements(project_root / REGISTRY[name].requirements)
        if missing:
            skipped[name] = missing
            continue
        found.append(Program(f"worker-{name}", pava_argv("worker", name), WORKER_STOP_SECONDS))
    found.append(Program("relay", pava_argv("relay")))
    return found, skipped


def _quote(value: str) -> str:
    # supervisor expands %(name)s in every value: a literal % must be doubled.
    return value.replace("%", "%%")


class Supervisor:
    """The stack's supervisord: render, start, inspect, update, stop."""

    def __init__(self, paths: StackPaths, project_root: Path) -> None:
        self.paths = paths
        self.project_root = project_root

    @property
    def config_file(self) -> Path:
        return self.paths.supervisor / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.paths.supervisor / "supervisor.sock"

    @property
    def pid_file(self) -> Path:
        return self.paths.supervisor / "supervisord.pid"

    @property
    def log_file(self) -> Path:
        return self.paths.logs / "supervisord.log"

    def render(self, progs: list[Program]) -> str:
        """The supervisord.conf text. It holds no secret: the URLs reach the programs through the
        environment supervisord is started with."""
        sock = _quote(str(self.socket))
        lines = [
            "; Written by `pava up`; changes are overwritten. Control: supervisorctl -c <this file> status",
            "[unix_http_server]",
            f"file = {sock}",
            "chmod = 0700",
            "",
            "[supervisord]",
            f"logfile = {_quote(str(self.log_file))}",
            f"pidfile = {_quote(str(self.pid_file))}",
            f"childlogdir = {_quote(str(self.paths.logs))}",
            f"directory = {_quote(str(self.project_root))}",
            "identifier = pava",
            "logfile_maxbytes = 10MB",
            "logfile_backups = 3",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl = unix://{sock}",
            "",
        ]
        for prog in progs:
            lines += [
                f"[program:{prog.name}]",
                f"command = {_quote(shlex.join(prog.argv))}",
                f"directory = {_quote(str(self.project_root))}",
                "autostart = true",
                "autorestart = true",
                # A program that dies within startsecs counts as a failed start; after startretries it is
                # left FATAL (visible in `pava up`'s summary) instead of restarting in a tight loop.
                "startsecs = 3",
                "startretries = 5",
                "stopsignal = TERM",
                f"stopwaitsecs = {prog.stop_seconds}",
                # Children (ffmpeg, exiftool) go down with their worker.
                "stopasgroup = true",
                "killasgroup = true",
                "redirect_stderr = true",
                f"stdout_logfile = {_quote(str(self.paths.logs / (prog.name + '.log')))}",
                "stdout_logfile_maxbytes = 10MB",
                "stdout_logfile_backups = 3",
                "",
            ]
        return "\n".join(lines)

    # -- control ------------------------------------------------------------------------------------------

    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self.socket}")
        # The host part is ignored by the unix-socket transport; the proxy needs some URL.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def running(self) -> bool:
        """supervisord of this stack answers on its socket."""
        if self.pid() is None or not self.socket.exists():
            return False
        try:
            state = self._rpc().supervisor.getState()
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state.get("statename") == "RUNNING")

    def write_config(self, progs: list[Program]) -> bool:
        """Write the config; True when it changed."""
        text = self.render(progs)
        self.paths.supervisor.mkdir(parents=True, exist_ok=True)
        self.paths.supervisor.chmod(0o700)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if self.config_file.exists() and self.config_file.read_text() == text:
            return False
        self.config_file.write_text(text)
        return True

    def start(self, env: dict[str, str], timeout: float = 30) -> None:
        """Start supervisord (it daemonises) with ``env``, and wait for its socket."""
        start_log = self.paths.logs / "supervisord.start.log"
        with start_log.open("w") as out:
            # The parent exits as soon as the daemon has forked; errors before that land in start_log.
            result = subprocess.run(
                [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_file)],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False,
                timeout=timeout, cwd=self.project_root,
            )
        if result.returncode != 0:
            output = start_log.read_text(errors="replace").strip()
            raise RuntimeError(f"supervisord failed to start: {output}")
        deadline = time.monotonic() + timeout
        while not self.running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"supervisord did not answer on {self.socket}; see {self.log_file}")
            time.sleep(0.1)

    def update(self) -> None:
        """Apply a changed config to the running supervisord (add, change, remove programs)."""
        rpc = self._rpc()
        added, changed, removed = rpc.supervisor.reloadConfig()[0]
        for name in removed + changed:
            rpc.supervisor.stopProcessGroup(name)
            rpc.supervisor.removeProcessGroup(name)
        for name in changed + added:
            rpc.supervisor.addProcessGroup(name)

    def signal(self, name: str, signal: str) -> None:
        """Send a signal (by name: ``HUP``) to a program, e.g. to make nginx re-read its config."""
        self._rpc().supervisor.signalProcess(name, signal)

    def statuses(self) -> dict[str, str]:
        """Program name -> state name (RUNNING, STARTING, BACKOFF, FATAL...)."""
        infos = self._rpc().supervisor.getAllProcessInfo()
        return {str(info["name"]): str(info["statename"]) for info in infos}

    def wait_started(self, timeout: float = 30) -> dict[str, str]:
        """Wait until no program is still STARTING or BACKOFF; return the states."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.statuses()
            if all(state not in {"STARTING", "BACKOFF"} for state in states.values()):
                return states
            if time.monotonic() > deadline:
                return states
            time.sleep(0.3)

    def shutdown(self, timeout: float = WORKER_STOP_SECONDS + 30) -> bool:
        """Stop every program, then supervisord itself; True when it is gone."""
        pid = self.pid()
        if pid is None:
            return True
        try:
            self._rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Error) as exc:
            log.warning("supervisord did not take the shutdown request (%s); sending SIGTERM", exc)
            os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                log.error("supervisord (pid %d) still running after %.0fs", pid, timeout)
                return False
            time.sleep(0.2)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return status != "Z"


def env_fingerprint(env: dict[str, str]) -> str:
    """A digest of the settings the programs see (never the values themselves: they hold secrets).
    ``PAVA_STACK__*`` are left out: only `pava up` reads them, so they are no reason to restart."""
    digest = hashlib.sha256()
    for key in sorted(k for k in env if k.startswith("PAVA_") and not k.startswith("PAVA_STACK__")):
        digest.update(f"{key}={env[key]}\0".encode())
    return digest.hexdigest()
