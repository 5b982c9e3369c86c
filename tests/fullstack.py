"""The whole product, as a user runs it: the real `pava up` (API, nginx with TLS, every worker, the relay
under supervisord) on the test session's Postgres and RabbitMQ, with the corpus dropped in and analysed.

Used by the integration tests through nginx (tests/test_api_stack.py) and the browser tests
(tests/test_web_e2e.py). Started once per test session, on first use, and stopped with `pava down`.
Also the helpers that tests/test_stack.py shares: the environment of a stack run, running `pava` with it,
and a client that trusts exactly the stack's certificate.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import PROJECT_ROOT
from pava.services.postgres import PostgresCluster, free_port
from pava.services.rabbitmq import RabbitNode
from tests.support import pava_command, recreate_corpus_extras

# Accounts the live stack gets besides the first admin (made by `pava up`), one per role.
LIVE_PASSWORD = "a long enough test passphrase"


def base_env(home: Path) -> dict[str, str]:
    """The environment of a stack run rooted at ``home`` (var/, storage/, drop/ inside it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    env.update({
        "PAVA_HOME": str(home / "var"),
        "PAVA_STORAGE_ROOT": str(home / "storage"),
        "PAVA_DROP_DIR": str(home / "drop"),
        "PAVA_STACK__WAIT_TIMEOUT": "1200",
    })
    return env


def front_ports(env: dict[str, str]) -> None:
    """Free ports for nginx (HTTPS, HTTP) and the API."""
    env.update({
        "PAVA_STACK__HTTPS_PORT": str(free_port()),
        "PAVA_STACK__HTTP_PORT": str(free_port()),
        "PAVA_API__PORT": str(free_port()),
    })


def run(env: dict[str, str], *args: str, timeout: float = 1500, check: bool = True,
        input_text: str = "") -> subprocess.CompletedProcess[str]:
    """``pava ARGS`` with ``env``; on failure (with ``check``) the test fails showing both outputs."""
    result = subprocess.run(pava_command(*args), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False, input=input_text)
    if check and result.returncode != 0:
        pytest.fail(f"pava {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
                    f"\n--- stderr\n{result.stderr[-4000:]}")
    return result


def front_client(report: dict[str, Any], **kwargs: Any) -> httpx.Client:
    """A client of the printed URL that trusts exactly the stack's certificate (no verify=False)."""
    context = ssl.create_default_context(cafile=report["web"]["certificate"]["cert"])
    return httpx.Client(base_url=report["web"]["url"], verify=context, timeout=60, **kwargs)


@dataclass
class LiveStack:
    """A running stack: where it answers, how to log in, what `pava up` reported."""

    root: Path
    env: dict[str, str]
    report: dict[str, Any]
    passwords: dict[str, str]
    database_url: str
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.report["web"]["url"])

    @property
    def cert(self) -> str:
        return str(self.report["web"]["certificate"]["cert"])

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    def client(self, **kwargs: Any) -> httpx.Client:
        return front_client(self.report, **kwargs)

    def token(self, name: str) -> str:
        """A bearer token of ``name`` (admin, editor or viewer), logged in once through nginx."""
        if name not in self._tokens:
            with self.client() as client:
                answer = client.post("/api/auth/login", json={"name": name, "password": self.passwords[name]})
            assert answer.status_code == 200, answer.text
            self._tokens[name] = answer.json()["token"]
        return self._tokens[name]

    def headers(self, name: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"} if name else {}

    def pava(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run(self.env, *args, **kwargs)


def corpus_drop(corpus: Path, drop: Path) -> None:
    """The whole corpus, good and bad files, as a user would drop it: with the symlinks and copies the
    manifest describes (a read-only share cannot carry them)."""
    for part in sorted(p for p in corpus.iterdir() if p.is_dir()):
        shutil.copytree(part, drop / part.name, symlinks=True)
    recreate_corpus_extras(json.loads((corpus / "MANIFEST.json").read_text()), corpus, drop)


def start(corpus: Path, postgres: PostgresCluster, rabbit: RabbitNode) -> Iterator[LiveStack]:
    """Bring the stack up on the given services with the corpus ingested; ``pava down`` afterwards."""
    # Outside pytest's tmp folders: as root, Postgres and nginx's workers must traverse to their files.
    root = Path(tempfile.mkdtemp(prefix="pava-live-"))
    root.chmod(0o755)
    env = base_env(root)
    name = f"live_{uuid.uuid4().hex[:10]}"
    database_url = postgres.create_database(name)
    env.update({
        "PAVA_DATABASE_URL": database_url,
        "PAVA_AMQP_URL": rabbit.add_vhost(name),
        "PAVA_BROKER__MANAGEMENT_URL": rabbit.management_url,
        "PAVA_STACK__SAMPLE": "false",
        "PAVA_INGEST__SETTLE_SECONDS": "0",
        # These machines are offline: the page's map draws pins and areas without a base map.
        "PAVA_STACK__MAP_TILE_URL": "",
        # Ports nobody listens on: the given services are used, no local ones started.
        "PAVA_STACK__POSTGRES_PORT": str(free_port()),
        "PAVA_STACK__AMQP_PORT": str(free_port()),
    })
    front_ports(env)
    (root / "drop").mkdir()
    corpus_drop(corpus, root / "drop")
    try:
        up = run(env, "up", "--json", timeout=2400)
        report: dict[str, Any] = json.loads(up.stdout)
        if not report.get("analyses_finished"):
            pytest.fail(f"the corpus was not analysed in time: {json.dumps(report.get('jobs'))}")
        passwords = {"admin": str(report["first_admin"]["password"])}
        for role in ("editor", "viewer"):
            run(env, "user", "add", role, "--role", role, "--password-stdin", input_text=LIVE_PASSWORD + "\n")
            passwords[role] = LIVE_PASSWORD
        yield LiveStack(root=root, env=env, report=report, passwords=passwords, database_url=database_url)
    finally:
        run(env, "down", timeout=600, check=False)
        shutil.rmtree(root, ignore_errors=True)
