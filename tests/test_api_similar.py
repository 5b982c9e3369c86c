"""Similar items and duplicates over real corpus files: ingested by the real pipeline, hashed by the dHash
analyzer and stored by its store (as a worker would), then searched through the API."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core import db
from core.media import MediaKind
from core.settings import Settings
from ingest.pipeline import ingest_file
from tests.conftest import ApiClient
from tests.support import insert_media
from workers.analyzer import MediaItem
from workers.analyzers.dhash import DhashAnalyzer
from workers.stores.dhash import store

OBAMA = ["neardup/real/fr_obama-240p.jpg", "neardup/real/fr_obama-480p.jpg", "neardup/real/fr_obama-720p.jpg",
         "neardup/real/fr_obama-1080p.jpg"]
BUS, BUS_COPY, DOG = "objects/ul_bus.jpg", "neardup/exact/bus_duplicate.jpg", "objects/dn_dog.jpg"
VIDEO = "speech/video/derived_earth_with_jfk_speech.mp4"


@dataclass
class Library:
    ids: dict[str, int]  # corpus path -> media id (duplicates map to the item they duplicate)


def ingest(settings: Settings, corpus: Path, rel: str, *, name: str | None = None) -> Any:
    """Drop a copy of a corpus file and ingest it, as `pava ingest` would."""
    copy = settings.drop_dir / (name or Path(rel).name)
    shutil.copyfile(corpus / rel, copy)
    return ingest_file(settings, copy)


def hash_item(settings: Settings, media_id: int) -> None:
    """What the dhash worker does for one job: analyze the stored file, store the result."""
    with db.connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT kind, storage_path, sha512 FROM media WHERE id = %s",
                           (media_id,)).fetchone()
        assert row is not None
        analyzer = DhashAnalyzer(settings)
        item = MediaItem(media_id=media_id, job_id=0, kind=MediaKind(row["kind"]),
                         path=settings.storage_root / row["storage_path"], rel_path=row["storage_path"],
                         sha512=bytes(row["sha512"]).hex(), storage_root=settings.storage_root)
        result = analyzer.analyze(item)
        with conn.transaction():
            store(conn, item, result, analyzer.meta())


@pytest.fixture
def library(api: ApiClient, settings: Settings, corpus: Path) -> Library:
    ids: dict[str, int] = {}
    for rel in [*OBAMA, BUS, DOG]:
        outcome = ingest(settings, corpus, rel)
        assert outcome.status == "new", outcome
        ids[rel] = outcome.media_id
        hash_item(settings, outcome.media_id)
    for rel, name in [(BUS_COPY, "bus_duplicate.jpg"), (DOG, "dog_again.jpg")]:
        outcome = ingest(settings, corpus, rel, name=name)
        assert outcome.status == "duplicate", outcome
        ids.setdefault(rel, outcome.duplicate_of)
    return Library(ids=ids)


def upload_query(api: ApiClient, path: Path, *, as_: str | None = "viewer") -> Any:
    files = [("file", (path.name, path.read_bytes(), "application/octet-stream"))]
    return api.post("/api/similar", as_=as_, files=files)


def staging_files(settings: Settings) -> list[Path]:
    root = settings.storage_root / ".uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- similar to a stored item -----------------------------------------------------------------------------


def test_similar_to_an_item_finds_its_near_duplicates_nearest_first(api: ApiClient, library: Library) -> None:
    query = library.ids[OBAMA[0]]
    answer = api.get(f"/api/media/{query}/similar")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert {f["id"] for f in found} == {library.ids[rel] for rel in OBAMA[1:]}
    distances = [f["distance"] for f in found]
    assert distances == sorted(distances) and max(distances) <= 8
    first = found[0]
    assert first["kind"] == "photo" and first["name"].startswith("fr_obama") and first["frame_ms"] is None
    assert first["thumbnail_url"] == f"/api/media/{first['id']}/thumbnail"
    assert api.get(f"/api/media/{query}/similar?limit=1").json() == found[:1]
    exact = api.get(f"/api/media/{query}/similar?threshold=0").json()
    assert all(f["distance"] == 0 for f in exact)
    assert api.get(f"/api/media/{query}/similar?threshold=65").status_code == 422


def test_similar_to_an_unknown_or_unhashed_item(api: ApiClient, library: Library, settings: Settings) -> None:
    assert api.get("/api/media/999999/similar").status_code == 404
    with db.connect(settings, autocommit=True) as conn:
        pending = insert_media(conn, "pending.jpg", sha512=b"\x01" * 64)
    answer = api.get(f"/api/media/{pending}/similar")
    assert answer.status_code == 409 and "no dHash yet" in answer.json()["message"]


# --- search by a file -------------------------------------------------------------------------------------


def test_search_by_image_finds_the_group_and_stores_nothing(api: ApiClient, library: Library,
                                                            settings: Settings, corpus: Path) -> None:
    before = sorted(p for p in settings.storage_root.rglob("*") if p.is_file())
    answer = upload_query(api, corpus / OBAMA[2])
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert {f["id"] for f in found} == {library.ids[rel] for rel in OBAMA}
    # The query's own stored copy is at distance 0 (other sizes of the picture may be too).
    assert library.ids[OBAMA[2]] in {f["id"] for f in found if f["distance"] == 0}
    assert sorted(p for p in settings.storage_root.rglob("*") if p.is_file()) == before
    with db.connect(settings, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) AS n FROM media").fetchone() == {"n": len(OBAMA) + 2}
    assert staging_files(settings) == []


@pytest.mark.parametrize("rel", ["bad/truncated_half_DSCN0027.jpg", "bad/pil_decompression_bomb.gif",
                                 "bad/not_an_image.jpg", "bad/html_error_page.mp4"])
def test_search_by_an_undecodable_file_is_422(api: ApiClient, settings: Settings, corpus: Path,
                                              rel: str) -> None:
    answer = upload_query(api, corpus / rel)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert staging_files(settings) == []


def test_search_by_video_uses_its_keyframes(api: ApiClient, settings: Settings, corpus: Path) -> None:
    app = api.client.app
    hasher, app.state.video_hashes = app.state.video_hashes, None
    unwired = upload_query(api, corpus / VIDEO)
    assert unwired.status_code == 422 and "video" in unwired.json()["message"]
    app.state.video_hashes = hasher  # what `pava api` hands over (pava/serve.py)

    outcome = ingest(settings, corpus, VIDEO)
    assert outcome.status == "new", outcome
    hash_item(settings, outcome.media_id)
    answer = upload_query(api, corpus / VIDEO)
    assert answer.status_code == 200, answer.text
    (match,) = [f for f in answer.json() if f["id"] == outcome.media_id]
    assert match["distance"] == 0 and match["kind"] == "video"
    assert match["frame_ms"] is not None and match["query_frame_ms"] is not None
    broken = upload_query(api, corpus / "bad/html_error_page.mp4")
    assert broken.status_code == 422 and "neither an image nor a video" in broken.json()["message"]
    assert staging_files(settings) == []


def test_search_by_file_limits_and_roles(api: ApiClient, settings: Settings, corpus: Path) -> None:
    assert upload_query(api, corpus / DOG, as_=None).status_code == 401
    assert upload_query(api, corpus / DOG, as_="viewer").status_code == 200  # a search: viewers may
    state = api.client.app.state
    state.settings = state.settings.model_copy(
        update={"api": state.settings.api.model_copy(update={"upload_max_bytes": 50_000})})
    too_big = upload_query(api, corpus / DOG)
    assert too_big.status_code == 413
    no_file = api.post("/api/similar", files=[("other", ("x.jpg", b"x", "image/jpeg"))])
    assert no_file.status_code == 422 and no_file.json()["problems"][0]["field"] == "file"
    two = api.post("/api/similar", files=[("file", ("a.jpg", b"a", "image/jpeg")),
                                          ("file", ("b.jpg", b"b", "image/jpeg"))])
    assert two.status_code == 413
    assert staging_files(settings) == []


# --- duplicates -------------------------------------------------------------------------------------------


def test_exact_duplicates_list_items_with_their_aliases_by_cursor(api: ApiClient, library: Library) -> None:
    first = api.get("/api/duplicates?limit=1")
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = api.get(f"/api/duplicates?limit=1&cursor={page['next_cursor']}").json()
    assert second["next_cursor"] is None
    items = {item["id"]: item for item in page["items"] + second["items"]}
    assert set(items) == {library.ids[BUS], library.ids[DOG]}
    bus = items[library.ids[BUS]]
    assert bus["name"] == "ul_bus.jpg"
    assert [(a["original_path"], a["source"]) for a in bus["aliases"]] == [("bus_duplicate.jpg", "")]
    assert bus["aliases"][0]["duplicate_path"].startswith("duplicates/")
    assert [a["original_path"] for a in items[library.ids[DOG]]["aliases"]] == ["dog_again.jpg"]
    assert api.get("/api/duplicates").json()["items"] == page["items"] + second["items"]
    assert api.get("/api/duplicates?cursor=Zm9v").status_code == 422


def test_near_duplicate_groups_with_edges(api: ApiClient, library: Library) -> None:
    answer = api.get("/api/duplicates/groups")
    assert answer.status_code == 200, answer.text
    (group,) = answer.json()
    members = {m["id"] for m in group["members"]}
    assert members == {library.ids[rel] for rel in OBAMA}
    assert group["edges"] and all(e["a"] < e["b"] and e["a"] in members and e["b"] in members
                                  and 0 <= e["distance"] <= 8 for e in group["edges"])
    linked = {e["a"] for e in group["edges"]} | {e["b"] for e in group["edges"]}
    assert linked == members
    assert api.get("/api/duplicates/groups?threshold=13").status_code == 422
    assert api.get("/api/duplicates/groups?threshold=0").status_code == 200


def test_reads_need_a_session(api: ApiClient, library: Library) -> None:
    for url in (f"/api/media/{library.ids[BUS]}/similar", "/api/duplicates", "/api/duplicates/groups"):
        assert api.get(url, as_=None).status_code == 401, url
