"""Search, facets and the map (``api/routes/search.py``, ``api/filters.py``): every filter alone and
combined, sorts and cursor pages, free text, facet counts and map clusters, over real rows in a real
Postgres, through the real application."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api import clusters as grid
from core import db
from core.settings import Settings
from tests.api_data import (
    Taken,
    add_album,
    add_comment,
    add_face,
    add_media,
    add_person,
    settings_without_broker,
)
from tests.conftest import ApiClient

PARIS = {"place_name": "Paris", "place_admin1": "Île-de-France", "country_code": "FR", "country": "France"}
FIJI = {"place_name": "Taveuni", "place_admin1": "Northern", "country_code": "FJ", "country": "Fiji"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return settings_without_broker(tmp_path, database_url)


class Library:
    """The items of the test library by name, with their ids."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.persons: dict[str, int] = {}
        self.album = 0

    def names(self, ids: list[int]) -> list[str]:
        by_id = {media_id: name for name, media_id in self.ids.items()}
        return [by_id[media_id] for media_id in ids]


APPLE_X = {"make": "Apple", "model": "iPhone X", "source": "phone"}
CANON = {"make": "Canon", "model": "Canon EOS 5D", "source": "camera"}


def row(**columns: Any) -> dict[str, Any]:
    return columns


# name -> (original path, columns and analysis results); inserted in this order (ids grow with it).
ITEMS: dict[str, tuple[str, dict[str, Any]]] = {
    "paris_dog": ("2019/Paris/IMG_2041.JPG", row(
        taken=Taken("2019-07-14 08:00", "2019-07-14 10:00"), gps_lat=48.8566, gps_lon=2.3522, **PARIS,
        **APPLE_X, favourite=True, labels={"dog": 1, "person": 2})),
    "paris_late": ("2019/Paris/IMG_2042.HEIC", row(
        format="heic", taken=Taken("2019-07-14 21:30", "2019-07-14 23:30"), gps_lat=48.86, gps_lon=2.35,
        **PARIS, **APPLE_X, labels={"person": 3})),
    # Just after midnight in Paris: the 15th there, still the 14th in UTC.
    "paris_after_midnight": ("2019/Paris/IMG_2043.JPG", row(
        taken=Taken("2019-07-14 22:30", "2019-07-15 00:30"), gps_lat=48.85, gps_lon=2.34, **PARIS, **APPLE_X,
        labels={"person": 1, "cat": 1})),
    "fiji_east": ("2020/Taveuni/DSC_0001.JPG", row(
        taken=Taken("2020-01-05 00:00", "2020-01-05 12:00"), gps_lat=-16.85, gps_lon=179.9, **FIJI, **CANON,
        labels={"boat": 2})),
    "fiji_west": ("2020/Taveuni/DSC_0002.JPG", row(
        taken=Taken("2020-01-06 00:00", "2020-01-06 12:00"), gps_lat=-16.9, gps_lon=-179.9, **FIJI, **CANON,
        labels={}, ocr="")),
    "video_speech": ("clips/party.mp4", row(
        kind="video", format="mp4", taken=Taken("2021-03-01 18:00", "2021-03-01 19:00"), make="Google",
        model="Pixel 5", source="phone", labels={"person": 4, "cake": 1}, speech="happy birthday to you",
        size_bytes=5000)),
    "ocr_obama": ("scans/poster.png", row(
        format="png", source="scans", ocr="Barack Obama visits the museum")),
    "manual_gps": ("2018/London/museum.jpg", row(
        taken=Taken("2018-05-01 12:00", "2018-05-01 13:00"), manual_lat=51.5007, manual_lon=-0.1246,
        place_name="London", country_code="GB", country="United Kingdom", make="Apple", model="iPhone 6",
        source="phone", labels={"bus": 1})),
    "no_date_no_gps": ("upload/dog.jpg", row(source="upload:editor", labels={"dog": 2})),
    "tokyo": ("2022/Tokyo/DSC_0003.JPG", row(
        taken=Taken("2022-04-01 00:00", "2022-04-01 09:00"), gps_lat=35.6762, gps_lon=139.6503,
        place_name="Tokyo", country_code="JP", country="Japan", make="FUJIFILM", model="X-T4",
        source="camera", labels={"person": 5, "traffic light": 2})),
    # The file says 2015; the time set by hand (2023) wins everywhere.
    "manual_time": ("2015/Zürich/IMG_0001.JPG", row(
        taken=Taken("2015-01-01 10:00", "2015-01-01 11:00"),
        manual_taken_at=datetime(2023, 6, 1, 10, tzinfo=UTC), manual_taken_at_local=datetime(2023, 6, 1, 12),
        manual_taken_at_offset_minutes=120, make="SONY", model="ILCE-6000", source="camera")),
}
# Matches nearly every filter, and must never show: it is still being ingested.
STAGED = ("2024/Paris/IMG_9999.JPG", row(
    status="staged", taken=Taken("2024-07-14 08:00", "2024-07-14 10:00"), gps_lat=48.8566, gps_lon=2.3522,
    **PARIS, **APPLE_X, favourite=True, labels={"dog": 1, "person": 2}, ocr="paris museum obama"))


@pytest.fixture
def library(settings: Settings) -> Library:
    """The eleven ready items of ITEMS and the staged one, with people, faces, an album and a comment."""
    lib = Library()
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    with db.connect(settings, autocommit=True) as conn:
        for n, (name, (path, columns)) in enumerate(ITEMS.items()):
            lib.ids[name] = add_media(conn, path, ingested_at=early if n < 6 else late, **columns)
        staged = add_media(conn, STAGED[0], **STAGED[1])
        add_comment(conn, lib.ids["tokyo"], "cherry blossom with grandma")
        lib.persons = {name: add_person(conn, name, hidden=name == "carol")
                       for name in ("alice", "bob", "carol")}
        _add_faces(conn, lib, staged)
        lib.album = add_album(conn, "Summer", [lib.ids["paris_dog"], lib.ids["paris_late"], staged])
    return lib


def _add_faces(conn: db.Connection, lib: Library, staged: int) -> None:
    alice, bob, carol = (lib.persons[name] for name in ("alice", "bob", "carol"))
    for name in ("paris_dog", "paris_late", "tokyo"):
        add_face(conn, lib.ids[name], alice)
    add_face(conn, lib.ids["paris_dog"], bob, index=1)
    add_face(conn, lib.ids["paris_dog"], carol, index=2)
    add_face(conn, lib.ids["paris_after_midnight"], None)
    add_face(conn, lib.ids["video_speech"], bob, index=0, frame_ms=0)
    add_face(conn, lib.ids["video_speech"], bob, index=1, frame_ms=2000)  # one item, counted once
    add_face(conn, staged, alice)


def ids_of(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def search(api: ApiClient, library: Library, params: dict[str, Any] | list[tuple[str, Any]]) -> list[str]:
    return library.names(ids_of(api.get("/api/media", params={"limit": 500, **dict(params)}
                                        if isinstance(params, dict) else [("limit", 500), *params])))


ALL = list(ITEMS)


def but(*names: str) -> set[str]:
    return set(ALL) - set(names)


def check(api: ApiClient, library: Library, cases: list[tuple[Any, set[str]]]) -> None:
    for params, expected in cases:
        assert set(search(api, library, params)) == expected, params


# -- access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/media", "/api/facets", "/api/map", "/api/stats",
                                 "/api/stats/on-this-day"])
def test_viewers_read_and_strangers_get_401(api: ApiClient, url: str) -> None:
    assert api.get(url, as_="viewer").status_code == 200
    refused = api.get(url, as_=None)
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"


def test_openapi_documents_the_filters_and_the_shapes(api: ApiClient) -> None:
    document = api.get("/api/openapi.json").json()
    parameters = {p["name"] for p in document["paths"]["/api/media"]["get"]["parameters"]}
    assert {"q", "taken_from", "taken_to", "no_date", "bbox", "no_gps", "object", "person", "make", "model",
            "kind", "format", "album", "favourite", "has_text", "source", "sort", "cursor", "limit",
            "with_total"} <= parameters
    map_parameters = {p["name"] for p in document["paths"]["/api/map"]["get"]["parameters"]}
    assert {"view", "zoom", "bbox"} <= map_parameters
    schemas = document["components"]["schemas"]
    assert set(schemas["MediaPage"]["properties"]) == {"items", "next_cursor", "total"}
    assert set(schemas["Cluster"]["properties"]) == {"lat", "lon", "count", "bbox", "media_id",
                                                     "position_source"}


# -- sorts and pages ---------------------------------------------------------------------------------------


def test_default_sort_is_newest_taken_first_with_undated_items_last(api: ApiClient, library: Library) -> None:
    answer = api.get("/api/media")
    assert library.names(ids_of(answer)) == [
        "manual_time", "tokyo", "video_speech", "fiji_west", "fiji_east", "paris_after_midnight",
        "paris_late", "paris_dog", "manual_gps", "no_date_no_gps", "ocr_obama"]
    body = answer.json()
    assert body["next_cursor"] is None and body["total"] is None
    first = body["items"][0]
    assert first["taken_at"] == "2023-06-01T10:00:00Z" and first["time_source"] == "manual"
    assert first["taken_at_local"] == "2023-06-01T12:00:00"


def test_other_sorts(api: ApiClient, library: Library) -> None:
    assert search(api, library, {"sort": "taken_at"}) == [
        "manual_gps", "paris_dog", "paris_late", "paris_after_midnight", "fiji_east", "fiji_west",
        "video_speech", "tokyo", "manual_time", "ocr_obama", "no_date_no_gps"]
    # Two ingest batches; within one, ties go by id.
    assert search(api, library, {"sort": "-ingested_at"}) == list(reversed(ALL))
    assert search(api, library, {"sort": "ingested_at"}) == ALL


def test_total_on_request(api: ApiClient, library: Library) -> None:
    answer = api.get("/api/media", params={"limit": 2, "with_total": "true", "object": "person"})
    assert answer.json()["total"] == 5 and len(answer.json()["items"]) == 2


@pytest.fixture
def ties(settings: Settings) -> list[dict[str, Any]]:
    """31 items whose times and ingest times tie in groups, a fifth of them without a date."""
    base = datetime(2022, 5, 1, 12, tzinfo=UTC)
    made = []
    with db.connect(settings, autocommit=True) as conn:
        for n in range(31):
            taken = None if n % 5 == 0 else base + timedelta(hours=n % 3)
            path = f"tie/tie_tie_{n}.JPG" if n % 7 == 0 else f"tie/IMG_{n:04d}.JPG"
            columns: dict[str, Any] = {"ingested_at": base + timedelta(minutes=n % 4)}
            if taken is not None:
                columns.update(taken_at=taken, taken_at_local=taken.replace(tzinfo=None))
            media_id = add_media(conn, path, **columns)
            made.append({"id": media_id, "taken": taken, "ingested": columns["ingested_at"]})
    return made


def walk(api: ApiClient, params: dict[str, Any], limit: int) -> list[int]:
    """Every page of a list, following next_cursor."""
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        following = {"cursor": cursor} if cursor else {}
        answer = api.get("/api/media", params={**params, "limit": limit, **following})
        page = ids_of(answer)
        assert len(page) <= limit
        seen += page
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("no end")


def test_cursor_pages_with_ties_and_missing_dates_neither_repeat_nor_skip(api: ApiClient,
                                                                        ties: list[dict[str, Any]]) -> None:
    never = datetime.min.replace(tzinfo=UTC)

    def order(key: Any, reverse: bool = False) -> list[int]:
        return [t["id"] for t in sorted(ties, key=key, reverse=reverse)]

    expected = {  # undated last both ways; ties by id in the sort's direction
        "-taken_at": order(lambda t: (t["taken"] is not None, t["taken"] or never, t["id"]), reverse=True),
        "taken_at": order(lambda t: (t["taken"] is None, t["taken"] or never, t["id"])),
        "-ingested_at": order(lambda t: (t["ingested"], t["id"]), reverse=True),
        "ingested_at": order(lambda t: (t["ingested"], t["id"])),
    }
    for sort, order in expected.items():
        assert ids_of(api.get("/api/media", params={"sort": sort, "limit": 500})) == order, sort
        for limit in (1, 4, 7):
            assert walk(api, {"sort": sort}, limit) == order, (sort, limit)


def test_relevance_pages_with_equal_ranks(api: ApiClient, ties: list[dict[str, Any]]) -> None:
    whole = api.get("/api/media", params={"q": "tie", "limit": 500}).json()["items"]
    assert len(whole) == 31
    ranks = [item["rank"] for item in whole]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 2  # "tie tie" beats "tie"
    # Among equal ranks, the newest id first.
    best = [item["id"] for item in whole if item["rank"] == ranks[0]]
    assert best == sorted((t["id"] for t in ties if ties.index(t) % 7 == 0), reverse=True)
    for limit in (1, 5):
        assert walk(api, {"q": "tie"}, limit) == [item["id"] for item in whole]
    # With another filter the ranking runs on the filtered set (another query shape): same pages.
    undated = [item["id"] for item in whole if item["taken_at"] is None]
    assert len(undated) == 7
    assert walk(api, {"q": "tie", "no_date": "true"}, 2) == undated


def test_cursors_are_checked(api: ApiClient, ties: list[dict[str, Any]]) -> None:
    cursor = api.get("/api/media", params={"limit": 2}).json()["next_cursor"]
    other = api.get("/api/media", params={"limit": 2, "sort": "ingested_at", "cursor": cursor})
    assert other.status_code == 422 and other.json()["problems"][0]["field"] == "cursor"
    for bad in ("garbage", "W10", "WyItdGFrZW5fYXQiLCJ4IiwxXQ", "WyItdGFrZW5fYXQiLG51bGwsdHJ1ZV0"):
        answer = api.get("/api/media", params={"cursor": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid"


# -- filters -----------------------------------------------------------------------------------------------


def test_staged_items_never_show(api: ApiClient, library: Library) -> None:
    assert sorted(search(api, library, {})) == sorted(ALL)


def test_time_filters(api: ApiClient, library: Library) -> None:
    check(api, library, [
        # Dates are whole days of the item's own wall-clock time.
        ({"taken_from": "2019-07-14", "taken_to": "2019-07-14"}, {"paris_dog", "paris_late"}),
        ({"taken_from": "2019-07-15", "taken_to": "2019-07-15"}, {"paris_after_midnight"}),
        ({"taken_from": "2020-01-01"}, {"fiji_east", "fiji_west", "video_speech", "tokyo", "manual_time"}),
        ({"taken_to": "2018-05-01"}, {"manual_gps"}),
        # A time set by hand replaces the file's.
        ({"taken_from": "2023-06-01", "taken_to": "2023-06-01"}, {"manual_time"}),
        ({"taken_from": "2015-01-01", "taken_to": "2015-01-01"}, set()),
        # Date-times with an offset are instants, both ends inclusive.
        ({"taken_from": "2019-07-14T22:00:00Z"},
         {"paris_after_midnight", "fiji_east", "fiji_west", "video_speech", "tokyo", "manual_time"}),
        ({"taken_to": "2019-07-14T23:30:00+02:00"}, {"paris_dog", "paris_late", "manual_gps"}),
        ({"taken_from": "2019-07-15T00:30:00+02:00", "taken_to": "2019-07-15T00:30:00+02:00"},
         {"paris_after_midnight"}),
        ({"no_date": "true"}, {"ocr_obama", "no_date_no_gps"}),
        ({"no_date": "false"}, but("ocr_obama", "no_date_no_gps")),
    ])


def test_place_filters(api: ApiClient, library: Library) -> None:
    check(api, library, [
        ({"bbox": "2,48,3,49"}, {"paris_dog", "paris_late", "paris_after_midnight"}),
        ({"bbox": "179,-20,-179,-15"}, {"fiji_east", "fiji_west"}),  # across the antimeridian
        ({"bbox": "170,-20,179.95,-15"}, {"fiji_east"}),
        ({"bbox": "539,-20,541,-15"}, {"fiji_east", "fiji_west"}),  # longitudes beyond ±180 wrap
        ({"bbox": "-1,51,0,52"}, {"manual_gps"}),  # a position set by hand
        ({"bbox": "-180,-90,180,90"}, but("video_speech", "ocr_obama", "no_date_no_gps", "manual_time")),
        ({"no_gps": "true"}, {"video_speech", "ocr_obama", "no_date_no_gps", "manual_time"}),
        ({"no_gps": "false"}, but("video_speech", "ocr_obama", "no_date_no_gps", "manual_time")),
    ])


def test_object_filters(api: ApiClient, library: Library) -> None:
    # Items scanned without a label count it 0; an item not scanned (ocr_obama, manual_time) never matches.
    check(api, library, [
        ({"object": "dog"}, {"paris_dog", "no_date_no_gps"}),
        ({"object": "dog=1"}, {"paris_dog"}),
        ({"object": "dog>=2"}, {"no_date_no_gps"}),
        ({"object": "person>=2"}, {"paris_dog", "paris_late", "video_speech", "tokyo"}),
        ({"object": "person>3"}, {"video_speech", "tokyo"}),
        ({"object": "person<=3"}, but("video_speech", "tokyo", "ocr_obama", "manual_time")),
        ({"object": "person<2"},
         {"paris_after_midnight", "fiji_east", "fiji_west", "manual_gps", "no_date_no_gps"}),
        ({"object": "person=0"}, {"fiji_east", "fiji_west", "manual_gps", "no_date_no_gps"}),
        ({"object": "person>=0"}, but("ocr_obama", "manual_time")),
        ([("object", "person>=2"), ("object", "person<=3")], {"paris_dog", "paris_late"}),
        ([("object", "cat"), ("object", "person")], {"paris_after_midnight"}),
        ({"object": " traffic light >= 2 "}, {"tokyo"}),
        ({"object": "unicorn"}, set()),
    ])


def test_people_album_and_column_filters(api: ApiClient, library: Library) -> None:
    alice, bob, carol = (library.persons[name] for name in ("alice", "bob", "carol"))
    check(api, library, [
        ({"person": alice}, {"paris_dog", "paris_late", "tokyo"}),
        ([("person", alice), ("person", bob)], {"paris_dog"}),
        ({"person": bob}, {"paris_dog", "video_speech"}),
        ({"person": carol}, {"paris_dog"}),  # hidden from lists, still a filter
        ({"album": library.album}, {"paris_dog", "paris_late"}),
        ({"make": "APPLE"}, {"paris_dog", "paris_late", "paris_after_midnight", "manual_gps"}),
        ({"make": "apple", "model": "iphone x"}, {"paris_dog", "paris_late", "paris_after_midnight"}),
        ({"model": "Canon EOS 5D"}, {"fiji_east", "fiji_west"}),
        ({"kind": "video"}, {"video_speech"}),
        ({"kind": "photo"}, but("video_speech")),
        ([("format", "heic"), ("format", "PNG")], {"paris_late", "ocr_obama"}),
        ({"favourite": "true"}, {"paris_dog"}),
        ({"favourite": "false"}, but("paris_dog")),
        ({"has_text": "true"}, {"video_speech", "ocr_obama"}),
        ({"has_text": "false"}, but("video_speech", "ocr_obama")),  # fiji_west's OCR found nothing
        ({"source": "camera"}, {"fiji_east", "fiji_west", "tokyo", "manual_time"}),
        ({"source": "upload:editor"}, {"no_date_no_gps"}),
    ])


def test_filters_combine(api: ApiClient, library: Library) -> None:
    alice = library.persons["alice"]
    check(api, library, [
        ({"q": "paris", "object": "person>=2", "taken_from": "2019-07-14", "taken_to": "2019-07-14"},
         {"paris_dog", "paris_late"}),
        ({"kind": "photo", "no_gps": "true", "has_text": "true"}, {"ocr_obama"}),
        ({"bbox": "100,-90,-100,90", "object": "person"}, {"tokyo"}),
        ({"make": "canon", "bbox": "179,-20,-179,-15", "taken_from": "2020-01-06"}, {"fiji_west"}),
        ({"person": alice, "album": library.album, "favourite": "false"}, {"paris_late"}),
        ([("favourite", "false"), ("source", "phone"), ("object", "person")],
         {"paris_late", "paris_after_midnight", "video_speech"}),
        ({"q": "museum", "no_gps": "false"}, {"manual_gps"}),
        ({"no_date": "true", "taken_from": "2019-01-01"}, set()),
    ])


# -- free text ---------------------------------------------------------------------------------------------


def test_free_text(api: ApiClient, library: Library) -> None:
    check(api, library, [
        ({"q": "obam"}, {"ocr_obama"}),  # a prefix, in OCR text
        ({"q": "paris"}, {"paris_dog", "paris_late", "paris_after_midnight"}),  # place and folder
        ({"q": "IMG_2041"}, {"paris_dog"}),  # a file name's pieces, in order
        ({"q": "img_204"}, {"paris_dog", "paris_late", "paris_after_midnight"}),
        ({"q": '"happy birthday"'}, {"video_speech"}),  # a phrase, in a transcript
        ({"q": '"birthday happy"'}, set()),
        ({"q": '"happy birth"'}, set()),  # phrases are exact words
        ({"q": "paris -dog"}, {"paris_late", "paris_after_midnight"}),  # paris_dog shows a dog
        ({"q": "-paris -dog -person"}, {"fiji_east", "fiji_west", "ocr_obama", "manual_gps", "manual_time"}),
        ({"q": "tokyo OR fiji"}, {"tokyo", "fiji_east", "fiji_west"}),
        ({"q": "paris person or boat"}, {"paris_dog", "paris_late", "paris_after_midnight"}),
        ({"q": "grandma"}, {"tokyo"}),  # a comment
        ({"q": "boat"}, {"fiji_east"}),  # an object label
        ({"q": '"traffic light"'}, {"tokyo"}),
        ({"q": "ZÜR"}, {"manual_time"}),  # letters beyond ASCII, any case
        ({"q": "'; DROP TABLE media; --"}, set()),
        ({"q": "taveuni & (fiji | !x) <-> y:*"}, set()),  # tsquery syntax is only text here
        ({"q": "fiji taveuni"}, {"fiji_east", "fiji_west"}),
    ])


def test_free_text_is_ranked(api: ApiClient, library: Library) -> None:
    items = api.get("/api/media", params={"q": "museum"}).json()["items"]
    # In a file name (weight A) beats in OCR text (weight B).
    assert library.names([item["id"] for item in items]) == ["manual_gps", "ocr_obama"]
    assert items[0]["rank"] > items[1]["rank"] > 0
    by_time = api.get("/api/media", params={"q": "museum", "sort": "-taken_at"}).json()["items"]
    assert library.names([item["id"] for item in by_time]) == ["manual_gps", "ocr_obama"]
    assert api.get("/api/media").json()["items"][0]["rank"] is None


# -- facets ------------------------------------------------------------------------------------------------


def test_facets_of_the_whole_library(api: ApiClient, library: Library) -> None:
    body = api.get("/api/facets").json()
    alice, bob = library.persons["alice"], library.persons["bob"]
    assert body == {
        "total": 11,
        "labels": counts("value", ("person", 5), ("dog", 2), ("boat", 1), ("bus", 1), ("cake", 1), ("cat", 1),
                         ("traffic light", 1)),
        "people": [{"id": alice, "name": "alice", "count": 3}, {"id": bob, "name": "bob", "count": 2}],
        "cameras": [{"make": make, "model": model, "count": count} for make, model, count in (
            ("Apple", "iPhone X", 3), ("Canon", "Canon EOS 5D", 2), ("Apple", "iPhone 6", 1),
            ("FUJIFILM", "X-T4", 1), ("Google", "Pixel 5", 1), ("SONY", "ILCE-6000", 1))],
        "formats": [{"kind": kind, "format": name, "count": count} for kind, name, count in (
            ("photo", "jpeg", 8), ("photo", "heic", 1), ("photo", "png", 1), ("video", "mp4", 1))],
        "kinds": counts("value", ("photo", 10), ("video", 1)),
        "years": counts("year", (2018, 1), (2019, 3), (2020, 2), (2021, 1), (2022, 1), (2023, 1)),
        "months": counts("month", ("2018-05", 1), ("2019-07", 3), ("2020-01", 2), ("2021-03", 1),
                         ("2022-04", 1), ("2023-06", 1)),
        "places": [{"country_code": code, "country": name, "count": count} for code, name, count in (
            ("FR", "France", 3), ("FJ", "Fiji", 2), ("JP", "Japan", 1), ("GB", "United Kingdom", 1))],
        "sources": counts("value", ("phone", 5), ("camera", 4), ("scans", 1), ("upload:editor", 1)),
    }


def counts(key: str, *pairs: tuple[Any, int]) -> list[dict[str, Any]]:
    return [{key: value, "count": count} for value, count in pairs]


def test_facets_are_reused_until_the_library_changes(api: ApiClient, library: Library,
                                                    settings: Settings) -> None:
    from api import snapshot_cache

    cache = snapshot_cache.for_app(api.client.app)
    first = api.get("/api/facets", params={"facet": "kinds"}).json()
    hits = cache.hits
    assert api.get("/api/facets", params={"facet": "kinds"}).json() == first
    assert cache.hits == hits + 1
    with db.connect(settings, autocommit=True) as conn:
        add_media(conn, "new/video.mp4", kind="video", format="mp4")
    assert api.get("/api/facets", params={"facet": "kinds"}).json() == {
        "total": 12, "kinds": counts("value", ("photo", 10), ("video", 2))}
    assert cache.hits == hits + 1
    # Another filter set is another entry.
    assert api.get("/api/facets", params={"facet": "kinds", "kind": "video"}).json()["total"] == 2


def test_facets_follow_the_filters_and_the_selection(api: ApiClient, library: Library) -> None:
    body = api.get("/api/facets", params=[("facet", "labels"), ("facet", "years"), ("facet", "people"),
                                          ("kind", "photo"), ("taken_from", "2019-07-14")]).json()
    assert set(body) == {"total", "labels", "years", "people"}
    assert body["total"] == 7  # paris x3, fiji x2, tokyo, manual_time
    assert body["labels"] == [{"value": "person", "count": 4}, {"value": "boat", "count": 1},
                              {"value": "cat", "count": 1}, {"value": "dog", "count": 1},
                              {"value": "traffic light", "count": 1}]
    assert body["years"] == counts("year", (2019, 3), (2020, 2), (2022, 1), (2023, 1))
    alice, bob = library.persons["alice"], library.persons["bob"]
    assert body["people"] == [{"id": alice, "name": "alice", "count": 3},
                              {"id": bob, "name": "bob", "count": 1}]
    text = api.get("/api/facets", params={"q": "paris", "facet": "places"}).json()
    assert text == {"total": 3, "places": [{"country_code": "FR", "country": "France", "count": 3}]}
    nothing = api.get("/api/facets", params={"facet": "kinds", "object": "unicorn"}).json()
    assert nothing == {"total": 0, "kinds": []}
    assert api.get("/api/facets", params={"facet": "colours"}).status_code == 422


# -- map ---------------------------------------------------------------------------------------------------

POSITIONS = {  # the items with a position, as the map must place them
    "paris_dog": (48.8566, 2.3522), "paris_late": (48.86, 2.35), "paris_after_midnight": (48.85, 2.34),
    "fiji_east": (-16.85, 179.9), "fiji_west": (-16.9, -179.9), "manual_gps": (51.5007, -0.1246),
    "tokyo": (35.6762, 139.6503),
}


def clusters(api: ApiClient, **params: Any) -> dict[str, Any]:
    answer = api.get("/api/map", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_map_clusters_the_world(api: ApiClient, library: Library) -> None:
    body = clusters(api, zoom=2)
    assert body["total"] == 7
    paris = body["clusters"][0]
    lats, lons = [POSITIONS[n][0] for n in POSITIONS if n.startswith("paris")], [
        POSITIONS[n][1] for n in POSITIONS if n.startswith("paris")]
    assert paris["count"] == 3  # the staged item in Paris is not there
    assert paris["lat"] == pytest.approx(sum(lats) / 3) and paris["lon"] == pytest.approx(sum(lons) / 3)
    assert paris["bbox"] == [2.34, 48.85, 2.3522, 48.86]
    assert paris["media_id"] is None and paris["position_source"] is None
    singles = {library.names([c["media_id"]])[0]: c for c in body["clusters"][1:]}
    assert list(singles) == ["fiji_west", "fiji_east", "tokyo", "manual_gps"]  # by count, then latitude
    assert singles["manual_gps"]["position_source"] == "manual"
    assert singles["tokyo"]["position_source"] == "exif"
    assert singles["tokyo"]["count"] == 1
    assert (singles["tokyo"]["lat"], singles["tokyo"]["lon"]) == POSITIONS["tokyo"]
    assert singles["tokyo"]["bbox"] == [139.6503, 35.6762, 139.6503, 35.6762]


def test_map_splits_clusters_as_the_zoom_grows(api: ApiClient, library: Library) -> None:
    city = clusters(api, zoom=16, view="2.33,48.84,2.36,48.87")
    assert city["total"] == 3
    assert sorted(library.names([c["media_id"] for c in city["clusters"]])) == [
        "paris_after_midnight", "paris_dog", "paris_late"]
    assert all(c["count"] == 1 and c["position_source"] == "exif" for c in city["clusters"])
    # At every zoom, the clusters are exactly the grid cells of the items (computed here independently).
    for zoom in range(0, 19, 3):
        n = 4 << zoom
        cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for lat, lon in POSITIONS.values():
            x = min(n - 1, math.floor((lon + 180) / 360 * n))
            y = math.floor((0.5 - math.asinh(math.tan(math.radians(lat))) / (2 * math.pi)) * n)
            cells.setdefault((x, y), []).append((lat, lon))
        expected = sorted((len(v), round(sum(p[0] for p in v) / len(v), 9),
                           round(sum(p[1] for p in v) / len(v), 9)) for v in cells.values())
        view = None if zoom <= 6 else "2.335,48.845,2.36,48.865"
        if view:
            expected = [e for e in expected if 48.845 <= e[1] <= 48.865]
        found = clusters(api, zoom=zoom, **({"view": view} if view else {}))["clusters"]
        assert sorted((c["count"], round(c["lat"], 9), round(c["lon"], 9)) for c in found) == expected, zoom


def test_map_views_across_the_antimeridian_and_filters(api: ApiClient, library: Library) -> None:
    fiji = clusters(api, zoom=5, view="170,-25,-170,-10")
    assert sorted(library.names([c["media_id"] for c in fiji["clusters"]])) == ["fiji_east", "fiji_west"]
    east_only = clusters(api, zoom=5, view="170,-25,179.5,-10")
    assert library.names([c["media_id"] for c in east_only["clusters"]]) == ["fiji_east"]
    wrapped = clusters(api, zoom=5, view="530,-25,550,-10")  # the same place, one world to the right
    assert sorted(library.names([c["media_id"] for c in wrapped["clusters"]])) == ["fiji_east", "fiji_west"]
    dogs = clusters(api, zoom=2, object="dog")  # no_date_no_gps has a dog but no position
    assert [(c["count"], c["media_id"]) for c in dogs["clusters"]] == [(1, library.ids["paris_dog"])]
    # The bbox filter and the view are separate: the view frames the map, bbox picks the items.
    framed = clusters(api, zoom=8, view="-10,40,10,60", bbox="2.345,48.8,2.4,48.9")
    assert [c["count"] for c in framed["clusters"]] == [2] and framed["total"] == 2
    assert clusters(api, zoom=8, view="-10,40,10,60")["total"] == 4  # Paris and London


def test_map_refuses_bad_views(api: ApiClient, library: Library) -> None:
    for params in ({"zoom": 10}, {"zoom": 14, "view": "-10,40,10,60"}, {"view": "1,2,3"},
                   {"view": "0,50,10,40"}, {"zoom": 23}, {"zoom": -1}):
        answer = api.get("/api/map", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["error"] == "invalid"


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "field"), [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=0,10,10,5", "bbox"), ("bbox=0,0,nan,1", "bbox"),
    ("taken_from=yesterday", "taken_from"), ("taken_from=2024-05-01T10:00:00", "taken_from"),
    ("taken_from=2024-02-30", "taken_from"), ("taken_from=2024-05-02&taken_to=2024-05-01", "taken_to"),
    ("object=dog>>2", "object"), ("object=>=2", "object"), ("object=dog>=99999", "object"),
    ("object=dog>=-1", "object"), ("format=jp%20eg", "format"), ("q=!!!", "q"), ("kind=gif", "query.kind"),
    ("limit=0", "query.limit"), ("limit=501", "query.limit"), ("sort=name", "query.sort"),
    ("sort=relevance", "sort"), ("cursor=abc", "cursor"), ("person=abc", "query.person.0"),
    ("album=0", "query.album"), ("favourite=maybe", "query.favourite"),
])
def test_bad_input_is_a_422_naming_the_parameter(api: ApiClient, query: str, field: str) -> None:
    answer = api.get(f"/api/media?{query}")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid" and body["problems"][0]["field"] == field
    assert body["message"].startswith(field)


def test_every_problem_is_reported_at_once(api: ApiClient) -> None:
    body = api.get("/api/facets?bbox=1&taken_to=x&object=a<<1").json()
    assert [p["field"] for p in body["problems"]] == ["taken_to", "bbox", "object"]


def test_filter_parser_units() -> None:
    from api.filters import text_query

    assert text_query("obam") == "obam:*"
    assert text_query("IMG_2041") == "(IMG <-> 2041:*)"
    assert text_query('"quoted phrase" -dog') == "(quoted <-> phrase) & !dog:*"
    assert text_query("beach dog or cat") == "beach:* & (dog:* | cat:*)"
    assert text_query("or") == "or:*"
    assert text_query("'&|!():*<>") is None
    assert text_query("a" * 10 + " b") == "aaaaaaaaaa:* & b:*"
    with pytest.raises(Exception, match="at most 20 words"):
        text_query(" ".join(f"w{n}" for n in range(21)))


def test_bigger_views_snap_to_whole_cells() -> None:
    from api.filters import Box

    snapped = grid.snap(Box(1.0, 25.0, 2.0, 35.0), 2)  # one cell of 22.5° at zoom 2
    assert snapped.cells == 1
    assert (snapped.box.west, snapped.box.east) == (0.0, 22.5)
    assert snapped.box.south == pytest.approx(21.943045) and snapped.box.north == pytest.approx(40.979898)
    assert grid.snap(Box(None, -90.0, None, 90.0), 0).cells == 16
    wrapped = grid.snap(Box(170.0, -20.0, -170.0, -10.0), 3)
    assert wrapped.box.west is not None and wrapped.box.west > wrapped.box.east  # type: ignore[operator]
    assert grid.snap(Box(10.0, -10.0, 5.0, 10.0), 0).box.west is None  # wraps all the way round

