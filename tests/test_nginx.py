"""The front door for real: the rendered config passes `nginx -t`, and a real nginx (a plain process on free
ports, with a certificate made by pava.stack.tls) in front of the real API (`pava api` in a subprocess) and
the test RabbitMQ node's console: redirects, HTTP/2, headers, cookies, ranges, limits and the console's
admin gate. Plus the certificate's life cycle."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import db, users
from core.settings import PROJECT_ROOT, Settings
from pava.services.postgres import PostgresCluster, free_port
from pava.services.rabbitmq import RabbitNode
from pava.stack import tls
from pava.stack.config import StackSettings
from pava.stack.nginx import (
    SITE_TEMPLATE,
    FrontDoor,
    Nginx,
    NginxError,
    fill,
    placeholders,
    tiles_allow,
    write_page_config,
)
from tests.conftest import API_PASSWORD
from tests.support import popen_pava

UPLOAD_MAX = 1_000_000
TILES = "https://tiles.example.org"
SESSION_COOKIE = "__Host-pava_session"


def _open_dir(prefix: str) -> Path:
    """A folder nginx's workers can reach: run as root, they are an unprivileged user, and pytest keeps
    its own tmp_path at mode 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _door(nginx: Nginx, cert: tls.Certificate, **changes: Any) -> FrontDoor:
    values: dict[str, Any] = {
        "prefix": nginx.prefix, "logs": nginx.logs, "https_port": free_port(), "http_port": free_port(),
        "cert": cert.cert, "key": cert.key, "cert_sha256": cert.sha256, "api": "127.0.0.1:9",
        "console": "127.0.0.1:9", "upload_max_bytes": UPLOAD_MAX, "tiles": TILES,
        "hsts_max_age": 31536000, "page_config_root": nginx.prefix.parent / "page",
    }
    values.update(changes)
    return FrontDoor(**values)


# -- the config on its own ---------------------------------------------------------------------------------


def test_config_passes_nginx_t_and_runs_as_a_plain_process(tmp_path: Path) -> None:
    base = _open_dir("pava-nginx-t-")
    try:
        cert = tls.ensure_self_signed(base / "ssl", ["localhost", "127.0.0.1"])
        nginx = Nginx(base / "nginx", base / "log")
        door = _door(nginx, cert)
        assert nginx.write(door) is True
        assert nginx.write(door) is False  # unchanged: nothing to reload
        nginx.check(nginx.config_file)
        main, site = nginx.config_file.read_text(), nginx.site_file.read_text()
        assert "${" not in main + site
        for directive in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path",
                          "scgi_temp_path"):
            assert f"{directive} {nginx.prefix}/tmp/" in main
        assert f"pid {nginx.prefix}/nginx.pid;" in main
        assert f"{nginx.logs}/nginx-error.log" in main and f"{nginx.logs}/nginx-access.log" in main
        assert "\nuser " not in main and "daemon" not in main.split("\n", 3)[-1].replace("'daemon off;'", "")
        assert nginx.argv()[-2:] == ["-g", "daemon off;"]
        assert f"# certificate {cert.cert} sha256 {cert.sha256}" in main
        assert f"listen {door.https_port} ssl http2 default_server;" in site
        assert "ssl_protocols TLSv1.2 TLSv1.3;" in site
        assert f"client_max_body_size {UPLOAD_MAX};" in site
        assert "proxy_pass http://pava_console;" in site  # no URI part: %2F stays encoded
        assert f"img-src 'self' data: blob: {TILES};" in site
        assert (f"location = /config.json {{\n        root {door.page_config_root};\n        expires -1;\n"
                "    }") in site

        # No tiles (offline): no tile origin in the CSP, and the config still passes.
        assert nginx.write(_door(nginx, cert, https_port=door.https_port, http_port=door.http_port,
                                 tiles=StackSettings(_env_file=None, map_tile_url="").tile_origins)) is True
        assert "img-src 'self' data: blob: ; media-src" in nginx.site_file.read_text()
        nginx.check(nginx.config_file)
        # A renewed certificate changes the config (so `pava up` reloads nginx).
        assert nginx.write(_door(nginx, cert, https_port=door.https_port, http_port=door.http_port,
                                 cert_sha256="0" * 64)) is True
        # A config nginx refuses never replaces the one in place.
        before = nginx.site_file.read_text()
        with pytest.raises(NginxError, match="nginx refuses"):
            nginx.write(_door(nginx, cert, key=base / "ssl" / "missing.pem"))
        assert nginx.site_file.read_text() == before
        assert not list(nginx.prefix.glob("*.new"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_every_placeholder_gets_a_value_and_unsafe_values_are_refused(tmp_path: Path) -> None:
    cert = tls.ensure_self_signed(tmp_path / "ssl", ["localhost"])
    door = _door(Nginx(tmp_path / "nginx", tmp_path / "log"), cert)
    assert placeholders(SITE_TEMPLATE.read_text()) == set(door.site_values())
    with pytest.raises(NginxError, match="PAVA_NGINX_X"):
        fill("a ${PAVA_NGINX_X} b", {})
    for value in ("x; include /etc/passwd", "a}b", "/path with space", "$host", "a\nb"):
        with pytest.raises(NginxError):
            fill("root ${PAVA_NGINX_WEB_ROOT};", {"PAVA_NGINX_WEB_ROOT": value})
    assert fill("${PAVA_NGINX_TILES}", {"PAVA_NGINX_TILES": "https://a.example https://b.example"}) == (
        "https://a.example https://b.example")
    assert door.site_values()["PAVA_NGINX_REDIRECT_PORT"] == f":{door.https_port}"
    assert _door(Nginx(tmp_path, tmp_path), cert, public_https_port=443).site_values()[
        "PAVA_NGINX_REDIRECT_PORT"] == ""


def test_tile_servers_of_the_page_are_checked_against_the_csp(tmp_path: Path) -> None:
    osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert tiles_allow("https://tile.openstreetmap.org", osm)
    assert tiles_allow("https://*.tile.example.org", "https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert not tiles_allow("https://tile.openstreetmap.org", "http://tile.openstreetmap.org/{z}.png")
    assert not tiles_allow("https://tile.openstreetmap.org", "https://tiles.example.org:8443/{z}.png")
    assert not tiles_allow("", osm)


def test_page_config_is_written_whole_and_readable(tmp_path: Path) -> None:
    folder = tmp_path / "page"
    values = StackSettings(_env_file=None).page_config()
    assert write_page_config(folder, values) is True
    assert write_page_config(folder, values) is False  # unchanged: not rewritten
    target = folder / "config.json"
    # The defaults are the ones the page ships with.
    assert json.loads(target.read_text()) == json.loads((PROJECT_ROOT / "web" / "public" / "config.json")
                                                        .read_text())
    # nginx's workers run as another user: the file is world-readable, and no temporary file is left.
    assert target.stat().st_mode & 0o777 == 0o644
    assert write_page_config(folder, {**values, "tileUrl": ""}) is True
    assert json.loads(target.read_text())["tileUrl"] == ""
    assert [path.name for path in folder.iterdir()] == ["config.json"]


# -- the certificate ---------------------------------------------------------------------------------------


def test_self_signed_certificate_is_kept_renewed_and_private(tmp_path: Path) -> None:
    names = tls.host_names(["photos.example.org"])
    assert names[:3] == ["localhost", "127.0.0.1", "::1"]
    assert socket.gethostname().lower() in names and names[-1] == "photos.example.org"
    first = tls.ensure_self_signed(tmp_path / "ssl", names)
    assert first.generated and first.self_signed
    assert (tmp_path / "ssl").stat().st_mode & 0o777 == 0o700
    assert first.key.stat().st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(first.cert)], capture_output=True,
                          text=True, check=True).stdout
    for name in ("DNS:localhost", "IP Address:127.0.0.1", "DNS:photos.example.org"):
        assert name in text
    assert "prime256v1" in text or "P-256" in text
    assert "CA:FALSE" in text

    again = tls.ensure_self_signed(tmp_path / "ssl", names)
    assert not again.generated and again.sha256 == first.sha256
    renamed = tls.ensure_self_signed(tmp_path / "ssl", [*names, "other.example.org"])
    assert renamed.generated and renamed.sha256 != first.sha256
    # About to expire (inside the renewal window): made anew.
    expiring = tls.ensure_self_signed(tmp_path / "ssl", [*names, "other.example.org"], renew_days=400)
    assert expiring.generated and expiring.sha256 != renamed.sha256

    # Someone else's certificate in that folder is refused, never overwritten.
    (tmp_path / "ssl" / tls.RECORD_FILE).unlink()
    with pytest.raises(tls.TlsError, match="not made by pava"):
        tls.ensure_self_signed(tmp_path / "ssl", names)
    with pytest.raises(tls.TlsError, match="neither a host name"):
        tls.ensure_self_signed(tmp_path / "other", ["bad name,DNS:evil"])


def test_given_certificate_is_checked(tmp_path: Path) -> None:
    one = tls.ensure_self_signed(tmp_path / "one", ["one.example.org"])
    two = tls.ensure_self_signed(tmp_path / "two", ["two.example.org"])
    used = tls.use_given(one.cert, one.key)
    assert not used.self_signed and used.names == ("one.example.org",) and used.sha256 == one.sha256
    with pytest.raises(tls.TlsError, match="does not belong"):
        tls.use_given(one.cert, two.key)
    with pytest.raises(tls.TlsError, match="does not exist"):
        tls.use_given(tmp_path / "nope.pem", one.key)
    with pytest.raises(tls.TlsError, match="not an unencrypted PEM private key"):
        tls.use_given(one.cert, one.cert)
    # The documented entry point in ssl/ does the same.
    script = subprocess.run(["python3", str(PROJECT_ROOT / "ssl" / "make_cert.py"), "--out",
                             str(tmp_path / "script"), "--only", "--name", "x.example.org"],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout)["names"] == ["x.example.org"]
    check = subprocess.run(["python3", str(PROJECT_ROOT / "ssl" / "make_cert.py"), "--check", str(one.cert),
                            str(two.key)], capture_output=True, text=True, check=False)
    assert check.returncode == 2 and "does not belong" in check.stderr
    # A real certificate put where the self-signed one would go is kept with --keep-given (compose).
    (tmp_path / "one" / tls.RECORD_FILE).unlink()
    script_path = str(PROJECT_ROOT / "ssl" / "make_cert.py")
    kept = subprocess.run(["python3", script_path, "--out", str(tmp_path / "one"), "--keep-given"],
                          capture_output=True, text=True, check=False)
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["self_signed"] is False
    assert tls.use_given(one.cert, one.key).sha256 == one.sha256  # untouched


# -- the real thing ----------------------------------------------------------------------------------------


@dataclass
class Front:
    https: str  # https://localhost:PORT
    http_port: int
    https_port: int
    cert: Path
    web_root: Path
    settings: Settings
    rabbit: RabbitNode

    def client(self, **kwargs: Any) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cert))
        return httpx.Client(base_url=self.https, verify=context, timeout=30, **kwargs)

    def login(self, name: str) -> httpx.Response:
        with self.client() as client:
            return client.post("/api/auth/login", json={"name": name, "password": API_PASSWORD})

    def session(self, name: str) -> dict[str, str]:
        answer = self.login(name)
        assert answer.status_code == 200, answer.text
        return {"Cookie": f"{SESSION_COOKIE}={answer.json()['token']}"}


def _wait_http(url: str, process: subprocess.Popen[Any], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2, verify=False).status_code < 500:  # readiness only
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer: {log.read_text()[-3000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_nginx(nginx: Nginx, door: FrontDoor, ready: str) -> subprocess.Popen[Any]:
    """Write the config and run nginx as `pava up` does; returns once ``ready`` answers over HTTPS."""
    nginx.write(door)
    nginx_log = nginx.logs / "nginx.out"
    nginx.logs.mkdir(parents=True, exist_ok=True)
    with nginx_log.open("w") as out:
        process = subprocess.Popen(nginx.argv(), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        _wait_http(f"https://127.0.0.1:{door.https_port}{ready}", process, nginx_log)
    except BaseException:
        _stop(process)
        raise
    return process


@pytest.mark.parametrize("tile_url", ["https://tile.openstreetmap.org/{z}/{x}/{y}.png", ""],
                         ids=["osm", "no-tiles"])
def test_page_config_from_the_settings_through_a_real_nginx(tile_url: str) -> None:
    base = _open_dir("pava-page-config-")
    process: subprocess.Popen[Any] | None = None
    try:
        cfg = StackSettings(_env_file=None, map_tile_url=tile_url, map_tile_max_zoom=17)
        cert = tls.ensure_self_signed(base / "ssl", ["localhost", "127.0.0.1"])
        nginx = Nginx(base / "nginx", base / "log")
        door = _door(nginx, cert, tiles=cfg.tile_origins)  # the API is not needed here
        write_page_config(door.page_config_root, cfg.page_config())
        process = _start_nginx(nginx, door, "/config.json")
        context = ssl.create_default_context(cafile=str(cert.cert))
        url = f"https://localhost:{door.https_port}"
        with httpx.Client(base_url=url, verify=context, timeout=30) as client:
            answer = client.get("/config.json")
            assert answer.status_code == 200
            assert answer.json() == {"tileUrl": tile_url, "tileAttribution": cfg.map_tile_attribution,
                                     "tileMaxZoom": 17}
            assert answer.headers["content-type"].startswith("application/json")
            # One Cache-Control (from `expires -1`, not repeated by the server's add_header), and the
            # server's security headers still there: the location adds no header of its own.
            assert answer.headers.get_list("cache-control") == ["no-cache"]
            assert "expires" in answer.headers
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            csp = answer.headers["content-security-policy"]
            img_src = next(d.split() for d in csp.split(";") if d.strip().startswith("img-src"))
            expected = [] if not tile_url else ["https://tile.openstreetmap.org"]
            assert img_src == ["img-src", "'self'", "data:", "blob:", *expected]

            # A new file is served at once: nginx reads it per request, nothing is reloaded.
            write_page_config(door.page_config_root, {**cfg.page_config(), "tileUrl": "", "tileMaxZoom": 3})
            again = client.get("/config.json")
            assert again.json()["tileUrl"] == "" and again.json()["tileMaxZoom"] == 3
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def front(postgres: PostgresCluster, template_db: str, rabbit: RabbitNode) -> Iterator[Front]:
    base = _open_dir("pava-front-")
    vhost = f"t_{uuid.uuid4().hex[:12]}"
    processes: list[subprocess.Popen[Any]] = []
    try:
        (base / "storage").mkdir()
        (base / "drop").mkdir()
        (base / "web").mkdir()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg,unused-ignore]
            home=base / "var", storage_root=base / "storage", drop_dir=base / "drop",
            database_url=postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=template_db),  # type: ignore[arg-type]
            amqp_url=rabbit.add_vhost(vhost),  # type: ignore[arg-type]
            api={"port": free_port(), "processes": 1, "upload_max_bytes": UPLOAD_MAX},  # type: ignore[arg-type]
            broker={"management_url": rabbit.management_url},  # type: ignore[arg-type]
        )
        with db.connect(settings, autocommit=True) as conn:
            for name in ("admin", "editor", "viewer"):
                users.create_user(conn, name, API_PASSWORD, name)

        api_log = base / "api.log"
        with api_log.open("w") as out:
            api = popen_pava(settings, "api", extra_env={"PAVA_API__SECRET_KEY": uuid.uuid4().hex * 2},
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        processes.append(api)
        _wait_http(f"http://127.0.0.1:{settings.api.port}/api/health", api, api_log)

        cert = tls.ensure_self_signed(base / "ssl", ["localhost", "127.0.0.1"])
        nginx = Nginx(base / "nginx", base / "log")
        door = _door(nginx, cert, api=f"127.0.0.1:{settings.api.port}",
                     console=f"127.0.0.1:{rabbit.management_port}", web_root=base / "web")
        processes.append(_start_nginx(nginx, door, "/api/health"))
        yield Front(https=f"https://localhost:{door.https_port}", http_port=door.http_port,
                    https_port=door.https_port, cert=cert.cert, web_root=base / "web", settings=settings,
                    rabbit=rabbit)
    finally:
        for process in reversed(processes):
            _stop(process)
        rabbit.delete_vhost(vhost)
        shutil.rmtree(base, ignore_errors=True)


def test_plain_http_redirects_to_https(front: Front) -> None:
    answer = httpx.get(f"http://localhost:{front.http_port}/map?q=paris%20tower", follow_redirects=False)
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://localhost:{front.https_port}/map?q=paris%20tower"


def test_http2_and_tls_versions(front: Front) -> None:
    version = subprocess.run(
        ["curl", "--http2", "-s", "--cacert", str(front.cert), "-o", "/dev/null", "-w", "%{http_version}",
         f"{front.https}/api/health"], capture_output=True, text=True, check=True, timeout=30).stdout
    assert version == "2"
    for maximum, expected in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        context = ssl.create_default_context(cafile=str(front.cert))
        context.maximum_version = maximum
        with socket.create_connection(("127.0.0.1", front.https_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as tls_socket:
            assert tls_socket.version() == expected


def test_security_headers_everywhere(front: Front) -> None:
    with front.client() as client:
        page, health, missing = client.get("/"), client.get("/api/health"), client.get("/api/no-such-route")
        docs = client.get("/api/docs")
    for answer in (page, health, missing, docs):
        headers = answer.headers
        assert headers["strict-transport-security"] == "max-age=31536000"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in headers["permissions-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "server" not in headers or headers["server"] == "nginx"  # no version
    page_csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in page_csp and "unsafe-eval" not in page_csp
    assert f"img-src 'self' data: blob: {TILES};" in page_csp
    # Swagger's page starts with one inline script (its assets are local).
    assert "script-src 'self' 'unsafe-inline';" in docs.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    assert "cache-control" not in health.headers or "immutable" not in health.headers["cache-control"]


def test_api_through_nginx_with_real_client_address(front: Front) -> None:
    with front.client() as client:
        health = client.get("/api/health")
        assert health.status_code == 200 and health.json() == {"status": "ok", "database": True}
        # A forged X-Forwarded-For is not believed: the API's per-address login limits see the real peer.
        client.post("/api/auth/login", json={"name": "viewer", "password": "wrong"},
                    headers={"X-Forwarded-For": "203.0.113.9"})
    with db.connect(front.settings, autocommit=True) as conn:
        row = conn.execute("SELECT ip FROM login_attempt WHERE NOT success ORDER BY at DESC LIMIT 1"
                           ).fetchone()
    assert row is not None and str(row["ip"]) == "127.0.0.1"


def test_login_through_nginx_sets_a_secure_cookie_that_works(front: Front) -> None:
    answer = front.login("editor")
    assert answer.status_code == 200
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in session.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "domain" not in attributes  # the __Host- prefix forbids it
    with front.client() as client:
        client.cookies.set(SESSION_COOKIE, answer.json()["token"])
        me = client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["name"] == "editor"


def test_range_requests_pass_through(front: Front) -> None:
    headers = front.session("viewer")
    with front.client() as client:
        whole = client.get("/api/docs/assets/swagger-ui-bundle.js", headers=headers)
        part = client.get("/api/docs/assets/swagger-ui-bundle.js",
                          headers=headers | {"Range": "bytes=100-199", "Accept-Encoding": "identity"})
        gzipped = client.get("/api/docs/assets/swagger-ui-bundle.js",
                             headers=headers | {"Accept-Encoding": "gzip"})
    assert whole.status_code == 200 and len(whole.content) > 100_000
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]
    assert gzipped.headers.get("content-encoding") == "gzip"


def test_too_large_bodies_are_refused_by_nginx(front: Front) -> None:
    with front.client() as client:
        too_large = client.post("/api/upload", content=b"x" * (UPLOAD_MAX + 1),
                                headers={"Content-Type": "application/octet-stream"})
        small = client.post("/api/upload", content=b"x" * 1000,
                            headers={"Content-Type": "application/octet-stream"})
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "too_large"
    assert too_large.headers["x-content-type-options"] == "nosniff"
    # Under the limit the request reaches the API, which wants a session first.
    assert small.status_code == 401 and small.json()["error"] == "not_authenticated"


def test_console_needs_a_pava_admin(front: Front) -> None:
    with front.client() as client:
        anonymous = client.get("/rabbitmq/")
        followed = client.get("/rabbitmq/", follow_redirects=True)
        viewer = client.get("/rabbitmq/", headers=front.session("viewer"))
        editor = client.get("/rabbitmq/api/overview", headers=front.session("editor"))
    assert anonymous.status_code == 302
    assert anonymous.headers["location"] == "/login?next=/rabbitmq/"
    assert followed.status_code == 200 and "Log in" in followed.text  # the login form (placeholder)
    assert viewer.status_code == 403 and "for pava admins" in viewer.text
    assert editor.status_code == 403


def test_console_for_an_admin_with_encoded_vhosts(front: Front) -> None:
    admin = front.session("admin")
    rabbit = front.rabbit
    with front.client() as client:
        page = client.get("/rabbitmq/", headers=admin)
        assert page.status_code == 200 and "RabbitMQ Management" in page.text
        script = client.get("/rabbitmq/js/main.js", headers=admin)
        assert script.status_code == 200

        credentials = httpx.BasicAuth(rabbit.user, rabbit.password)
        # %2F is the default vhost "/": it reaches RabbitMQ still encoded, or these would be 404.
        vhost = client.get("/rabbitmq/api/vhosts/%2F", headers=admin, auth=credentials)
        assert vhost.status_code == 200 and vhost.json()["name"] == "/"
        queues = client.get("/rabbitmq/api/queues/%2F", headers=admin, auth=credentials)
        assert queues.status_code == 200 and isinstance(queues.json(), list)

        # RabbitMQ's own login still applies, and its answer is not turned into a pava login redirect.
        wrong = client.get("/rabbitmq/api/overview", headers=admin, auth=httpx.BasicAuth(rabbit.user, "nope"))
        assert wrong.status_code == 401
        guest = client.get("/rabbitmq/api/overview", headers=admin, auth=httpx.BasicAuth("guest", "guest"))
        assert guest.status_code == 403
        guest_query = client.get("/rabbitmq/api/definitions?auth=Z3Vlc3Q6Z3Vlc3Q%3D", headers=admin)
        assert guest_query.status_code == 403
        # RabbitMQ's credentials are not mistaken for a pava session.
        no_session = client.get("/rabbitmq/api/overview", auth=credentials)
        assert no_session.status_code == 302


def test_placeholder_until_the_web_page_is_built(front: Front) -> None:
    for path in front.web_root.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with front.client() as client:
        page = client.get("/login", params={"next": "/rabbitmq/"})
        script = client.get("/_pava/login.js")
    assert page.status_code == 200 and "pava is running" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert script.status_code == 200 and "/api/auth/login" in script.text


def test_built_web_page_with_client_side_routes_and_cached_assets(front: Front) -> None:
    (front.web_root / "assets").mkdir()
    (front.web_root / "index.html").write_text("<!doctype html><title>the pava page</title>")
    (front.web_root / "assets" / "index-3f2a1b.js").write_text("console.log('pava');" * 100)
    try:
        with front.client() as client:
            root = client.get("/")
            deep = client.get("/media/12/faces")
            asset = client.get("/assets/index-3f2a1b.js")
            missing = client.get("/assets/index-000000.js")
        assert root.text == deep.text == "<!doctype html><title>the pava page</title>"
        assert deep.headers["cache-control"] == "no-cache"
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-encoding"] == "gzip"
        assert missing.status_code == 404
    finally:
        shutil.rmtree(front.web_root / "assets")
        (front.web_root / "index.html").unlink()
