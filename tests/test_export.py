"""`pava export`: every field of a fully described item, streaming order, array vs JSON lines."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from support import run_pava

from core import db
from core.export import iter_items, write
from core.perceptual import to_signed
from core.settings import Settings
from workers.registry import export_hooks

FIELDS = ["id", "sha512", "kind", "format", "mime_type", "size_bytes", "storage_path", "original_path",
          "source", "ingested_at", "taken_at", "taken_at_local", "taken_at_offset_minutes", "taken_at_source",
          "camera", "gps", "place", "width", "height", "orientation", "video", "aliases", "jobs", "results"]


@pytest.fixture
def conn(settings: Settings) -> Any:
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _media(conn: Any, name: str, **columns: Any) -> int:
    values = {
        "sha512": hashlib.sha512(name.encode()).digest(), "status": "ready", "kind": "photo",
        "format": "jpeg", "mime_type": "image/jpeg", "size_bytes": 1234, "storage_path": f"originals/{name}",
        "original_path": name,
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(f"INSERT INTO media ({names}) VALUES ({marks}) RETURNING id",
                       list(values.values())).fetchone()
    return int(row["id"])


def test_export_every_field(settings: Settings, conn: Any) -> None:
    photo = _media(
        conn, "trip/a.jpg", source="phone", taken_at=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        taken_at_local=datetime(2024, 5, 1, 10, 30), taken_at_offset_minutes=120, taken_at_source="exif",
        make="Canon", model="EOS R6", lens="RF24-105mm", aperture=4.0, exposure_time=0.004, iso=200,
        focal_length=50.0, gps_lat=48.8584, gps_lon=2.2945, gps_alt=35.0, place_name="Paris",
        place_admin1="Île-de-France", place_admin2="Paris", country_code="FR", country="France",
        width=6000, height=4000, orientation=1,
    )
    video = _media(conn, "clip.mp4", kind="video", format="mp4", mime_type="video/mp4", duration_s=4.5,
                   video_codec="h264", audio_codec="aac", frame_rate=29.97)
    _media(conn, "staged.jpg", status="staged")  # being ingested: not exported
    conn.execute("""INSERT INTO media_alias (media_id, status, original_path, source, duplicate_path,
                                             size_bytes)
                    VALUES (%s, 'ready', 'copy/a.jpg', 'card', 'duplicates/copy/a.jpg', 1234)""", (photo,))
    conn.execute("""INSERT INTO job (media_id, analyzer, state, analyzer_version) VALUES
                    (%s, 'dhash', 'done', '1'), (%s, 'ocr', 'failed', NULL), (%s, 'dhash', 'done', '1')""",
                 (photo, photo, video))
    conn.execute("UPDATE job SET error = 'no text engine' WHERE analyzer = 'ocr'")
    conn.execute("""INSERT INTO perceptual_hash (media_id, frame_ms, hash, analyzer, analyzer_version) VALUES
                    (%s, NULL, %s, 'dhash', '1'), (%s, 0, %s, 'dhash', '1'), (%s, 2000, 5, 'dhash', '1')""",
                 (photo, to_signed(0xFEDCBA9876543210), video, to_signed(0x00000000000000FF), video))

    items = json.loads(run_pava(settings, "export").stdout)
    lines = [json.loads(line) for line in run_pava(settings, "export", "--jsonl").stdout.splitlines()]
    assert items == lines
    assert [item["id"] for item in items] == [photo, video]
    a, v = items
    assert list(a) == FIELDS
    assert a["sha512"] == hashlib.sha512(b"trip/a.jpg").hexdigest()
    assert (a["kind"], a["format"], a["mime_type"], a["size_bytes"]) == ("photo", "jpeg", "image/jpeg", 1234)
    assert (a["storage_path"], a["original_path"], a["source"]) == (
        "originals/trip/a.jpg", "trip/a.jpg", "phone")
    assert datetime.fromisoformat(a["ingested_at"]).tzinfo is not None
    assert a["taken_at"] == "2024-05-01T08:30:00+00:00" and a["taken_at_local"] == "2024-05-01T10:30:00"
    assert a["taken_at_offset_minutes"] == 120 and a["taken_at_source"] == "exif"
    assert a["camera"] == {"make": "Canon", "model": "EOS R6", "lens": "RF24-105mm", "aperture": 4.0,
                           "exposure_time": pytest.approx(0.004), "iso": 200, "focal_length": 50.0}
    assert a["gps"] == {"lat": 48.8584, "lon": 2.2945, "alt": 35.0}
    assert a["place"] == {"name": "Paris", "admin1": "Île-de-France", "admin2": "Paris", "country_code": "FR",
                          "country": "France"}
    assert (a["width"], a["height"], a["orientation"], a["video"]) == (6000, 4000, 1, None)
    assert len(a["aliases"]) == 1
    alias = a["aliases"][0]
    assert {k: alias[k] for k in ("original_path", "source", "duplicate_path")} == {
        "original_path": "copy/a.jpg", "source": "card", "duplicate_path": "duplicates/copy/a.jpg"}
    assert datetime.fromisoformat(alias["created_at"])
    assert a["jobs"] == {"dhash": {"state": "done", "version": "1", "error": None},
                         "ocr": {"state": "failed", "version": None, "error": "no text engine"}}
    assert a["results"]["dhash"] == {"hash": "fedcba9876543210", "keyframes": []}

    assert v["gps"] is None and v["place"] is None and v["taken_at"] is None
    assert v["camera"] == dict.fromkeys(("make", "model", "lens", "aperture", "exposure_time", "iso",
                                         "focal_length"))
    assert v["video"] == {"duration_s": 4.5, "video_codec": "h264", "audio_codec": "aac", "frame_rate": 29.97}
    assert v["aliases"] == []
    assert v["results"]["dhash"] == {"hash": "00000000000000ff", "keyframes": [
        {"ms": 0, "hash": "00000000000000ff"}, {"ms": 2000, "hash": "0000000000000005"}]}


def test_export_streams_in_batches_in_id_order(settings: Settings, conn: Any) -> None:
    ids = [_media(conn, f"{i}.jpg") for i in range(7)]
    with db.connect(settings) as reader:
        items = list(iter_items(reader, export_hooks(), batch=3))
    assert [item["id"] for item in items] == ids
    assert all(item["results"]["dhash"] is None and item["jobs"] == {} for item in items)
    out = io.StringIO()
    assert write(iter(items), out, jsonl=False) == 7
    assert [item["id"] for item in json.loads(out.getvalue())] == ids


def test_export_empty(settings: Settings) -> None:
    assert json.loads(run_pava(settings, "export").stdout) == []
    assert run_pava(settings, "export", "--jsonl").stdout == ""
