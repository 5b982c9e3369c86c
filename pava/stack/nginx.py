"""nginx, the front door, as a plain process: its config rendered from ``nginx/`` into ``var/nginx/``,
checked with ``nginx -t`` before it replaces a working one, and run under supervisord in the foreground.

``nginx/pava.conf.template`` (the servers) is shared with docker-compose.yml, where the official image's
envsubst fills the same ``${PAVA_NGINX_*}`` names; ``nginx/nginx.conf.template`` wraps it for a plain
process (pid, temp folders and logs under ``var/``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

TEMPLATES = PROJECT_ROOT / "nginx"
SITE_TEMPLATE = TEMPLATES / "pava.conf.template"
MAIN_TEMPLATE = TEMPLATES / "nginx.conf.template"
PLACEHOLDER_ROOT = TEMPLATES / "placeholder"
WEB_ROOT = PROJECT_ROOT / "web" / "dist"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
PAGE_CONFIG = "config.json"

_PLACEHOLDER = re.compile(r"\$\{(PAVA_NGINX_[A-Z0-9_]+)\}")
# Characters that would end a directive, open a block, quote or expand inside nginx's config: a value
# holding one could rewrite the config, so none may reach it.
_UNSAFE = re.compile(r"""[;{}"'$\\\r\n#]""")
_SPACES_ALLOWED = frozenset({"PAVA_NGINX_TILES"})

# Used when the nginx build has no mime.types beside its config: enough for a Vite build and the API's
# static assets.
_MIME_TYPES = """types {
    text/html html htm;
    text/css css;
    text/plain txt;
    text/vtt vtt;
    application/javascript js mjs;
    application/json json map;
    application/manifest+json webmanifest;
    application/wasm wasm;
    image/svg+xml svg svgz;
    image/png png;
    image/jpeg jpg jpeg;
    image/gif gif;
    image/webp webp;
    image/avif avif;
    image/x-icon ico;
    font/woff woff;
    font/woff2 woff2;
    video/mp4 mp4;
    video/webm webm;
}
"""


def tiles_allow(tiles: str, url: str) -> bool:
    """Whether a tile URL template (``https://{s}.tile.example.org/{z}/{x}/{y}.png``) is covered by the
    space-separated origins ``tiles`` (``https://*.tile.example.org`` covers every subdomain)."""
    parts = urlsplit(url.replace("{s}", "a"))
    host, port = (parts.hostname or "").lower(), parts.port
    for origin in tiles.split():
        allowed = urlsplit(origin)
        pattern = (allowed.hostname or "").lower()
        if allowed.scheme != parts.scheme or allowed.port != port:
            continue
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def write_page_config(folder: Path, values: Mapping[str, Any]) -> bool:
    """Write the page's ``config.json`` into ``folder`` (nginx serves it at /config.json); True when it
    changed. Replaced in one rename: nginx reads it per request, so it never sees half a file, and needs no
    reload."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PAGE_CONFIG
    text = json.dumps(dict(values), indent=2, ensure_ascii=False) + "\n"
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    descriptor, name = tempfile.mkstemp(prefix=".config-", suffix=".json", dir=folder)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        # mkstemp makes the file 0600; nginx's workers (another user when run as root) must read it.
        temporary.chmod(0o644)
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    log.info("the page's settings written to %s", target)
    return True


def _open_path_to(path: Path) -> None:
    """Let other users traverse to ``path`` (o+x on it and its existing parents, nothing more)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            parent.chmod(parent.stat().st_mode | 0o001)


class NginxError(RuntimeError):
    """nginx is missing, or a config does not pass ``nginx -t``; the message says why."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx")
                                           if Path(p).exists()), None)
    if found is None:
        raise NginxError("nginx is not installed (apt-get install nginx; ./pava.sh installs it)")
    return found


def placeholders(template: str) -> set[str]:
    """The ``${PAVA_NGINX_*}`` names a template uses."""
    return set(_PLACEHOLDER.findall(template))


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with every ``${PAVA_NGINX_*}`` replaced, the way envsubst does it; a name without a
    value, or a value that could change the config's structure, is refused."""
    missing = placeholders(template) - set(values)
    if missing:
        raise NginxError(f"no value for {', '.join(sorted(missing))}")
    for name, value in values.items():
        if _UNSAFE.search(value) or (name not in _SPACES_ALLOWED and re.search(r"\s", value)):
            raise NginxError(f"{name}={value!r} cannot go into nginx's config (spaces, quotes, ; {{ }} $)")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


@dataclass(frozen=True)
class FrontDoor:
    """What the config is rendered from."""

    prefix: Path  # nginx's -p: config, pid file, temp folders
    logs: Path
    https_port: int
    http_port: int
    cert: Path
    key: Path
    cert_sha256: str
    api: str  # host:port of uvicorn
    console: str  # host:port of RabbitMQ's management listener (serving under /rabbitmq)
    upload_max_bytes: int
    tiles: str  # origins the page's map may load tiles from (empty: none)
    hsts_max_age: int
    page_config_root: Path  # the folder of the page's config.json (see write_page_config)
    web_root: Path = WEB_ROOT
    placeholder_root: Path = PLACEHOLDER_ROOT
    public_https_port: int | None = None  # the port browsers use, when something in front maps ports

    def site_values(self) -> dict[str, str]:
        public = self.public_https_port or self.https_port
        return {
            "PAVA_NGINX_HTTPS_PORT": str(self.https_port),
            "PAVA_NGINX_HTTP_PORT": str(self.http_port),
            "PAVA_NGINX_REDIRECT_PORT": "" if public == 443 else f":{public}",
            "PAVA_NGINX_CERT": str(self.cert),
            "PAVA_NGINX_KEY": str(self.key),
            "PAVA_NGINX_API": self.api,
            "PAVA_NGINX_CONSOLE": self.console,
            "PAVA_NGINX_WEB_ROOT": str(self.web_root),
            "PAVA_NGINX_PLACEHOLDER_ROOT": str(self.placeholder_root),
            "PAVA_NGINX_PAGE_CONFIG_ROOT": str(self.page_config_root),
            "PAVA_NGINX_UPLOAD_MAX": str(self.upload_max_bytes),
            "PAVA_NGINX_TILES": self.tiles,
            "PAVA_NGINX_HSTS_MAX_AGE": str(self.hsts_max_age),
        }


class Nginx:
    """The stack's nginx: config files under ``prefix``, run by supervisord (see ``argv``)."""

    def __init__(self, prefix: Path, logs: Path) -> None:
        self.prefix = prefix
        self.logs = logs

    @property
    def config_file(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def site_file(self) -> Path:
        return self.prefix / "pava.conf"

    @property
    def pid_file(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.logs / "nginx-error.log"

    def argv(self, config: Path | None = None) -> list[str]:
        """nginx in the foreground (supervisord watches it; ``daemon off`` only here, so the same file
        also serves a hand-started, daemonised nginx)."""
        return [nginx_binary(), "-p", f"{self.prefix}/", "-c", str(config or self.config_file),
                "-e", str(self.error_log), "-g", "daemon off;"]

    def _mime_types(self) -> Path:
        system = Path(nginx_binary()).resolve().parent.parent / "conf" / "mime.types"
        for candidate in (Path("/etc/nginx/mime.types"), system):
            if candidate.is_file():
                return candidate
        own = self.prefix / "mime.types"
        own.write_text(_MIME_TYPES)
        return own

    def render(self, door: FrontDoor, site_file: Path | None = None) -> tuple[str, str]:
        """(nginx.conf, pava.conf) texts. The main file names the certificate's digest, so a renewed
        certificate changes the config and `pava up` reloads nginx."""
        site = fill(SITE_TEMPLATE.read_text(), door.site_values())
        main = fill(MAIN_TEMPLATE.read_text(), {
            "PAVA_NGINX_PREFIX": str(self.prefix), "PAVA_NGINX_LOGS": str(self.logs),
            "PAVA_NGINX_MIME_TYPES": str(self._mime_types()),
        })
        main = main.replace(f"include {self.site_file};", f"include {site_file or self.site_file};")
        header = (f"# Written by `pava up` from {MAIN_TEMPLATE.relative_to(PROJECT_ROOT)}; changes are "
                  f"overwritten.\n# certificate {door.cert} sha256 {door.cert_sha256}\n")
        return header + main, site

    def _prepare(self, door: FrontDoor) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        # Run as root, nginx's workers are an unprivileged user: they must reach the temp folders (the
        # master creates and hands them over) and the page's files. As the embedded Postgres does for its
        # data, the folders on the way get o+x (traverse only, no listing).
        self.prefix.chmod(0o755)
        for name in TEMP_DIRS:
            (self.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.prefix, door.web_root, door.placeholder_root, door.page_config_root):
                _open_path_to(path)

    def check(self, config: Path) -> None:
        """``nginx -t`` on ``config``; NginxError with nginx's own words when it fails."""
        result = subprocess.run([nginx_binary(), "-t", "-q", "-p", f"{self.prefix}/", "-c", str(config),
                                 "-e", str(self.error_log)],
                                capture_output=True, text=True, check=False, timeout=60)
        if result.returncode != 0:
            raise NginxError(f"nginx refuses the config {config}: {result.stderr.strip()}")

    def write(self, door: FrontDoor) -> bool:
        """Render, check and install the config; True when it changed. A config nginx refuses never
        replaces the one in place (a running nginx keeps serving)."""
        self._prepare(door)
        main, site = self.render(door)
        if (self.config_file.exists() and self.site_file.exists() and self.config_file.read_text() == main
                and self.site_file.read_text() == site):
            return False
        candidate_site, candidate_main = self.prefix / "pava.conf.new", self.prefix / "nginx.conf.new"
        candidate_text, _ = self.render(door, site_file=candidate_site)
        candidate_site.write_text(site)
        candidate_main.write_text(candidate_text)
        try:
            self.check(candidate_main)
        finally:
            candidate_main.unlink(missing_ok=True)
            candidate_site.unlink(missing_ok=True)
        self.site_file.write_text(site)
        self.config_file.write_text(main)
        log.info("nginx config written to %s", self.config_file)
        return True
