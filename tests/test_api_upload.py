"""Uploads: streamed to the storage root, ingested by the drop folder's pipeline, names made safe, limits
enforced while streaming, the staging folder always emptied. Real Postgres, real ingester, corpus files."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.multipart import NAME_MAX_BYTES, safe_file_name
from api.staging import STAGING_DIR
from core import db
from core.settings import Settings
from tests.conftest import ApiClient

BOUNDARY = b"pava-test-boundary-7f3a"
DOG = "objects/dn_dog.jpg"
BUS = "objects/ul_bus.jpg"
PHOTOS = ["objects/dn_dog.jpg", "objects/ul_bus.jpg", "objects/ul_zidane.jpg", "exif/jpeg_gps/et_GPS.jpg",
          "exif/jpeg_nogps/ia_Canon_40D.jpg", "exif/jpeg_gps/ia_DSCN0010.jpg", "faces/fr_biden.jpg",
          "faces/fr_obama.jpg"]


def multipart(parts: list[tuple[bytes, bytes, bytes]], *, end: bool = True) -> bytes:
    """A multipart/form-data body written by hand: (field, raw file name, content) per part, so that a
    test can send any bytes as a name (NUL, non-UTF-8), which HTTP client libraries refuse to."""
    body = b""
    for field, name, data in parts:
        body += (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"" + field
                 + b"\"; filename=\"" + name + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 + data + b"\r\n")
    if end:
        body += b"--" + BOUNDARY + b"--\r\n"
    return body


MULTIPART = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode()}


def post(api: ApiClient, body: bytes | Iterator[bytes], *, as_: str | None = "editor",
         headers: dict[str, str] | None = None) -> Any:
    return api.post("/api/upload", as_=as_, content=body, headers={**MULTIPART, **(headers or {})})


def upload_files(api: ApiClient, corpus: Path, *rels: str, as_: str = "editor") -> Any:
    files = [("files", (Path(rel).name, (corpus / rel).read_bytes(), "image/jpeg")) for rel in rels]
    return api.post("/api/upload", as_=as_, files=files)


def upload_dir(settings: Settings, user: str = "editor") -> Path:
    return settings.storage_root / "originals" / "uploads" / user / f"{datetime.now(UTC):%Y-%m-%d}"


def staging_left(settings: Settings) -> list[Path]:
    root = settings.storage_root / STAGING_DIR
    return sorted(root.rglob("*")) if root.exists() else []


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def limit_uploads(api: ApiClient, **limits: int) -> None:
    state = api.client.app.state
    state.settings = state.settings.model_copy(
        update={"api": state.settings.api.model_copy(update=limits)})


# --- the happy path ---------------------------------------------------------------------------------------


def test_upload_stores_a_new_item_and_a_second_upload_is_its_duplicate(
        api: ApiClient, settings: Settings, corpus: Path) -> None:
    first = upload_files(api, corpus, DOG)
    assert first.status_code == 200, first.text
    (outcome,) = first.json()["files"]
    assert outcome["status"] == "new" and outcome["name"] == "dn_dog.jpg"
    assert outcome["duplicate_of"] is None and outcome["reason"] is None
    media_id = outcome["media_id"]
    stored = upload_dir(settings) / "dn_dog.jpg"
    assert stored.read_bytes() == (corpus / DOG).read_bytes()
    with db.connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT source, original_path, storage_path, status FROM media WHERE id = %s",
                           (media_id,)).fetchone()
        jobs = conn.execute("SELECT count(*) AS n FROM job WHERE media_id = %s", (media_id,)).fetchone()
    assert row is not None and row["status"] == "ready" and row["source"] == "upload:editor"
    assert row["storage_path"] == str(stored.relative_to(settings.storage_root))
    assert jobs is not None and jobs["n"] > 0, "the upload's analyses are queued like a drop's"

    again = upload_files(api, corpus, DOG, as_="admin")
    assert again.status_code == 200, again.text
    (dup,) = again.json()["files"]
    assert dup["status"] == "duplicate" and dup["duplicate_of"] == media_id and dup["media_id"] == media_id
    with db.connect(settings, autocommit=True) as conn:
        alias = conn.execute("SELECT source FROM media_alias WHERE media_id = %s", (media_id,)).fetchone()
    assert alias is not None and alias["source"] == "upload:admin"
    assert staging_left(settings) == []


def test_several_files_in_one_request_each_get_an_outcome_in_order(
        api: ApiClient, settings: Settings, corpus: Path) -> None:
    answer = upload_files(api, corpus, DOG, "bad/not_an_image.jpg", BUS)
    assert answer.status_code == 200, answer.text
    got = [(f["name"], f["status"]) for f in answer.json()["files"]]
    assert got == [("dn_dog.jpg", "new"), ("not_an_image.jpg", "rejected"), ("ul_bus.jpg", "new")]
    assert staging_left(settings) == []


@pytest.mark.parametrize(("rel", "reason"), [
    ("bad/pil_decompression_bomb.gif", "decompression_bomb"),
    ("bad/truncated_half_DSCN0027.jpg", "truncated"),
])
def test_bombs_and_truncated_files_are_rejected_by_the_ingester(
        api: ApiClient, settings: Settings, corpus: Path, rel: str, reason: str) -> None:
    answer = upload_files(api, corpus, rel)
    assert answer.status_code == 200, answer.text
    (outcome,) = answer.json()["files"]
    assert outcome["status"] == "rejected" and outcome["reason"] == reason, outcome
    assert outcome["media_id"] is None and outcome["detail"]
    with db.connect(settings, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) AS n FROM media").fetchone() == {"n": 0}
        rejection = conn.execute("SELECT reason, source, quarantine_path FROM rejection").fetchone()
    assert rejection is not None and rejection["reason"] == reason and rejection["source"] == "upload:editor"
    quarantined = settings.storage_root / rejection["quarantine_path"]
    assert quarantined.read_bytes() == (corpus / rel).read_bytes(), "nothing lost: kept in quarantine"
    assert staging_left(settings) == []


def test_an_empty_file_is_rejected_not_an_error(api: ApiClient, settings: Settings) -> None:
    answer = post(api, multipart([(b"files", b"nothing.jpg", b"")]))
    assert answer.status_code == 200, answer.text
    (outcome,) = answer.json()["files"]
    assert outcome["status"] == "rejected" and outcome["reason"] == "empty"


# --- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "stored"), [
    (b"../../etc/x.jpg", "x.jpg"),
    (b"a/../../b.jpg", "b.jpg"),
    (b"/etc/passwd.jpg", "passwd.jpg"),
    (b"C:\\Users\\me\\win.jpg", "win.jpg"),
    (b"..\\..\\back.jpg", "back.jpg"),
    (b"nul\x00byte.jpg", "nul_byte.jpg"),
    (b"new\nline\r.jpg", "new_line_.jpg"),
    (b"caf\xe9.jpg", "caf_.jpg"),  # latin-1, not UTF-8
    ("café.jpg".encode(), "café.jpg"),
    ("cafe\u0301.jpg".encode(), "café.jpg"),  # decomposed (macOS) becomes composed
    ("evil\u202egpj.exe".encode(), "evil_gpj.exe"),  # right-to-left override
    (b"..", "upload"),
    (b".", "upload"),
    (b"", "upload"),
    (b"../..", "upload"),
    (b"dir/", "upload"),
    (b".hidden.jpg", "hidden.jpg"),
    (b"  spaced.jpg  ", "spaced.jpg"),
])
def test_safe_file_name(sent: bytes, stored: str) -> None:
    assert safe_file_name(sent) == stored


def test_over_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_file_name(("é" * 300 + ".jpeg").encode())
    assert name.endswith(".jpeg") and len(name.encode()) <= NAME_MAX_BYTES
    assert name.encode().decode("utf-8") == name  # not cut inside a character
    assert len(safe_file_name(b"x" * 1000).encode()) == NAME_MAX_BYTES


def test_hostile_names_end_inside_the_storage_root_with_safe_names(
        api: ApiClient, settings: Settings, corpus: Path, tmp_path: Path) -> None:
    sent = [b"../../etc/x.jpg", b"a/../../b.jpg", b"/tmp/abs.jpg", b"nul\x00.jpg", b"\xff\xfe.jpg", b"..",
            b"x" * 400 + b".jpg", b"C:\\evil\\..\\w.jpg"]
    body = multipart([(b"files", name, (corpus / rel).read_bytes())
                      for name, rel in zip(sent, PHOTOS, strict=True)])
    before = files_under(tmp_path)
    answer = post(api, body)
    assert answer.status_code == 200, answer.text
    outcomes = answer.json()["files"]
    assert [o["status"] for o in outcomes] == ["new"] * len(sent), outcomes
    folder = upload_dir(settings)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(o["name"] for o in outcomes)
    assert set(names) >= {"x.jpg", "b.jpg", "abs.jpg", "nul_.jpg", "__.jpg", "upload", "w.jpg"}
    assert all(len(n.encode()) <= NAME_MAX_BYTES and "/" not in n and "\0" not in n for n in names)
    # Every new file on the machine's test area is under originals/uploads/, nowhere else.
    created = files_under(tmp_path) - before
    stored = {p for p in created if "derived" not in p.parts}
    assert stored == set(folder.iterdir())
    assert not (tmp_path / "etc").exists() and not Path("/tmp/abs.jpg").exists()
    for o, rel in zip(outcomes, PHOTOS, strict=True):
        assert (folder / o["name"]).read_bytes() == (corpus / rel).read_bytes()
    assert staging_left(settings) == []


def test_two_files_with_one_name_are_both_kept(api: ApiClient, settings: Settings, corpus: Path) -> None:
    body = multipart([(b"files", b"same.jpg", (corpus / DOG).read_bytes()),
                      (b"files", b"same.jpg", (corpus / BUS).read_bytes())])
    answer = post(api, body)
    assert [o["status"] for o in answer.json()["files"]] == ["new", "new"]
    stored = sorted(p.name for p in upload_dir(settings).iterdir())
    assert len(stored) == 2 and stored[0].startswith("same") and stored[1].startswith("same")


# --- limits and malformed requests ------------------------------------------------------------------------


def test_oversized_upload_with_a_length_is_refused_before_reading(
        api: ApiClient, settings: Settings, corpus: Path) -> None:
    limit_uploads(api, upload_max_bytes=10_000)
    answer = upload_files(api, corpus, DOG)  # about 160 kB
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "too_large"
    assert staging_left(settings) == []
    assert not (settings.storage_root / "originals").exists()


def test_oversized_upload_without_a_length_is_413(api: ApiClient, settings: Settings, corpus: Path) -> None:
    limit_uploads(api, upload_max_bytes=100_000)
    body = multipart([(b"files", b"big.jpg", (corpus / DOG).read_bytes())])

    def chunks() -> Iterator[bytes]:  # a generator is sent without Content-Length
        for start in range(0, len(body), 16_384):
            yield body[start:start + 16_384]

    answer = post(api, chunks())
    assert answer.status_code == 413, answer.text
    assert staging_left(settings) == []
    assert not (settings.storage_root / "originals").exists()


@pytest.fixture
def server(api: ApiClient, settings: Settings) -> Iterator[tuple[str, int]]:
    """The application under a real uvicorn on a free port: the test client hands the app a body in one
    piece, so only a real socket shows that a body is written to disk while it arrives."""
    import threading

    import uvicorn

    from api.app import create_app
    from ingest.pipeline import ingest_file
    from pava.services.postgres import free_port

    small = settings.model_copy(update={"api": settings.api.model_copy(
        update={"cookie_secure": False, "upload_max_bytes": 100_000})})
    port = free_port()
    config = uvicorn.Config(create_app(small, ingest=ingest_file), host="127.0.0.1", port=port,
                            log_level="warning", http="h11", ws="none", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(300):
        if instance.started:
            break
        time.sleep(0.05)
    assert instance.started, "uvicorn did not start"
    yield "127.0.0.1", port
    instance.should_exit = True
    thread.join(timeout=10)


def test_a_streamed_upload_is_written_while_it_arrives_and_cut_off_at_the_limit(
        api: ApiClient, server: tuple[str, int], settings: Settings, corpus: Path) -> None:
    body = multipart([(b"files", b"big.jpg", (corpus / DOG).read_bytes())])
    assert len(body) > 150_000
    head = (f"POST /api/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {api.token('editor')}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    with socket.create_connection(server, timeout=20) as sock:
        sock.sendall(head + chunk(body[:60_000]))
        partial = 0
        for _ in range(200):  # the first 60 kB reach the staging file while the request is still open
            partial = sum(p.stat().st_size for p in staging_left(settings) if p.is_file())
            if partial > 0:
                break
            time.sleep(0.05)
        assert partial > 0, "nothing was written to disk while the body was arriving"
        assert not (settings.storage_root / "originals").exists()
        # Past the limit (100 kB) but not the whole body: the answer must come without the rest.
        sock.sendall(chunk(body[60_000:110_000]))
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65_536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert staging_left(settings) == []
    assert not (settings.storage_root / "originals").exists()


def test_too_many_files_is_413(api: ApiClient, settings: Settings, corpus: Path) -> None:
    limit_uploads(api, upload_max_files=2)
    answer = upload_files(api, corpus, DOG, BUS, "objects/ul_zidane.jpg")
    assert answer.status_code == 413 and "at most 2 file" in answer.json()["message"]
    assert staging_left(settings) == []
    assert not (settings.storage_root / "originals").exists()


def test_a_cut_off_body_is_400_and_nothing_is_ingested(api: ApiClient, settings: Settings,
                                                       corpus: Path) -> None:
    body = multipart([(b"files", b"dog.jpg", (corpus / DOG).read_bytes())], end=False)
    answer = post(api, body[:-100])
    assert answer.status_code == 400, answer.text
    assert staging_left(settings) == []
    assert not (settings.storage_root / "originals").exists()


def test_not_multipart_is_415_and_no_files_is_422(api: ApiClient) -> None:
    assert api.post("/api/upload", as_="editor", json={"files": []}).status_code == 415
    answer = post(api, multipart([(b"other", b"x.jpg", b"data")]))
    assert answer.status_code == 422 and answer.json()["problems"][0]["field"] == "files"


def test_only_editors_upload(api: ApiClient, settings: Settings, corpus: Path) -> None:
    body = multipart([(b"files", b"dog.jpg", (corpus / DOG).read_bytes())])
    assert post(api, body, as_=None).status_code == 401
    refused = post(api, body, as_="viewer")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert not (settings.storage_root / "originals").exists()
    assert post(api, body, as_="editor").status_code == 200


def test_without_an_ingester_uploads_are_503(api: ApiClient, corpus: Path) -> None:
    api.client.app.state.ingest = None
    answer = upload_files(api, corpus, DOG)
    assert answer.status_code == 503 and "ingester" in answer.json()["message"]


def test_an_ingester_failure_is_an_error_for_that_file_only(api: ApiClient, corpus: Path) -> None:
    real = api.client.app.state.ingest

    def flaky(settings: Settings, path: Path, **kwargs: Any) -> Any:
        if hashlib.sha512(path.read_bytes()).digest() == hashlib.sha512((corpus / BUS).read_bytes()).digest():
            raise RuntimeError("boom")
        return real(settings, path, **kwargs)

    api.client.app.state.ingest = flaky
    answer = upload_files(api, corpus, DOG, BUS)
    assert answer.status_code == 200
    first, second = answer.json()["files"]
    assert first["status"] == "new"
    assert second["status"] == "error" and second["reason"] == "internal" and "boom" not in second["detail"]
