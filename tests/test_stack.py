"""The local stack: `pava up` for real (its own Postgres and RabbitMQ on free ports, or the test
fixtures' as external services), a rerun that is fast and changes nothing, and `pava down` stopping
exactly what was started. Plus the pieces on their own: secrets, state, supervisor config."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import ValidationError

from core.settings import PROJECT_ROOT, Settings
from pava.cli_stack import ingest_counts
from pava.services.postgres import PostgresCluster, free_port
from pava.services.rabbitmq import RabbitNode
from pava.stack import sample, up
from pava.stack.config import StackPaths, StackSettings
from pava.stack.state import ServiceState, StackState, read_env_file, secret
from pava.stack.supervisor import Program, Supervisor, env_fingerprint, missing_requirements, programs
from tests.fullstack import base_env, front_client, front_ports, run
from workers.registry import REGISTRY

# -- pieces -------------------------------------------------------------------------------------------------


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    value, generated = secret(tmp_path / "secrets", "x.password")
    assert generated and len(value) >= 32
    again, generated_again = secret(tmp_path / "secrets", "x.password")
    assert (again, generated_again) == (value, False)
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "secrets" / "x.password").stat().st_mode & 0o777 == 0o600


def test_state_round_trip_and_unreadable_state(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    state = StackState(postgres=ServiceState(mode="local", started=True, info={"port": 5433}))
    state.save(path)
    loaded = StackState.load(path)
    assert loaded.postgres == state.postgres
    assert loaded.rabbitmq == ServiceState()
    path.write_text("{not json")
    assert StackState.load(path) == StackState()


def test_missing_requirements_follows_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("# comment\npsycopg[binary]==3.3.9  # extras\n-c constraints.txt\n")
    (tmp_path / "role.txt").write_text("-r base.txt\npytest==9.2.0\nno-such-distribution-pava==1.0\n\n")
    assert missing_requirements(tmp_path / "role.txt") == ["no-such-distribution-pava"]


def test_supervisor_config_has_a_worker_per_analyzer_and_no_secret(tmp_path: Path) -> None:
    progs, skipped = programs(PROJECT_ROOT)
    workers = {p.name.removeprefix("worker-") for p in progs if p.name.startswith("worker-")}
    assert workers | set(skipped) == set(REGISTRY)
    assert not workers & set(skipped)
    assert "relay" in {p.name for p in progs}
    supervisor = Supervisor(StackPaths(tmp_path / "var"), PROJECT_ROOT)
    text = supervisor.render([*progs, Program("odd%name", ["echo", "100%"])])
    for name in workers:
        assert f"[program:worker-{name}]" in text
        assert f"-m pava worker {name}\n" in text
    assert "[program:relay]" in text
    assert "100%%" in text  # supervisor would read a lone % as the start of an expansion
    assert "PAVA_" not in text and "password" not in text.lower()
    assert f"file = {supervisor.socket}" in text


def test_env_fingerprint_tracks_program_settings_only() -> None:
    base = {"PAVA_DATABASE_URL": "postgresql://pava:s3cret@h/pava", "HOME": "/root"}
    digest = env_fingerprint(base)
    assert "s3cret" not in digest
    assert env_fingerprint(base | {"PAVA_STACK__WAIT_TIMEOUT": "5", "TERM": "xterm"}) == digest
    assert env_fingerprint(base | {"PAVA_WORKER__CONCURRENCY": "2"}) != digest


def test_a_taken_port_is_refused_with_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAVA_DATABASE_URL", raising=False)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        cfg = StackSettings(postgres_port=port)
        user = Settings(_env_file=None)  # type: ignore[call-arg,unused-ignore]
        with pytest.raises(up.StackError, match="PAVA_STACK__POSTGRES_PORT"):
            up.ensure_postgres(user, cfg, StackPaths(tmp_path), StackState(), [])


def test_taken_front_door_ports_are_refused_with_advice(tmp_path: Path) -> None:
    user = Settings(_env_file=None, api={"port": free_port()})  # type: ignore[call-arg,arg-type,unused-ignore]
    supervisor = Supervisor(StackPaths(tmp_path), PROJECT_ROOT)  # not running: no port is ours
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        https_taken = StackSettings(https_port=taken, http_port=free_port())
        http_taken = StackSettings(https_port=free_port(), http_port=taken)
        for cfg, variable in ((https_taken, "PAVA_STACK__HTTPS_PORT"), (http_taken, "PAVA_STACK__HTTP_PORT")):
            with pytest.raises(up.StackError, match=variable):
                up.check_front_ports(user, cfg, supervisor, StackState())
        api_taken = Settings(_env_file=None, api={"port": taken})  # type: ignore[call-arg,arg-type,unused-ignore]
        with pytest.raises(up.StackError, match="PAVA_API__PORT"):
            up.check_front_ports(api_taken, StackSettings(https_port=free_port(), http_port=free_port()),
                                 supervisor, StackState())
    same = StackSettings(https_port=user.api.port, http_port=free_port())
    with pytest.raises(up.StackError, match="must differ"):
        up.check_front_ports(user, same, supervisor, StackState())


def test_front_door_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="together"):
        StackSettings(tls_cert=Path("/etc/ssl/cert.pem"))
    with pytest.raises(ValidationError, match="not an origin"):
        StackSettings(map_tiles="https://tiles.example.org; script-src *")
    cfg = StackSettings(map_tiles=" https://a.example.org  https://*.b.example.org:8443 ",
                        map_tile_url="https://x.b.example.org:8443/{z}/{x}/{y}.png",
                        server_names="photos.example.org, 192.168.1.20")
    assert cfg.map_tiles == "https://a.example.org https://*.b.example.org:8443"
    assert cfg.tile_origins == cfg.map_tiles  # given: used as it is
    assert cfg.names == ["photos.example.org", "192.168.1.20"]


def test_map_tile_settings_give_the_page_config_and_the_csp_origins() -> None:
    osm = StackSettings(_env_file=None)
    assert osm.map_tiles == "" and osm.tile_origins == "https://tile.openstreetmap.org"
    assert osm.page_config() == json.loads((PROJECT_ROOT / "web" / "public" / "config.json").read_text())
    # The origin is derived from the URL: port kept, a {s} subdomain (Leaflet's a/b/c servers) as *.
    for url, origin in (("http://tiles.lan:8080/osm/{z}/{x}/{y}.png", "http://tiles.lan:8080"),
                        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
                        ("https://tile-{s}.example.org/{z}/{x}/{y}{r}.png", "https://*.example.org"),
                        (" HTTPS://Tiles.Example.org/{z}/{x}/{y}.png ", "https://tiles.example.org")):
        cfg = StackSettings(_env_file=None, map_tile_url=url)
        assert cfg.tile_origins == origin, url
        assert cfg.page_config()["tileUrl"] == url.strip()
    # No tiles (offline): nothing for the page to load, nothing in the CSP.
    offline = StackSettings(_env_file=None, map_tile_url="", map_tile_max_zoom=12)
    assert offline.tile_origins == ""
    assert offline.page_config() == {"tileUrl": "", "tileAttribution": osm.map_tile_attribution,
                                     "tileMaxZoom": 12}
    # Both given, they must agree: a URL the CSP refuses would leave the map blank.
    StackSettings(_env_file=None, map_tiles="https://*.tile.example.org",
                  map_tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    for tiles, url in (("https://tiles.example.org", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
                       ("https://tile.openstreetmap.org", "http://tile.openstreetmap.org/{z}/{x}/{y}.png"),
                       ("https://tiles.example.org", "https://tiles.example.org:8443/{z}/{x}/{y}.png")):
        with pytest.raises(ValidationError, match="does not allow PAVA_STACK__MAP_TILE_URL"):
            StackSettings(_env_file=None, map_tiles=tiles, map_tile_url=url)
    for bad in ("ftp://tiles.example.org/{z}/{x}/{y}.png", "//tiles.example.org/{z}/{x}/{y}.png",
                "javascript:alert(1)", "https://tiles.example.org/{z}/{x}/{y}.png?k=$KEY",
                "https://tiles.example.org/{z} /{x}/{y}.png", "https://tiles.example.org/';alert(1)//",
                'https://tiles.example.org/"{z}.png', "https://tiles.example.org/{z};{x}.png",
                "https://evil.example\\@tiles.example.org/{z}.png", "https://{s}.{r}.example.org/{z}.png",
                "https://tiles.example.org:99999/{z}.png", "https:///{z}/{x}/{y}.png"):
        with pytest.raises(ValidationError):
            StackSettings(_env_file=None, map_tile_url=bad)
    with pytest.raises(ValidationError):
        StackSettings(_env_file=None, map_tile_max_zoom=30)


def test_given_certificate_must_match_its_key(tmp_path: Path) -> None:
    from pava.stack import tls

    one = tls.ensure_self_signed(tmp_path / "one", ["one.example.org"])
    two = tls.ensure_self_signed(tmp_path / "two", ["two.example.org"])
    paths = StackPaths(tmp_path / "var")
    with pytest.raises(up.StackError, match="does not belong"):
        up.certificate(StackSettings(tls_cert=one.cert, tls_key=two.key), paths)
    given = up.certificate(StackSettings(tls_cert=one.cert, tls_key=one.key), paths)
    assert given.cert == one.cert and not given.self_signed
    assert not paths.ssl.exists()  # no self-signed one is made when a real one is given


def test_an_unreachable_external_url_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "EXTERNAL_WAIT_SECONDS", 0.5)
    url = f"postgresql://pava:not-the-password@127.0.0.1:{free_port()}/pava"
    user = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg,unused-ignore]
    with pytest.raises(up.StackError) as info:
        up.ensure_postgres(user, StackSettings(), StackPaths(tmp_path), StackState(), [])
    assert "PAVA_DATABASE_URL" in str(info.value)
    assert "not-the-password" not in str(info.value)


# -- the real thing -----------------------------------------------------------------------------------------


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    """A folder outside pytest's tmp_path: as root, Postgres runs as its own user and must traverse to its
    data, but pytest keeps /tmp/pytest-of-root at mode 0700 (and any pytest run resets it to that)."""
    base = Path(tempfile.mkdtemp(prefix="pava-stack-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _ps(pid: int) -> str:
    return subprocess.run(["ps", "-o", "pid,ppid,stat,cmd", "-p", str(pid)], capture_output=True, text=True,
                          check=False).stdout.strip()


def _secrets(home: Path) -> list[str]:
    return [p.read_text().strip() for p in (home / "secrets").glob("*.password")]


def _db_counts(url: str) -> tuple[int, int, list[tuple[str, str, int]]]:
    with psycopg.connect(url) as conn:
        media = conn.execute("SELECT count(*) FROM media").fetchone()
        aliases = conn.execute("SELECT count(*) FROM media_alias").fetchone()
        jobs = conn.execute(
            "SELECT analyzer, state, count(*) FROM job GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    assert media and aliases
    return int(media[0]), int(aliases[0]), [(str(a), str(s), int(n)) for a, s, n in jobs]


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_up_starts_its_own_services_reruns_fast_and_down_stops_them(stack_dir: Path) -> None:
    tmp_path = stack_dir
    env = base_env(tmp_path)
    env.update({
        "PAVA_STACK__POSTGRES_PORT": str(free_port()),
        "PAVA_STACK__AMQP_PORT": str(free_port()),
        "PAVA_STACK__MANAGEMENT_PORT": str(free_port()),
        "PAVA_STACK__DIST_PORT": str(free_port()),
        "PAVA_STACK__EPMD_PORT": str(free_port()),
        "PAVA_STACK__NODE_NAME": f"pavastack{uuid.uuid4().hex[:8]}@localhost",
    })
    front_ports(env)
    https_port = env["PAVA_STACK__HTTPS_PORT"]
    home = tmp_path / "var"
    try:
        first = run(env, "up", "--json")
        report: dict[str, Any] = json.loads(first.stdout)

        # Services: all three started by this run, on the ports asked for.
        assert sorted(report["started_now"]) == ["postgres", "rabbitmq", "supervisord"]
        assert report["services"]["postgres"]["address"] == f"127.0.0.1:{env['PAVA_STACK__POSTGRES_PORT']}"
        assert report["services"]["rabbitmq"]["address"] == f"127.0.0.1:{env['PAVA_STACK__AMQP_PORT']}"
        assert report["programs"]["relay"] == "RUNNING"
        assert report["programs"] == dict.fromkeys(report["programs"], "RUNNING")
        assert set(report["workers"]) | set(report["workers_skipped"]) == set(REGISTRY)
        assert "dhash" in report["workers"]
        assert report["programs"]["worker-dhash"] == "RUNNING"
        assert report["programs"]["api"] == report["programs"]["nginx"] == "RUNNING"

        # The sample set went into the empty drop folder, and all of it was ingested.
        assert len(report["sample_written"]) == sample.file_count()
        assert report["ingest_error"] is None
        counts = ingest_counts(report["ingest"])
        assert counts["new"] == sample.file_count() - 1
        assert counts["duplicate"] == 1
        assert counts.get("rejected", 0) == 0
        assert not [p for p in (tmp_path / "drop").rglob("*") if p.is_file()]

        # The analyses of every running worker finished; dHash on every item.
        assert report["analyses_finished"] is True
        assert report["jobs"]["dhash"] == {"done": sample.file_count() - 1}
        for name in report["workers"]:
            assert set(report["jobs"].get(name, {})) <= {"done", "failed"}, report["jobs"]

        # The front door: the printed HTTPS URL answers, with the stack's own certificate.
        web = report["web"]
        assert web["url"] == f"https://localhost:{https_port}/"
        assert web["api_ok"] is True and web["certificate"]["self_signed"] is True
        assert "localhost" in web["certificate"]["names"]
        with front_client(report) as client:
            health = client.get("/api/health")
            assert health.status_code == 200 and health.json()["database"] is True
            redirect = httpx.get(f"http://127.0.0.1:{env['PAVA_STACK__HTTP_PORT']}/", follow_redirects=False)
            assert redirect.status_code == 301
            assert redirect.headers["location"] == f"https://127.0.0.1:{https_port}/"

        # The first admin: created by this run, its password shown this once, and it logs in.
        assert report["first_admin"]["name"] == web["admin_user"] == "admin"
        admin_password = report["first_admin"]["password"]
        with front_client(report) as client:
            login = client.post("/api/auth/login", json={"name": "admin", "password": admin_password})
            assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
            assert "secure" in login.headers["set-cookie"].lower()
        session = {"Cookie": f"__Host-pava_session={login.json()['token']}"}
        with front_client(report) as client:
            console = client.get("/rabbitmq/", headers=session)
            assert console.status_code == 200 and "RabbitMQ Management" in console.text
            assert client.get("/rabbitmq/").status_code == 302  # without a session: to the login page

        # Where to look, and no secret anywhere in what was printed.
        assert report["console"]["url"] == f"https://localhost:{https_port}/rabbitmq/"
        assert report["console"]["direct_url"] == (
            f"http://127.0.0.1:{env['PAVA_STACK__MANAGEMENT_PORT']}/rabbitmq/")
        assert report["console"]["user"] == "pava"
        assert report["console"]["password_file"] == str(home / "secrets" / "rabbitmq.password")
        secrets = _secrets(home)
        assert len(secrets) == 2
        api_secret = (home / "secrets" / "api.secret").read_text().strip()
        assert len(api_secret) >= 32
        assert (home / "secrets" / "api.secret").stat().st_mode & 0o777 == 0o600
        for value in [*secrets, api_secret]:
            assert value not in first.stdout + first.stderr
        assert admin_password not in first.stderr

        # State for later commands: private env file, record of what was started.
        stack_env = read_env_file(home / "stack.env")
        assert (home / "stack.env").stat().st_mode & 0o777 == 0o600
        assert set(stack_env) == {"PAVA_DATABASE_URL", "PAVA_AMQP_URL", "PAVA_BROKER__MANAGEMENT_URL",
                                  "PAVA_API__SECRET_KEY"}
        assert stack_env["PAVA_API__SECRET_KEY"] == api_secret
        state = json.loads((home / "stack.json").read_text())
        assert all(state[name]["started"] for name in ("postgres", "rabbitmq", "epmd", "supervisord"))
        before = _db_counts(stack_env["PAVA_DATABASE_URL"])
        supervisord_pid = state["supervisord"]["info"]["pid"]
        postgres_pid = int((home / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        rabbit_pid = int((home / "rabbitmq" / "rabbitmq.pid").read_text().strip())
        nginx_pid = int((home / "nginx" / "nginx.pid").read_text().strip())

        # Geocoding shows: the sample's places come back from the export.
        env_with_urls = env | stack_env
        export = run(env_with_urls, "export", "--jsonl", timeout=300).stdout
        assert export.count("\n") >= sample.file_count() - 1
        for country in ("FR", "JP", "AU", "ZA"):
            assert f'"{country}"' in export, f"no item placed in {country}"

        # A rerun: fast, starts nothing, ingests nothing, changes nothing; the text summary.
        begin = time.monotonic()
        second = run(env, "up")
        took = time.monotonic() - begin
        assert took < 45, f"a second `pava up` took {took:.1f}s"
        text = second.stdout
        assert "pava is up" in text
        assert "already running" in text and "started now" not in text
        assert "the drop folder is empty" in text
        assert f"https://localhost:{https_port}/rabbitmq/" in text
        assert f"https://localhost:{https_port}/ " in text
        assert "rabbitmq.password" in text
        assert "user admin" in text and "password was shown by the first" in text
        for value in [*secrets, api_secret, admin_password]:
            assert value not in second.stdout + second.stderr
        assert "first_admin" not in json.loads(run(env, "up", "--json", "--no-ingest").stdout)
        with front_client(report) as client:  # the same certificate and key still serve, sessions work
            assert client.post("/api/auth/login", json={"name": "admin", "password": admin_password}
                               ).status_code == 200
        assert _db_counts(stack_env["PAVA_DATABASE_URL"]) == before
        again = json.loads((home / "stack.json").read_text())
        assert again["supervisord"]["info"]["pid"] == supervisord_pid
        assert _secrets(home) == secrets

        # Down: everything it started, and only that.
        down = run(env, "down", timeout=600)
        assert "supervisord" in down.stdout and "rabbitmq" in down.stdout and "postgres" in down.stdout
        started = {"supervisord": supervisord_pid, "postgres": postgres_pid, "rabbitmq": rabbit_pid,
                   "nginx": nginx_pid}
        deadline = time.monotonic() + 30
        while alive := {name: _ps(pid) for name, pid in started.items() if _alive(pid)}:
            assert time.monotonic() < deadline, f"still running after `pava down`: {alive}"
            time.sleep(0.2)
        final = json.loads((home / "stack.json").read_text())
        assert not any(final[name]["started"] for name in ("postgres", "rabbitmq", "epmd", "supervisord"))
        assert "nothing" in run(env, "down", timeout=600).stdout
    finally:
        run(env, "down", timeout=600, check=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_up_uses_given_services_and_down_leaves_them_running(
        tmp_path: Path, database_url: str, amqp_url: str, rabbit: RabbitNode,
        postgres: PostgresCluster) -> None:
    env = base_env(tmp_path)
    env.update({
        "PAVA_DATABASE_URL": database_url,
        "PAVA_AMQP_URL": amqp_url,
        "PAVA_BROKER__MANAGEMENT_URL": rabbit.management_url,
        "PAVA_STACK__SAMPLE": "false",
        # Ports nobody listens on: proof that no local service is started.
        "PAVA_STACK__POSTGRES_PORT": str(free_port()),
        "PAVA_STACK__AMQP_PORT": str(free_port()),
    })
    front_ports(env)
    home = tmp_path / "var"
    try:
        result = run(env, "up", "--json", timeout=600)
        report = json.loads(result.stdout)
        assert report["started_now"] == ["supervisord"]
        assert report["services"]["postgres"]["mode"] == "external"
        assert report["services"]["rabbitmq"]["mode"] == "external"
        assert report["ingest"] is None and report["sample_written"] == []
        assert report["programs"] == dict.fromkeys(report["programs"], "RUNNING")
        # Only the API's key is the stack's own; the URLs were given.
        assert set(read_env_file(home / "stack.env")) == {"PAVA_API__SECRET_KEY"}
        assert not (home / "postgres").exists() and not (home / "rabbitmq").exists()
        assert not _secrets(home)
        # The given RabbitMQ's console (under /rabbitmq) is behind the stack's nginx too.
        assert report["web"]["api_ok"] is True
        assert report["console"]["url"] == f"https://localhost:{env['PAVA_STACK__HTTPS_PORT']}/rabbitmq/"
        assert report["first_admin"]["name"] == "admin"  # the given database had no users
        for value in (database_url, amqp_url):
            assert value not in result.stdout + result.stderr

        down = run(env, "down", timeout=600)
        assert "supervisord" in down.stdout
        assert "postgres" not in down.stdout.split("left alone")[0].replace("stopped: supervisord", "")
        assert "left alone: rabbitmq (external" in down.stdout
        assert "left alone: postgres (external" in down.stdout
        # The given services still answer.
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert rabbit.running() and postgres.running()
    finally:
        run(env, "down", timeout=600, check=False)
