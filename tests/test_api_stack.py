"""The product end to end over HTTPS: the real `pava up` (nginx with TLS, the API, every worker) with the
whole corpus dropped in and analysed, then searched, opened, streamed, edited and uploaded to through
nginx, checked against the corpus's ground truth (../shared/corpus/MANIFEST.json)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fullstack import LiveStack

pytestmark = [pytest.mark.slow, pytest.mark.corpus, pytest.mark.timeout(3000)]


def _get(stack: LiveStack, url: str, as_: str | None = "viewer", **kwargs: Any) -> Any:
    with stack.client() as client:
        return client.get(url, headers={**stack.headers(as_), **kwargs.pop("headers", {})}, **kwargs)


def _send(stack: LiveStack, method: str, url: str, as_: str = "editor", **kwargs: Any) -> Any:
    with stack.client() as client:
        return client.request(method, url, headers=stack.headers(as_), **kwargs)


def _search(stack: LiveStack, **params: Any) -> list[dict[str, Any]]:
    answer = _get(stack, "/api/media", params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _names(items: list[dict[str, Any]]) -> set[str]:
    return {item["name"] for item in items}


def _by_name(stack: LiveStack, name: str) -> dict[str, Any]:
    (item,) = [i for i in _search(stack) if i["name"] == name]
    return item


BUS = ("ul_bus.jpg", "bus_duplicate.jpg")  # byte-identical


def _bus(stack: LiveStack) -> dict[str, Any]:
    (item,) = [i for i in _search(stack) if i["name"] in BUS]
    return item


def test_the_corpus_is_in_and_the_bad_files_were_refused(live_stack: LiveStack,
                                                          manifest: dict[str, Any]) -> None:
    files: dict[str, Any] = manifest["files"]  # type: ignore[assignment]
    good = {Path(rel).name for rel in files
            if not rel.startswith(("bad/", "exif/corrupt/")) and rel != "speech/audio/whisper_jfk.flac"}
    # Of the two identical bus pictures, whichever the walk met first is stored, the other is its alias.
    stored = _names(_search(live_stack))
    assert stored | set(BUS) == good and len(stored & set(BUS)) == 1
    rejections = _get(live_stack, "/api/admin/rejections", as_="admin", params={"limit": 100})
    assert rejections.status_code == 200, rejections.text
    refused = {Path(r["original_path"]).name: r["reason"] for r in rejections.json()["items"]}
    assert refused["pil_decompression_bomb.gif"] == "decompression_bomb"
    assert refused["symlink_to_etc_passwd.jpg"] == "symlink"
    assert refused["empty.mp4"] == "empty"
    assert refused["symlink_loop_a.jpg"] == "symlink"
    assert refused["pp_empty.jpg"] == "empty"
    assert {"truncated_half_DSCN0027.jpg", "html_error_page.mp4", "not_an_image.jpg",
            "pil_truncated_jpeg.jpg", "pp_broken.jpg", "whisper_jfk.flac"} <= set(refused)
    assert "non_utf8_name" in refused.values()
    # The exact duplicate was recorded as an alias of the bus, not stored twice.
    bus = _get(live_stack, f"/api/media/{_bus(live_stack)['id']}").json()
    assert [Path(a["original_path"]).name for a in bus["aliases"]] == [n for n in BUS if n != bus["name"]]


def test_every_analysis_finished(live_stack: LiveStack) -> None:
    status = _get(live_stack, "/api/admin/status", as_="admin").json()
    for analyzer, states in status["jobs"].items():
        assert states["pending"] == states["queued"] == states["running"] == 0, (analyzer, states)
    assert status["broker"]["source"] == "management"
    assert {q["analysis"] for q in status["queues"]} >= {"objects", "faces", "ocr", "speech", "dhash",
                                                          "transcode"}


def test_free_text_finds_ocr_transcripts_labels_places_and_names(live_stack: LiveStack) -> None:
    assert "tess_phototest.tif" in _names(_search(live_stack, q="jumped lazy"))  # OCR
    assert "pyt_test-european.jpg" in _names(_search(live_stack, q="Fuchs"))  # OCR, German line
    spoken = _search(live_stack, q="fellow americans")  # the transcript
    assert "derived_earth_with_jfk_speech.mp4" in _names(spoken)
    assert spoken[0]["rank"] is not None
    assert _bus(live_stack)["id"] in {i["id"] for i in _search(live_stack, q="bus")}  # object label
    assert "pp_Iceland-sRGB.jpg" in _names(_search(live_stack, q="iceland"))  # file name and place
    assert _names(_search(live_stack, q="obam")) >= {"fr_obama.jpg", "fr_obama2.jpg"}  # prefix of a name
    assert _search(live_stack, q="zzzqqqxxy") == []


def test_filters_against_ground_truth(live_stack: LiveStack, manifest: dict[str, Any]) -> None:
    files: dict[str, Any] = manifest["files"]  # type: ignore[assignment]
    with_gps = {Path(rel).name for rel, e in files.items()
                if e.get("ground_truth", {}).get("has_gps") and not rel.startswith("bad/")}
    located = _names(_search(live_stack, bbox="-180,-90,180,90"))
    assert with_gps <= located
    assert not (with_gps & _names(_search(live_stack, no_gps="true")))
    # Fiji lies across the antimeridian: a box from 170E to 170W holds it and nothing in Europe.
    assert _names(_search(live_stack, bbox="170,-25,-170,-10")) == {"pp_smallFiji.JPG"}
    nikon = {"pp_Iceland-sRGB.jpg", "ia_Nikon_D70.jpg"}
    assert _names(_search(live_stack, make="nikon corporation")) == nikon
    assert _names(_search(live_stack, taken_from="2008-01-01", taken_to="2008-12-31")) >= {
        "ia_DSCN0010.jpg", "ia_Canon_40D.jpg", "ia_Nikon_D70.jpg"}
    assert _names(_search(live_stack, format="heic")) == {"ia_IMG_5195.HEIC"}
    videos = _names(_search(live_stack, kind="video"))
    assert videos == {"derived_earth_with_jfk_speech.mp4", "pp_quicktime-hvc1.mov"}
    bus = _bus(live_stack)["id"]
    assert bus in {i["id"] for i in _search(live_stack, object="person>=2")}
    assert bus in {i["id"] for i in _search(live_stack, object=["bus", "person"])}
    assert "dn_dog.jpg" in _names(_search(live_stack, object="dog=1"))
    assert "dn_dog.jpg" not in _names(_search(live_stack, object="dog>=2"))
    assert "tess_phototest.tif" in _names(_search(live_stack, has_text="true"))


def test_facets_and_map(live_stack: LiveStack) -> None:
    facets = _get(live_stack, "/api/facets").json()
    formats = {(f["kind"], f["format"]) for f in facets["formats"]}
    assert {("photo", "jpeg"), ("photo", "heic"), ("photo", "png"), ("photo", "tiff"),
            ("video", "mp4"), ("video", "mov")} <= formats
    assert sum(f["count"] for f in facets["formats"]) == facets["total"]
    labels = {f["value"]: f["count"] for f in facets["labels"]}
    assert labels.get("person", 0) >= 2 and labels.get("bus", 0) >= 1
    world = _get(live_stack, "/api/map", params={"view": "-180,-85,180,85", "zoom": 1}).json()
    assert sum(c["count"] for c in world["clusters"]) == world["total"] >= 6
    close = _get(live_stack, "/api/map", params={"view": "11.8,43.4,11.95,43.5", "zoom": 15}).json()
    (pin,) = close["clusters"]
    assert pin["count"] == 1 and pin["position_source"] == "exif"
    assert pin["media_id"] == _by_name(live_stack, "ia_DSCN0010.jpg")["id"]


def test_detail_of_a_photo_has_objects_faces_and_text(live_stack: LiveStack) -> None:
    bus = _get(live_stack, f"/api/media/{_bus(live_stack)['id']}").json()
    labels = [o["label"] for o in bus["objects"]["items"]]
    assert "bus" in labels and labels.count("person") >= 2
    for obj in bus["objects"]["items"]:
        box = obj["box"]
        assert 0 <= box["x"] <= 1 and 0 < box["w"] <= 1 and box["x"] + box["w"] <= 1.001
    two = _get(live_stack, f"/api/media/{_by_name(live_stack, 'fr_two_people.jpg')['id']}").json()
    assert len(two["faces"]) == 2
    chip = _get(live_stack, two["faces"][0]["chip_url"])
    assert chip.status_code == 200 and chip.headers["content-type"] == "image/jpeg"
    page = _get(live_stack, f"/api/media/{_by_name(live_stack, 'tess_phototest.tif')['id']}").json()
    assert "quick brown dog" in page["ocr"]["text"]
    assert page["ocr"]["lines"] and page["ocr"]["lines"][0]["words"]


def test_video_transcript_subtitles_and_playback(live_stack: LiveStack, corpus: Path) -> None:
    jfk_id = _by_name(live_stack, "derived_earth_with_jfk_speech.mp4")["id"]
    jfk = _get(live_stack, f"/api/media/{jfk_id}").json()
    assert jfk["speech"]["status"] == "transcribed"
    assert "ask not what your country" in jfk["speech"]["text"].lower()
    assert jfk["speech"]["segments"][0]["start_s"] >= 0
    assert jfk["keyframes"]
    vtt = _get(live_stack, jfk["speech"]["subtitles_url"])
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    assert jfk["playback"]["status"] == "not_needed"  # H.264/AAC in MP4 plays as it is

    hevc = _get(live_stack, f"/api/media/{_by_name(live_stack, 'pp_quicktime-hvc1.mov')['id']}").json()
    assert hevc["playback"]["status"] == "transcoded" and hevc["playback"]["mime_type"] == "video/mp4"
    head = _get(live_stack, hevc["playback"]["url"], headers={"Range": "bytes=0-15"})
    assert head.status_code == 206 and head.content[4:8] == b"ftyp"
    # The original is still there, byte for byte, and downloadable.
    original = _get(live_stack, hevc["urls"]["original"])
    assert hashlib.sha512(original.content).digest() == hashlib.sha512(
        (corpus / "speech/video/pp_quicktime-hvc1.mov").read_bytes()).digest()


def test_ranges_through_nginx_are_exact(live_stack: LiveStack, corpus: Path) -> None:
    expected = (corpus / "exif/jpeg_gps/ia_DSCN0010.jpg").read_bytes()
    url = f"/api/media/{_by_name(live_stack, 'ia_DSCN0010.jpg')['id']}/original"
    middle = _get(live_stack, url, headers={"Range": "bytes=1000-1999"})
    assert middle.status_code == 206 and middle.content == expected[1000:2000]
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(expected)}"
    tail = _get(live_stack, url, headers={"Range": "bytes=-100"})
    assert tail.content == expected[-100:]
    assert _get(live_stack, url, headers={"Range": f"bytes={len(expected)}-"}).status_code == 416
    assert _get(live_stack, url, as_=None).status_code == 401  # originals need a session too


def test_people_similar_faces_and_person_search(live_stack: LiveStack) -> None:
    persons = _get(live_stack, "/api/people").json()
    assert persons, "the faces of the corpus formed no person"
    biggest = max(persons, key=lambda p: p["face_count"])
    assert biggest["face_count"] >= 3
    renamed = _send(live_stack, "PATCH", f"/api/people/{biggest['id']}", json={"name": "Barack Obama"})
    assert renamed.status_code == 200, renamed.text
    found = _names(_search(live_stack, person=biggest["id"]))
    assert {"fr_obama.jpg", "fr_knn_test_obama1.jpg"} <= found
    assert "fr_biden.jpg" not in found
    faces = _get(live_stack, f"/api/people/{biggest['id']}/faces").json()["items"]
    similar = _get(live_stack, f"/api/faces/{faces[0]['id']}/similar", params={"k": 3}).json()
    assert similar and similar[0]["distance"] < 0.6


def test_near_duplicates_of_the_obama_resolutions(live_stack: LiveStack, manifest: dict[str, Any]) -> None:
    (group,) = [g for g in manifest["near_duplicate_groups"]  # type: ignore[attr-defined]
                if g["group_id"] == "nd_obama_res"]
    members = {Path(m).name for m in group["members"]}
    first = _by_name(live_stack, "fr_obama-240p.jpg")
    similar = _get(live_stack, f"/api/media/{first['id']}/similar").json()
    assert members - {"fr_obama-240p.jpg"} <= _names(similar)
    groups = _get(live_stack, "/api/duplicates/groups").json()
    assert any(members <= {m["name"] for m in g["members"]} for g in groups)


def test_edit_comment_album_and_upload_as_an_editor(live_stack: LiveStack) -> None:
    canon = _by_name(live_stack, "ia_Canon_40D.jpg")
    assert canon["lat"] is None
    edited = _send(live_stack, "PATCH", f"/api/media/{canon['id']}",
                   json={"gps": {"lat": 48.8584, "lon": 2.2945}, "favourite": True})
    assert edited.status_code == 200, edited.text
    assert edited.json()["position_source"] == "manual" and edited.json()["place"]["country_code"] == "FR"
    assert canon["id"] in {i["id"] for i in _search(live_stack, favourite="true", bbox="2,48,3,49")}
    assert _send(live_stack, "PATCH", f"/api/media/{canon['id']}", as_="viewer",
                 json={"favourite": False}).status_code == 403

    script = "<script>alert('x')</script> & <b>bold</b>"
    comment = _send(live_stack, "POST", f"/api/media/{canon['id']}/comments", json={"body": script})
    assert comment.status_code == 201 and comment.json()["body"] == script
    assert comment.headers["content-type"].startswith("application/json")
    assert canon["id"] in {i["id"] for i in _search(live_stack, q="bold")}

    album = _send(live_stack, "POST", "/api/albums", json={"name": "Trip"}).json()
    assert _send(live_stack, "POST", f"/api/albums/{album['id']}/items",
                 json={"media_ids": [canon["id"]]}).json()["added"] == 1
    assert [i["id"] for i in _search(live_stack, album=album["id"])] == [canon["id"]]

    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(image, "JPEG")
    upload = _send(live_stack, "POST", "/api/upload",
                   files=[("files", ("../../uploaded-by-test.jpg", image.getvalue(), "image/jpeg"))])
    assert upload.status_code == 200, upload.text
    (outcome,) = upload.json()["files"]
    assert outcome["status"] == "new"
    found = _search(live_stack, q="uploaded-by-test")
    assert [i["id"] for i in found] == [outcome["media_id"]]
    stored = _get(live_stack, f"/api/media/{outcome['media_id']}").json()["storage_path"]
    assert stored.startswith("originals/uploads/editor/") and ".." not in stored
    assert (live_stack.storage / stored).is_file()
    again = _send(live_stack, "POST", "/api/upload", files=[("files", ("again.jpg", image.getvalue()))])
    assert again.json()["files"][0]["status"] == "duplicate"
    assert again.json()["files"][0]["duplicate_of"] == outcome["media_id"]


def test_the_console_is_for_admins_only(live_stack: LiveStack) -> None:
    with live_stack.client() as client:
        for role in ("viewer", "editor"):
            cookie = {"Cookie": f"__Host-pava_session={live_stack.token(role)}"}
            assert client.get("/rabbitmq/", headers=cookie).status_code == 403
        assert client.get("/rabbitmq/").status_code == 302
        admin = {"Cookie": f"__Host-pava_session={live_stack.token('admin')}"}
        assert client.get("/rabbitmq/", headers=admin).status_code == 200
        # RabbitMQ's own login still applies behind nginx, and guest is refused.
        guest = client.get("/rabbitmq/api/overview", headers=admin, auth=("guest", "guest"))
        assert guest.status_code in {401, 403}
