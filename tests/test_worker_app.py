"""Test-only analyzers and helpers for the worker runtime tests, and a worker process built from them.

The real runtime runs these analyzers through a registry of their own (the "ocr" queue, photos only), so
the runtime is tested without any model. Run as a process:

    python -m tests.test_worker_app BEHAVIOUR [--seconds S] [--concurrency N]

with the test's settings in the environment (tests/support.py ``settings_env``). No tests live here.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika

from core import db
from core.broker import Publisher
from core.media import MediaKind
from core.outbox import publish_pending, record_jobs
from core.settings import PROJECT_ROOT, Settings
from core.topology import Topology
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta, TransientError
from workers.registry import Registration
from workers.runtime import Worker, build, run_worker

NAME = "ocr"  # a real analysis name (queues and job rows know only those), run by test analyzers

SCHEMA = """
CREATE TABLE IF NOT EXISTS test_result (
    media_id bigint PRIMARY KEY, value text NOT NULL, analyzer_version text NOT NULL);
-- one row per store() that committed: a job stored twice shows up here
CREATE TABLE IF NOT EXISTS test_store_log (
    id bigserial PRIMARY KEY, media_id bigint NOT NULL, job_id bigint NOT NULL, at timestamptz DEFAULT now());
"""


class TestAnalyzer(Analyzer[str]):
    """Behaviour chosen per instance: ok, slow, flaky (fails ``failures`` times), transient, permanent."""

    __test__ = False  # not a pytest test class
    name = NAME
    version = "1"
    kinds = frozenset({MediaKind.PHOTO})

    def __init__(self, settings: Settings, behaviour: str = "ok", *, seconds: float = 0.0,
                 failures: int = 0, gate: threading.Event | None = None) -> None:
        super().__init__(settings)
        self.behaviour = behaviour
        self.seconds = seconds
        self.failures = failures
        self.gate = gate  # "gated": analyze waits for it
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def analyze(self, item: MediaItem) -> str:
        with self._lock:
            self.calls.append(item.job_id)
            calls = self.calls.count(item.job_id)
        if self.behaviour == "flaky" and calls <= self.failures:
            raise TransientError(f"flaky failure {calls}")
        if self.behaviour == "transient":
            raise TransientError("always fails")
        if self.behaviour == "permanent":
            raise PermanentError("corrupt input")
        if self.behaviour == "crash":
            raise RuntimeError("a bug in the analyzer")
        if self.behaviour == "gated" and self.gate is not None:
            self.gate.wait(60)
        # Sleep in small steps: a Python-level loop, as a real analyzer's between its C calls.
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)
        return f"{item.rel_path}:{item.path.stat().st_size}"


def store(conn: db.Connection, item: MediaItem, result: Any, meta: ResultMeta) -> None:
    """Replace the item's result and log the write (the log is how tests see duplicate stores)."""
    conn.execute(
        """INSERT INTO test_result (media_id, value, analyzer_version) VALUES (%s, %s, %s)
           ON CONFLICT (media_id) DO UPDATE
               SET value = EXCLUDED.value, analyzer_version = EXCLUDED.analyzer_version""",
        (item.media_id, result, meta.version),
    )
    conn.execute("INSERT INTO test_store_log (media_id, job_id) VALUES (%s, %s)",
                 (item.media_id, item.job_id))


def registration(factory: Callable[[Settings], Analyzer[Any]] = TestAnalyzer,
                 store_function: Any = store) -> dict[str, Registration]:
    return {NAME: Registration(name=NAME, analyzer=factory, store=store_function,
                               requirements="requirements/core.txt")}


# --- data ----------------------------------------------------------------------------------------


def prepare(settings: Settings) -> None:
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(SCHEMA)


def add_media(conn: db.Connection, settings: Settings, name: str, *, kind: str = "photo",
              content: bytes | None = None, write: bool = True) -> dict[str, Any]:
    """A ready media row and its file under storage/originals."""
    from support import insert_media  # here, not at the top: see worker_process

    data = content if content is not None else f"pixels of {name}".encode()
    digest = hashlib.sha512(data + name.encode()).digest()
    rel = f"originals/{name}"
    if write:
        path = settings.storage_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    media_id = insert_media(conn, name, sha512=digest, kind=kind, size_bytes=len(data), storage_path=rel)
    return {"id": media_id, "kind": MediaKind(kind), "path": rel, "sha512": digest.hex()}


def record(conn: db.Connection, media: dict[str, Any], analyzer: str = NAME) -> int:
    with conn.transaction():
        ids = record_jobs(conn, media_id=media["id"], kind=media["kind"], path=media["path"],
                          sha512_hex=media["sha512"], analyses=[analyzer])
    assert len(ids) == 1
    return ids[0]


def publish(settings: Settings) -> int:
    with db.connect(settings, autocommit=True) as conn, Publisher(settings) as publisher:
        return publish_pending(conn, publisher)


def job(conn: db.Connection, job_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM job WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return dict(row)


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def wait_state(conn: db.Connection, job_id: int, states: tuple[str, ...] = ("done", "failed"),
               timeout: float = 30) -> dict[str, Any]:
    result: dict[str, Any] = wait_for(lambda: (row := job(conn, job_id))["state"] in states and row,
                                      timeout=timeout, what=f"job {job_id} in {states}")
    return result


def store_log(conn: db.Connection) -> list[int]:
    return [r["job_id"] for r in conn.execute("SELECT job_id FROM test_store_log ORDER BY id")]


def queue_depth(settings: Settings, queue: str) -> int:
    """Ready messages in a queue (a passive declare: exact, no management-API lag)."""
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def dead_queue(settings: Settings) -> str:
    return Topology(settings.broker).dead_queue(NAME)


def main_queue(settings: Settings) -> str:
    return Topology(settings.broker).queue(NAME)


class InProcessWorker:
    """The real runtime on a background thread (its connection belongs to that thread)."""

    def __init__(self, settings: Settings, analyzer: Analyzer[Any], *, concurrency: int = 1,
                 store_function: Any = store) -> None:
        self.worker: Worker = build(settings, NAME, registry=registration(store_function=store_function),
                                    analyzer=analyzer, concurrency=concurrency)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-worker", daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:
            self.error = exc
            raise

    def __enter__(self) -> InProcessWorker:
        self.thread.start()
        assert self.worker.consumer.ready.wait(30), "worker did not start consuming"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 60) -> None:
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop"
        assert self.error is None, self.error


def worker_process(settings: Settings, behaviour: str, *, seconds: float = 0.0, concurrency: int = 1,
                   extra_env: dict[str, str] | None = None,
                   log_path: Path | None = None) -> subprocess.Popen[str]:
    """This module as a worker process with the test's settings."""
    # Here, not at the top: the worker process imports this module as tests.test_worker_app, where the
    # tests folder is not on sys.path.
    from support import settings_env

    env = settings_env(settings)
    env.update(extra_env or {})
    argv = [sys.executable, "-m", "tests.test_worker_app", behaviour, "--seconds", str(seconds),
            "--concurrency", str(concurrency)]
    if log_path is None:
        return subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, text=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
    # The child keeps its own copy of the descriptor; ours is closed at once.
    with log_path.open("a") as out:
        return subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, text=True, stdout=out,
                                stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("behaviour")
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    settings = Settings()

    def factory(s: Settings) -> Analyzer[Any]:
        return TestAnalyzer(s, args.behaviour, seconds=args.seconds)

    return run_worker(settings, NAME, registry=registration(factory), concurrency=args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
