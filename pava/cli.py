"""The ``pava`` command line. It composes the packages; each group of commands lives in its own module.

Stable interface (README, "Command line"): ingest, status, wait, export, worker, requeue, similar.
"""

from __future__ import annotations

import json
import logging

import typer

from core.settings import get_settings, masked
from pava import cli_api, cli_dhash, cli_ingest, cli_jobs, cli_people, cli_stack

app = typer.Typer(no_args_is_help=True, add_completion=False, help="pava: photo and video analysis.")


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    settings = get_settings()
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pika logs every reconnect attempt at INFO with tracebacks; our own messages say what matters.
    logging.getLogger("pika").setLevel(logging.WARNING)


@app.command()
def config() -> None:
    """Print the effective settings (secrets masked) as JSON."""
    typer.echo(json.dumps(masked(get_settings()), indent=2, default=str))


@app.command()
def migrate() -> None:
    """Apply database migrations (idempotent)."""
    from core.db import migrate as run_migrations

    run_migrations(get_settings())
    typer.echo("database is at the latest schema")


for module in (cli_ingest, cli_jobs, cli_dhash, cli_people, cli_stack, cli_api):
    module.register(app)


def main() -> None:
    app()
