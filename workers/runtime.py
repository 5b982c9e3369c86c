"""``pava worker NAME``: the generic runtime that runs any registered analysis.

It composes the pieces: the registry entry (analyzer + store), a ``JobRunner`` (database and analysis,
in worker threads), a ``Consumer`` (RabbitMQ, on the calling thread) and the metrics endpoint.
The registry is a parameter, so tests run the real runtime with analyzers of their own.

SIGTERM or SIGINT: stop consuming, finish the jobs in flight, flush their acks, close, return 0.
A second signal gives up on the jobs in flight (their messages are redelivered) and exits 1 at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from core.settings import Settings
from workers.analyzer import Analyzer, Store
from workers.consumer import Consumer
from workers.jobs import JobRunner
from workers.metrics import WorkerMetrics
from workers.registry import REGISTRY, Registration, get

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """One worker process's parts, built by ``build``; ``run`` blocks until stopped."""

    name: str
    analyzer: Analyzer[Any]
    runner: JobRunner
    consumer: Consumer
    metrics: WorkerMetrics

    def run(self) -> None:
        self.consumer.run()
        self.runner.close()

    def stop(self) -> None:
        """Thread-safe and signal-safe: only sets a flag."""
        self.consumer.stop()


def build(settings: Settings, name: str, *, registry: Mapping[str, Registration] | None = None,
          concurrency: int | None = None, analyzer: Analyzer[Any] | None = None,
          store: Store | None = None) -> Worker:
    """Assemble a worker for analysis ``name`` from ``registry`` (default: the project's registry)."""
    registration = get(name) if registry is None else _lookup(registry, name)
    analyzer = analyzer or registration.create(settings)
    store = store or registration.store_function()
    if analyzer.name != name:
        raise ValueError(f"registry entry {name!r} builds analyzer {analyzer.name!r}")
    metrics = WorkerMetrics(name)
    runner = JobRunner(settings, analyzer, store, metrics)
    consumer = Consumer(settings, name, runner, concurrency=concurrency or settings.worker.concurrency,
                        metrics=metrics)
    return Worker(name=name, analyzer=analyzer, runner=runner, consumer=consumer, metrics=metrics)


def _lookup(registry: Mapping[str, Registration], name: str) -> Registration:
    if name not in registry:
        raise KeyError(f"unknown analyzer {name!r} (registered: {', '.join(sorted(registry)) or 'none'})")
    return registry[name]


def run_worker(settings: Settings, name: str, *, registry: Mapping[str, Registration] = REGISTRY,
               concurrency: int | None = None) -> int:
    """The body of ``pava worker``: returns the process exit code."""
    worker = build(settings, name, registry=registry, concurrency=concurrency)
    log.info("loading %s %s", worker.analyzer.name, worker.analyzer.version)
    # Load before consuming: a host without its model must not take jobs only to fail them all.
    worker.analyzer.load()
    if settings.worker.metrics_port:
        worker.metrics.serve(settings.worker.metrics_port)
    if threading.current_thread() is threading.main_thread():
        _install_signal_handlers(worker)
    worker.run()
    log.info("worker %s exited cleanly", name)
    return 0


def _install_signal_handlers(worker: Worker) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if worker.consumer.stopping:
            log.warning("second %s: exiting now; jobs in flight are redelivered", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: finishing the jobs in flight, then exiting", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
