"""Files through the API: originals byte for byte with HTTP ranges, content types and safe names,
thumbnails, playback (rendition or original), subtitles, face chips; and every way a stored path could
lead outside the storage root refused. Real Postgres, real ingester, corpus files."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from api.file_response import content_disposition
from api.ranges import MAX_RANGES, RangeNotSatisfiable, parse_range
from core.settings import Settings
from core.storage import THUMB_GRID, THUMB_PREVIEW, thumbnail_rel
from tests.api_media_support import GPS_PHOTO, SPEECH_VIDEO, connection, ingest_corpus, storage_path
from tests.conftest import ApiClient

pytestmark = pytest.mark.corpus


@pytest.fixture
def photo(api: ApiClient, settings: Settings, corpus: Path) -> int:
    return ingest_corpus(settings, corpus, GPS_PHOTO)


@pytest.fixture
def video(api: ApiClient, settings: Settings, corpus: Path) -> int:
    return ingest_corpus(settings, corpus, SPEECH_VIDEO)


def _ranged(api: ApiClient, url: str, spec: str, **headers: str) -> Any:
    return api.get(url, headers={"Range": spec, **headers})


# --- ranges, pure --------------------------------------------------------------------------------------


def test_parse_range_covers_the_rfc_forms() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == [(0, 10)]
    assert parse_range("bytes=90-", 100) == [(90, 100)]
    assert parse_range("bytes=-10", 100) == [(90, 100)]
    assert parse_range("bytes=-1000", 100) == [(0, 100)]  # a suffix longer than the file: all of it
    assert parse_range("bytes=95-1000", 100) == [(95, 100)]  # the end is clamped
    assert parse_range("BYTES = 0-0 , 5-9", 100) == [(0, 1), (5, 10)]
    assert parse_range("bytes=0-9,5-19,20-29", 100) == [(0, 30)]  # overlapping and touching merge
    assert parse_range("bytes=50-59,0-9", 100) == [(0, 10), (50, 60)]
    assert parse_range("bytes=0-9,200-300", 100) == [(0, 10)]  # the unsatisfiable one is dropped
    # Ignored, the whole file is sent: another unit, nonsense, a reversed range, too many pieces.
    for ignored in ("items=0-9", "bytes", "bytes=a-b", "bytes=9-0", "bytes=-", "bytes=0-9;x",
                    "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1))):
        assert parse_range(ignored, 100) is None, ignored
    for unsatisfiable in ("bytes=100-", "bytes=100-200", "bytes=-0", "bytes=100-,200-"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(unsatisfiable, 100)


def test_content_disposition_names_are_made_safe() -> None:
    plain = content_disposition("inline", "a.jpg", "x.jpg")
    assert plain == "inline; filename=\"a.jpg\"; filename*=UTF-8''a.jpg"
    header = content_disposition("attachment", 'évé "q"\r\nX-Evil: 1\\..\\/b.jpg', "x.jpg")
    assert "\r" not in header and "\n" not in header
    ascii_part = re.search(r'filename="([^"]*)"', header)
    assert ascii_part is not None and ascii_part.group(1) == "eve qX-Evil_ 1..b.jpg"
    assert header.endswith("filename*=UTF-8''%C3%A9v%C3%A9%20qX-Evil%3A%201..b.jpg")
    assert 'filename="fallback.mp4"' in content_disposition("inline", "\x00\x01/", "fallback.mp4")
    assert 'filename="fallback.mp4"' in content_disposition("inline", "...", "fallback.mp4")


# --- originals ---------------------------------------------------------------------------------------


def test_original_is_the_corpus_file_with_type_and_headers(api: ApiClient, corpus: Path, photo: int) -> None:
    data = (corpus / GPS_PHOTO).read_bytes()
    answer = api.get(f"/api/media/{photo}/original")
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["content-length"] == str(len(data))
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"].startswith("private")
    assert answer.headers["content-disposition"] == (
        "inline; filename=\"ia_DSCN0010.jpg\"; filename*=UTF-8''ia_DSCN0010.jpg")
    download = api.get(f"/api/media/{photo}/original?download=true")
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-disposition"].startswith('attachment; filename="ia_DSCN0010.jpg"')
    # Validators: the same ETag gives 304 without a body.
    again = api.get(f"/api/media/{photo}/original", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert api.get(f"/api/media/{photo}/original", headers={"If-None-Match": '"other"'}).status_code == 200


def test_ranges_of_an_original(api: ApiClient, corpus: Path, photo: int) -> None:
    data = (corpus / GPS_PHOTO).read_bytes()
    size = len(data)
    url = f"/api/media/{photo}/original"
    for spec, start, end in (("bytes=0-99", 0, 100), ("bytes=1000-1999", 1000, 2000),
                             ("bytes=-500", size - 500, size), (f"bytes={size - 10}-", size - 10, size),
                             (f"bytes={size - 13}-{size * 2}", size - 13, size), ("bytes=0-0", 0, 1)):
        answer = _ranged(api, url, spec)
        assert answer.status_code == 206, spec
        assert answer.content == data[start:end], spec
        assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", spec
        assert answer.headers["content-length"] == str(end - start), spec
        assert answer.headers["content-type"] == "image/jpeg"
    for spec in (f"bytes={size}-", f"bytes={size + 100}-{size + 200}", "bytes=-0"):
        past = _ranged(api, url, spec)
        assert past.status_code == 416, spec
        assert past.headers["content-range"] == f"bytes */{size}"
        assert past.headers["content-type"] == "application/json"
        assert past.json()["error"] == "range_not_satisfiable"
    # Ignored ranges give the whole file, as RFC 9110 allows.
    for spec in ("bytes=abc", "pages=1-2", "bytes=500-100"):
        whole = _ranged(api, url, spec)
        assert whole.status_code == 200 and whole.content == data, spec
    # If-Range with another validator: the file may have changed, so all of it comes back.
    stale = _ranged(api, url, "bytes=0-9", **{"If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == data
    etag = api.get(url).headers["etag"]
    fresh = _ranged(api, url, "bytes=0-9", **{"If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == data[:10]


def test_several_ranges_come_as_multipart_byteranges(api: ApiClient, corpus: Path, photo: int) -> None:
    data = (corpus / GPS_PHOTO).read_bytes()
    size = len(data)
    answer = _ranged(api, f"/api/media/{photo}/original", "bytes=0-9, 100-149, -20")
    assert answer.status_code == 206
    content_type = answer.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert answer.headers["content-length"] == str(len(answer.content))
    parts = _multipart(answer.content, content_type.split("boundary=", 1)[1])
    assert parts == [
        (f"bytes 0-9/{size}", "image/jpeg", data[0:10]),
        (f"bytes 100-149/{size}", "image/jpeg", data[100:150]),
        (f"bytes {size - 20}-{size - 1}/{size}", "image/jpeg", data[-20:]),
    ]
    # Overlapping ranges are merged into one: a plain 206.
    merged = _ranged(api, f"/api/media/{photo}/original", "bytes=0-9,5-19")
    assert merged.status_code == 206 and merged.content == data[:20]
    assert merged.headers["content-range"] == f"bytes 0-19/{size}"


def _multipart(body: bytes, boundary: str) -> list[tuple[str, str, bytes]]:
    """(Content-Range, Content-Type, data) of each part of a multipart/byteranges body."""
    chunks = body.split(b"--" + boundary.encode())
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n"))
        parts.append((headers["Content-Range"], headers["Content-Type"], data))
    return parts


def test_video_original_and_playback(api: ApiClient, settings: Settings, corpus: Path, video: int) -> None:
    data = (corpus / SPEECH_VIDEO).read_bytes()
    original = api.get(f"/api/media/{video}/original")
    assert original.status_code == 200 and original.content == data
    assert original.headers["content-type"] == "video/mp4"
    middle = _ranged(api, f"/api/media/{video}/playback", "bytes=50000-50999")
    assert middle.status_code == 206 and middle.content == data[50000:51000]
    assert middle.headers["content-type"] == "video/mp4"
    assert middle.headers["cache-control"] == "private, no-cache"
    # Before a rendition exists, the status follows the transcode job (if that analysis is recorded).
    with connection(settings) as conn:
        conn.execute("DELETE FROM job WHERE media_id = %s AND analyzer = 'transcode'", (video,))
        assert _playback(api, video) == {
            "url": f"/api/media/{video}/playback", "mime_type": "video/mp4", "status": "unknown"}
        conn.execute("INSERT INTO job (media_id, analyzer, state) VALUES (%s, 'transcode', 'queued')",
                     (video,))
        assert _playback(api, video)["status"] == "pending"
        conn.execute("UPDATE job SET state = 'failed' WHERE media_id = %s AND analyzer = 'transcode'",
                     (video,))
        assert _playback(api, video)["status"] == "failed"

    # A rendition made by the transcoder is served instead of the original.
    rendition = b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000)
    rel = "derived/renditions/aa/bb/test.mp4"
    (settings.storage_root / rel).parent.mkdir(parents=True)
    (settings.storage_root / rel).write_bytes(rendition)
    with connection(settings) as conn:
        conn.execute(
            """INSERT INTO rendition (media_id, status, reason, path, mime_type, analyzer, analyzer_version,
                                      backend, model)
               VALUES (%s, 'transcoded', 'test', %s, 'video/mp4', 'transcode', '1', 'ffmpeg', 'libx264')""",
            (video, rel),
        )
    played = api.get(f"/api/media/{video}/playback")
    assert played.status_code == 200 and played.content == rendition
    assert _playback(api, video)["status"] == "transcoded"
    # The rendition file gone: the original, rather than nothing.
    (settings.storage_root / rel).unlink()
    assert api.get(f"/api/media/{video}/playback").content == data
    # Not needed: the original, with the type the transcoder says browsers accept it as.
    with connection(settings) as conn:
        conn.execute("UPDATE rendition SET status = 'not_needed', path = NULL, mime_type = 'video/x-test'"
                     " WHERE media_id = %s", (video,))
    plays = api.get(f"/api/media/{video}/playback")
    assert plays.content == data and plays.headers["content-type"] == "video/x-test"
    assert _playback(api, video) == {
        "url": f"/api/media/{video}/playback", "mime_type": "video/x-test", "status": "not_needed"}


def _playback(api: ApiClient, media_id: int) -> Any:
    return api.get(f"/api/media/{media_id}").json()["playback"]


def test_playback_of_a_photo_is_404(api: ApiClient, photo: int) -> None:
    assert api.get(f"/api/media/{photo}/playback").status_code == 404


# --- derived files -----------------------------------------------------------------------------------


def test_thumbnails(api: ApiClient, settings: Settings, corpus: Path, photo: int, video: int) -> None:
    sha = hashlib.sha512((corpus / GPS_PHOTO).read_bytes()).hexdigest()
    grid = api.get(f"/api/media/{photo}/thumbnail")
    assert grid.status_code == 200
    assert grid.headers["content-type"] == "image/webp"
    assert grid.content == (settings.storage_root / thumbnail_rel(sha, THUMB_GRID)).read_bytes()
    assert grid.content[8:12] == b"WEBP"
    assert grid.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert grid.headers["x-content-type-options"] == "nosniff"
    preview = api.get(f"/api/media/{photo}/thumbnail?size=preview")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert preview.content == (settings.storage_root / thumbnail_rel(sha, THUMB_PREVIEW)).read_bytes()
    assert preview.content[:3] == b"\xff\xd8\xff"
    assert api.get(f"/api/media/{video}/thumbnail").headers["content-type"] == "image/webp"
    bad = api.get(f"/api/media/{photo}/thumbnail?size=huge")
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"].endswith("size")


def test_a_missing_thumbnail_file_gives_a_static_placeholder(api: ApiClient, settings: Settings, corpus: Path,
                                                              photo: int, video: int) -> None:
    # A thumbnail never made (a video whose poster failed) or lost: the item exists, so the page gets a
    # tile to show rather than a 404 in the console.
    photo_grid = settings.storage_root / thumbnail_rel(
        hashlib.sha512((corpus / GPS_PHOTO).read_bytes()).hexdigest(), THUMB_GRID)
    kept = photo_grid.read_bytes()
    answers = []
    for media_id, name in ((photo, GPS_PHOTO), (video, SPEECH_VIDEO)):
        sha = hashlib.sha512((corpus / name).read_bytes()).hexdigest()
        for size, which in (("grid", THUMB_GRID), ("preview", THUMB_PREVIEW)):
            (settings.storage_root / thumbnail_rel(sha, which)).unlink()
            answer = api.get(f"/api/media/{media_id}/thumbnail?size={size}")
            assert answer.status_code == 200, (media_id, size)
            assert answer.headers["content-type"] == "image/svg+xml"
            assert answer.headers["cache-control"] == "private, no-cache"  # the real one may come later
            assert answer.headers["x-pava-placeholder"] == "1"
            assert answer.headers["x-content-type-options"] == "nosniff"
            answers.append(answer.content)
    # One static image, whatever the item: nothing of it goes in, and nothing in it runs.
    assert len(set(answers)) == 1
    root = ElementTree.fromstring(answers[0])
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert all(element.tag.rsplit("}", 1)[-1] in {"svg", "rect", "path", "circle"} for element in root.iter())
    assert b"script" not in answers[0] and b"href" not in answers[0]
    # A thumbnail made later is what the same URL then serves.
    photo_grid.write_bytes(kept)
    back = api.get(f"/api/media/{photo}/thumbnail")
    assert back.status_code == 200 and back.content == kept and "x-pava-placeholder" not in back.headers
    # An item that does not exist, or is not ready, still has no thumbnail at all.
    for missing in (photo + 1000, video + 1000):
        answer = api.get(f"/api/media/{missing}/thumbnail")
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
        assert "x-pava-placeholder" not in answer.headers
    with connection(settings) as conn:
        conn.execute("UPDATE media SET status = 'staged' WHERE id = %s", (photo,))
    assert api.get(f"/api/media/{photo}/thumbnail").status_code == 404


def test_subtitles(api: ApiClient, settings: Settings, video: int, photo: int) -> None:
    assert api.get(f"/api/media/{video}/subtitles.vtt").status_code == 404  # not transcribed yet
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nAnd so my fellow Americans <b>\n"
    rel = "derived/subtitles/xx/yy/test/speech.vtt"
    (settings.storage_root / rel).parent.mkdir(parents=True)
    (settings.storage_root / rel).write_text(vtt, encoding="utf-8")
    with connection(settings) as conn:
        conn.execute(
            """INSERT INTO speech_result (media_id, status, language, text, segment_count, subtitles_path,
                                          analyzer, analyzer_version, backend, model)
               VALUES (%s, 'transcribed', 'en', 'And so my fellow Americans', 1, %s, 'speech', '1', 'fw',
                       'base')""",
            (video, rel),
        )
    answer = api.get(f"/api/media/{video}/subtitles.vtt")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/vtt; charset=utf-8"
    assert answer.text == vtt
    speech = api.get(f"/api/media/{video}").json()["speech"]
    assert speech["subtitles_url"] == f"/api/media/{video}/subtitles.vtt"
    assert api.get(f"/api/media/{photo}/subtitles.vtt").status_code == 404


def test_face_chips(api: ApiClient, settings: Settings, photo: int) -> None:
    chip = b"\xff\xd8\xff\xe0" + os.urandom(300)
    rel = "derived/faces/aa/bb/sha/0.jpg"
    (settings.storage_root / rel).parent.mkdir(parents=True)
    (settings.storage_root / rel).write_bytes(chip)
    face_id = _insert_face(settings, photo, rel)
    answer = api.get(f"/api/faces/{face_id}/chip")
    assert answer.status_code == 200 and answer.content == chip
    assert answer.headers["content-type"] == "image/jpeg"
    face = api.get(f"/api/media/{photo}").json()["faces"][0]
    assert face["chip_url"] == f"/api/faces/{face_id}/chip"
    assert face["box"] == {"x": 0.25, "y": 0.5, "w": 0.125, "h": 0.25}
    assert api.get(f"/api/faces/{face_id + 1000}/chip").status_code == 404
    assert api.get("/api/faces/abc/chip").status_code == 422
    assert api.get(f"/api/faces/{face_id}/chip", as_=None).status_code == 401


def _insert_face(settings: Settings, media_id: int, chip_path: str) -> int:
    vector = "[" + ",".join(["0.01"] * 128) + "]"
    with connection(settings) as conn:
        conn.execute(
            """INSERT INTO face_scan (media_id, face_count, frames, analyzer, analyzer_version, backend,
                                      model)
               VALUES (%s, 1, 1, 'faces', '1', 'dlib', 'hog')""",
            (media_id,),
        )
        row = conn.execute(
            """INSERT INTO face (media_id, face_index, box_x, box_y, box_w, box_h, encoding, chip_path,
                                 analyzer, analyzer_version, backend, model)
               VALUES (%s, 0, 0.25, 0.5, 0.125, 0.25, %s::vector, %s, 'faces', '1', 'dlib', 'hog')
               RETURNING id""",
            (media_id, vector, chip_path),
        ).fetchone()
    assert row is not None
    return int(row["id"])


# --- what must never be served -------------------------------------------------------------------------


def test_unknown_ids_and_bad_ids(api: ApiClient, photo: int) -> None:
    for suffix in ("original", "thumbnail", "playback", "subtitles.vtt"):
        missing = api.get(f"/api/media/{photo + 1000}/{suffix}")
        assert missing.status_code == 404, suffix
        assert missing.json()["error"] == "not_found"
        for bad in ("abc", "1.5", "-1", "0", "99999999999999999999", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"):
            answer = api.get(f"/api/media/{bad}/{suffix}")
            assert answer.status_code in (404, 422), (bad, suffix)
            assert b"root:" not in answer.content
        assert api.get(f"/api/media/{photo}/{suffix}", as_=None).status_code == 401
    assert api.get("/api/media/abc/original").status_code == 422


def test_tampered_storage_paths_are_refused(api: ApiClient, settings: Settings, corpus: Path,
                                            photo: int) -> None:
    data = (corpus / GPS_PHOTO).read_bytes()
    outside = settings.storage_root.parent / "secret.txt"
    outside.write_text("root:x:0:0:secret\n")
    (settings.storage_root / "originals" / "link.jpg").symlink_to(outside)
    (settings.storage_root / "originals" / "linkdir").symlink_to(settings.storage_root.parent,
                                                                 target_is_directory=True)
    os.mkfifo(settings.storage_root / "originals" / "fifo.jpg")
    original_rel = str(storage_path(settings, photo).relative_to(settings.storage_root))
    tampered = ["../../etc/passwd", "../secret.txt", "/etc/passwd", str(outside),
                "originals/../../secret.txt", "originals/link.jpg", "originals/linkdir/secret.txt",
                "originals/fifo.jpg", "originals", "originals//x.jpg", ""]
    with connection(settings) as conn:
        for path in tampered:
            conn.execute("UPDATE media SET storage_path = %s WHERE id = %s", (path, photo))
            for url in (f"/api/media/{photo}/original", f"/api/media/{photo}/original?download=true"):
                answer = api.get(url)
                assert answer.status_code == 404, (path, answer.status_code)
                assert b"secret" not in answer.content and b"root:" not in answer.content
        conn.execute("UPDATE media SET storage_path = %s WHERE id = %s", (original_rel, photo))
    # A chip path pointing outside is refused the same way.
    face_id = _insert_face(settings, photo, "../secret.txt")
    assert api.get(f"/api/faces/{face_id}/chip").status_code == 404
    # Nothing above touched the original.
    assert api.get(f"/api/media/{photo}/original").content == data


def test_staged_items_are_not_served(api: ApiClient, settings: Settings, photo: int) -> None:
    with connection(settings) as conn:
        conn.execute("UPDATE media SET status = 'staged' WHERE id = %s", (photo,))
    assert api.get(f"/api/media/{photo}/original").status_code == 404
    assert api.get(f"/api/media/{photo}").status_code == 404
