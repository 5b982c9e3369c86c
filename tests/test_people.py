"""People: incremental grouping, re-cluster, and the user's operations, against real Postgres + pgvector.

The rule tests place synthetic encodings at chosen distances (no model needed); the corpus test groups
the real dlib encodings of corpus/faces, where faces of one person are at most 0.43 apart and the two
persons at least 0.76 (see test_faces.py), so the defaults (max distance 0.5, min faces 3) separate them.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import insert_media, insert_media_for_file

from core import db, people
from core.media import MediaKind
from core.settings import PROJECT_ROOT, FacesSettings, Settings
from tests.support import settings_env
from workers.analyzer import MediaItem
from workers.analyzers.faces import FacesAnalyzer
from workers.stores.faces import store

EPS = 0.5
MIN = 3
_rng = random.Random(7)
# Two directions 1.0 apart in 128-d: centres of two synthetic "persons", far beyond EPS.
_AXIS = [_rng.gauss(0, 1) for _ in range(128)]
_NORM = math.sqrt(sum(v * v for v in _AXIS))
_AXIS = [v / _NORM for v in _AXIS]


def _at(offset: float, centre: int = 0) -> list[float]:
    """An encoding ``offset`` along the axis from centre ``centre`` (centres are 3.0 apart)."""
    vector = [0.0] * 128
    vector[127 - centre] = 3.0 * centre
    return [v + a * offset for v, a in zip(vector, _AXIS, strict=True)]


class Library:
    """Faces inserted straight into the tables, one media item each."""

    def __init__(self, conn: db.Connection) -> None:
        self.conn = conn
        self.count = 0

    def add(self, encoding: list[float]) -> int:
        self.count += 1
        sha = hashlib.sha512(f"synthetic {self.count}".encode()).digest()
        media_id = insert_media(self.conn, f"{self.count}.jpg", sha512=sha)
        row = self.conn.execute(
            """INSERT INTO face (media_id, face_index, box_x, box_y, box_w, box_h, score, encoding, chip_path,
                                 analyzer, analyzer_version, backend, model)
               VALUES (%s, 0, 0.1, 0.1, 0.2, 0.2, 1.0, %s::vector, 'x', 'faces', '1', 'hog', 'test')
               RETURNING id""",
            (media_id, people.vector_literal(encoding)),
        ).fetchone()
        assert row is not None
        return int(row["id"])

    def arrive(self, encoding: list[float]) -> tuple[int, people.AssignReport]:
        face = self.add(encoding)
        return face, people.assign_faces(self.conn, [face], max_distance=EPS, min_faces=MIN)

    def person(self, face_id: int) -> int | None:
        row = self.conn.execute("SELECT person_id FROM face WHERE id = %s", (face_id,)).fetchone()
        assert row is not None
        return row["person_id"]  # type: ignore[no-any-return]

    def persons(self) -> dict[int, set[int]]:
        groups: dict[int, set[int]] = {}
        for row in self.conn.execute("SELECT id, person_id FROM face WHERE person_id IS NOT NULL"):
            groups.setdefault(row["person_id"], set()).add(row["id"])
        return groups


@pytest.fixture
def lib(settings: Settings) -> Any:
    with db.connect(settings) as conn, conn.transaction():
        yield Library(conn)


def test_defaults_are_the_measured_ones() -> None:
    defaults = FacesSettings.model_validate({})
    assert (defaults.people_max_distance, defaults.people_min_faces) == (EPS, MIN)


def test_a_person_needs_min_faces_within_max_distance(lib: Library) -> None:
    a1, report = lib.arrive(_at(0.0))
    assert lib.person(a1) is None and report.unassigned == 1
    a2, _ = lib.arrive(_at(0.3))
    assert lib.person(a2) is None, "two faces are not yet a person (min 3)"
    far, _ = lib.arrive(_at(0.0, centre=1))
    a3, report = lib.arrive(_at(0.15))
    assert report.created and lib.person(a1) == lib.person(a2) == lib.person(a3) is not None
    assert lib.person(far) is None, "a lone face stays unassigned"
    a4, report = lib.arrive(_at(0.45))  # within 0.5 of a2 and a3 only: joins their person
    assert report.joined == 1 and lib.person(a4) == lib.person(a1)


def test_a_late_face_can_make_an_earlier_one_dense(lib: Library) -> None:
    # a and b are 0.4 apart; c is 0.4 from a but 0.8 from b. c alone is not core, but with c, a is.
    a, _ = lib.arrive(_at(0.0))
    b, _ = lib.arrive(_at(0.4))
    c, report = lib.arrive(_at(-0.4))
    assert lib.person(a) == lib.person(b) == lib.person(c) is not None, report


def test_recluster_regroups_and_keeps_names_hidden_and_ids(lib: Library) -> None:
    alice = [lib.arrive(_at(x))[0] for x in (0.0, 0.1, 0.2, 0.3)]
    bob = [lib.arrive(_at(x, centre=1))[0] for x in (0.0, 0.1, 0.2)]
    noise = lib.arrive(_at(0.0, centre=2))[0]
    alice_id, bob_id = lib.person(alice[0]), lib.person(bob[0])
    assert alice_id is not None and bob_id is not None and alice_id != bob_id
    people.name_person(lib.conn, alice_id, "Alice")

    report = people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert lib.persons() == {alice_id: set(alice), bob_id: set(bob)}, report.as_dict()
    assert lib.person(noise) is None
    assert (report.frozen, report.clusters, report.persons_kept, report.changed) == (4, 1, 1, 0)
    assert people.get_person(lib.conn, alice_id).name == "Alice"

    # Much stricter parameters dissolve the unnamed person, never the named one.
    report = people.recluster(lib.conn, max_distance=0.05, min_faces=MIN)
    assert lib.persons() == {alice_id: set(alice)}, report.as_dict()
    assert report.persons_deleted == 1
    # Back to the defaults: a new person for Bob's faces (his old id is gone), Alice untouched.
    people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    groups = lib.persons()
    assert groups[alice_id] == set(alice) and set(bob) in groups.values()

    # Hidden persons are frozen too, and stay hidden.
    bob_now = lib.person(bob[0])
    assert bob_now is not None
    people.hide_person(lib.conn, bob_now)
    people.recluster(lib.conn, max_distance=0.05, min_faces=MIN)
    assert lib.person(bob[0]) == bob_now and people.get_person(lib.conn, bob_now).hidden
    assert bob_now not in {p.id for p in people.list_persons(lib.conn)}
    assert bob_now in {p.id for p in people.list_persons(lib.conn, include_hidden=True)}


def test_recluster_grows_a_named_person(lib: Library) -> None:
    named = [lib.arrive(_at(x))[0] for x in (0.0, 0.1, 0.2)]
    person = lib.person(named[0])
    assert person is not None
    people.name_person(lib.conn, person, "Carol")
    # Faces added without incremental grouping (as if stored by an older version): the re-cluster finds them.
    extra = [lib.add(_at(x)) for x in (0.35, 0.45, 0.55, 0.65)]
    people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert {lib.person(f) for f in extra} == {person}


def test_recluster_links_across_a_burst_of_identical_shots(
    lib: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each face sees only its k nearest. With k = 8 and 12 identical shots, a shot's nearest are all
    # shots, and only the other photos of the person see the link: it must count from their side.
    monkeypatch.setattr(people, "RECLUSTER_NEIGHBOURS", 8)
    burst = [lib.add(_at(0.0)) for _ in range(12)]
    others = [lib.add(_at(x)) for x in (0.3, 0.35, 0.4)]
    report = people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert list(lib.persons().values()) == [set(burst + others)], report.as_dict()


def test_recluster_keeps_border_faces(lib: Library) -> None:
    # a - b - c, 0.3 apart: only b has two neighbours (core); a and c are its border faces.
    a, b, c = (lib.add(_at(x)) for x in (0.0, 0.3, 0.6))
    report = people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert list(lib.persons().values()) == [{a, b, c}], report.as_dict()
    assert report.clusters == 1


def test_merge_split_move_and_their_survival(lib: Library) -> None:
    a = [lib.arrive(_at(x))[0] for x in (0.0, 0.1, 0.2)]
    b = [lib.arrive(_at(x, centre=1))[0] for x in (0.0, 0.1, 0.2)]
    pa, pb = lib.person(a[0]), lib.person(b[0])
    assert pa is not None and pb is not None
    people.name_person(lib.conn, pb, "Dan")

    # Merge: everything in the target, which takes the source's name; the source is gone.
    moved = people.merge_persons(lib.conn, pa, [pb])
    assert moved == 3 and lib.persons() == {pa: set(a + b)}
    assert people.get_person(lib.conn, pa).name == "Dan"
    with pytest.raises(people.PersonNotFound):
        people.get_person(lib.conn, pb)
    people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert lib.persons() == {pa: set(a + b)}, "a merge survives a re-cluster"

    # Split: the selected faces leave for a new person, and stay there after a re-cluster.
    new = people.split_faces(lib.conn, b, name="Eve")
    assert lib.persons() == {pa: set(a), new: set(b)}
    people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert lib.persons() == {pa: set(a), new: set(b)}
    assert people.get_person(lib.conn, new).name == "Eve"

    # Taking a face out of every person sticks as well, and arriving faces do not pull it back.
    people.move_faces(lib.conn, [a[0]], None)
    lib.arrive(_at(0.05))
    people.recluster(lib.conn, max_distance=EPS, min_faces=MIN)
    assert lib.person(a[0]) is None
    with pytest.raises(people.PersonNotFound):
        people.name_person(lib.conn, 999_999, "nobody")
    with pytest.raises(LookupError):
        people.split_faces(lib.conn, [999_999])


def test_neighbours_and_similar_are_sorted_and_exclude_the_query(lib: Library) -> None:
    ids = [lib.add(_at(x)) for x in (0.0, 0.2, 0.5, 0.9)]
    near = people.neighbours(lib.conn, [ids[0]], k=3)[ids[0]]
    assert [n.face_id for n in near] == ids[1:]
    assert [round(n.distance, 3) for n in near] == [0.2, 0.5, 0.9]
    within = people.neighbours(lib.conn, [ids[0]], max_distance=0.5)[ids[0]]
    assert [n.face_id for n in within] == ids[1:3]
    similar = people.similar_faces(lib.conn, ids[3], k=2)
    assert [s.face_id for s in similar] == [ids[2], ids[1]]


# --- on the corpus, with the real model ----------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_faces_group_into_obama_and_biden(settings: Settings, corpus: Path) -> None:
    analyzer = FacesAnalyzer(settings)
    identity: dict[int, str] = {}
    with db.connect(settings, autocommit=True) as conn:
        for path in sorted((corpus / "faces").glob("*.jpg")):
            result = analyzer.analyze(_item(settings, path, 0))
            with conn.transaction():
                media_id = insert_media_for_file(conn, path)
                store(conn, _item(settings, path, media_id), result, analyzer.meta())
            rows = conn.execute(
                "SELECT id, face_index FROM face WHERE media_id = %s ORDER BY face_index", (media_id,)
            ).fetchall()
            for row in rows:
                if path.name == "fr_two_people.jpg":  # Obama on the left, Biden on the right
                    identity[row["id"]] = "obama" if row["face_index"] == 0 else "biden"
                else:
                    identity[row["id"]] = "biden" if "biden" in path.name else "obama"
        groups = Library(conn).persons()
        named = {p: {identity[f] for f in faces} for p, faces in groups.items()}
        assert sorted(tuple(v) for v in named.values()) == [("biden",), ("obama",)], named
        assert sum(len(f) for f in groups.values()) == len(identity) == 7, "every corpus face is in a person"
        obama = next(p for p, who in named.items() if who == {"obama"})
        biden = next(p for p, who in named.items() if who == {"biden"})

        # Name, re-cluster, name kept; via the CLI, as a user would.
        with conn.transaction():
            people.name_person(conn, obama, "Barack Obama")
        report = json.loads(_pava_people(settings, "recluster", "--json"))
        assert report["frozen"] == 4 and report["changed"] == 0, report
        listing = json.loads(_pava_people(settings, "list", "--json"))
        assert {(p["id"], p["name"], p["face_count"]) for p in listing} == {
            (obama, "Barack Obama", 4),
            (biden, "", 3),
        }

        # Split Biden's face of the composite off, merge it back, hide him.
        composite_biden = next(f for f in groups[biden] if f not in identity or identity[f] == "biden")
        with conn.transaction():
            alone = people.split_faces(conn, [composite_biden])
        assert Library(conn).persons()[alone] == {composite_biden}
        with conn.transaction():
            people.merge_persons(conn, biden, [alone])
            people.hide_person(conn, biden)
        assert Library(conn).persons()[biden] == groups[biden]
        assert [p.id for p in people.list_persons(conn)] == [obama]


def _item(settings: Settings, path: Path, media_id: int) -> MediaItem:
    return MediaItem(
        media_id=media_id,
        job_id=0,
        kind=MediaKind.PHOTO,
        path=path,
        rel_path=f"originals/{path.name}",
        sha512=hashlib.sha512(path.read_bytes()).hexdigest(),
        storage_root=settings.storage_root,
    )


def _pava_people(settings: Settings, *args: str) -> str:
    """``pava people ARGS`` in a subprocess with the test's settings (registering the group if pava/cli.py
    does not yet)."""
    code = (
        "from pava import cli, cli_people\n"
        "if not any(g.name == 'people' for g in cli.app.registered_groups): cli_people.register(cli.app)\n"
        "cli.app(prog_name='pava')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "people", *args],
        env=settings_env(settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
