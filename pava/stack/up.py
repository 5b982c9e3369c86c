"""``pava up`` and ``pava down``: bring the local stack to running, idempotently, and take down exactly what
was brought up.

Order in ``up``: Postgres, RabbitMQ (each local unless a URL is given), ``stack.env`` (with the API's
secret key), migrations, the first admin (on an empty library), the certificate and nginx's config,
supervisord with the API, nginx, the workers and the relay, the front door's health, the drop folder (the
sample set first when the library is new), the wait for the analyses, the summary. Every step first looks
whether its work is already done, so a second run costs a few connection checks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import psycopg
from pydantic import SecretStr

from core import users
from core.db import connect, migrate
from core.settings import PROJECT_ROOT, Settings, mask_url
from pava.services.postgres import PostgresCluster
from pava.services.rabbitmq import RabbitNode
from pava.stack import page, tls
from pava.stack import sample as sample_set
from pava.stack.config import StackPaths, StackSettings
from pava.stack.nginx import FrontDoor, Nginx, NginxError, write_page_config
from pava.stack.state import ServiceState, StackState, locked, secret, write_env_file
from pava.stack.supervisor import Program, Supervisor, env_fingerprint, pava_argv, programs
from workers.registry import REGISTRY

log = logging.getLogger(__name__)

POSTGRES_SECRET = "postgres.password"  # noqa: S105 (a file name)
RABBITMQ_SECRET = "rabbitmq.password"  # noqa: S105 (a file name)
API_SECRET = "api.secret"  # noqa: S105 (a file name)
FIRST_ADMIN = "admin"
FRONT_DOOR_WAIT_SECONDS = 60.0
EXTERNAL_WAIT_SECONDS = 15.0
UNFINISHED_STATES = ("pending", "queued", "running")


class StackError(RuntimeError):
    """A problem the user must fix (a port taken, a URL unreachable); the message says what to do."""


@dataclass
class UpResult:
    """What ``pava up`` did and found; printed as the summary (or as JSON with ``--json``)."""

    home: Path
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_now: list[str] = field(default_factory=list)
    programs: dict[str, str] = field(default_factory=dict)
    sample_written: list[str] = field(default_factory=list)
    ingest: dict[str, Any] | None = None
    ingest_error: str | None = None
    analyses_finished: bool = True
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)
    workers_skipped: dict[str, list[str]] = field(default_factory=dict)
    console_url: str = ""
    console_direct_url: str = ""
    console_user: str = ""
    console_password_file: str = ""
    web: dict[str, Any] = field(default_factory=dict)
    admin_user: str | None = None
    first_admin_password: str | None = None  # only on the run that created the first admin: shown once
    env_file: str = ""
    seconds: float = 0.0

    @property
    def front_door_ok(self) -> bool:
        return bool(self.web.get("api_ok"))

    def as_json(self) -> dict[str, Any]:
        return {
            "home": str(self.home), "services": self.services, "started_now": self.started_now,
            "programs": self.programs,
            "sample_written": self.sample_written, "ingest": self.ingest, "ingest_error": self.ingest_error,
            "analyses_finished": self.analyses_finished, "jobs": self.jobs, "workers": self.workers,
            "workers_skipped": self.workers_skipped,
            "console": {"url": self.console_url, "direct_url": self.console_direct_url,
                        "user": self.console_user, "password_file": self.console_password_file},
            "web": self.web,
            # Present only on the run that created the account: the password is stored nowhere else.
            **({"first_admin": {"name": self.admin_user, "password": self.first_admin_password}}
               if self.first_admin_password else {}),
            "env_file": self.env_file, "seconds": round(self.seconds, 2),
        }


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _postgres_reachable(url: str) -> str | None:
    """None when a connection succeeds, else the reason."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return None


def _amqp_reachable(url: str) -> str | None:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as exc:
        return repr(exc)
    except OSError as exc:
        return str(exc)
    return None


def _wait_reachable(check: Callable[[str], str | None], url: str, what: str, variable: str) -> None:
    deadline = time.monotonic() + EXTERNAL_WAIT_SECONDS
    while (reason := check(url)) is not None:
        if time.monotonic() > deadline:
            raise StackError(f"{variable} is set but {what} at {mask_url(url)} cannot be reached: {reason}. "
                             f"Start it, or unset {variable} to let `pava up` run a local one.")
        time.sleep(1)


class _UserSettings(Settings):
    """Settings as the user gave them: environment and ``.env``, without the ``stack.env`` that an earlier
    ``pava up`` wrote (a URL found only there is ours, not an external service)."""

    model_config = Settings.model_config.copy()
    model_config["env_file"] = ".env"


def display(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it (shorter to read and to paste)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- Postgres ------------------------------------------------------------------------------------------------


def _postgres_cluster(paths: StackPaths, port: int, password: str) -> PostgresCluster:
    return PostgresCluster(paths.postgres_data, port, password)


def ensure_postgres(user: Settings, cfg: StackSettings, paths: StackPaths, state: StackState,
                    started_now: list[str]) -> str:
    """The database URL: the user's (checked reachable) or that of the local cluster, started if needed."""
    if user.database_url is not None:
        url = user.database_url.get_secret_value()
        _wait_reachable(_postgres_reachable, url, "Postgres", "PAVA_DATABASE_URL")
        _retire_local_postgres(paths, state)
        state.postgres = ServiceState(mode="external", info={"url": mask_url(url)})
        return url

    had_data = (paths.postgres_data / "PG_VERSION").exists()
    password, generated = secret(paths.secrets, POSTGRES_SECRET)
    if had_data and generated:
        raise StackError(f"{paths.postgres_data} exists but its password file "
                         f"{paths.secrets / POSTGRES_SECRET} was missing: restore the file, or move the data "
                         "folder away to start afresh.")
    cluster = _postgres_cluster(paths, cfg.postgres_port, password)
    started = state.postgres.mode == "local" and state.postgres.started
    if not cluster.running():
        if port_open(cfg.postgres_port):
            raise StackError(f"port {cfg.postgres_port} is taken by another program: set "
                             "PAVA_STACK__POSTGRES_PORT to another port, or PAVA_DATABASE_URL to use that "
                             "server.")
        log.info("starting Postgres on port %d (data in %s)", cfg.postgres_port, paths.postgres_data)
        cluster.start()
        started = True
        started_now.append("postgres")
    url = cluster.create_database("pava")
    state.postgres = ServiceState(mode="local", started=started, info={
        "port": cfg.postgres_port, "data_dir": str(paths.postgres_data), "log": str(cluster.log_file),
    })
    return url


def _retire_local_postgres(paths: StackPaths, state: StackState) -> None:
    """A local cluster started earlier no longer serves the stack once a URL is given: stop it."""
    if state.postgres.mode == "local" and state.postgres.started:
        log.info("PAVA_DATABASE_URL is set now: stopping the local Postgres an earlier `pava up` started")
        _postgres_cluster(paths, int(state.postgres.info.get("port", 0)), "").stop()


# -- RabbitMQ ------------------------------------------------------------------------------------------------


def _rabbit_node(paths: StackPaths, cfg: StackSettings, password: str) -> RabbitNode:
    return RabbitNode(paths.rabbitmq, amqp_port=cfg.amqp_port, management_port=cfg.management_port,
                      dist_port=cfg.dist_port, epmd_port=cfg.epmd_port, node_name=cfg.node_name,
                      password=password)


def _rabbit_node_from_state(paths: StackPaths, info: dict[str, Any]) -> RabbitNode:
    defaults = StackSettings()
    return RabbitNode(
        Path(info.get("base_dir", paths.rabbitmq)),
        amqp_port=int(info.get("amqp_port", defaults.amqp_port)),
        management_port=int(info.get("management_port", defaults.management_port)),
        dist_port=int(info.get("dist_port", defaults.dist_port)),
        epmd_port=int(info.get("epmd_port", defaults.epmd_port)),
        node_name=str(info.get("node_name", defaults.node_name)),
    )


def ensure_rabbitmq(user: Settings, cfg: StackSettings, paths: StackPaths, state: StackState,
                    started_now: list[str]) -> tuple[str, str]:
    """(AMQP URL, management URL): the user's, or those of the local node, started if needed."""
    if user.amqp_url is not None:
        url = user.amqp_url.get_secret_value()
        _wait_reachable(_amqp_reachable, url, "RabbitMQ", "PAVA_AMQP_URL")
        _retire_local_rabbit(paths, state)
        state.rabbitmq = ServiceState(mode="external", info={"url": mask_url(url)})
        state.epmd = ServiceState()
        return url, user.broker.management_url

    password, _ = secret(paths.secrets, RABBITMQ_SECRET)
    node = _rabbit_node(paths, cfg, password)
    url = node.amqp_url()
    started = state.rabbitmq.mode == "local" and state.rabbitmq.started
    epmd_started = state.epmd.started
    # A running node that accepts our login needs nothing: skipping the user set-up (four rabbitmqctl
    # calls, about a second each) is most of what makes a second `pava up` fast.
    if not (node.running() and _amqp_reachable(url) is None):
        if not node.running():
            for port, variable in ((cfg.amqp_port, "AMQP_PORT"), (cfg.management_port, "MANAGEMENT_PORT"),
                                   (cfg.dist_port, "DIST_PORT")):
                if port_open(port):
                    raise StackError(f"port {port} is taken by another program: set PAVA_STACK__{variable} "
                                     "to another port, or PAVA_AMQP_URL to use the RabbitMQ already there.")
            # epmd is shared by every Erlang node on its port: stop it on `down` only if we start it now.
            epmd_started = epmd_started or not port_open(cfg.epmd_port)
            log.info("starting RabbitMQ node %s on port %d (data in %s)", cfg.node_name, cfg.amqp_port,
                     paths.rabbitmq)
            started = True
            started_now.append("rabbitmq")
        node.start()  # starts the node if needed, and (re)sets our user and its password
    state.rabbitmq = ServiceState(mode="local", started=started, info={
        "amqp_port": cfg.amqp_port, "management_port": cfg.management_port, "dist_port": cfg.dist_port,
        "epmd_port": cfg.epmd_port, "node_name": cfg.node_name, "base_dir": str(paths.rabbitmq),
        "user": node.user,
    })
    state.epmd = ServiceState(mode="local", started=epmd_started, info={"port": cfg.epmd_port})
    return url, node.management_url


def _retire_local_rabbit(paths: StackPaths, state: StackState) -> None:
    if state.rabbitmq.mode == "local" and state.rabbitmq.started:
        log.info("PAVA_AMQP_URL is set now: stopping the local RabbitMQ an earlier `pava up` started")
        _rabbit_node_from_state(paths, state.rabbitmq.info).stop(kill_epmd=state.epmd.started)


# -- the front door: the API, nginx, the certificate, the first admin ------------------------------------


def api_secret(user: Settings, paths: StackPaths) -> tuple[str, bool]:
    """(the API's secret key, whether it is the stack's own): the user's when set, else one generated once
    into ``var/secrets/api.secret``. Sessions survive restarts only because it stays the same."""
    if user.api.secret_key is not None and user.api.secret_key.get_secret_value():
        return user.api.secret_key.get_secret_value(), False
    value, _ = secret(paths.secrets, API_SECRET, nbytes=32)
    return value, True


def first_admin(settings: Settings) -> tuple[str | None, str | None]:
    """(password, admin name): the password only when this call created the first admin (a library
    without users); the name of the oldest enabled admin either way (None when there is none)."""
    with connect(settings, autocommit=True) as conn:
        password = users.ensure_first_admin(conn, FIRST_ADMIN)
        admins = sorted((u for u in users.list_users(conn) if u.role is users.Role.ADMIN and not u.disabled),
                        key=lambda u: u.id)
    return password, admins[0].name if admins else None


def certificate(cfg: StackSettings, paths: StackPaths) -> tls.Certificate:
    """The given certificate (checked), or the stack's self-signed one (made or renewed as needed)."""
    try:
        if cfg.tls_cert is not None and cfg.tls_key is not None:
            return tls.use_given(cfg.tls_cert, cfg.tls_key)
        return tls.ensure_self_signed(paths.ssl, tls.host_names(cfg.names))
    except tls.TlsError as exc:
        raise StackError(str(exc)) from exc


def _loopback(host: str) -> str:
    """Where nginx reaches a listener bound to ``host`` (a wildcard address is reached on loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 (compared, not bound)


def _console_upstream(management_url: str) -> str:
    parts = urlsplit(management_url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 15672}"


def front_door(settings: Settings, cfg: StackSettings, paths: StackPaths, cert: tls.Certificate,
               management_url: str) -> FrontDoor:
    return FrontDoor(
        prefix=paths.nginx, logs=paths.logs, https_port=cfg.https_port, http_port=cfg.http_port,
        cert=cert.cert, key=cert.key, cert_sha256=cert.sha256,
        api=f"{_loopback(settings.api.host)}:{settings.api.port}", console=_console_upstream(management_url),
        upload_max_bytes=settings.api.upload_max_bytes, tiles=cfg.tile_origins, hsts_max_age=cfg.hsts_max_age,
        page_config_root=paths.page_config,
    )


def _port_free(port: int, host: str = "0.0.0.0") -> bool:  # noqa: S104 (nginx listens on every address)
    """Nobody listens on ``port`` (any address, when ``host`` is the wildcard)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_front_ports(settings: Settings, cfg: StackSettings, supervisor: Supervisor,
                      state: StackState) -> None:
    """Refuse, with advice, ports of nginx and the API that another program holds (ours, running from an
    earlier `pava up` on the same ports, are no conflict)."""
    wanted = [(cfg.https_port, "PAVA_STACK__HTTPS_PORT"), (cfg.http_port, "PAVA_STACK__HTTP_PORT"),
              (settings.api.port, "PAVA_API__PORT")]
    ports = [port for port, _ in wanted]
    if len(set(ports)) != len(ports):
        raise StackError(f"nginx's HTTPS and HTTP ports and the API's port must differ (now {ports}): set "
                         "PAVA_STACK__HTTPS_PORT, PAVA_STACK__HTTP_PORT or PAVA_API__PORT")
    ours: set[int] = set()
    if supervisor.running():
        running = supervisor.statuses()
        if running.get("nginx") == "RUNNING":
            ours |= {int(state.web.info.get("https_port", 0)), int(state.web.info.get("http_port", 0))}
        if running.get("api") == "RUNNING":
            ours.add(int(state.web.info.get("api_port", 0)))
    for port, variable in wanted:
        host = _loopback(settings.api.host) if variable == "PAVA_API__PORT" else "0.0.0.0"  # noqa: S104
        if port not in ours and not _port_free(port, host):
            raise StackError(f"port {port} is taken by another program: set {variable} to another port.")


def _public_url(cfg: StackSettings, path: str = "/") -> str:
    host = cfg.names[0] if cfg.names else "localhost"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = "" if cfg.https_port == 443 else f":{cfg.https_port}"
    return f"https://{host}{port}{path}"


def wait_front_door(cfg: StackSettings, timeout: float = FRONT_DOOR_WAIT_SECONDS) -> str | None:
    """Wait until ``/api/health`` answers through nginx; None then, else the last reason."""
    # Our own listener on loopback is asked whether it is up, not whether to trust it: a real certificate
    # may not name 127.0.0.1, and the self-signed one is no authority. So no verification here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{cfg.https_port}/api/health"
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as answer:
                if answer.status == 200:
                    return None
                reason = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            reason = str(exc)
        time.sleep(0.5)
    return reason


# -- the rest ------------------------------------------------------------------------------------------------


def _visible_files(directory: Path) -> bool:
    """Whether ``directory`` holds any file the ingester would look at (hidden ones are skipped)."""
    if not directory.is_dir():
        return False
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(not name.startswith(".") for name in files):
            return True
        del root
    return False


def _library_empty(settings: Settings) -> bool:
    with connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM media) AS any").fetchone()
    return not (row and row["any"])


def _jobs_by_state(settings: Settings) -> dict[str, dict[str, int]]:
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT analyzer, state, count(*) AS n FROM job GROUP BY analyzer, state ORDER BY analyzer, state"
        ).fetchall()
    jobs: dict[str, dict[str, int]] = {}
    for row in rows:
        jobs.setdefault(str(row["analyzer"]), {})[str(row["state"])] = int(row["n"])
    return jobs


def wait_for_analyses(settings: Settings, analyzers: list[str], timeout: float,
                      supervisor: Supervisor) -> bool:
    """Wait until no job of a registered analyzer is unfinished; False on timeout or a dead worker.

    Jobs of analyses that have no worker yet stay queued by design (their worker may run on another host,
    or come later), so only the registered ones are waited for; that is also why this does not call
    ``pava wait``, which waits for every job.
    """
    deadline = time.monotonic() + timeout
    with connect(settings, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) AS n FROM job WHERE analyzer = ANY(%s) AND state = ANY(%s)",
                (analyzers, list(UNFINISHED_STATES)),
            ).fetchone()
            if not row or int(row["n"]) == 0:
                return True
            states = supervisor.statuses()
            dead = [name for name, st in states.items() if st in {"FATAL", "EXITED", "STOPPED"}]
            if dead:
                log.error("supervised programs not running: %s; see %s", ", ".join(dead),
                          supervisor.paths.logs)
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def _run_ingest(drop_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """``pava ingest DROP --json``: its JSON summary (stdout); its progress goes to our terminal (stderr)."""
    result = subprocess.run(pava_argv("ingest", str(drop_dir), "--json"), env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True, check=False)
    # Exit 1 means some files failed (they stay in the drop folder and a rerun retries them): the run
    # itself completed and its summary says which. Anything else means no summary.
    if result.returncode not in (0, 1):
        raise StackError(f"`pava ingest {drop_dir}` failed with exit code {result.returncode}")
    try:
        summary: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise StackError(f"`pava ingest --json` printed no JSON summary: {result.stdout[-500:]!r}") from exc
    if result.returncode == 1:
        raise IngestIncomplete(summary)
    return summary


class IngestIncomplete(Exception):
    """The ingest ran but some files failed; carries its summary."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("some files failed and were left in the drop folder (a rerun retries them)")
        self.summary = summary


def up(settings: Settings, cfg: StackSettings, *, ingest: bool = True,
       wait_timeout: float | None = None) -> UpResult:
    """Bring the stack up (see the module docstring). Raises ``StackError`` with advice on a user problem."""
    begin = time.monotonic()
    paths = StackPaths(settings.home)
    paths.home.mkdir(parents=True, exist_ok=True)
    result = UpResult(home=paths.home)
    with locked(paths.lock_file):
        state = StackState.load(paths.state_file)
        # (ignore: without the pydantic mypy plugin, mypy takes Field(default, ...) for a required field)
        user: Settings = _UserSettings()  # type: ignore[call-arg,unused-ignore]
        try:
            database_url = ensure_postgres(user, cfg, paths, state, result.started_now)
            amqp_url, management_url = ensure_rabbitmq(user, cfg, paths, state, result.started_now)
        finally:
            # Whatever got started is recorded, even when a later step fails, so `pava down` can stop it.
            state.save(paths.state_file)

        stack_env = {}
        if state.postgres.mode == "local":
            stack_env["PAVA_DATABASE_URL"] = database_url
        if state.rabbitmq.mode == "local":
            stack_env["PAVA_AMQP_URL"] = amqp_url
            stack_env["PAVA_BROKER__MANAGEMENT_URL"] = management_url
        secret_key, own_key = api_secret(user, paths)
        if own_key:
            # In stack.env too: a `pava api` started by hand then shares the sessions of the stack's.
            stack_env["PAVA_API__SECRET_KEY"] = secret_key
        write_env_file(paths.env_file, stack_env)
        result.env_file = str(paths.env_file)

        # Every program gets the URLs explicitly, external ones too: a URL from a .env file in the
        # caller's folder would not be found from supervisord's working folder.
        child_env = dict(os.environ)
        child_env.update(stack_env)
        child_env["PAVA_DATABASE_URL"] = database_url
        child_env["PAVA_AMQP_URL"] = amqp_url
        child_env.setdefault("PAVA_BROKER__MANAGEMENT_URL", management_url)
        child_env["PAVA_API__SECRET_KEY"] = secret_key
        effective = settings.model_copy(update={
            "database_url": SecretStr(database_url), "amqp_url": SecretStr(amqp_url),
            "broker": settings.broker.model_copy(update={"management_url": management_url}),
        })

        # Alembic reports every plugin and step at INFO: a rerun would print a screenful of nothing new.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        migrate(effective)
        result.first_admin_password, result.admin_user = first_admin(effective)

        supervisor = Supervisor(paths, PROJECT_ROOT)
        check_front_ports(effective, cfg, supervisor, state)
        built = page.ensure_built(paths.logs / "web-build.log")
        cert = certificate(cfg, paths)
        nginx = Nginx(paths.nginx, paths.logs)
        # Before nginx starts, so the page never falls back to its built-in defaults; a changed file is
        # served as it lands, with no reload.
        write_page_config(paths.page_config, cfg.page_config())
        try:
            nginx_changed = nginx.write(front_door(effective, cfg, paths, cert, management_url))
            nginx_argv = nginx.argv()
        except NginxError as exc:
            raise StackError(str(exc)) from exc
        progs, result.workers_skipped = programs(PROJECT_ROOT)
        progs += [Program("api", pava_argv("api"), stop_seconds=30), Program("nginx", nginx_argv)]
        result.workers = [name for name in sorted(REGISTRY) if name not in result.workers_skipped]
        result.programs = _ensure_supervisor(supervisor, progs, child_env, state, result.started_now)
        restarted = "supervisord" in result.started_now
        if nginx_changed and not restarted and result.programs.get("nginx") == "RUNNING":
            log.info("nginx's config changed: reloading it")
            supervisor.signal("nginx", "HUP")
        state.web = ServiceState(mode="local", started=state.supervisord.started, info={
            "https_port": cfg.https_port, "http_port": cfg.http_port, "api_port": effective.api.port,
            "nginx_config": str(nginx.config_file),
        })
        state.save(paths.state_file)
        problem = wait_front_door(cfg)
        result.web = {
            "url": _public_url(cfg), "api_url": _public_url(cfg, "/api/"),
            "docs_url": _public_url(cfg, "/api/docs"), "https_port": cfg.https_port,
            "http_port": cfg.http_port, "api_address": f"{effective.api.host}:{effective.api.port}",
            "api_ok": problem is None, "api_error": problem, "admin_user": result.admin_user,
            "secret_key_file": str(paths.secrets / API_SECRET) if own_key else None,
            "certificate": cert.as_json(), "nginx_config": str(nginx.config_file),
            "page": built.as_json(),
        }

        drop = settings.drop_dir
        drop.mkdir(parents=True, exist_ok=True)
        if ingest:
            if cfg.sample and not _visible_files(drop) and _library_empty(effective):
                written = sample_set.generate(drop)
                result.sample_written = [f.rel_path for f in written]
                state.sample = {"dir": str(drop), "files": result.sample_written}
                state.save(paths.state_file)
                # The ingester leaves files younger than settle_seconds for later (they may still be
                # being written); these are complete, so wait that long rather than skip them.
                time.sleep(settings.ingest.settle_seconds + 0.2)
            if _visible_files(drop):
                try:
                    result.ingest = _run_ingest(drop, child_env)
                except IngestIncomplete as exc:
                    result.ingest, result.ingest_error = exc.summary, str(exc)
                except StackError as exc:
                    result.ingest_error = str(exc)
            timeout = wait_timeout if wait_timeout is not None else cfg.wait_timeout
            result.analyses_finished = wait_for_analyses(effective, result.workers, timeout, supervisor)
        result.programs = supervisor.statuses()
        result.jobs = _jobs_by_state(effective)

    _describe(result, state, paths, cfg, urls=(database_url, amqp_url, management_url))
    result.seconds = time.monotonic() - begin
    return result


def _ensure_supervisor(supervisor: Supervisor, progs: list[Program], env: dict[str, str],
                       state: StackState, started_now: list[str]) -> dict[str, str]:
    changed = supervisor.write_config(progs)
    fingerprint = env_fingerprint(env)
    started = state.supervisord.started
    if supervisor.running():
        if state.supervisord.info.get("env") != fingerprint:
            # The programs' settings changed (a new URL, another option): they only read them at start.
            log.info("settings changed: restarting supervisord and its programs")
            supervisor.shutdown()
            supervisor.start(env)
            started = True
            started_now.append("supervisord")
        elif changed:
            log.info("programs changed: updating supervisord")
            supervisor.update()
    else:
        if supervisor.pid() is not None:
            # Alive but not answering on its socket (hung, or its socket file removed): replace it.
            log.warning("supervisord does not answer on %s: restarting it", supervisor.socket)
            supervisor.shutdown()
        supervisor.start(env)
        started = True
        started_now.append("supervisord")
    states = supervisor.wait_started()
    state.supervisord = ServiceState(mode="local", started=started, info={
        "pid": supervisor.pid(), "config": str(supervisor.config_file), "socket": str(supervisor.socket),
        "programs": sorted(states), "env": fingerprint,
    })
    return states


def _describe(result: UpResult, state: StackState, paths: StackPaths, cfg: StackSettings, *,
              urls: tuple[str, str, str]) -> None:
    database_url, amqp_url, management_url = urls
    pg_url = urlsplit(database_url)
    result.services["postgres"] = {
        "mode": state.postgres.mode, "started": state.postgres.started,
        "address": f"{pg_url.hostname}:{pg_url.port or 5432}", "url": mask_url(database_url),
        **({"data_dir": str(paths.postgres_data)} if state.postgres.mode == "local" else {}),
    }
    mq_url = urlsplit(amqp_url)
    result.services["rabbitmq"] = {
        "mode": state.rabbitmq.mode, "started": state.rabbitmq.started,
        "address": f"{mq_url.hostname}:{mq_url.port or 5672}", "url": mask_url(amqp_url),
        **({"data_dir": str(paths.rabbitmq)} if state.rabbitmq.mode == "local" else {}),
    }
    result.services["supervisord"] = {
        "mode": "local", "started": state.supervisord.started, "pid": state.supervisord.info.get("pid"),
        "config": state.supervisord.info.get("config"), "logs": str(paths.logs),
    }
    result.console_direct_url = management_url.rstrip("/") + "/"
    # Through the front door when the management listener serves under /rabbitmq (ours always does).
    via_nginx = urlsplit(management_url).path.rstrip("/") == "/rabbitmq"
    result.console_url = _public_url(cfg, "/rabbitmq/") if via_nginx else result.console_direct_url
    result.console_user = mq_url.username or ""
    if state.rabbitmq.mode == "local":
        result.console_password_file = str(paths.secrets / RABBITMQ_SECRET)


# -- down ----------------------------------------------------------------------------------------------------


@dataclass
class DownResult:
    stopped: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def down(settings: Settings) -> DownResult:
    """Stop what ``pava up`` started: supervisord (with its programs), then the local RabbitMQ node and
    Postgres if an ``up`` started them. External services and services found running are left alone."""
    paths = StackPaths(settings.home)
    result = DownResult()
    if not paths.home.exists():
        return result
    with locked(paths.lock_file):
        state = StackState.load(paths.state_file)
        supervisor = Supervisor(paths, PROJECT_ROOT)
        if supervisor.pid() is not None:
            log.info("stopping supervisord and its programs (workers finish the job in hand)")
            if not supervisor.shutdown():
                raise StackError(f"supervisord did not stop; see {supervisor.log_file}")
            result.stopped.append("supervisord (api, nginx, workers, relay)")
        state.supervisord.started = False
        state.web.started = False

        if state.rabbitmq.mode == "local" and state.rabbitmq.started:
            log.info("stopping the RabbitMQ node")
            _rabbit_node_from_state(paths, state.rabbitmq.info).stop(kill_epmd=state.epmd.started)
            result.stopped.append("rabbitmq" + (" (and epmd)" if state.epmd.started else ""))
            state.rabbitmq.started = False
            state.epmd.started = False
        elif state.rabbitmq.mode != "none":
            result.left.append(f"rabbitmq ({state.rabbitmq.mode}, not started by `pava up`)")

        if state.postgres.mode == "local" and state.postgres.started:
            log.info("stopping Postgres")
            _postgres_cluster(paths, int(state.postgres.info.get("port", 0)), "").stop()
            result.stopped.append("postgres")
            state.postgres.started = False
        elif state.postgres.mode != "none":
            result.left.append(f"postgres ({state.postgres.mode}, not started by `pava up`)")
        state.save(paths.state_file)
    return result
