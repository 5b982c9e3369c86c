"""Albums through the API: create, list, read, rename, delete; adding and removing items (all or none,
unknown ids named); covers and counts; roles. Real Postgres, real ingester, corpus files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.api_media_support import GPS_PHOTO, NO_GPS_PHOTO, connection, ingest_corpus
from tests.conftest import ApiClient

pytestmark = pytest.mark.corpus


@pytest.fixture
def photos(api: ApiClient, settings: Settings, corpus: Path) -> list[int]:
    return [ingest_corpus(settings, corpus, rel) for rel in (GPS_PHOTO, NO_GPS_PHOTO)]


def _make(api: ApiClient, name: str, description: str | None = None, as_: str = "editor") -> Any:
    body = {"name": name} if description is None else {"name": name, "description": description}
    return api.post("/api/albums", json=body, as_=as_)


def test_album_life(api: ApiClient, settings: Settings, photos: list[int]) -> None:
    first, second = photos
    made = _make(api, "Tuscany <2008>", "with <b>friends</b>")
    assert made.status_code == 201, made.text
    album = made.json()
    assert album["name"] == "Tuscany <2008>" and album["description"] == "with <b>friends</b>"
    assert album["count"] == 0 and album["cover"] is None
    assert album["created_at"] == album["updated_at"]
    album_id = album["id"]
    assert _make(api, "apples").json()["description"] == ""

    # Items: added once each (the second time they are not counted), the first added is the cover.
    added = api.post(f"/api/albums/{album_id}/items", json={"media_ids": [first]}, as_="editor")
    assert added.status_code == 200 and added.json() == {"added": 1}
    again = api.post(f"/api/albums/{album_id}/items", json={"media_ids": [first, second, second]},
                     as_="editor")
    assert again.json() == {"added": 1}
    got = api.get(f"/api/albums/{album_id}").json()
    assert got["count"] == 2 and got["cover"]["id"] == first and got["cover"]["name"] == "ia_DSCN0010.jpg"
    assert datetime.fromisoformat(got["updated_at"]) > datetime.fromisoformat(album["updated_at"])
    assert api.get(f"/api/media/{second}").json()["albums"] == [{"id": album_id, "name": "Tuscany <2008>"}]

    # Listed by name, case-insensitively.
    listed = api.get("/api/albums")
    assert listed.status_code == 200
    assert [a["name"] for a in listed.json()] == ["apples", "Tuscany <2008>"]
    assert listed.json()[1]["count"] == 2

    # Rename, describe; null is not a value, "" empties a description.
    renamed = api.patch(f"/api/albums/{album_id}", json={"name": "Italy"}, as_="editor").json()
    assert renamed["name"] == "Italy" and renamed["description"] == "with <b>friends</b>"
    emptied = api.patch(f"/api/albums/{album_id}", json={"description": ""}, as_="editor").json()
    assert emptied["name"] == "Italy" and emptied["description"] == ""
    for body in ({}, {"name": None}, {"name": ""}, {"name": "  "}, {"name": "x" * 201},
                 {"description": "x" * 5001}, {"colour": "red"}):
        assert api.patch(f"/api/albums/{album_id}", json=body, as_="editor").status_code == 422, body

    # Remove: only what is in the album counts.
    removed = api.post(f"/api/albums/{album_id}/items/remove", json={"media_ids": [first, 999_999]},
                       as_="editor")
    assert removed.status_code == 200 and removed.json() == {"removed": 1}
    after = api.get(f"/api/albums/{album_id}").json()
    assert after["count"] == 1 and after["cover"]["id"] == second

    # Delete: the album goes, its items stay.
    assert api.delete(f"/api/albums/{album_id}", as_="editor").status_code == 204
    assert api.get(f"/api/albums/{album_id}").status_code == 404
    assert api.delete(f"/api/albums/{album_id}", as_="editor").status_code == 404
    assert api.get(f"/api/media/{second}").json()["albums"] == []
    with connection(settings) as conn:
        assert conn.execute("SELECT count(*) AS n FROM album_item").fetchone() == {"n": 0}
        assert conn.execute("SELECT count(*) AS n FROM media").fetchone() == {"n": 2}


def test_adding_unknown_items_names_them_and_adds_nothing(api: ApiClient, photos: list[int]) -> None:
    album_id = _make(api, "Mixed").json()["id"]
    answer = api.post(f"/api/albums/{album_id}/items", json={"media_ids": [photos[0], 424_242, 17_000_000]},
                      as_="editor")
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid" and body["missing_ids"] == [424_242, 17_000_000]
    assert body["problems"][0]["field"] == "media_ids"
    assert api.get(f"/api/albums/{album_id}").json()["count"] == 0
    for bad in ({"media_ids": []}, {"media_ids": ["one"]}, {"media_ids": [0]}, {"ids": [photos[0]]}):
        assert api.post(f"/api/albums/{album_id}/items", json=bad, as_="editor").status_code == 422, bad
    unknown_album = api.post("/api/albums/999999/items", json={"media_ids": [photos[0]]}, as_="editor")
    assert unknown_album.status_code == 404
    assert api.post("/api/albums/999999/items/remove", json={"media_ids": [photos[0]]},
                    as_="editor").status_code == 404


def test_album_roles_and_bad_input(api: ApiClient, photos: list[int]) -> None:
    album_id = _make(api, "Roles").json()["id"]
    assert api.get("/api/albums", as_="viewer").status_code == 200
    assert api.get(f"/api/albums/{album_id}", as_="viewer").status_code == 200
    for method, url, body in (("POST", "/api/albums", {"name": "x"}),
                              ("PATCH", f"/api/albums/{album_id}", {"name": "x"}),
                              ("DELETE", f"/api/albums/{album_id}", None),
                              ("POST", f"/api/albums/{album_id}/items", {"media_ids": photos}),
                              ("POST", f"/api/albums/{album_id}/items/remove", {"media_ids": photos})):
        viewer = api.request(method, url, json=body, as_="viewer")
        assert viewer.status_code == 403, (method, url)
        assert api.request(method, url, json=body, as_=None).status_code == 401, (method, url)
    assert api.get("/api/albums", as_=None).status_code == 401
    for body in ({}, {"name": ""}, {"name": "\t"}, {"name": "x" * 201}, {"name": 5}, {"name": "a\x00b"},
                 {"name": "ok", "description": "x" * 5001}, {"name": "ok", "extra": 1}):
        answer = api.post("/api/albums", content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"}, as_="editor")
        assert answer.status_code == 422, body
    assert api.get("/api/albums/abc").status_code == 422
    assert api.get("/api/albums/0").status_code == 422
    assert api.get("/api/albums/123456").status_code == 404
    assert [a["name"] for a in api.get("/api/albums").json()] == ["Roles"]
