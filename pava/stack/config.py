"""Settings of the local stack only (ports, node name, timeouts) and the layout of its state folder.

They live apart from ``core.settings.Settings`` because no worker, ingester or API process needs them:
only ``pava up`` and ``pava down`` do. Environment variables: ``PAVA_STACK__<FIELD>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pava.stack.nginx import tiles_allow

_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
# The tile URL reaches the page as JSON and Leaflet's <img> sources, never nginx's config; still nothing that
# could quote, expand or end something along the way. Backslash and "@": browsers read "a.org\@b.org" as host
# a.org where urlsplit sees b.org, so the origin derived for the CSP would not be the one asked.
_TILE_URL_UNSAFE = re.compile(r"""[\s"'`$;\\@<>]""")
OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def tile_origin(url: str) -> str:
    """The CSP origin a tile URL template loads from: ``scheme://host[:port]``, with a ``{s}`` subdomain
    (Leaflet's a/b/c servers) as ``*.``. ValueError for a URL no plain origin covers."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} has no valid port") from exc
    host = parts.hostname or ""
    first, _, rest = host.partition(".")
    if "{s}" in first and rest:
        # A CSP wildcard stands for whole leading labels only, so "tile-{s}.example.org" is "*.example.org".
        host = f"*.{rest}"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if not _ORIGIN.match(origin):
        raise ValueError(f"the tile URL {url!r} has no plain http(s) origin (got {origin!r}); placeholders "
                         "other than {s} in the leading label of the host cannot go into the CSP")
    return origin


class StackSettings(BaseSettings):
    """Ports and limits of the services ``pava up`` starts itself."""

    model_config = SettingsConfigDict(env_prefix="PAVA_STACK__", env_file=".env", extra="ignore")

    postgres_port: int = Field(
        default=5433, ge=1, le=65535, description="local Postgres port (not 5432: left to a system one)")
    amqp_port: int = Field(default=5672, ge=1, le=65535, description="AMQP port of the local RabbitMQ node")
    management_port: int = Field(
        default=15672, ge=1, le=65535, description="RabbitMQ console and management API port")
    dist_port: int = Field(
        default=25672, ge=1, le=65535, description="Erlang distribution port of the local RabbitMQ node")
    epmd_port: int = Field(
        default=4369, ge=1, le=65535, description="Erlang port mapper port used by the local node")
    node_name: str = Field(
        default="pava@localhost", description="Erlang node name (a fixed host part survives a renamed host)")
    wait_timeout: float = Field(default=600.0, gt=0, description="seconds `pava up` waits for the analyses")
    sample: bool = Field(
        default=True, description="fill an empty drop folder with the sample set on a first run")
    https_port: int = Field(
        default=8443, ge=1, le=65535,
        description="nginx's HTTPS port: the web page, /api/ and /rabbitmq/ (below 1024 needs root)")
    http_port: int = Field(
        default=8080, ge=1, le=65535, description="nginx's plain-HTTP port; it only redirects to HTTPS")
    server_names: str = Field(
        default="", description="comma-separated names (or addresses) the self-signed certificate covers "
        "besides localhost, 127.0.0.1, ::1 and this host's names; the first is used in printed URLs")
    tls_cert: Path | None = Field(
        default=None, description="a real certificate (PEM, full chain) instead of the self-signed one; "
        "with PAVA_STACK__TLS_KEY")
    tls_key: Path | None = Field(default=None, description="the unencrypted PEM key of PAVA_STACK__TLS_CERT")
    map_tile_url: str = Field(
        default=OSM_TILE_URL,
        description="the web page's map tiles (Leaflet URL template, served to the page as /config.json); "
        "empty: no tiles (offline), pins and areas drawn without a base map")
    map_tile_attribution: str = Field(
        default=OSM_ATTRIBUTION, description="the credit line (HTML) the map shows for its tiles")
    map_tile_max_zoom: int = Field(
        default=19, ge=1, le=22, description="the deepest zoom level the tile server has")
    map_tiles: str = Field(
        default="",
        description="space-separated origins the web page's map may load tiles from "
        "(Content-Security-Policy); empty: the origin of PAVA_STACK__MAP_TILE_URL")
    hsts_max_age: int = Field(
        default=31536000, ge=0,
        description="seconds browsers keep to HTTPS for this host (Strict-Transport-Security)")

    @field_validator("map_tiles")
    @classmethod
    def _origins(cls, value: str) -> str:
        # The value goes into nginx's config and the page's CSP: only plain origins may.
        for origin in value.split():
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://tile.openstreetmap.org")
        return " ".join(value.split())

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL like {OSM_TILE_URL}")
        if _TILE_URL_UNSAFE.search(value):
            raise ValueError(f"{value!r}: a tile URL has no spaces, quotes, $, ;, backslash, @ or <>")
        tile_origin(value)
        return value

    @model_validator(mode="after")
    def _tiles_allowed(self) -> StackSettings:
        # Both given and disagreeing, the map would stay blank with the reason only in a browser's console.
        if self.map_tiles and self.map_tile_url and not tiles_allow(self.map_tiles, self.map_tile_url):
            raise ValueError(f"PAVA_STACK__MAP_TILES ({self.map_tiles}) does not allow "
                             f"PAVA_STACK__MAP_TILE_URL ({self.map_tile_url}): add its origin "
                             f"({tile_origin(self.map_tile_url)}), or leave MAP_TILES empty")
        return self

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> StackSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("PAVA_STACK__TLS_CERT and PAVA_STACK__TLS_KEY are set together, or neither")
        return self

    @property
    def names(self) -> list[str]:
        """The extra names of ``server_names``, in order."""
        return [n.strip() for n in self.server_names.split(",") if n.strip()]

    @property
    def tile_origins(self) -> str:
        """What the page's CSP allows tiles from: ``map_tiles``, else the tile URL's origin, else none."""
        if self.map_tiles:
            return self.map_tiles
        return tile_origin(self.map_tile_url) if self.map_tile_url else ""

    def page_config(self) -> dict[str, Any]:
        """The web page's run-time settings (``/config.json``, read by web/src/lib/config.ts)."""
        return {"tileUrl": self.map_tile_url, "tileAttribution": self.map_tile_attribution,
                "tileMaxZoom": self.map_tile_max_zoom}


@dataclass(frozen=True)
class StackPaths:
    """Where the stack keeps its state, all under ``settings.home`` (default ``var/``)."""

    home: Path

    @property
    def postgres_data(self) -> Path:
        return self.home / "postgres" / "data"

    @property
    def rabbitmq(self) -> Path:
        return self.home / "rabbitmq"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def supervisor(self) -> Path:
        return self.home / "supervisor"

    @property
    def logs(self) -> Path:
        return self.home / "log"

    @property
    def nginx(self) -> Path:
        return self.home / "nginx"

    @property
    def page_config(self) -> Path:
        """The folder of the page's ``config.json``: a file nginx serves, so a change needs no reload."""
        return self.nginx / "page"

    @property
    def ssl(self) -> Path:
        return self.home / "ssl"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.home / "stack.lock"
