"""Faults: the ingester killed with SIGKILL at every step of its protocol and at random moments, then
rerun; and ingest while the broker is unreachable. Real Postgres, RabbitMQ and ``pava`` processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from support import popen_pava, run_pava
from test_ingest_helpers import files_under, jpeg_bytes, rows, write_jpeg, write_video

from core.analyses import analyses_for
from core.media import MediaKind
from core.settings import Settings
from core.topology import Topology
from ingest.failpoints import ENV as FAILPOINT
from pava.services.postgres import free_port

pytestmark = pytest.mark.fault


def make_batch(drop: Path) -> dict[str, str | None]:
    """A few dozen inputs of every kind: photos (some large enough to take a while), exact duplicates,
    a video, bad files and a symlink. Returns relative path -> SHA-512 (None for the symlink)."""
    for i in range(28):
        size = (1600, 1200) if i % 4 == 0 else (320, 240)
        write_jpeg(drop / f"set{i % 3}" / f"photo_{i:02}.jpg", size=size, seed=i, make="Fault", model=f"M{i}",
                   taken=f"2020:01:{i + 1:02} 10:00:00", gps=(48.85 + i / 100, 2.35))
    for i in (1, 2, 5, 9, 13):
        (drop / "dups").mkdir(exist_ok=True)
        original = drop / f"set{i % 3}" / f"photo_{i:02}.jpg"
        (drop / "dups" / f"copy_of_{i:02}.jpg").write_bytes(original.read_bytes())
    write_video(drop / "clip.mp4", seconds=0.5, audio=True)
    (drop / "bad").mkdir()
    (drop / "bad" / "empty.jpg").write_bytes(b"")
    (drop / "bad" / "text.jpg").write_text("not a photo")
    (drop / "bad" / "cut.jpg").write_bytes(jpeg_bytes((400, 300), seed=99)[:3000])
    (drop / "bad" / "link.jpg").symlink_to("/etc/hostname")
    return {rel: (None if p.is_symlink() else hashlib.sha512(p.read_bytes()).hexdigest())
            for rel, p in files_under(drop).items()}


def assert_consistent(settings: Settings, inputs: dict[str, str | None]) -> None:
    storage = settings.storage_root
    media = rows(settings, "SELECT * FROM media")
    aliases = rows(settings, "SELECT * FROM media_alias")
    rejections = rows(settings, "SELECT * FROM rejection")
    # Exactly once: media + aliases + rejections = inputs, no path twice.
    accounted = Counter([r["original_path"] for r in media + aliases + rejections])
    assert accounted == Counter(list(inputs)), (set(accounted) ^ set(inputs), accounted.most_common(3))
    assert files_under(settings.drop_dir) == {}
    assert {r["status"] for r in media + aliases + rejections} == {"ready"}
    # No orphans: each area holds exactly the files its rows name, byte-identical, and no temporary file.
    stored = files_under(storage)
    assert not [p for p in stored if p.endswith(".pava-tmp")]
    for area, table, column in (("originals", media, "storage_path"),
                                ("duplicates", aliases, "duplicate_path"),
                                ("quarantine", rejections, "quarantine_path")):
        on_disk = {p for p in stored if p.startswith(area + "/")}
        assert on_disk == {r[column] for r in table}, area
    def digest(rel: str) -> str:
        return hashlib.sha512((storage / rel).read_bytes()).hexdigest()

    for row in media:
        assert digest(row["storage_path"]) == inputs[row["original_path"]]
        assert bytes(row["sha512"]).hex() == inputs[row["original_path"]]
    for row in aliases:
        assert digest(row["duplicate_path"]) == inputs[row["original_path"]]
    # Thumbnails for every item; nothing else under derived/.
    thumbs = {p for p in stored if p.startswith("derived/")}
    assert len(thumbs) == 2 * len(media)
    # One job per analysis per item, each with its outbox message or already published.
    jobs = Counter((j["media_id"], j["analyzer"])
                   for j in rows(settings, "SELECT media_id, analyzer FROM job"))
    assert set(jobs.values()) == {1}
    expected = {(m["id"], a) for m in media for a in analyses_for(MediaKind(m["kind"]))}
    assert set(jobs) == expected


def test_kill_9_at_every_step_then_rerun(settings: Settings) -> None:
    inputs = make_batch(settings.drop_dir)
    # Deterministic crashes in each window of the protocol, a few files into the batch.
    for failpoint in ("before_move:3", "after_link:5", "after_move:4", "after_thumbnails:6", "after_link:1",
                      "before_move:9"):
        result = run_pava(settings, "ingest", str(settings.drop_dir), "--json", check=False,
                          extra_env={FAILPOINT: failpoint})
        assert result.returncode == -signal.SIGKILL, (failpoint, result.returncode, result.stderr[-2000:])
    # Rows stranded by the last crash are still staged until a rerun recovers them.
    staged = rows(settings, """SELECT (SELECT count(*) FROM media WHERE status = 'staged')
                                    + (SELECT count(*) FROM media_alias WHERE status = 'staged')
                                    + (SELECT count(*) FROM rejection WHERE status = 'staged') AS n""")
    assert staged[0]["n"] >= 1
    final = json.loads(run_pava(settings, "ingest", str(settings.drop_dir), "--json").stdout)
    assert final["errors"] == 0 and final["recovered"]["completed"] + final["recovered"]["removed"] >= 1
    assert_consistent(settings, inputs)
    again = json.loads(run_pava(settings, "ingest", str(settings.drop_dir), "--json").stdout)
    assert again["files"] == 0 and again["jobs_queued"] == 0
    assert_consistent(settings, inputs)


def test_kill_9_at_random_moments_then_rerun(settings: Settings) -> None:
    inputs = make_batch(settings.drop_dir)
    for delay in (1.5, 2.5, 0.8, 3.5, 2.0):
        process = popen_pava(settings, "ingest", str(settings.drop_dir), "--json", stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    run_pava(settings, "ingest", str(settings.drop_dir), "--json")
    assert_consistent(settings, inputs)


def test_broker_down_jobs_wait_in_outbox_then_published(settings: Settings) -> None:
    for i in range(3):
        write_jpeg(settings.drop_dir / f"p{i}.jpg", seed=i)
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    result = run_pava(settings, "ingest", str(settings.drop_dir), "--json",
                      extra_env={"PAVA_AMQP_URL": closed})
    summary = json.loads(result.stdout)
    assert result.returncode == 0 and summary["new"] == 3
    assert summary["broker_error"] and summary["jobs_published"] == 0
    assert summary["outbox_pending"] == summary["jobs_queued"] == 12
    assert {j["state"] for j in rows(settings, "SELECT state FROM job")} == {"pending"}
    assert files_under(settings.drop_dir) == {}

    # Broker back: the next run (nothing new to ingest) delivers what waited.
    later = json.loads(run_pava(settings, "ingest", str(settings.drop_dir), "--json").stdout)
    assert later["jobs_published"] == 12 and later["outbox_pending"] == 0 and later["broker_error"] is None
    assert {j["state"] for j in rows(settings, "SELECT state FROM job")} == {"queued"}
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    try:
        channel = connection.channel()
        queue = Topology(settings.broker).queue("dhash")
        assert channel.queue_declare(queue, passive=True).method.message_count == 3
    finally:
        connection.close()


@pytest.fixture
def other_fs_drop() -> Iterator[Path]:
    """A drop folder on another file system than the storage (tmpfs), so moves are copies."""
    shm = Path("/dev/shm")
    drop = shm / f"pava-fault-{os.getpid()}-{time.monotonic_ns()}"
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(Path.cwd()).st_dev:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("/dev/shm is not a separate file system: cross-device moves are untested")
        pytest.skip("no second file system here")
    drop.mkdir()
    yield drop
    shutil.rmtree(drop, ignore_errors=True)


def test_cross_device_kill_after_copy_then_rerun(settings: Settings, other_fs_drop: Path) -> None:
    drop = other_fs_drop
    for i in range(6):
        write_jpeg(drop / f"p{i}.jpg", seed=i, size=(640, 480))
    (drop / "again.jpg").write_bytes((drop / "p1.jpg").read_bytes())
    (drop / "bad.jpg").write_text("not a photo")
    (drop / "link.jpg").symlink_to("p0.jpg")
    inputs = {rel: (None if p.is_symlink() else hashlib.sha512(p.read_bytes()).hexdigest())
              for rel, p in files_under(drop).items()}
    settings = settings.model_copy(update={"drop_dir": drop})
    # Killed after the copy reached storage but before the source was removed, twice.
    for failpoint in ("after_link:2", "after_link:3"):
        result = run_pava(settings, "ingest", str(drop), check=False, extra_env={FAILPOINT: failpoint})
        assert result.returncode == -signal.SIGKILL
    final = json.loads(run_pava(settings, "ingest", str(drop), "--json").stdout)
    assert final["skipped_by_reason"].get("already_ingested", 0) + final["skipped_by_reason"].get(
        "already_rejected", 0) >= 1, final
    assert_consistent(settings, inputs)
