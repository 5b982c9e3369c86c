"""Acceptance on the shared corpus: metadata against MANIFEST.json, exact duplicates, every bad file
handled as its entry expects, and every input accounted for, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import recreate_corpus_extras, run_pava
from test_ingest_helpers import copy_tree, files_under, rows

from core.analyses import analyses_for
from core.media import MediaKind
from core.settings import Settings
from core.storage import THUMB_GRID, THUMB_PREVIEW, thumbnail_rel

pytestmark = pytest.mark.corpus

# What each bad file must be rejected as (a clear, specific reason).
EXPECTED_REJECTIONS = {
    "bad/empty.mp4": {"empty"},
    "bad/pp_empty.jpg": {"empty"},
    "bad/html_error_page.mp4": {"unsupported_type"},
    "bad/not_an_image.jpg": {"unsupported_type"},
    "bad/pil_decompression_bomb.gif": {"decompression_bomb"},
    "bad/symlink_loop_a.jpg": {"symlink"},
    "bad/symlink_loop_b.jpg": {"symlink"},
    "bad/symlink_to_etc_passwd.jpg": {"symlink"},
    "bad/truncated_half_DSCN0027.jpg": {"truncated"},
    "bad/latin1_caf\\xe9_\\xff.jpg": {"non_utf8_name"},
    "exif/corrupt/pil_truncated_jpeg.jpg": {"truncated"},
    "exif/corrupt/pp_broken.jpg": {"truncated", "corrupt"},
    "speech/audio/whisper_jfk.flac": {"unsupported_type"},  # audio only: not a photo or a video
}


@pytest.fixture
def ingested(settings: Settings, corpus: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    drop = settings.drop_dir
    copy_tree(corpus, drop)
    for extra in ("MANIFEST.json", "README.md"):
        (drop / extra).unlink()
    recreate_corpus_extras(manifest, corpus, drop)
    inputs = files_under(drop)
    hashes = {rel: (None if path.is_symlink() else hashlib.sha512(path.read_bytes()).hexdigest())
              for rel, path in inputs.items()}
    links = {rel: os.readlink(path) for rel, path in inputs.items() if path.is_symlink()}
    result = run_pava(settings, "ingest", str(drop), "--json", "--source", "corpus", timeout=600)
    return {"summary": json.loads(result.stdout), "inputs": hashes, "links": links}


def test_corpus_ingest(settings: Settings, manifest: dict[str, Any], ingested: dict[str, Any]) -> None:
    summary, inputs, links = ingested["summary"], ingested["inputs"], ingested["links"]
    storage = settings.storage_root
    media = {m["original_path"]: m for m in rows(settings, "SELECT * FROM media")}
    aliases = {a["original_path"]: a for a in rows(settings, "SELECT * FROM media_alias")}
    rejections = {r["original_path"]: r for r in rows(settings, "SELECT * FROM rejection")}
    skipped = {"bad/directory_named.jpg/.keep"}  # hidden: left in the drop folder

    # Every input accounted for exactly once, and only the hidden file left behind.
    accounted = [*media, *aliases, *rejections]
    assert len(accounted) == len(set(accounted))
    assert set(accounted) | skipped == set(inputs)
    assert set(files_under(settings.drop_dir)) == skipped
    assert summary["new"] == len(media) and summary["duplicate"] == len(aliases)
    assert summary["rejected"] == len(rejections) and summary["skipped"] == 1 and summary["errors"] == 0
    assert {m["status"] for m in media.values()} == {"ready"}
    assert {a["status"] for a in aliases.values()} | {r["status"] for r in rejections.values()} == {"ready"}

    # Nothing lost: every stored file is byte-identical to its input; symlinks kept as the same links.
    for path, row in media.items():
        assert hashlib.sha512((storage / row["storage_path"]).read_bytes()).hexdigest() == inputs[path]
        assert bytes(row["sha512"]).hex() == inputs[path]
        for size in (THUMB_GRID, THUMB_PREVIEW):
            assert (storage / thumbnail_rel(inputs[path], size)).is_file(), path
    for path, row in aliases.items():
        assert hashlib.sha512((storage / row["duplicate_path"]).read_bytes()).hexdigest() == inputs[path]
    for path, row in rejections.items():
        stored = storage / row["quarantine_path"]
        if path in links:
            assert stored.is_symlink() and os.readlink(stored) == links[path]
        else:
            assert hashlib.sha512(stored.read_bytes()).hexdigest() == inputs[path]

    # Bad files: each rejected with the reason its manifest entry calls for.
    assert {path: row["reason"] for path, row in rejections.items()}.keys() == EXPECTED_REJECTIONS.keys()
    for path, reasons in EXPECTED_REJECTIONS.items():
        assert rejections[path]["reason"] in reasons, (path, rejections[path])
        assert rejections[path]["detail"]
    assert "outside the drop folder" in rejections["bad/symlink_to_etc_passwd.jpg"]["detail"]
    assert "loop" in rejections["bad/symlink_loop_a.jpg"]["detail"]
    assert "loop" in rejections["bad/symlink_loop_b.jpg"]["detail"]

    # Exact duplicates: one item, the other copy an alias of it.
    files: dict[str, Any] = manifest["files"]  # type: ignore[assignment]
    for path, entry in files.items():
        for copy in entry.get("sha512_duplicates", []):
            if path in media or copy in media:
                pair = {path, copy}
                stored = [p for p in pair if p in media]
                assert len(stored) == 1, pair
                other = (pair - set(stored)).pop()
                if other in aliases:
                    assert aliases[other]["media_id"] == media[stored[0]]["id"]
    assert {"neardup/exact/bus_duplicate.jpg", "objects/ul_bus.jpg"} & set(aliases)
    # bad/latin1 (a copy of the D70 file under a non-UTF-8 name) is rejected for its name, not aliased.

    # Jobs: one per analysis that applies to each new item.
    jobs = rows(settings, "SELECT media_id, analyzer FROM job")
    expected = sum(len(analyses_for(MediaKind(m["kind"]))) for m in media.values())
    assert len(jobs) == expected == summary["jobs_queued"]
    assert len({(j["media_id"], j["analyzer"]) for j in jobs}) == len(jobs)

    _check_metadata(manifest, settings)


def _check_photo(path: str, truth: dict[str, Any], row: dict[str, Any]) -> None:
    assert row["make"] == truth["make"], path
    assert row["model"] == truth["model"], path
    if truth["datetime_original"]:
        local = datetime.strptime(truth["datetime_original"], "%Y:%m:%d %H:%M:%S")
        assert row["taken_at_local"].replace(microsecond=0) == local, path
        assert row["taken_at_source"] in ("exif", "xmp"), path
        if truth["offset_time_original"]:
            sign = -1 if truth["offset_time_original"].startswith("-") else 1
            hours, minutes = truth["offset_time_original"][1:].split(":")
            offset = sign * (int(hours) * 60 + int(minutes))
            assert row["taken_at_offset_minutes"] == offset, path
            instant = (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
            assert row["taken_at"].replace(microsecond=0) == instant, path
    else:
        assert row["taken_at_source"] == "file_mtime", path
    if truth["has_gps"]:
        assert row["gps_lat"] == pytest.approx(truth["gps_lat"], abs=1e-6), path
        assert row["gps_lon"] == pytest.approx(truth["gps_lon"], abs=1e-6), path
        if truth.get("gps_alt_m") is not None:
            assert row["gps_alt"] == pytest.approx(truth["gps_alt_m"], abs=1e-3), path
    else:
        assert row["gps_lat"] is None and row["gps_lon"] is None, path
    assert row["orientation"] == truth["orientation"], path
    width = truth.get("display_width", truth["stored_width"])
    height = truth.get("display_height", truth["stored_height"])
    assert (row["width"], row["height"]) == (width, height), path
    assert row["mime_type"] == truth["mime"], path


def _check_metadata(manifest: dict[str, Any], settings: Settings) -> None:
    """Metadata against the manifest's ground truth, for every file that has it."""
    media = {m["original_path"]: m for m in rows(settings, "SELECT * FROM media")}
    aliases = {a["original_path"]: a["media_id"] for a in rows(settings, "SELECT * FROM media_alias")}
    by_id = {m["id"]: m for m in media.values()}
    files: dict[str, Any] = manifest["files"]  # type: ignore[assignment]
    checked = 0
    for path, entry in files.items():
        truth = entry.get("ground_truth", {})
        row = media.get(path) or by_id.get(aliases.get(path, -1))
        if "stored_width" in truth and "make" in truth:
            assert row is not None, path
            _check_photo(path, truth, row)
            checked += 1
        if "expected_country_iso2" in truth.get("reverse_geocode", {}):
            expected = truth["reverse_geocode"]["expected_country_iso2"]
            assert row is not None and row["country_code"] == expected, path
            assert row["country"] and row["place_name"], path
    assert checked >= 12

    phone = media["speech/video/pp_quicktime-hvc1.mov"]
    truth = files["speech/video/pp_quicktime-hvc1.mov"]["ground_truth"]
    assert (phone["kind"], phone["format"], phone["mime_type"]) == ("video", "mov", "video/quicktime")
    assert (phone["make"], phone["model"]) == (truth["make"], truth["model"])
    assert phone["gps_lat"] == pytest.approx(truth["gps_lat"], abs=1e-6)
    assert phone["gps_lon"] == pytest.approx(truth["gps_lon"], abs=1e-6)
    created = datetime.strptime(truth["create_date"], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    assert phone["taken_at"] == created
    assert phone["taken_at_offset_minutes"] == 120  # Apple's CreationDate carries the local offset
    video = truth["streams"][0]
    assert (phone["width"], phone["height"]) == (video["display_width"], video["display_height"])
    assert phone["orientation"] == 6  # ffprobe rotation -90: a quarter turn clockwise to display
    assert phone["duration_s"] == pytest.approx(truth["duration_s"], abs=0.01)
    assert (phone["video_codec"], phone["audio_codec"]) == ("hevc", "aac")
    assert phone["frame_rate"] == pytest.approx(21000 / 701, rel=1e-6)

    earth = media["speech/video/derived_earth_with_jfk_speech.mp4"]
    truth = files["speech/video/derived_earth_with_jfk_speech.mp4"]["ground_truth"]
    assert (earth["width"], earth["height"]) == (480, 270) and earth["gps_lat"] is None
    assert earth["duration_s"] == pytest.approx(truth["duration_s"], abs=0.01)
    assert (earth["video_codec"], earth["audio_codec"], earth["frame_rate"]) == ("h264", "aac", 30.0)

    # Upright landscape after orientation 6: the preview is wider than tall.
    from PIL import Image

    landscape = media["exif/orientation/ia_landscape_6.jpg"]
    preview = settings.storage_root / thumbnail_rel(bytes(landscape["sha512"]).hex(), THUMB_PREVIEW)
    with Image.open(preview) as im:
        assert im.width > im.height
