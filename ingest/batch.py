"""A batch: recover what interrupted runs left, walk, ingest in a thread pool, publish the outbox.

``settings.ingest.workers`` threads, each with its own ``Ingester`` (database connection and exiftool
process). Threads suffice: hashing, JPEG decoding, resizing and encoding all release the GIL, and
exiftool, ffprobe and ffmpeg run in their own processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from core import db
from core.broker import TRANSIENT_BROKER_ERRORS, Publisher
from core.outbox import pending_count, publish_pending
from core.settings import Settings
from ingest import recovery
from ingest.outcome import Outcome
from ingest.pipeline import Ingester
from ingest.summary import Summary
from ingest.walk import Entry, Skip, walk

log = logging.getLogger(__name__)

# Publishing can fail because the broker is unreachable, or because no broker is configured at all
# (RuntimeError from Settings.require_amqp_url): either way the jobs wait in the outbox.
_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_BROKER_ERRORS, RuntimeError)
_RELAY_ERRORS: tuple[type[BaseException], ...] = (*_PUBLISH_ERRORS, *db.TRANSIENT_DB_ERRORS)


def publish_outbox(settings: Settings, conn: db.Connection, summary: Summary) -> None:
    """Deliver waiting jobs to RabbitMQ. A broker outage is logged and reported, not raised: the jobs stay
    in the outbox for the relay or the next run."""
    try:
        with Publisher(settings) as publisher:
            summary.jobs_published += publish_pending(conn, publisher)
    except _PUBLISH_ERRORS as exc:
        summary.broker_error = f"{exc.__class__.__name__}: {exc}".strip().rstrip(":")
        log.warning("cannot publish jobs now (%s); they stay in the outbox for the relay or the next run",
                    summary.broker_error)
    summary.outbox_pending = pending_count(conn)


class _Relay(threading.Thread):
    """Publishes the outbox every few seconds while a batch runs, so workers start on the first items
    while the rest are still being ingested (the stack's own relay does the same; a bare ``pava ingest``
    has only this). Stops at the first broker error: the final publish reports it."""

    def __init__(self, settings: Settings, summary: Summary, interval: float = 2.0) -> None:
        super().__init__(name="ingest-relay", daemon=True)
        self.settings = settings
        self.summary = summary
        self.interval = interval
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with db.connect(self.settings, autocommit=True, application_name="pava-ingest-relay") as conn, \
                    Publisher(self.settings) as publisher:
                while not self.stop.wait(self.interval):
                    self.summary.jobs_published += publish_pending(conn, publisher)
        except _RELAY_ERRORS as exc:
            log.debug("background publishing stopped: %s", exc)


def _entries(root: Path, settings: Settings, summary: Summary) -> Iterator[Entry]:
    if not root.is_dir():
        # A single file: the same pipeline, with the file's folder as the drop folder.
        yield Entry(root.parent, os.fsencode(root.name), os.lstat(root))
        return

    def on_error(path: str, exc: OSError) -> None:
        summary.fail(path or ".", f"cannot list folder: {exc.strerror}")

    for item in walk(root, settle_seconds=settings.ingest.settle_seconds, exclude=[settings.storage_root],
                     on_error=on_error):
        if isinstance(item, Skip):
            summary.skip(item.reason)
        else:
            yield item


class _Progress:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.description}"),
                                 console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=None)
        return self

    def total(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=n)

    def advance(self, result: Outcome | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=result.path[-50:] if result else "")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def run_once(settings: Settings, root: Path, *, source: str = "", progress: bool | None = None,
             stop: threading.Event | None = None, publish: bool = True,
             on_outcome: Callable[[Outcome], None] | None = None) -> Summary:
    """Ingest everything under ``root`` once and return the summary. Raises only if the run itself cannot
    proceed (database unreachable, ``root`` missing)."""
    root = Path(root).absolute()
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist")
    storage = settings.storage_root.resolve()
    if root.resolve() == storage or storage in root.resolve().parents:
        raise ValueError(f"{root} is inside the storage root {storage}: storage is never ingested")
    stop = stop or threading.Event()
    summary = Summary(root=str(root), source=source)
    settings.storage_root.mkdir(parents=True, exist_ok=True)
    with db.connect_retrying(settings, autocommit=True, application_name="pava-ingest") as conn:
        summary.recovered = recovery.recover(settings, conn)
        entries = list(_entries(root, settings, summary))
        relay = _Relay(settings, summary) if publish and len(entries) > 1 else None
        if relay is not None:
            relay.start()
        try:
            _process(settings, entries, summary, source=source, progress=progress, stop=stop,
                     on_outcome=on_outcome)
        finally:
            if relay is not None:
                relay.stop.set()
                relay.join()
        if publish:
            publish_outbox(settings, conn, summary)
    summary.finish()
    return summary


def _process(settings: Settings, entries: list[Entry], summary: Summary, *, source: str,
             progress: bool | None, stop: threading.Event,
             on_outcome: Callable[[Outcome], None] | None) -> None:
    if not entries:
        return  # nothing to do (a quiet --watch pass): start no exiftool process
    workers = min(settings.ingest.workers, len(entries))
    # One Ingester per thread, created and started here in the main thread (see ExifSession.start), and
    # lent to whichever pool thread takes the next file.
    ingesters = [Ingester(settings, source=source) for _ in range(workers)]
    idle: queue.SimpleQueue[Ingester] = queue.SimpleQueue()
    for ingester in ingesters:
        ingester.exif.start()
        idle.put(ingester)

    def work(entry: Entry) -> Outcome:
        ingester = idle.get()
        try:
            return ingester.ingest(entry)
        finally:
            idle.put(ingester)

    pending: dict[Future[Outcome], Entry] = {}

    def collect(done: set[Future[Outcome]], bar: _Progress) -> None:
        for future in done:
            entry = pending.pop(future)
            try:
                result = future.result()
            except Exception as exc:
                log.exception("failed to ingest %s", entry.path)
                summary.fail(entry.path, f"{exc.__class__.__name__}: {exc}")
                bar.advance(None)
                continue
            summary.add(result)
            if on_outcome is not None:
                on_outcome(result)
            bar.advance(result)

    try:
        with _Progress(progress) as bar, ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
            bar.total(len(entries))
            try:
                for entry in entries:
                    if stop.is_set():
                        break
                    # A bounded queue: enough work to keep every thread busy, no more in memory.
                    while len(pending) >= workers * 2:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        collect(done, bar)
                    pending[pool.submit(work, entry)] = entry
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    collect(done, bar)
            except BaseException:
                # Interrupted (Ctrl-C): finish the files in flight, start no more.
                for future in pending:
                    future.cancel()
                raise
    finally:
        for ingester in ingesters:
            with contextlib.suppress(Exception):
                ingester.close()


def watch(settings: Settings, root: Path, *, source: str = "", progress: bool | None = None,
          stop: threading.Event, on_summary: Callable[[Summary], None]) -> None:
    """Ingest ``root`` again every ``ingest.watch_interval`` seconds until ``stop`` is set; each pass
    recovers, walks (new files that have settled), ingests and publishes the outbox."""
    while not stop.is_set():
        try:
            summary = run_once(settings, root, source=source, progress=progress, stop=stop)
        except db.TRANSIENT_DB_ERRORS as exc:
            log.warning("database unavailable (%s); retrying in %.0f s", exc.__class__.__name__,
                        settings.ingest.watch_interval)
        else:
            on_summary(summary)
        stop.wait(settings.ingest.watch_interval)
