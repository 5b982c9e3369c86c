"""Commands about people (faces grouped into persons); the operations live in ``core.people``.

    pava people recluster [--json]            re-group every face that is not frozen (core/people.py)
    pava people list [--hidden] [--json]      persons, most faces first
    pava people name PERSON NAME              name a person ("" unnames)
    pava people merge TARGET SOURCE...        move the sources' faces into TARGET, delete the sources
    pava people split FACE... [--name NAME]   move faces into a new person
    pava people hide PERSON [--unhide]
    pava people similar FACE [-k K] [--json]  the nearest faces, from the database index
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, TypeVar

import typer

from core import db, people
from core.settings import get_settings

T = TypeVar("T")

people_app = typer.Typer(no_args_is_help=True, help="Persons: faces grouped by who they show.")


@contextmanager
def _transaction() -> Iterator[db.Connection]:
    with db.connect(get_settings()) as conn, conn.transaction():
        yield conn


def _run(operation: Callable[[db.Connection], T]) -> T:
    """Run one operation in one transaction; a missing person or face is a usage error, not a crash."""
    try:
        with _transaction() as conn:
            return operation(conn)
    except (LookupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@people_app.command()
def recluster(as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Re-group all faces, keeping named and hidden persons and every hand-made assignment."""
    config = get_settings().faces
    report = _run(lambda conn: people.recluster(conn, max_distance=config.people_max_distance,
                                                min_faces=config.people_min_faces))
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"{report.faces} faces ({report.frozen} kept as the user left them): "
               f"{report.clusters} clusters, {report.persons_created} new persons, "
               f"{report.persons_deleted} removed, {report.assigned} faces in persons, "
               f"{report.unassigned} unassigned, {report.changed} changed in {report.seconds:.1f}s")


@people_app.command("list")
def list_(
    hidden: bool = typer.Option(False, "--hidden", help="include hidden persons"),
    as_json: bool = typer.Option(False, "--json",
                                 help="print JSON: [{id, name, hidden, face_count, cover_face_id}]"),
) -> None:
    """Persons, most faces first."""
    persons = _run(lambda conn: people.list_persons(conn, include_hidden=hidden))
    if as_json:
        typer.echo(json.dumps([asdict(p) for p in persons]))
        return
    for p in persons:
        flag = " (hidden)" if p.hidden else ""
        typer.echo(f"{p.id:>8}  {p.face_count:>6} faces  {p.name or '-'}{flag}")


@people_app.command()
def name(person: int = typer.Argument(..., help="person id"),
         new_name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Name a person (an empty NAME removes the name)."""
    _run(lambda conn: people.name_person(conn, person, new_name))


@people_app.command()
def merge(target: Annotated[int, typer.Argument(help="person that stays")],
          sources: Annotated[list[int], typer.Argument(help="persons merged into it")]) -> None:
    """Merge persons into TARGET."""
    moved = _run(lambda conn: people.merge_persons(conn, target, sources))
    typer.echo(f"moved {moved} faces into person {target}")


@people_app.command()
def split(faces: Annotated[list[int], typer.Argument(help="face ids")],
          new_name: str = typer.Option("", "--name", help="name of the new person")) -> None:
    """Move faces into a new person; prints its id."""
    typer.echo(str(_run(lambda conn: people.split_faces(conn, faces, name=new_name))))


@people_app.command()
def hide(person: int = typer.Argument(..., help="person id"),
         unhide: bool = typer.Option(False, "--unhide", help="show the person again")) -> None:
    """Hide a person from people lists."""
    _run(lambda conn: people.hide_person(conn, person, hidden=not unhide))


@people_app.command()
def similar(face: int = typer.Argument(..., help="face id"),
            k: int = typer.Option(10, "-k", min=1, max=1000, help="how many"),
            as_json: bool = typer.Option(False, "--json", help="print JSON: [{face_id, media_id, person_id, "
                                         "frame_ms, chip_path, distance}]")) -> None:
    """The faces nearest to a face (euclidean distance of the encodings; below 0.5: the same person)."""
    found = _run(lambda conn: people.similar_faces(conn, face, k))
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in found]))
        return
    for s in found:
        typer.echo(f"{s.distance:.3f}  face {s.face_id}  media {s.media_id}  person {s.person_id or '-'}")


def register(app: typer.Typer) -> None:
    """Add the ``people`` command group to the ``pava`` application."""
    app.add_typer(people_app, name="people")
