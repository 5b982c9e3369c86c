"""One media item through the API: its detail (metadata, results read by core/results, near-duplicates),
hand-set time and position round trips, favourites, bulk edits, comments, roles. Real Postgres, real
ingester, corpus files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from core.perceptual import to_signed
from core.settings import Settings
from tests.api_media_support import (
    GPS_PHOTO,
    NO_GPS_PHOTO,
    SPEECH_VIDEO,
    connection,
    ingest_corpus,
    storage_path,
)
from tests.conftest import ApiClient

pytestmark = pytest.mark.corpus


@pytest.fixture
def photo(api: ApiClient, settings: Settings, corpus: Path) -> int:
    return ingest_corpus(settings, corpus, GPS_PHOTO)


@pytest.fixture
def plain(api: ApiClient, settings: Settings, corpus: Path) -> int:
    """A photo without a position."""
    return ingest_corpus(settings, corpus, NO_GPS_PHOTO)


def _patch(api: ApiClient, media_id: int, body: Any, as_: str = "editor") -> Any:
    return api.patch(f"/api/media/{media_id}", json=body, as_=as_)


def _raw_patch(api: ApiClient, media_id: int, text: str) -> Any:
    return api.patch(f"/api/media/{media_id}", content=text.encode(), as_="editor",
                     headers={"Content-Type": "application/json"})


# --- detail ---------------------------------------------------------------------------------------------


def test_detail_of_an_ingested_photo(api: ApiClient, manifest: dict[str, Any], photo: int) -> None:
    entry = manifest["files"][GPS_PHOTO]  # type: ignore[index]
    truth = entry["ground_truth"]
    answer = api.get(f"/api/media/{photo}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    d = answer.json()
    assert (d["id"], d["kind"], d["format"], d["mime_type"]) == (photo, "photo", "jpeg", "image/jpeg")
    assert d["sha512"] == entry["sha512"] and d["size_bytes"] == entry["size_bytes"]
    assert d["name"] == "ia_DSCN0010.jpg" and d["original_path"] == "ia_DSCN0010.jpg"
    assert d["storage_path"].startswith("originals/") and d["source"] == ""
    assert (d["width"], d["height"], d["orientation"]) == (640, 480, 1)
    assert d["camera"]["make"] == truth["make"] and d["camera"]["model"] == truth["model"]
    assert d["exif_gps"]["lat"] == pytest.approx(truth["gps_lat"], abs=1e-6)
    assert d["exif_gps"]["lon"] == pytest.approx(truth["gps_lon"], abs=1e-6)
    assert (d["lat"], d["lon"], d["position_source"]) == (d["exif_gps"]["lat"], d["exif_gps"]["lon"], "exif")
    assert d["manual_gps"] is None
    assert d["place"]["country_code"] == "IT" and d["place"]["admin1"] == "Tuscany"
    assert d["time"]["exif"]["taken_at_local"] == "2008-10-22T16:28:39"
    assert d["time"]["exif"]["source"] == "exif" and d["time"]["manual"] is None
    assert d["taken_at_local"] == "2008-10-22T16:28:39" and d["time_source"] == "file"
    assert d["video"] is None and d["playback"] is None
    assert d["favourite"] is False and d["comments"] == [] and d["albums"] == [] and d["aliases"] == []
    assert d["objects"] is None and d["faces"] == [] and d["ocr"] is None and d["speech"] is None
    assert d["keyframes"] == [] and d["dhash"] is None and d["near_duplicates"] == []
    assert set(d["jobs"]) >= {"objects", "faces", "ocr", "dhash"}
    assert all(job == {"state": "pending", "error": None} for job in d["jobs"].values())
    assert d["urls"] == {"original": f"/api/media/{photo}/original",
                         "download": f"/api/media/{photo}/original?download=true",
                         "thumbnail": f"/api/media/{photo}/thumbnail?size=grid",
                         "preview": f"/api/media/{photo}/thumbnail?size=preview"}
    assert d["thumbnail_url"] == f"/api/media/{photo}/thumbnail"


def test_detail_of_a_video(api: ApiClient, settings: Settings, corpus: Path) -> None:
    video = ingest_corpus(settings, corpus, SPEECH_VIDEO)
    d = api.get(f"/api/media/{video}").json()
    assert d["kind"] == "video" and d["mime_type"] == "video/mp4"
    assert d["video"]["video_codec"] == "h264" and d["video"]["audio_codec"] == "aac"
    assert d["video"]["duration_s"] == pytest.approx(11.167, abs=0.2)
    assert d["playback"]["url"] == f"/api/media/{video}/playback"
    assert "speech" in d["jobs"] and "ocr" not in d["jobs"]


def test_detail_shows_every_result_as_export_reads_it(api: ApiClient, settings: Settings, photo: int,
                                                        plain: int) -> None:
    line = {"text": "HOTEL", "confidence": 91.5, "block": 1, "box": [0.1, 0.2, 0.3, 0.05],
            "words": [{"text": "HOTEL", "confidence": 91.5, "box": [0.1, 0.2, 0.3, 0.05]}]}
    base = 0x0F0F_0F0F_0F0F_0F0F
    with connection(settings) as conn:
        conn.execute(
            """INSERT INTO object_scan (media_id, analyzer, analyzer_version, backend, model, min_confidence,
                                        frames, detections, label_counts)
               VALUES (%s, 'objects', '1', 'ssd', 'mobilenet', 0.4, 1, 2, '{"dog": 1, "person": 1}')""",
            (photo,),
        )
        for label, confidence, x in (("dog", 0.9, 0.1), ("person", 0.6, 0.5)):
            conn.execute(
                """INSERT INTO object_detection (media_id, label, confidence, x, y, w, h, analyzer,
                                                 analyzer_version, backend, model)
                   VALUES (%s, %s, %s, %s, 0.2, 0.3, 0.4, 'objects', '1', 'ssd', 'mobilenet')""",
                (photo, label, confidence, x),
            )
        conn.execute(
            """INSERT INTO ocr_result (media_id, text, word_count, languages, rotation, lines, analyzer,
                                       analyzer_version, backend, model)
               VALUES (%s, 'HOTEL', 1, 'eng', 90, %s, 'ocr', '1', 'tesseract', '5')""",
            (photo, json.dumps([line])),
        )
        # Two near-duplicates: hashes 2 bits apart.
        for media_id, value in ((photo, base), (plain, base ^ 0b101)):
            conn.execute(
                """INSERT INTO perceptual_hash (media_id, frame_ms, hash, analyzer, analyzer_version)
                   VALUES (%s, NULL, %s, 'dhash', '1')""",
                (media_id, to_signed(value)),
            )
    d = api.get(f"/api/media/{photo}").json()
    assert d["objects"] == {
        "backend": "ssd", "model": "mobilenet", "counts": {"dog": 1, "person": 1},
        "items": [
            {"label": "dog", "confidence": 0.9, "frame_ms": None,
             "box": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}},
            {"label": "person", "confidence": 0.6, "frame_ms": None,
             "box": {"x": 0.5, "y": 0.2, "w": 0.3, "h": 0.4}},
        ],
    }
    box = {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.05}
    assert d["ocr"] == {"text": "HOTEL", "rotation": 90, "lines": [
        {"text": "HOTEL", "confidence": 91.5, "block": 1, "box": box,
         "words": [{"text": "HOTEL", "confidence": 91.5, "box": box}]}]}
    assert d["dhash"] == "0f0f0f0f0f0f0f0f" and d["keyframes"] == []
    assert [(n["id"], n["distance"], n["frame_ms"]) for n in d["near_duplicates"]] == [(plain, 2, None)]
    assert d["near_duplicates"][0]["name"] == "ia_Canon_40D.jpg"
    back = api.get(f"/api/media/{plain}").json()["near_duplicates"]
    assert [n["id"] for n in back] == [photo]


def test_speech_and_keyframes_of_a_video(api: ApiClient, settings: Settings, corpus: Path) -> None:
    video = ingest_corpus(settings, corpus, SPEECH_VIDEO)
    with connection(settings) as conn:
        conn.execute(
            """INSERT INTO speech_result (media_id, status, language, text, segment_count, analyzer,
                                          analyzer_version, backend, model)
               VALUES (%s, 'transcribed', 'en', 'ask not', 1, 'speech', '1', 'faster-whisper', 'base')""",
            (video,),
        )
        conn.execute("INSERT INTO speech_segment (media_id, seq, start_s, end_s, text)"
                     " VALUES (%s, 0, 0.5, 2.25, 'ask not')", (video,))
        for ms, value in ((0, 1), (1500, 2)):
            conn.execute("INSERT INTO perceptual_hash (media_id, frame_ms, hash, analyzer, analyzer_version)"
                         " VALUES (%s, %s, %s, 'dhash', '1')", (video, ms, value))
    d = api.get(f"/api/media/{video}").json()
    assert d["speech"] == {"status": "transcribed", "language": "en", "text": "ask not",
                           "segments": [{"start_s": 0.5, "end_s": 2.25, "text": "ask not"}],
                           "subtitles_url": None}
    assert d["keyframes"] == [{"ms": 0, "hash": "0000000000000001"}, {"ms": 1500, "hash": "0000000000000002"}]
    assert d["dhash"] == "0000000000000001"


def test_unknown_and_malformed_ids(api: ApiClient, photo: int) -> None:
    missing = api.get(f"/api/media/{photo + 1000}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    for bad in ("abc", "-1", "0", "1e3", str(2**63), "..%2F..%2Fetc%2Fpasswd"):
        answer = api.get(f"/api/media/{bad}")
        assert answer.status_code in (404, 422), bad
    assert api.get("/api/media/abc").json()["error"] == "invalid"
    assert api.get(f"/api/media/{photo}", as_=None).status_code == 401
    assert _patch(api, photo + 1000, {"favourite": True}).status_code == 404


# --- edits ----------------------------------------------------------------------------------------------


def test_hand_set_time_round_trip(api: ApiClient, settings: Settings, corpus: Path, photo: int) -> None:
    with_offset = _patch(api, photo, {"taken_at": {"local": "2020-01-02T03:04:05", "offset_minutes": 120}})
    assert with_offset.status_code == 200, with_offset.text
    d = with_offset.json()
    assert d["taken_at"] == "2020-01-02T01:04:05Z"
    assert d["taken_at_local"] == "2020-01-02T03:04:05" and d["time_source"] == "manual"
    manual = d["time"]["manual"]
    assert (manual["taken_at"], manual["taken_at_local"], manual["offset_minutes"], manual["set_by"]) == (
        "2020-01-02T01:04:05Z", "2020-01-02T03:04:05", 120, "editor")
    assert manual["set_at"] is not None
    assert d["time"]["exif"]["taken_at_local"] == "2008-10-22T16:28:39"  # the file's own stays visible
    # Without an offset the wall-clock time is read as UTC, as the ingester does.
    no_offset = _patch(api, photo, {"taken_at": {"local": "1999-12-31T23:59:59"}}).json()
    assert no_offset["taken_at"] == "1999-12-31T23:59:59Z"
    assert no_offset["time"]["manual"]["offset_minutes"] is None
    west = _patch(api, photo, {"taken_at": {"local": "2021-06-01T20:00:00", "offset_minutes": -300}}).json()
    assert west["taken_at"] == "2021-06-02T01:00:00Z"
    # null clears: the file's time comes back.
    cleared = _patch(api, photo, {"taken_at": None}).json()
    assert cleared["time"]["manual"] is None and cleared["time_source"] == "file"
    assert cleared["taken_at_local"] == "2008-10-22T16:28:39"
    assert cleared["taken_at"] == cleared["time"]["exif"]["taken_at"]
    with connection(settings) as conn:
        row = conn.execute("SELECT manual_taken_at, manual_taken_at_local, manual_taken_at_by,"
                           " manual_taken_at_set_at FROM media WHERE id = %s", (photo,)).fetchone()
    assert row == {"manual_taken_at": None, "manual_taken_at_local": None, "manual_taken_at_by": None,
                   "manual_taken_at_set_at": None}
    assert storage_path(settings, photo).read_bytes() == (corpus / GPS_PHOTO).read_bytes()


def test_hand_set_position_round_trip(api: ApiClient, settings: Settings, corpus: Path, photo: int,
                                      plain: int) -> None:
    paris = _patch(api, photo, {"gps": {"lat": 48.8584, "lon": 2.2945}})
    assert paris.status_code == 200, paris.text
    d = paris.json()
    assert (d["lat"], d["lon"], d["position_source"]) == (48.8584, 2.2945, "manual")
    assert d["manual_gps"]["lat"] == 48.8584 and d["manual_gps"]["set_by"] == "editor"
    assert d["exif_gps"]["lat"] == pytest.approx(43.4674483, abs=1e-6)  # the file's own stays visible
    assert d["place"]["country_code"] == "FR" and d["place"]["country"] == "France"
    assert d["place"]["admin1"] == "Ile-de-France"
    # Integers are coordinates too.
    assert _patch(api, photo, {"gps": {"lat": 0, "lon": 0}}).json()["lat"] == 0
    # null clears: back to the file's position and its place.
    cleared = _patch(api, photo, {"gps": None}).json()
    assert cleared["manual_gps"] is None and cleared["position_source"] == "exif"
    assert cleared["lat"] == pytest.approx(43.4674483, abs=1e-6)
    assert cleared["place"]["country_code"] == "IT" and cleared["place"]["admin1"] == "Tuscany"
    # An item without a position of its own: placed by hand, then nowhere again.
    tokyo = _patch(api, plain, {"gps": {"lat": 35.6586, "lon": 139.7454}}).json()
    assert tokyo["place"]["country_code"] == "JP" and tokyo["exif_gps"] is None
    nowhere = _patch(api, plain, {"gps": None}).json()
    assert (nowhere["lat"], nowhere["position_source"], nowhere["place"]) == (None, None, None)
    with connection(settings) as conn:
        row = conn.execute("SELECT manual_lat, manual_lon, manual_gps_at, manual_gps_by, place_name, country"
                           " FROM media WHERE id = %s", (plain,)).fetchone()
    assert row is not None and all(value is None for value in row.values())
    assert storage_path(settings, photo).read_bytes() == (corpus / GPS_PHOTO).read_bytes()


def test_invalid_edits_are_422_and_change_nothing(api: ApiClient, settings: Settings, photo: int) -> None:
    before = api.get(f"/api/media/{photo}").json()
    for body, field in (
        ({"gps": {"lat": 91, "lon": 0}}, "gps.lat"),
        ({"gps": {"lat": 0, "lon": -180.5}}, "gps.lon"),
        ({"gps": {"lat": "45", "lon": 0}}, "gps.lat"),
        ({"gps": {"lat": True, "lon": 0}}, "gps.lat"),
        ({"gps": {"lat": 45}}, "gps.lon"),
        ({"gps": {"lat": 45, "lon": 7, "alt": 3}}, "gps.alt"),
        ({"taken_at": {"local": "2020-01-01T00:00:00+02:00"}}, "taken_at.local"),
        ({"taken_at": {"local": "2020-01-01T00:00:00", "offset_minutes": 2000}}, "taken_at.offset_minutes"),
        ({"taken_at": {"local": "0001-01-01T00:00:00", "offset_minutes": 60}}, "taken_at.local"),
        ({"taken_at": {"local": "not a date"}}, "taken_at.local"),
        ({"taken_at": {}}, "taken_at.local"),
        ({"favourite": None}, "favourite"),
        ({"favourite": "yes"}, "favourite"),
        ({"favorite": True}, "favorite"),
        ({}, "body"),
    ):
        answer = _patch(api, photo, body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "invalid"
        assert any(p["field"] == field for p in answer.json()["problems"]), (body, answer.json())
    # Python's JSON reader accepts NaN and Infinity; they are not positions.
    for text in ('{"gps": {"lat": NaN, "lon": 0}}', '{"gps": {"lat": 0, "lon": Infinity}}'):
        assert _raw_patch(api, photo, text).status_code == 422, text
    assert api.get(f"/api/media/{photo}").json() == before


def test_favourites_and_roles(api: ApiClient, photo: int) -> None:
    assert _patch(api, photo, {"favourite": True}).json()["favourite"] is True
    assert api.get(f"/api/media/{photo}").json()["favourite"] is True
    assert _patch(api, photo, {"favourite": False}, as_="admin").json()["favourite"] is False
    viewer = _patch(api, photo, {"favourite": True}, as_="viewer")
    assert viewer.status_code == 403 and viewer.json()["error"] == "forbidden"
    assert _patch(api, photo, {"favourite": True}, as_=None).status_code == 401
    bulk = api.post("/api/media/bulk", json={"ids": [photo], "favourite": True}, as_="viewer")
    assert bulk.status_code == 403
    assert api.get(f"/api/media/{photo}").json()["favourite"] is False


def test_bulk_edits_all_or_nothing(api: ApiClient, settings: Settings, photo: int, plain: int) -> None:
    album = api.post("/api/albums", json={"name": "Trip"}, as_="editor").json()
    answer = api.post("/api/media/bulk", as_="editor", json={
        "ids": [photo, plain, plain], "favourite": True, "gps": {"lat": 51.5007, "lon": -0.1246},
        "taken_at": {"local": "2022-02-02T12:00:00", "offset_minutes": 0}, "add_to_album": album["id"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 2}
    for media_id in (photo, plain):
        d = api.get(f"/api/media/{media_id}").json()
        assert d["favourite"] is True and d["place"]["country_code"] == "GB"
        assert d["taken_at"] == "2022-02-02T12:00:00Z"
        assert d["albums"] == [{"id": album["id"], "name": "Trip"}]
    # One unknown id: 422 naming it, and nothing changes for the others.
    missing = api.post("/api/media/bulk", as_="editor",
                       json={"ids": [photo, 999_999, plain, 888_888], "favourite": False, "gps": None})
    assert missing.status_code == 422
    assert missing.json()["missing_ids"] == [888_888, 999_999]
    assert "888888" in missing.json()["message"]
    for media_id in (photo, plain):
        d = api.get(f"/api/media/{media_id}").json()
        assert d["favourite"] is True and d["position_source"] == "manual"
    # Clearing positions in bulk re-places each item from its own file.
    cleared = api.post("/api/media/bulk", as_="editor", json={"ids": [photo, plain], "gps": None})
    assert cleared.json() == {"updated": 2}
    assert api.get(f"/api/media/{photo}").json()["place"]["country_code"] == "IT"
    assert api.get(f"/api/media/{plain}").json()["place"] is None
    for body in ({"ids": [photo]}, {"ids": [], "favourite": True}, {"ids": ["x"], "favourite": True},
                 {"ids": [photo], "add_to_album": 999_999}):
        assert api.post("/api/media/bulk", as_="editor", json=body).status_code == 422, body


# --- comments -------------------------------------------------------------------------------------------


def test_comments(api: ApiClient, settings: Settings, photo: int) -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)> \u00e9\U0001f600\n  '
    first = api.post(f"/api/media/{photo}/comments", json={"body": hostile}, as_="editor")
    assert first.status_code == 201
    assert first.headers["content-type"] == "application/json"
    assert first.json()["body"] == hostile
    assert first.json()["author"] == "editor" and first.json()["media_id"] == photo
    second = api.post(f"/api/media/{photo}/comments", json={"body": "second"}, as_="admin").json()
    listed = api.get(f"/api/media/{photo}/comments")
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/json"
    assert [c["body"] for c in listed.json()] == [hostile, "second"]
    assert json.loads(listed.content)[0]["body"] == hostile  # JSON-escaped on the wire, exact when read
    assert b"<script>" in listed.content  # not HTML-escaped either: the page renders text, not HTML
    assert [c["author"] for c in listed.json()] == ["editor", "admin"]
    assert api.get(f"/api/media/{photo}").json()["comments"] == listed.json()
    # Roles, limits, and what Postgres cannot store.
    assert api.post(f"/api/media/{photo}/comments", json={"body": "hi"}, as_="viewer").status_code == 403
    assert api.post(f"/api/media/{photo}/comments", json={"body": "hi"}, as_=None).status_code == 401
    for bad in ("", "   \n", "x" * 10001, "nul\x00here", "\ud800"):
        # json.dumps escapes to ASCII: a lone surrogate travels as "\\ud800", as a hostile client sends it.
        answer = api.post(f"/api/media/{photo}/comments", content=json.dumps({"body": bad}).encode(),
                          headers={"Content-Type": "application/json"}, as_="editor")
        assert answer.status_code == 422, repr(bad[:10])
    longest = api.post(f"/api/media/{photo}/comments", json={"body": "x" * 10000}, as_="editor")
    assert longest.status_code == 201
    elsewhere = api.post(f"/api/media/{photo + 1000}/comments", json={"body": "hi"}, as_="editor")
    assert elsewhere.status_code == 404
    assert api.get(f"/api/media/{photo + 1000}/comments").status_code == 404
    # Delete: editors only, once.
    assert api.delete(f"/api/comments/{second['id']}", as_="viewer").status_code == 403
    assert api.delete(f"/api/comments/{second['id']}", as_="editor").status_code == 204
    assert api.delete(f"/api/comments/{second['id']}", as_="editor").status_code == 404
    assert api.delete("/api/comments/abc", as_="editor").status_code == 422
    assert [c["body"] for c in api.get(f"/api/media/{photo}/comments").json()] == [hostile, "x" * 10000]
    with connection(settings) as conn:
        stored = conn.execute("SELECT body FROM media_comment WHERE id = %s",
                              (first.json()["id"],)).fetchone()
    assert stored is not None and stored["body"] == hostile


def test_the_original_is_untouched_by_every_edit(api: ApiClient, settings: Settings, corpus: Path,
                                                 photo: int) -> None:
    data = (corpus / GPS_PHOTO).read_bytes()
    _patch(api, photo, {"favourite": True, "taken_at": {"local": "2001-01-01T00:00:00"},
                        "gps": {"lat": 1, "lon": 1}})
    api.post(f"/api/media/{photo}/comments", json={"body": "nice"}, as_="editor")
    _patch(api, photo, {"taken_at": None, "gps": None})
    stored = storage_path(settings, photo)
    assert hashlib.sha512(stored.read_bytes()).hexdigest() == hashlib.sha512(data).hexdigest()
    assert api.get(f"/api/media/{photo}/original").content == data


# --- the contract ---------------------------------------------------------------------------------------

SUMMARY_FIELDS = {"id", "kind", "format", "mime_type", "width", "height", "duration_s", "name",
                  "original_path", "taken_at", "taken_at_local", "time_source", "lat", "lon",
                  "position_source", "place", "favourite", "make", "model", "ingested_at", "thumbnail_url",
                  "rank"}
# The detail's members as api/ROUTES.md lists them.
DETAIL_FIELDS = SUMMARY_FIELDS | {
    "sha512", "size_bytes", "source", "storage_path", "camera", "exif_gps", "manual_gps", "time", "video",
    "orientation", "aliases", "objects", "faces", "ocr", "speech", "keyframes", "dhash", "near_duplicates",
    "comments", "albums", "jobs", "playback", "urls"}


def test_openapi_describes_these_routes(api: ApiClient) -> None:
    doc = api.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["MediaDetail"]["properties"]) == DETAIL_FIELDS
    assert set(schemas["NearDuplicate"]["properties"]) == SUMMARY_FIELDS | {"distance", "frame_ms"}
    comment = {"id", "media_id", "author", "user_id", "body", "created_at"}
    assert set(schemas["Comment"]["properties"]) == comment
    assert set(schemas["Place"]["properties"]) == {"name", "admin1", "admin2", "country_code", "country"}
    # FastAPI prefixes a model's name with its module when another module has one of the same name.
    box = schemas.get("Box") or schemas["api__media_models__Box"]
    assert set(box["properties"]) == {"x", "y", "w", "h"}
    paths = doc["paths"]
    for path, methods in {
        "/api/media/{media_id}": {"get", "patch"}, "/api/media/bulk": {"post"},
        "/api/media/{media_id}/original": {"get"}, "/api/media/{media_id}/thumbnail": {"get"},
        "/api/media/{media_id}/playback": {"get"}, "/api/media/{media_id}/subtitles.vtt": {"get"},
        "/api/faces/{face_id}/chip": {"get"}, "/api/media/{media_id}/comments": {"get", "post"},
        "/api/comments/{comment_id}": {"delete"}, "/api/albums": {"get", "post"},
        "/api/albums/{album_id}": {"get", "patch", "delete"}, "/api/albums/{album_id}/items": {"post"},
        "/api/albums/{album_id}/items/remove": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    original = paths["/api/media/{media_id}/original"]["get"]["responses"]
    assert {"200", "206", "304", "404", "416"} <= set(original)
