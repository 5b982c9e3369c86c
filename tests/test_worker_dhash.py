"""End to end with the real dHash analyzer: record_jobs -> publish (pava relay --once) -> `pava worker
dhash` process -> perceptual_hash rows, job done -> `pava export` shows them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support import popen_pava, run_pava
from test_worker_app import add_media, job, queue_depth, record, wait_for, wait_state

from core import db
from core.perceptual import dhash_file, to_hex, to_unsigned
from core.settings import Settings
from core.topology import Topology


@pytest.fixture
def conn(settings: Settings) -> Any:
    with db.connect(settings, autocommit=True) as connection:
        yield connection


def _photo(path: Path, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    Image.fromarray(coarse, "RGB").resize((640, 480), Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
    return path.read_bytes()


def _video(path: Path) -> bytes:
    # Two seconds of one test pattern, then two of another: at least two keyframes.
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
         "-f", "lavfi", "-i", "mandelbrot=size=160x120:rate=10", "-filter_complex",
         "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-t", "4", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=120,
    )
    return path.read_bytes()


def test_dhash_worker_end_to_end(settings: Settings, conn: Any, tmp_path: Path) -> None:
    photo = add_media(conn, settings, "p.jpg", content=_photo(tmp_path / "p.jpg", 1))
    clip = add_media(conn, settings, "v.mp4", kind="video", content=_video(tmp_path / "v.mp4"))
    ids = {"photo": record(conn, photo, "dhash"), "video": record(conn, clip, "dhash")}
    assert "published 2 job(s)" in run_pava(settings, "relay", "--once").stdout
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = popen_pava(settings, "worker", "dhash", "--concurrency", "2", stdout=out, stderr=out)
    try:
        rows = {name: wait_state(conn, job_id, timeout=120) for name, job_id in ids.items()}
        assert {name: r["state"] for name, r in rows.items()} == {"photo": "done", "video": "done"}, rows
        assert all(r["analyzer_version"] == "1" and r["attempts"] == 1 for r in rows.values())

        hashes = conn.execute("SELECT media_id, frame_ms, hash, analyzer, analyzer_version "
                              "FROM perceptual_hash ORDER BY media_id, frame_ms NULLS FIRST").fetchall()
        photo_rows = [h for h in hashes if h["media_id"] == photo["id"]]
        video_rows = [h for h in hashes if h["media_id"] == clip["id"]]
        expected = dhash_file(settings.storage_root / photo["path"])
        assert [(h["frame_ms"], to_unsigned(h["hash"])) for h in photo_rows] == [(None, expected)]
        assert len(video_rows) >= 2 and video_rows[0]["frame_ms"] == 0
        assert {(h["analyzer"], h["analyzer_version"]) for h in hashes} == {("dhash", "1")}

        # Re-running the analysis (pava requeue --all) replaces the rows: nothing is written twice.
        assert "requeued 2 dhash job(s) (all)" in run_pava(settings, "requeue", "dhash", "--all").stdout
        wait_for(lambda: all(job(conn, i)["state"] == "done" for i in ids.values()), timeout=60,
                 what="the requeued jobs done")
        again = conn.execute("SELECT count(*) AS n FROM perceptual_hash").fetchone()
        assert again is not None and again["n"] == len(hashes)

        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert queue_depth(settings, Topology(settings.broker).queue("dhash")) == 0

    items = [json.loads(line) for line in run_pava(settings, "export", "--jsonl").stdout.splitlines()]
    assert [item["id"] for item in items] == [photo["id"], clip["id"]]
    assert items[0]["results"]["dhash"] == {"hash": to_hex(expected), "keyframes": []}
    assert items[0]["jobs"]["dhash"] == {"state": "done", "version": "1", "error": None}
    keyframes = items[1]["results"]["dhash"]["keyframes"]
    assert keyframes[0]["ms"] == 0 and items[1]["results"]["dhash"]["hash"] == keyframes[0]["hash"]
    assert all(len(k["hash"]) == 16 for k in keyframes)
