"""``pava ingest PATH [--watch] [--source LABEL] [--json]``.

Exit status: 0 when the run completed, including when files were rejected (they are reported); 1 when
some files failed unexpectedly (they stay in place and a rerun retries them); 2 when the run itself could
not proceed (database unreachable, PATH missing). The ``--json`` fields are documented in
``ingest.summary``.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.settings import get_settings

if TYPE_CHECKING:
    from ingest.summary import Summary

log = logging.getLogger(__name__)


def _print_human(summary: Summary) -> None:
    typer.echo(summary.line())
    for rejection in summary.rejections:
        typer.echo(f"  rejected {rejection['path']}: {rejection['reason']} ({rejection['detail']})")
    for failure in summary.failures:
        typer.echo(f"  failed   {failure['path']}: {failure['error']}", err=True)
    if summary.broker_error:
        typer.echo(f"  jobs wait in the outbox: {summary.broker_error}", err=True)


def ingest(
    path: Annotated[Path | None, typer.Argument(
        metavar="PATH", help="folder (or single file) to ingest; default: the drop folder")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="keep ingesting new files as they settle")] = False,
    source: Annotated[str, typer.Option(
        "--source", help="label recorded with every item (a camera, a person)")] = "",
    as_json: Annotated[bool, typer.Option(
        "--json", help="print one JSON summary (one per busy pass with --watch)")] = False,
) -> None:
    """Move photos and videos from a folder into storage, dedupe, read metadata, queue analyses."""
    from core.db import TRANSIENT_DB_ERRORS
    from ingest import batch

    settings = get_settings()
    root = path if path is not None else settings.drop_dir

    def report(summary: Summary) -> None:
        if as_json:
            typer.echo(json.dumps(summary.to_json(), ensure_ascii=False))
        else:
            _print_human(summary)

    if watch:
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("signal %d: finishing the files in flight, then stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

        def on_summary(summary: Summary) -> None:
            if summary.busy:
                report(summary)

        batch.watch(settings, root, source=source, stop=stop, on_summary=on_summary)
        return
    # The run itself cannot proceed: PATH missing or inside storage, no database configured or reachable.
    run_errors: tuple[type[BaseException], ...] = (FileNotFoundError, ValueError, RuntimeError,
                                                   *TRANSIENT_DB_ERRORS)
    try:
        summary = batch.run_once(settings, root, source=source)
    except run_errors as exc:
        typer.echo(f"pava ingest: {exc}", err=True)
        raise typer.Exit(2) from exc
    report(summary)
    if summary.failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``pava`` application."""
    app.command(name="ingest")(ingest)
