"""Ingest against the real Postgres and RabbitMQ of the test setup, on media made by the tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest
from PIL import Image
from support import popen_pava, run_pava, settings_env
from test_ingest_helpers import (
    exif_bytes,
    files_under,
    jpeg_bytes,
    media,
    png_bomb,
    rows,
    sha512,
    write_image,
    write_jpeg,
    write_video,
)

from core import db
from core.settings import PROJECT_ROOT, Settings
from core.storage import THUMB_GRID, THUMB_PREVIEW, thumbnail_rel
from core.topology import Topology
from ingest import batch, recovery
from ingest.pipeline import ingest_file


def ingest(settings: Settings, root: Path | None = None, **kwargs: object) -> batch.Summary:
    return batch.run_once(settings, root or settings.drop_dir, progress=False, **kwargs)  # type: ignore[arg-type]


def by_path(settings: Settings) -> dict[str, dict[str, object]]:
    return {m["original_path"]: m for m in media(settings)}


def test_photo_metadata_thumbnails_and_jobs(settings: Settings) -> None:
    drop = settings.drop_dir
    source = write_jpeg(drop / "trip" / "helsinki.jpg", size=(600, 400), make="HMD Global",
                        model="Nokia 8.3 5G", taken="2022:08:14 14:12:31", offset="+03:00",
                        gps=(60.1467055555556, 24.9067722222222), altitude=12.5, orientation=6, fnumber=1.9,
                        iso=100, lens="Zeiss 5.4mm")
    digest = sha512(source)

    summary = ingest(settings)

    assert summary.to_json()["new"] == 1 and summary.jobs_queued == 4
    assert not source.exists()
    [row] = media(settings)
    assert row["status"] == "ready" and row["kind"] == "photo" and row["format"] == "jpeg"
    assert row["mime_type"] == "image/jpeg"
    assert row["storage_path"] == "originals/trip/helsinki.jpg"
    assert row["original_path"] == "trip/helsinki.jpg"
    assert sha512(settings.storage_root / row["storage_path"]) == digest == bytes(row["sha512"]).hex()
    assert (row["make"], row["model"], row["lens"]) == ("HMD Global", "Nokia 8.3 5G", "Zeiss 5.4mm")
    assert row["aperture"] == pytest.approx(1.9) and row["iso"] == 100
    assert row["taken_at"] == datetime(2022, 8, 14, 11, 12, 31, tzinfo=UTC)
    assert row["taken_at_local"] == datetime(2022, 8, 14, 14, 12, 31)
    assert row["taken_at_offset_minutes"] == 180 and row["taken_at_source"] == "exif"
    assert row["gps_lat"] == pytest.approx(60.1467055555556, abs=1e-6)
    assert row["gps_lon"] == pytest.approx(24.9067722222222, abs=1e-6)
    assert row["gps_alt"] == pytest.approx(12.5)
    assert row["country_code"] == "FI" and row["country"] == "Finland" and row["place_name"]
    # Orientation 6: stored 600x400, displayed 400x600, thumbnails upright.
    assert (row["orientation"], row["width"], row["height"]) == (6, 400, 600)
    assert row["metadata"]["stored_width"] == 600 and row["metadata"]["tags"]["EXIF:Make"] == "HMD Global"
    with Image.open(settings.storage_root / thumbnail_rel(digest, THUMB_PREVIEW)) as preview:
        assert preview.format == "JPEG" and preview.size == (400, 600)
        # The red marker (top-left of the stored picture) is top-right once rotated 90 degrees clockwise.
        red = preview.convert("RGB").getpixel((preview.width - 10, 10))
        assert isinstance(red, tuple) and red[0] > 200 and red[1] < 60
    with Image.open(settings.storage_root / thumbnail_rel(digest, THUMB_GRID)) as grid:
        assert grid.format == "WEBP" and max(grid.size) == settings.ingest.thumb_grid_size

    jobs = rows(settings, "SELECT analyzer, state FROM job ORDER BY analyzer")
    assert [j["analyzer"] for j in jobs] == ["dhash", "faces", "objects", "ocr"]
    assert all(j["state"] == "queued" for j in jobs) and summary.jobs_published == 4
    assert summary.outbox_pending == 0
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    try:
        queue = Topology(settings.broker).queue("dhash")
        method, _props, body = connection.channel().basic_get(queue, auto_ack=True)
        assert method is not None
        assert json.loads(body)["path"] == "originals/trip/helsinki.jpg"
    finally:
        connection.close()


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("a.png", "PNG", "png"), ("b.webp", "WEBP", "webp"), ("c.tif", "TIFF", "tiff"), ("d.gif", "GIF", "gif"),
    ("e.heic", "HEIF", "heic"),
])
def test_other_photo_formats(settings: Settings, name: str, fmt: str, expected: str) -> None:
    exif = None
    if fmt in ("HEIF", "WEBP", "PNG"):
        exif = exif_bytes(make="Maker", model="Cam", taken="2021:04:11 15:47:53", offset="-05:00",
                          orientation=6)
    write_image(settings.drop_dir / name, fmt, size=(80, 40), exif=exif)
    summary = ingest(settings)
    assert summary.to_json()["new"] == 1, summary.to_json()
    [row] = media(settings)
    assert row["format"] == expected and row["kind"] == "photo"
    if exif:
        assert row["make"] == "Maker" and row["taken_at_offset_minutes"] == -300
        # Rotated 90 degrees: the displayed size is 40x80 (HEIC: libheif applies the rotation itself).
        assert (row["width"], row["height"]) == (40, 80)
    else:
        assert (row["width"], row["height"]) == (80, 40)
        assert row["taken_at_source"] == "file_mtime"
    preview = settings.storage_root / thumbnail_rel(bytes(row["sha512"]).hex(), THUMB_PREVIEW)
    with Image.open(preview) as im:
        assert im.size == (row["width"], row["height"])


def test_videos_with_and_without_audio(settings: Settings) -> None:
    drop = settings.drop_dir
    write_video(drop / "talk.mov", seconds=1.0, audio=True, location="+52.4597+013.3220+051.178/",
                creation_time="2023-09-22T16:34:05Z")
    write_video(drop / "silent.mp4", seconds=1.0, audio=False, size="320x240", rotate=90)
    write_video(drop / "clip.webm", seconds=0.5, audio=True)
    write_video(drop / "old.avi", seconds=0.5, audio=True)
    write_video(drop / "phone.mkv", seconds=0.5, audio=False)

    summary = ingest(settings)

    assert summary.to_json()["new"] == 5, summary.to_json()
    rows_ = by_path(settings)
    talk = rows_["talk.mov"]
    assert (talk["kind"], talk["format"]) == ("video", "mov")
    assert (talk["video_codec"], talk["audio_codec"]) == ("h264", "aac")
    assert talk["duration_s"] == pytest.approx(1.0, abs=0.1) and talk["frame_rate"] == pytest.approx(25)
    assert (talk["width"], talk["height"]) == (160, 120)
    assert talk["gps_lat"] == pytest.approx(52.4597) and talk["gps_lon"] == pytest.approx(13.322)
    assert talk["country_code"] == "DE"
    assert talk["taken_at"] == datetime(2023, 9, 22, 16, 34, 5, tzinfo=UTC)
    assert talk["taken_at_source"] == "quicktime"
    silent = rows_["silent.mp4"]
    assert silent["audio_codec"] is None and silent["format"] == "mp4"
    # ffmpeg's rotate=90 means a quarter turn: 320x240 coded, shown 240x320.
    assert (silent["width"], silent["height"]) == (240, 320) and silent["orientation"] in (6, 8)
    assert rows_["clip.webm"]["format"] == "webm" and rows_["clip.webm"]["video_codec"] == "vp8"
    assert rows_["old.avi"]["format"] == "avi" and rows_["phone.mkv"]["format"] == "mkv"
    for row in rows_.values():
        preview = settings.storage_root / thumbnail_rel(bytes(row["sha512"]).hex(), THUMB_PREVIEW)
        with Image.open(preview) as im:
            assert im.size == (row["width"], row["height"])
    jobs = rows(settings, "SELECT analyzer FROM job WHERE media_id = %s ORDER BY analyzer", (talk["id"],))
    assert [j["analyzer"] for j in jobs] == ["dhash", "faces", "objects", "speech", "transcode"]


def test_exact_duplicates_are_aliases(settings: Settings) -> None:
    drop = settings.drop_dir
    first = write_jpeg(drop / "a" / "one.jpg", seed=1)
    (drop / "b").mkdir()
    (drop / "b" / "copy.jpg").write_bytes(first.read_bytes())
    (drop / "c").mkdir()
    (drop / "c" / "one.jpg").write_bytes(first.read_bytes())
    digest = sha512(first)

    summary = ingest(settings).to_json()

    assert (summary["new"], summary["duplicate"], summary["jobs_queued"]) == (1, 2, 4)
    [row] = media(settings)
    aliases = rows(settings, "SELECT * FROM media_alias ORDER BY original_path")
    # Two threads race on the same content: whichever stores it first owns it, the others are aliases.
    assert sorted([row["original_path"], *(a["original_path"] for a in aliases)]) == [
        "a/one.jpg", "b/copy.jpg", "c/one.jpg"]
    assert all(a["media_id"] == row["id"] and a["status"] == "ready" for a in aliases)
    for alias in aliases:
        assert sha512(settings.storage_root / alias["duplicate_path"]) == digest
        assert alias["duplicate_path"].startswith("duplicates/")
    assert files_under(drop) == {}


def test_name_collision_keeps_both(settings: Settings) -> None:
    drop = settings.drop_dir
    write_jpeg(drop / "IMG_0001.JPG", seed=1)
    ingest(settings)
    second = write_jpeg(drop / "IMG_0001.JPG", seed=2)
    digest = sha512(second)
    summary = ingest(settings).to_json()
    assert summary["new"] == 1
    paths = sorted(m["storage_path"] for m in media(settings))
    assert paths == ["originals/IMG_0001.JPG", f"originals/IMG_0001~{digest[:8]}.JPG"]
    assert sha512(settings.storage_root / paths[1]) == digest


def test_hidden_temporary_and_unsettled_files_are_left_alone(settings: Settings) -> None:
    drop = settings.drop_dir
    names = [".hidden.jpg", "download.jpg.part", "x.jpg.crdownload", "edit.jpg~", "~$lock.jpg", "a.tmp",
             ".git/objects/x.jpg", "Thumbs.db"]
    for name in names:
        (drop / name).parent.mkdir(parents=True, exist_ok=True)
        (drop / name).write_bytes(jpeg_bytes())
    summary = ingest(settings).to_json()
    assert summary["new"] == 0 and summary["rejected"] == 0
    assert summary["skipped_by_reason"] == {"hidden": 2, "temporary": 5}
    assert set(files_under(drop)) == set(names)

    slow = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"settle_seconds": 3600})})
    write_jpeg(drop / "being_copied.jpg")
    summary = ingest(slow).to_json()
    assert summary["skipped_by_reason"].get("unsettled") == 1 and (drop / "being_copied.jpg").exists()


def test_symlinks_are_rejected_never_followed(settings: Settings, tmp_path: Path) -> None:
    drop = settings.drop_dir
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes())
    (drop / "escape.jpg").symlink_to(outside)
    (drop / "passwd.jpg").symlink_to("/etc/passwd")
    (drop / "loop_a.jpg").symlink_to("loop_b.jpg")
    (drop / "loop_b.jpg").symlink_to("loop_a.jpg")
    (drop / "self").symlink_to(".")  # a directory loop
    write_jpeg(drop / "real.jpg")
    (drop / "inside.jpg").symlink_to("real.jpg")

    summary = ingest(settings).to_json()

    assert summary["new"] == 1
    reasons = {r["path"]: r for r in summary["rejections"]}
    assert set(reasons) == {"escape.jpg", "passwd.jpg", "loop_a.jpg", "loop_b.jpg", "self", "inside.jpg"}
    assert all(r["reason"] == "symlink" for r in reasons.values())
    assert "outside the drop folder" in reasons["passwd.jpg"]["detail"]
    assert "loop" in reasons["loop_a.jpg"]["detail"] and "loop" in reasons["loop_b.jpg"]["detail"]
    assert "loop" in reasons["self"]["detail"] or "symlink (->" in reasons["self"]["detail"]
    for path, rejection in reasons.items():
        quarantined = settings.storage_root / rejection["quarantine_path"]
        assert quarantined.is_symlink(), path
    assert os.readlink(settings.storage_root / "quarantine/passwd.jpg") == "/etc/passwd"
    assert outside.exists() and len(media(settings)) == 1


def test_non_utf8_name_is_quarantined_with_its_bytes(settings: Settings) -> None:
    drop = os.fsencode(settings.drop_dir)
    data = jpeg_bytes(seed=5)
    with open(os.path.join(drop, b"caf\xe9_\xff.jpg"), "wb") as handle:
        handle.write(data)
    summary = ingest(settings).to_json()
    [rejection] = summary["rejections"]
    assert rejection["reason"] == "non_utf8_name" and rejection["path"] == "caf\\xe9_\\xff.jpg"
    stored = settings.storage_root / rejection["quarantine_path"]
    assert stored.read_bytes() == data
    [row] = rows(settings, "SELECT * FROM rejection")
    assert row["original_path"] == "caf\\xe9_\\xff.jpg" and row["status"] == "ready"


def test_bad_inputs_are_rejected_and_kept(settings: Settings) -> None:
    drop = settings.drop_dir
    (drop / "empty.jpg").write_bytes(b"")
    full = jpeg_bytes(size=(400, 300), seed=3)
    (drop / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (drop / "text.jpg").write_text("This is not an image.\n")
    (drop / "page.mp4").write_text("<!DOCTYPE html><html><body>404</body></html>\n")
    png_bomb(drop / "bomb.png")
    (drop / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(2000))
    (drop / "audio.flac").write_bytes(b"fLaC" + os.urandom(200))
    os.mkfifo(drop / "pipe.jpg")
    before = {name: sha512(p) for name, p in files_under(drop).items() if p.is_file() and name != "pipe.jpg"}

    summary = ingest(settings).to_json()

    reasons = {r["path"]: r["reason"] for r in summary["rejections"]}
    assert reasons == {
        "empty.jpg": "empty", "truncated.jpg": "truncated", "text.jpg": "unsupported_type",
        "page.mp4": "unsupported_type", "bomb.png": "decompression_bomb", "broken.mp4": "corrupt",
        "audio.flac": "unsupported_type", "pipe.jpg": "not_regular_file",
    }, summary["rejections"]
    details = {r["path"]: r["detail"] for r in summary["rejections"]}
    assert "HTML" in details["page.mp4"] and "plain text" in details["text.jpg"]
    assert summary["new"] == 0 and media(settings) == [] and rows(settings, "SELECT * FROM job") == []
    assert files_under(drop) == {}
    for name, digest in before.items():
        assert sha512(settings.storage_root / "quarantine" / name) == digest
    assert len(rows(settings, "SELECT * FROM rejection WHERE status = 'ready'")) == 8


def test_gps_refused_when_null_island_or_out_of_range(settings: Settings) -> None:
    write_jpeg(settings.drop_dir / "null.jpg", seed=1, gps=(0.0, 0.0))
    write_jpeg(settings.drop_dir / "far.jpg", seed=2, gps=(95.0, 200.0))
    ingest(settings)
    rows_ = by_path(settings)
    for name, code in (("null.jpg", "gps_null_island"), ("far.jpg", "gps_out_of_range")):
        row = rows_[name]
        assert row["gps_lat"] is None and row["gps_lon"] is None and row["country_code"] is None
        assert code in [w["code"] for w in row["warnings"]]  # type: ignore[union-attr]


def test_quarantine_disabled_leaves_rejects_in_place_and_records_once(settings: Settings) -> None:
    keep = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"quarantine": False})})
    (settings.drop_dir / "text.jpg").write_text("not an image")
    assert ingest(keep).to_json()["rejected"] == 1
    again = ingest(keep).to_json()
    assert again["rejected"] == 0 and again["skipped_by_reason"] == {"already_rejected": 1}
    assert (settings.drop_dir / "text.jpg").exists()
    [row] = rows(settings, "SELECT * FROM rejection")
    assert row["quarantine_path"] is None


def test_unreadable_file_is_rejected(settings: Settings) -> None:
    """Permission denied, for real: the ingester runs without the capabilities that let root read anything."""
    secret = write_jpeg(settings.drop_dir / "secret.jpg")
    secret.chmod(0)
    write_jpeg(settings.drop_dir / "fine.jpg", seed=9)
    command = [sys.executable, "-m", "pava", "ingest", str(settings.drop_dir), "--json"]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    result = subprocess.run(command, env=settings_env(settings), cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["new"] == 1
    [rejection] = summary["rejections"]
    assert rejection["reason"] == "unreadable" and "ermission denied" in rejection["detail"]
    quarantined = settings.storage_root / "quarantine" / "secret.jpg"
    assert quarantined.exists() and not secret.exists()


def test_ingest_file_for_uploads(settings: Settings, tmp_path: Path) -> None:
    upload = write_jpeg(tmp_path / "upload" / "tmp123", seed=4, make="Canon")
    copy = tmp_path / "upload" / "tmp456"
    copy.write_bytes(upload.read_bytes())
    first = ingest_file(settings, upload, relpath="uploads/2024/holiday.jpg", source="api")
    assert first.status == "new" and first.media_id is not None and first.duplicate_of is None
    assert first.stored_path == "originals/uploads/2024/holiday.jpg" and len(first.jobs) == 4
    second = ingest_file(settings, copy, relpath="uploads/again.jpg", source="api")
    assert second.status == "duplicate" and second.duplicate_of == first.media_id
    bad = tmp_path / "upload" / "tmp789"
    bad.write_text("nope")
    third = ingest_file(settings, bad, relpath="uploads/bad.jpg")
    assert third.status == "rejected" and third.reason == "unsupported_type"
    [row] = media(settings)
    assert (row["source"], row["make"]) == ("api", "Canon")
    assert row["original_path"] == "uploads/2024/holiday.jpg"


def test_cli_json_summary(settings: Settings) -> None:
    write_jpeg(settings.drop_dir / "ok.jpg")
    (settings.drop_dir / "bad.jpg").write_text("text")
    result = run_pava(settings, "ingest", str(settings.drop_dir), "--json", "--source", "phone")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["rejected"], summary["duplicate"], summary["skipped"]) == (1, 1, 0, 0)
    assert summary["rejections"] == [{"path": "bad.jpg", "reason": "unsupported_type",
                                      "detail": summary["rejections"][0]["detail"],
                                      "quarantine_path": "quarantine/bad.jpg"}]
    assert summary["jobs_queued"] == 4 and summary["jobs_published"] == 4 and summary["outbox_pending"] == 0
    assert summary["source"] == "phone" and summary["broker_error"] is None
    assert media(settings)[0]["source"] == "phone"
    missing = run_pava(settings, "ingest", str(settings.drop_dir / "nope"), check=False)
    assert missing.returncode == 2


def test_many_identical_files_in_parallel(settings: Settings) -> None:
    data = jpeg_bytes(seed=7)
    for i in range(12):
        (settings.drop_dir / f"same_{i:02}.jpg").write_bytes(data)
    summary = ingest(settings).to_json()
    assert (summary["new"], summary["duplicate"]) == (1, 11)
    assert len(rows(settings, "SELECT * FROM media_alias WHERE status = 'ready'")) == 11


def test_recovery_finishes_or_undoes_interrupted_work(settings: Settings) -> None:
    """Recreate the states a kill -9 leaves, by hand, and check a rerun settles each one."""
    from ingest import records

    drop, storage = settings.drop_dir, settings.storage_root
    linked = write_jpeg(drop / "linked.jpg", seed=1)  # link done, unlink not: file in both places
    early = write_jpeg(drop / "early.jpg", seed=2)  # row inserted, file not moved yet
    with db.connect(settings, autocommit=True) as conn:
        for path in (linked, early):
            digest = sha512(path)
            records.insert_staged_media(conn, {
                "sha512": bytes.fromhex(digest), "kind": "photo", "format": "jpeg", "mime_type": "image/jpeg",
                "size_bytes": path.stat().st_size, "storage_path": f"originals/{path.name}",
                "original_path": path.name, "file_mtime": datetime.fromtimestamp(path.stat().st_mtime, UTC),
                "width": 64, "height": 48,
            })
        (storage / "originals").mkdir(parents=True)
        os.link(linked, storage / "originals" / "linked.jpg")
        (storage / "originals" / ".linked.jpg.7101-1.pava-tmp").write_bytes(b"partial copy")
    # The connection is closed: its locks are released, as when the process dies.
    summary = ingest(settings).to_json()
    assert summary["recovered"] == {"completed": 1, "removed": 1, "temporaries": 1, "conflicts": 0}
    assert summary["new"] == 1 and summary["skipped_by_reason"] == {"already_ingested": 1}
    assert files_under(drop) == {}
    rows_ = by_path(settings)
    assert {r["status"] for r in rows_.values()} == {"ready"} and set(rows_) == {"linked.jpg", "early.jpg"}
    assert len(rows(settings, "SELECT * FROM job")) == 8
    assert (storage / thumbnail_rel(sha512(storage / "originals/linked.jpg"), THUMB_PREVIEW)).exists()
    with db.connect(settings, autocommit=True) as conn:
        assert recovery.recover(settings, conn).to_json() == {"completed": 0, "removed": 0, "temporaries": 0,
                                                              "conflicts": 0}


def test_watch_picks_up_new_files_and_stops_on_sigterm(settings: Settings) -> None:
    drop = settings.drop_dir
    process = popen_pava(settings, "ingest", str(drop), "--watch", "--json", stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, extra_env={"PAVA_INGEST__WATCH_INTERVAL": "0.3"})
    try:
        for i in range(2):
            write_jpeg(drop / f"arrived_{i}.jpg", seed=20 + i)
            deadline = time.monotonic() + 90
            while len(media(settings)) < i + 1:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the watcher did not ingest the new file"
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    passes = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sum(p["new"] for p in passes) == 2 and sum(p["jobs_published"] for p in passes) == 8
    assert files_under(drop) == {}
