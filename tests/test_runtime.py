"""Units of the worker runtime that need no service: timeouts, retry headers, registry injection, metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from test_worker_app import NAME, TestAnalyzer, registration, store

from core.settings import PROJECT_ROOT, Settings
from workers.consumer import ATTEMPT_HEADER, ERROR_HEADER, attempt_of, retry_headers
from workers.metrics import WorkerMetrics
from workers.registry import REGISTRY, Registration, export_hooks
from workers.runtime import build
from workers.timeout import JobTimeout, call_with_timeout


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="postgresql://u:p@127.0.0.1:1/x",  # type: ignore[arg-type]
                    amqp_url="amqp://u:p@127.0.0.1:1/v", storage_root=tmp_path)  # type: ignore[arg-type]


def _spin(seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return "finished"


def test_call_with_timeout_returns_or_raises() -> None:
    assert call_with_timeout(lambda: 42, 5) == 42
    started = time.monotonic()
    with pytest.raises(JobTimeout, match=r"exceeded 0\.2s"):
        call_with_timeout(lambda: _spin(10), 0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5)


def test_timeout_never_lands_after_the_call() -> None:
    """Calls that end right at their limit: the exception is raised by the call or not at all, never later."""
    outcomes = {"finished": 0, "timeout": 0}
    for _ in range(200):
        try:
            call_with_timeout(lambda: _spin(0.002), 0.002)
            outcomes["finished"] += 1
        except JobTimeout:
            outcomes["timeout"] += 1
        _spin(0.003)  # a late exception would land here, outside the try
    assert sum(outcomes.values()) == 200


def test_timeout_only_hits_its_own_thread() -> None:
    results: list[str] = []
    other = threading.Thread(target=lambda: results.append(_spin(0.5)))
    other.start()
    with pytest.raises(JobTimeout):
        call_with_timeout(lambda: _spin(5), 0.1)
    other.join()
    assert results == ["finished"]


def test_attempt_and_retry_headers() -> None:
    assert attempt_of(None) == 1
    assert attempt_of({}) == 1
    assert attempt_of({ATTEMPT_HEADER: 3}) == 3
    assert attempt_of({ATTEMPT_HEADER: "junk"}) == 1
    assert attempt_of({ATTEMPT_HEADER: 0}) == 1
    original = {"trace": "abc", "x-death": [{"reason": "expired"}], "x-delivery-count": 2, ATTEMPT_HEADER: 1}
    headers = retry_headers(original, 2, "TransientError: " + "x" * 900)
    assert headers["trace"] == "abc" and headers[ATTEMPT_HEADER] == 2
    assert "x-death" not in headers and "x-delivery-count" not in headers
    assert len(headers[ERROR_HEADER]) == 500


def test_build_with_an_injected_registry(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    worker = build(settings, NAME, registry=registration(), concurrency=3)
    assert isinstance(worker.analyzer, TestAnalyzer)
    assert worker.consumer.concurrency == 3 and worker.consumer.queue == "pava.ocr"
    assert worker.runner.store is store
    with pytest.raises(KeyError, match="unknown analyzer 'faces'"):
        build(settings, "faces", registry=registration())

    class Misnamed(TestAnalyzer):
        name = "dhash"

    with pytest.raises(ValueError, match="builds analyzer 'dhash'"):
        build(settings, NAME, registry=registration(Misnamed))


def test_registration_accepts_import_paths_or_objects(tmp_path: Path) -> None:
    def hook(conn: Any, ids: Any) -> dict[int, Any]:
        return {}

    by_object = Registration(name=NAME, analyzer=TestAnalyzer, store=store, requirements="x", export=hook)
    assert isinstance(by_object.create(_settings(tmp_path)), TestAnalyzer)
    assert by_object.export_function() is hook
    by_path = Registration(name=NAME, analyzer="test_worker_app:TestAnalyzer", store="test_worker_app:store",
                           requirements="x")
    assert by_path.store_function() is store and by_path.export_function() is None
    assert export_hooks({NAME: by_object}) == {NAME: hook}


def test_project_registry_entries() -> None:
    for name, entry in REGISTRY.items():
        assert entry.name == name
        assert (PROJECT_ROOT / entry.requirements).is_file(), entry.requirements
        assert entry.analyzer.count(":") == 1 if isinstance(entry.analyzer, str) else True
    assert REGISTRY["dhash"].export == "core.results.dhash:export"


def test_metrics_series_exist_from_the_start() -> None:
    metrics = WorkerMetrics("dhash")
    metrics.outcome("done")
    text = generate_latest(metrics.registry).decode()
    for series in ('pava_jobs_total{analyzer="dhash",outcome="done"} 1.0',
                   'pava_jobs_total{analyzer="dhash",outcome="failed"} 0.0',
                   'pava_jobs_in_flight{analyzer="dhash"} 0.0',
                   'pava_job_duration_seconds_count{analyzer="dhash"} 0.0',
                   'pava_job_analyze_seconds_count{analyzer="dhash"} 0.0',
                   'pava_job_commit_seconds_count{analyzer="dhash"} 0.0',
                   'pava_broker_reconnects_total{analyzer="dhash"} 0.0'):
        assert series in text, series
