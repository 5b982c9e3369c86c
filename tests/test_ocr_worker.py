"""OCR end to end: the real ``pava worker ocr`` process (registry, runtime, RabbitMQ, Postgres, Tesseract).

A page with text, a photo without text and a truncated JPEG go through the queue: text recorded, an
empty result recorded (the job is done: ``requeue --missing`` finds nothing to do), a permanent failure
recorded. Then every job is delivered again: the rows are replaced, never added.
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
from core.outbox import publish_pending
from core.settings import Settings

FILES = {
    "page": "ocr/tess_phototest.tif",
    "no_text": "faces/fr_obama.jpg",
    "truncated": "bad/truncated_half_DSCN0027.jpg",
}


def _jobs(conn: db.Connection) -> dict[int, dict[str, Any]]:
    rows = conn.execute("SELECT media_id, state, error FROM job WHERE analyzer = 'ocr'").fetchall()
    return {r["media_id"]: dict(r) for r in rows}


def _wait_finished(conn: db.Connection, count: int, timeout: float = 120) -> dict[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _jobs(conn)
        if len(jobs) == count and all(j["state"] in ("done", "failed") for j in jobs.values()):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs not finished after {timeout}s: {_jobs(conn)}")


def _stop(worker: subprocess.Popen[str]) -> int:
    worker.send_signal(signal.SIGTERM)
    return worker.wait(60)


@pytest.mark.corpus
@pytest.mark.slow
def test_the_ocr_worker_records_text_empty_results_and_failures(
    settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    log = (tmp_path / "worker.log").open("w")
    with db.connect(settings, autocommit=True) as conn:
        media = {name: stage_job(settings, corpus / rel, analyzer="ocr", conn=conn)
                 for name, rel in FILES.items()}
        with Publisher(settings) as publisher:
            assert publish_pending(conn, publisher) == 3
        worker = popen_pava(settings, "worker", "ocr", stdout=log, stderr=subprocess.STDOUT)
        try:
            jobs = _wait_finished(conn, 3)
            assert {name: jobs[m.media_id]["state"] for name, m in media.items()} == {
                "page": "done",
                "no_text": "done",
                "truncated": "failed",
            }
            assert "truncated" in (jobs[media["truncated"].media_id]["error"] or "")
            rows = {
                r["media_id"]: r
                for r in conn.execute(
                    "SELECT media_id, text, word_count, backend, model, created_at FROM ocr_result"
                )
            }
            assert set(rows) == {media["page"].media_id, media["no_text"].media_id}
            assert "quick brown dog" in rows[media["page"].media_id]["text"]
            no_text_id = media["no_text"].media_id
            assert rows[no_text_id]["text"] == "" and rows[no_text_id]["word_count"] == 0
            assert rows[media["page"].media_id]["backend"] == "tesseract"

            # The photo without text has its result: nothing is missing, nothing is queued again.
            missing = run_pava(settings, "requeue", "ocr", "--missing")
            assert "requeued 0 ocr job(s)" in missing.stdout

            # Every job delivered again: rows replaced in place, none added.
            again = run_pava(settings, "requeue", "ocr", "--all")
            assert "requeued 3 ocr job(s)" in again.stdout
            jobs = _wait_finished(conn, 3)
            rerun = {r["media_id"]: r for r in conn.execute("SELECT media_id, created_at FROM ocr_result")}
            assert set(rerun) == set(rows)
            assert all(rerun[i]["created_at"] > rows[i]["created_at"] for i in rows)
            count = conn.execute("SELECT count(*) AS n FROM ocr_result").fetchone()
            assert count == {"n": 2}
        finally:
            code = _stop(worker)
            log.close()
        assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    exported = run_pava(settings, "export", "--jsonl").stdout.splitlines()
    items = [json.loads(line) for line in exported]
    page = next(i for i in items if i["id"] == media["page"].media_id)
    assert "quick brown dog" in page["results"]["ocr"]["text"]
    no_text = next(i for i in items if i["id"] == media["no_text"].media_id)
    assert no_text["results"]["ocr"]["text"] == ""
