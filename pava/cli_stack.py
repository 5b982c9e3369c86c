"""The local stack: ``pava up``, ``pava down``, ``pava sample``.

The stack modules are imported inside the commands: they pull in psycopg, pika, Pillow and
supervisor, which every other ``pava`` command would otherwise pay for at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.settings import get_settings

if TYPE_CHECKING:
    from pava.stack.up import UpResult


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``pava`` application."""
    app.command()(up)
    app.command()(down)
    app.command()(sample)


def up(
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="seconds to wait for the analyses (default: PAVA_STACK__WAIT_TIMEOUT)")] = None,
    no_ingest: Annotated[bool, typer.Option(
        "--no-ingest", help="start the services only; leave the drop folder alone")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Start what is not running (Postgres, RabbitMQ, the API and nginx, workers, relay), migrate, ingest the
    drop folder, wait for the analyses, print a summary. Safe and fast to rerun."""
    from pydantic import ValidationError

    from pava.stack.config import StackSettings
    from pava.stack.up import StackError
    from pava.stack.up import up as bring_up

    try:
        result = bring_up(get_settings(), StackSettings(), ingest=not no_ingest, wait_timeout=timeout)
    except ValidationError as exc:
        typer.echo(f"pava up: a PAVA_STACK__ setting is wrong: {exc}", err=True)
        raise typer.Exit(1) from exc
    except StackError as exc:
        typer.echo(f"pava up: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2))
    else:
        _print_summary(result)
    not_running = [name for name, state in result.programs.items() if state != "RUNNING"]
    failed = result.ingest_error is not None or not result.analyses_finished or not result.front_door_ok
    if failed or not_running:
        raise typer.Exit(1)


def down() -> None:
    """Stop exactly what `pava up` started: supervisord and its programs, then RabbitMQ and Postgres if
    `pava up` started them."""
    from pava.stack.up import StackError
    from pava.stack.up import down as take_down

    try:
        result = take_down(get_settings())
    except StackError as exc:
        typer.echo(f"pava down: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("stopped: " + (", ".join(result.stopped) or "nothing (none of it was running)"))
    for item in result.left:
        typer.echo(f"left alone: {item}")


def sample(directory: Annotated[Path, typer.Argument(help="folder to write the sample set into")]) -> None:
    """Write a small sample set: photos with EXIF and GPS, an exact and a near duplicate, a PNG, a video
    with sound. Existing files are kept."""
    from pava.stack.sample import generate

    written = generate(directory)
    for item in written:
        typer.echo(f"{directory / item.rel_path}: {item.note}")
    typer.echo(f"{len(written)} files written to {directory}" + ("" if written else " (all there already)"))


def ingest_counts(summary: dict[str, Any]) -> dict[str, int]:
    """new/duplicate/rejected from the `pava ingest --json` summary (at its top or under "counts")."""
    source = summary.get("counts", summary)
    counts: dict[str, int] = {}
    for key, aliases in (("new", ("new",)), ("duplicate", ("duplicate", "duplicates")),
                         ("rejected", ("rejected",)), ("skipped", ("skipped",)), ("failed", ("errors",))):
        for alias in aliases:
            value = source.get(alias)
            if isinstance(value, bool):
                continue
            if isinstance(value, int):
                counts[key] = value
                break
            if isinstance(value, list):
                counts[key] = len(value)
                break
    return counts


def _print_summary(result: UpResult) -> None:
    from pava.stack.up import display

    echo = typer.echo
    logs = display(Path(result.services["supervisord"]["logs"]))
    echo(f"pava is up ({result.seconds:.1f}s)")
    for name in ("postgres", "rabbitmq"):
        svc = result.services[name]
        if svc["mode"] == "local":
            how = "started now" if name in result.started_now else "already running"
            where = f"data: {display(Path(svc['data_dir']))}"
        else:
            how, where = "external", svc["url"]
        echo(f"  {name:<10} {svc['address']:<16} {how:<16} {where}")
    web = result.web
    if web:
        https, http = f":{web['https_port']} https", f":{web['http_port']} http"
        echo(f"  {'nginx':<10} {https:<16} {http:<16} redirects to https; "
             f"config: {display(Path(web['nginx_config']))}")
        echo(f"  {'api':<10} {web['api_address']:<16} {'behind nginx':<16} at /api/")
    programs = ", ".join(f"{name} {state}" for name, state in sorted(result.programs.items()))
    echo(f"  {'programs':<10} {programs} (under supervisord; logs in {logs}/)")
    for name, missing in sorted(result.workers_skipped.items()):
        echo(f"  no worker for {name}: {', '.join(missing)} not installed "
             f"(pip install -r requirements/worker-{name}.txt)")

    if result.sample_written:
        echo(f"sample set: {len(result.sample_written)} files written to the empty drop folder")
    if result.ingest is not None:
        counts = ingest_counts(result.ingest)
        shown = {k: n for k, n in counts.items() if n or k in ("new", "duplicate", "rejected")}
        echo("ingest: " + (", ".join(f"{n} {k}" for k, n in shown.items()) or json.dumps(result.ingest)))
        for rejection in result.ingest.get("rejections") or []:
            echo(f"  rejected {rejection.get('path')}: {rejection.get('reason')}")
    elif result.ingest_error is None:
        echo("ingest: the drop folder is empty, nothing to ingest")
    if result.ingest_error:
        echo(f"ingest: FAILED: {result.ingest_error}")

    echo("jobs:" + ("" if result.jobs else " none"))
    for analyzer, states in sorted(result.jobs.items()):
        text = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        note = "" if analyzer in result.workers else "  (no worker here yet: these jobs wait in their queue)"
        echo(f"  {analyzer:<9} {text}{note}")
    if not result.analyses_finished:
        echo("  analyses not finished in time: see `./pava.sh status`")

    echo("where to look:")
    if web:
        cert = web["certificate"]
        trust = (f"self-signed certificate {display(Path(cert['cert']))}: browsers warn until it is trusted"
                 if cert["self_signed"] else f"certificate {display(Path(cert['cert']))}")
        echo(f"  web page          {web['url']}  ({trust})")
        built = web.get("page", {})
        if built.get("status") == "built":
            echo(f"                    built now from web/ in {built['seconds']:.0f}s")
        elif built.get("status") in {"not_built", "absent"}:
            echo(f"                    NOT BUILT ({built['detail']}): a placeholder page with a login form "
                 "is served")
        if result.first_admin_password:
            echo(f"  log in            user {result.admin_user}, password {result.first_admin_password}  "
                 f"(shown this once and stored nowhere: keep it, or set another with "
                 f"./pava.sh user passwd {result.admin_user})")
        elif result.admin_user:
            echo(f"  log in            user {result.admin_user}  (its password was shown by the first "
                 f"./pava.sh up; a new one: ./pava.sh user passwd {result.admin_user})")
        else:
            echo("  log in            no admin account: ./pava.sh user add NAME --role admin")
        echo(f"  API               {web['docs_url']}")
        if not web["api_ok"]:
            echo(f"  FRONT DOOR NOT ANSWERING ({web['api_error']}): see {logs}/api.log and "
                 f"{logs}/nginx-error.log")
    password = ""
    if result.console_password_file:
        password = f", password in {display(Path(result.console_password_file))}"
    echo(f"  RabbitMQ console  {result.console_url}  (pava admins; then RabbitMQ's own login: "
         f"user {result.console_user}{password})")
    echo("  status            ./pava.sh status   (queues, jobs by state, recent failures)")
    echo("  results           ./pava.sh export --jsonl")
    echo(f"  logs              {logs}/")
    echo("  stop              ./pava.sh down")
