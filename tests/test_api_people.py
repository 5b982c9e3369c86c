"""People routes: persons grouped by core.people from face rows with real 128-d vectors in pgvector, and
every correction a user makes (name, hide, merge, split, move), with roles and 404s."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core import db, people
from core.settings import Settings
from tests.conftest import ApiClient
from tests.support import insert_media


@dataclass
class Library:
    a: int  # person ids
    b: int
    a_faces: list[int]
    b_faces: list[int]
    media: list[int]
    loner: int  # a face far from everyone: grouped into nobody


def _encoding(centre: float, rng: random.Random) -> str:
    # Faces of one person lie within ~0.1 of each other; the two centres are 2.3 apart (dlib's "same
    # person" is below 0.6).
    return people.vector_literal(centre + rng.uniform(-0.01, 0.01) for _ in range(128))


@pytest.fixture
def library(settings: Settings, api: ApiClient) -> Iterator[Library]:
    rng = random.Random(7)
    with db.connect(settings, autocommit=True) as conn:
        media = [insert_media(conn, f"p{i}.jpg", sha512=hashlib.sha512(b"%d" % i).digest()) for i in range(4)]
        faces: dict[float, list[int]] = {0.1: [], 0.3: []}
        # Person A: 3 faces in 2 items (two in the first); person B: 3 faces in 3 items.
        placement = [(0.1, media[0], 0), (0.1, media[0], 1), (0.1, media[1], 0),
                     (0.3, media[1], 1), (0.3, media[2], 0), (0.3, media[3], 0)]
        for centre, media_id, index in placement:
            faces[centre].append(_insert_face(conn, media_id, index, _encoding(centre, rng), score=index))
        loner = _insert_face(conn, media[3], 1, _encoding(0.9, rng), score=0)
        with conn.transaction():
            people.assign_faces(conn, [*faces[0.1], *faces[0.3], loner], max_distance=0.5, min_faces=3)
        person = {f: conn.execute("SELECT person_id FROM face WHERE id = %s", (f,)).fetchone()["person_id"]
                  for f in [*faces[0.1], *faces[0.3], loner]}
    a, b = person[faces[0.1][0]], person[faces[0.3][0]]
    assert a and b and a != b and person[loner] is None
    yield Library(a=a, b=b, a_faces=faces[0.1], b_faces=faces[0.3], media=media, loner=loner)


def _insert_face(conn: db.Connection, media_id: int, index: int, encoding: str, *, score: float) -> int:
    row = conn.execute(
        """INSERT INTO face (media_id, face_index, box_x, box_y, box_w, box_h, score, encoding, chip_path,
                             analyzer, analyzer_version, backend, model)
           VALUES (%s, %s, 0.1, 0.2, 0.3, 0.4, %s, %s::vector, %s, 'faces', '1', 'test', 'test')
           RETURNING id""",
        (media_id, index, score, encoding, f"derived/faces/{media_id}/{index}.jpg"),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def _person(api: ApiClient, person_id: int) -> dict[str, object]:
    answer = api.get(f"/api/people/{person_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_list_people_with_counts_and_cover_chips(api: ApiClient, library: Library) -> None:
    answer = api.get("/api/people")
    assert answer.status_code == 200, answer.text
    by_id = {p["id"]: p for p in answer.json()}
    assert set(by_id) == {library.a, library.b}
    a = by_id[library.a]
    assert (a["face_count"], a["media_count"], a["name"], a["hidden"]) == (3, 2, "", False)
    assert by_id[library.b]["media_count"] == 3
    # The cover is the most surely detected face (the highest score): the one with face_index 1.
    assert a["cover_face_id"] == library.a_faces[1]
    assert a["chip_url"] == f"/api/faces/{library.a_faces[1]}/chip"
    assert _person(api, library.a) == a


def test_unknown_person_and_face_are_404(api: ApiClient, library: Library) -> None:
    missing = max(library.a, library.b) + 100
    for method, url, body in [
        ("GET", f"/api/people/{missing}", None),
        ("GET", f"/api/people/{missing}/faces", None),
        ("PATCH", f"/api/people/{missing}", {"name": "x"}),
        ("PATCH", f"/api/people/{missing}", {}),
        ("POST", f"/api/people/{missing}/merge", {"source_ids": [library.a]}),
        ("POST", f"/api/people/{library.a}/merge", {"source_ids": [missing]}),
        ("POST", "/api/people/split", {"face_ids": [library.a_faces[0], 999_999]}),
        ("GET", "/api/faces/999999/similar", None),
        ("PUT", "/api/faces/999999/person", {"person_id": library.a}),
        ("PUT", f"/api/faces/{library.a_faces[0]}/person", {"person_id": missing}),
    ]:
        answer = api.request(method, url, as_="editor", json=body)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["error"] == "not_found"
    # Nothing changed on the way: the failed merge and split rolled back.
    assert _person(api, library.a)["face_count"] == 3


def test_name_and_hide_a_person(api: ApiClient, library: Library) -> None:
    answer = api.patch(f"/api/people/{library.a}", as_="editor", json={"name": "  Barack  "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "Barack"
    hidden = api.patch(f"/api/people/{library.a}", as_="editor", json={"hidden": True})
    assert hidden.json()["hidden"] is True and hidden.json()["name"] == "Barack"
    assert [p["id"] for p in api.get("/api/people").json()] == [library.b]
    assert {p["id"] for p in api.get("/api/people?hidden=true").json()} == {library.a, library.b}
    shown = api.patch(f"/api/people/{library.a}", as_="editor", json={"hidden": False})
    assert shown.json()["hidden"] is False
    too_long = api.patch(f"/api/people/{library.a}", as_="editor", json={"name": "x" * 201})
    assert too_long.status_code == 422


def test_merge_moves_faces_and_deletes_the_sources(api: ApiClient, library: Library) -> None:
    api.patch(f"/api/people/{library.b}", as_="editor", json={"name": "Joe"})
    answer = api.post(f"/api/people/{library.a}/merge", as_="editor", json={"source_ids": [library.b]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"moved": 3}
    merged = _person(api, library.a)
    assert (merged["face_count"], merged["media_count"], merged["name"]) == (6, 4, "Joe")
    assert api.get(f"/api/people/{library.b}").status_code == 404
    empty = api.post(f"/api/people/{library.a}/merge", as_="editor", json={"source_ids": []})
    assert empty.status_code == 422


def test_split_makes_a_new_person(api: ApiClient, library: Library) -> None:
    answer = api.post("/api/people/split", as_="editor",
                      json={"face_ids": library.a_faces[:2], "name": "Twin"})
    assert answer.status_code == 200, answer.text
    new = answer.json()["person_id"]
    assert new not in (library.a, library.b)
    assert (_person(api, new)["name"], _person(api, new)["face_count"]) == ("Twin", 2)
    assert _person(api, library.a)["face_count"] == 1
    faces = api.get(f"/api/people/{new}/faces").json()["items"]
    assert sorted(f["id"] for f in faces) == sorted(library.a_faces[:2])


def test_faces_of_a_person_page_by_cursor(api: ApiClient, library: Library) -> None:
    first = api.get(f"/api/people/{library.b}/faces?limit=2")
    assert first.status_code == 200, first.text
    page = first.json()
    assert [f["id"] for f in page["items"]] == sorted(library.b_faces)[:2]
    face = page["items"][0]
    assert face["box"] == {"x": pytest.approx(0.1), "y": pytest.approx(0.2), "w": pytest.approx(0.3),
                           "h": pytest.approx(0.4)}
    assert face["chip_url"] == f"/api/faces/{face['id']}/chip" and face["frame_ms"] is None
    assert face["media_id"] in library.media
    second = api.get(f"/api/people/{library.b}/faces?limit=2&cursor={page['next_cursor']}").json()
    assert [f["id"] for f in second["items"]] == sorted(library.b_faces)[2:]
    assert second["next_cursor"] is None
    assert api.get(f"/api/people/{library.b}/faces?cursor=garbage").status_code == 422
    assert api.get(f"/api/people/{library.b}/faces?limit=501").status_code == 422
    assert api.get(f"/api/people/{library.b}/faces?limit=0").status_code == 422
    # A smaller configured page lowers the default page instead of refusing requests without a limit.
    state = api.client.app.state
    state.settings = state.settings.model_copy(
        update={"api": state.settings.api.model_copy(update={"page_max": 2})})
    small = api.get(f"/api/people/{library.b}/faces").json()
    assert len(small["items"]) == 2 and small["next_cursor"]
    assert api.get(f"/api/people/{library.b}/faces?limit=3").status_code == 422


def test_similar_faces_are_nearest_first(api: ApiClient, library: Library) -> None:
    api.patch(f"/api/people/{library.a}", as_="editor", json={"name": "Barack"})
    answer = api.get(f"/api/faces/{library.a_faces[0]}/similar?k=3")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert {f["face_id"] for f in found[:2]} == {library.a_faces[1], library.a_faces[2]}
    assert [f["person_name"] for f in found[:2]] == ["Barack", "Barack"]
    assert found[2]["person_id"] != library.a
    distances = [f["distance"] for f in found]
    assert distances == sorted(distances) and distances[0] < 0.5 < distances[2]
    assert found[0]["chip_url"] == f"/api/faces/{found[0]['face_id']}/chip"
    assert api.get(f"/api/faces/{library.a_faces[0]}/similar?k=0").status_code == 422


def test_move_a_face_by_hand_and_out_of_any_person(api: ApiClient, library: Library,
                                                   settings: Settings) -> None:
    face = library.a_faces[0]
    answer = api.put(f"/api/faces/{face}/person", as_="editor", json={"person_id": library.b})
    assert answer.status_code == 204, answer.text
    assert _person(api, library.b)["face_count"] == 4
    assert api.put(f"/api/faces/{face}/person", as_="editor", json={"person_id": None}).status_code == 204
    with db.connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT person_id, assigned_by FROM face WHERE id = %s", (face,)).fetchone()
    assert row == {"person_id": None, "assigned_by": "user"}, "a re-cluster keeps the user's choice"


def test_roles(api: ApiClient, library: Library) -> None:
    writes = [
        ("PATCH", f"/api/people/{library.a}", {"name": "x"}),
        ("POST", f"/api/people/{library.a}/merge", {"source_ids": [library.b]}),
        ("POST", "/api/people/split", {"face_ids": [library.a_faces[0]]}),
        ("PUT", f"/api/faces/{library.a_faces[0]}/person", {"person_id": library.b}),
    ]
    for method, url, body in writes:
        assert api.request(method, url, as_="viewer", json=body).status_code == 403, url
        assert api.request(method, url, as_=None, json=body).status_code == 401, url
    for url in ("/api/people", f"/api/people/{library.a}", f"/api/people/{library.a}/faces",
                f"/api/faces/{library.a_faces[0]}/similar"):
        assert api.get(url, as_=None).status_code == 401, url
        assert api.get(url, as_="viewer").status_code == 200, url
    assert _person(api, library.a)["face_count"] == 3 and _person(api, library.a)["name"] == ""
