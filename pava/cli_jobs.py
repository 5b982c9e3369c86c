"""Commands about jobs: worker, relay, status, wait, requeue, export.

    pava worker NAME [--concurrency N]       consume one analysis's queue (SIGTERM: finish, exit 0)
    pava relay [--once]                      publish the outbox, woken by LISTEN pava_outbox
    pava status [--json]                     queues, jobs by state, outbox, recent failures
    pava wait [--timeout S]                  0 when nothing is pending, queued or running; 1 on timeout
    pava requeue ANALYZER [--missing|--failed|--all]
    pava export [--jsonl]                    one JSON object per media item

The broker client, prometheus_client and rich are imported inside the commands that use them: every
``pava`` invocation imports this module, and most never touch them (about 0.3 s saved per process).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import typer

from core import db
from core.analyses import ANALYSES
from core.export import iter_items, write
from core.settings import get_settings
from workers.registry import REGISTRY, export_hooks

log = logging.getLogger(__name__)


def worker(
    name: str = typer.Argument(..., help="the analysis to run, e.g. dhash"),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", min=1, max=64,
                                           help="jobs at once (default: PAVA_WORKER__CONCURRENCY)"),
) -> None:
    """Consume one analysis's queue until SIGTERM or SIGINT (then finish the jobs in flight and exit 0)."""
    from workers.runtime import run_worker

    if name not in REGISTRY:
        raise typer.BadParameter(f"no worker for {name!r} (registered: {', '.join(sorted(REGISTRY))})",
                                 param_hint="NAME")
    raise typer.Exit(run_worker(get_settings(), name, concurrency=concurrency))


def relay(
    once: bool = typer.Option(False, "--once", help="publish what the outbox holds now, then exit"),
    poll: float = typer.Option(5.0, "--poll", min=0.1, help="seconds between polls without a notification"),
) -> None:
    """Publish recorded jobs to RabbitMQ as they are committed (the transactional outbox's relay)."""
    from workers.relay import Relay, publish_once

    settings = get_settings()
    if once:
        typer.echo(f"published {publish_once(settings)} job(s)")
        return
    service = Relay(settings, poll_interval=poll)

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: relay stopping", signal.Signals(signum).name)
        service.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
    service.run()


def status(
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON (fields: core/status.py)"),
    failures: int = typer.Option(20, "--failures", min=0, help="how many recent failures to list"),
) -> None:
    """Queue counts from the broker, jobs per analysis and state, outbox size, recent failures."""
    from core.status import collect

    settings = get_settings()
    with db.connect(settings, autocommit=True, application_name="pava-status") as conn:
        report = collect(settings, conn, failures=failures)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_status(report)


def _count(value: Any) -> str:
    return "?" if value is None else str(value)


def _print_status(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from core.status import JOB_STATES

    console = Console()
    queues = Table(title="Queues", title_justify="left")
    for column in ("analysis", "queue", "ready", "unacked", "consumers", "retrying", "dead-lettered"):
        queues.add_column(column, justify="left" if column in ("analysis", "queue") else "right")
    for q in report["queues"]:
        queues.add_row(q["analysis"], q["queue"], _count(q["ready"]), _count(q["unacked"]),
                       _count(q["consumers"]), _count(q["retrying"]), _count(q["dead_lettered"]))
    console.print(queues)
    broker = report["broker"]
    if broker["source"] != "management":
        console.print(f"[yellow]broker counts from {broker['source']}: {broker['error']}[/yellow]")

    jobs = Table(title="Jobs", title_justify="left")
    jobs.add_column("analysis")
    for state in (*JOB_STATES, "total"):
        jobs.add_column(state, justify="right")
    for name, counts in report["jobs"].items():
        jobs.add_row(name, *(str(counts[state]) for state in (*JOB_STATES, "total")))
    console.print(jobs)
    console.print(f"outbox: {report['outbox']} job(s) not yet published")

    if report["recent_failures"]:
        failed = Table(title="Recent failures", title_justify="left")
        for column in ("job", "analysis", "path", "attempts", "when", "error"):
            failed.add_column(column, overflow="fold")
        for f in report["recent_failures"]:
            failed.add_row(str(f["job_id"]), f["analyzer"], f["storage_path"], str(f["attempts"]),
                           f["failed_at"] or "", f["error"] or "")
        console.print(failed)


def wait(
    timeout: float | None = typer.Option(None, "--timeout", min=0, help="give up after S seconds: exit 1"),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="seconds between checks"),
) -> None:
    """Return when no job is pending, queued or running and the outbox is empty; exit 1 on timeout."""
    from core.status import unfinished

    settings = get_settings()
    deadline = None if timeout is None else time.monotonic() + timeout
    with db.connect(settings, autocommit=True, application_name="pava-wait") as conn:
        while True:
            left = unfinished(conn)
            if not left["jobs"] and not left["outbox"]:
                typer.echo("all jobs finished")
                return
            if deadline is not None and time.monotonic() >= deadline:
                typer.echo(f"timed out after {timeout:g}s; still unfinished:")
                for analyzer, states in left["jobs"].items():
                    typer.echo(f"  {analyzer}: " + ", ".join(f"{state} {n}" for state, n in states.items()))
                typer.echo(f"  outbox: {left['outbox']}")
                raise typer.Exit(1)
            time.sleep(interval)


def requeue(
    analyzer: str = typer.Argument(..., help="the analysis, e.g. dhash"),
    missing: bool = typer.Option(False, "--missing", help="create jobs for media without one (default)"),
    failed: bool = typer.Option(False, "--failed", help="reset the analysis's failed jobs"),
    all_: bool = typer.Option(False, "--all", help="reset every job of the analysis, create missing ones"),
) -> None:
    """Re-run one analysis: record its jobs again through the outbox, then publish them."""
    from core.broker import TRANSIENT_BROKER_ERRORS
    from core.requeue import Mode
    from core.requeue import requeue as record_requeue
    from workers.relay import publish_once

    if analyzer not in ANALYSES:
        raise typer.BadParameter(f"unknown analysis {analyzer!r} (known: {', '.join(ANALYSES)})",
                                 param_hint="ANALYZER")
    chosen = [mode for mode, flag in (("missing", missing), ("failed", failed), ("all", all_)) if flag]
    if len(chosen) > 1:
        raise typer.BadParameter("give one of --missing, --failed, --all")
    mode: Mode = "missing" if not chosen else chosen[0]  # type: ignore[assignment]
    settings = get_settings()
    with db.connect(settings, autocommit=True, application_name="pava-requeue") as conn:
        count = record_requeue(conn, analyzer, mode)
    try:
        published = publish_once(settings)
    except TRANSIENT_BROKER_ERRORS as exc:
        typer.echo(f"requeued {count} {analyzer} job(s) ({mode}); broker unreachable "
                   f"({exc.__class__.__name__}), the relay publishes them later")
        return
    typer.echo(f"requeued {count} {analyzer} job(s) ({mode}); published {published}")


def export(
    jsonl: bool = typer.Option(False, "--jsonl", help="one JSON object per line instead of a JSON array"),
) -> None:
    """Every media item with its metadata, place, aliases, jobs and analysis results, as JSON."""
    settings = get_settings()
    with db.connect(settings, application_name="pava-export") as conn:
        write(iter_items(conn, export_hooks()), sys.stdout, jsonl=jsonl)
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``pava`` application."""
    for command in (worker, relay, status, wait, requeue, export):
        app.command()(command)
