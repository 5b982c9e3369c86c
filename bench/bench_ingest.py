"""Ingest throughput: the whole ``pava ingest`` against a lower bound measured in the same run.

    .venv/bin/python bench/bench_ingest.py [--count 500] [--workers 2]

Inputs: ``--count`` generated photo-like 12-megapixel JPEGs (4000x3000, about 4 MB, EXIF with make,
model, time and offset; half with GPS; every fifth stored sideways, Orientation 6), cached in
``bench/out/ingest_images/`` so reruns skip the generation.

(a) Lower bound: what any ingester must do per photo, on ``--workers`` threads: read the file, SHA-512 it,
and decode it at the reduced size the 1440 px preview needs (libjpeg DCT scaling through ``draft``).
(b) The pipeline: ``pava ingest DROP --json`` as a subprocess, on a Postgres (embedded, fsync off) and a
RabbitMQ node started for the run: recovery, walk, hash, dedupe lookup, exiftool, decode, both
thumbnails, reverse geocoding, move into storage, rows, jobs in the outbox, and publishing every job to
RabbitMQ with confirms. The drop folder holds copies of the cached files (the ingester moves them).

Both are timed on the same files, page cache warm; (a) runs before and after (b) and its mean is used, as
the machine is shared and its load drifts. Reported: photos per second (wall) for both, the ratio, and
CPU seconds per photo (threads of (a); the ``pava`` process and its exiftool children for (b), Postgres
and RabbitMQ excluded). Writes ``bench/out/ingest.json`` and appends a line to ``bench/out/ingest.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import piexif
from PIL import Image
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import db  # noqa: E402
from core.settings import IngestSettings, Settings  # noqa: E402
from pava.services.postgres import PostgresCluster, free_port  # noqa: E402
from pava.services.postgres import new_password as pg_password  # noqa: E402
from pava.services.rabbitmq import RabbitNode  # noqa: E402
from pava.services.rabbitmq import new_password as rabbit_password  # noqa: E402

OUT = ROOT / "bench" / "out"
IMAGES = OUT / "ingest_images"
GENERATOR_VERSION = "2"
WIDTH, HEIGHT = 4000, 3000
QUALITY = 94
GRAIN = 6.0
PREVIEW = IngestSettings().thumb_preview_size

GOAL_RATIO = 1.5
GOAL_RATE = 12.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- inputs -------------------------------------------------------------------------------------------

def photo(seed: int) -> Image.Image:
    """A photo-like picture: smooth structure at several scales plus sensor-like grain, so that JPEG
    sizes (and decode costs) are those of a real 12 MP photo, not of a flat test pattern."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((HEIGHT, WIDTH, 3), dtype=np.float32)
    for cells, amplitude in ((4, 90.0), (24, 40.0), (160, 18.0)):
        coarse = rng.standard_normal(size=(cells * 3 // 4 + 1, cells + 1, 3), dtype=np.float32)
        scaled = ((coarse - coarse.min()) / (np.ptp(coarse) + 1e-6) * 255).astype(np.uint8)
        layer = Image.fromarray(scaled, "RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
        canvas += (np.asarray(layer, dtype=np.float32) - 128) * (amplitude / 128)
    canvas += 128
    canvas += rng.standard_normal(size=canvas.shape, dtype=np.float32) * GRAIN
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")


def exif_for(index: int) -> bytes:
    zeroth: dict[int, Any] = {piexif.ImageIFD.Make: b"BenchCam",
                              piexif.ImageIFD.Model: f"Model {index % 7}".encode(),
                              piexif.ImageIFD.Orientation: 6 if index % 5 == 0 else 1}
    taken = f"2024:{index % 12 + 1:02}:{index % 28 + 1:02} 12:{index % 60:02}:00"
    exif: dict[int, Any] = {
        piexif.ExifIFD.DateTimeOriginal: taken.encode(),
        piexif.ExifIFD.OffsetTimeOriginal: b"+02:00",
        piexif.ExifIFD.FNumber: (18, 10), piexif.ExifIFD.ExposureTime: (1, 250),
        piexif.ExifIFD.ISOSpeedRatings: 100,
        piexif.ExifIFD.FocalLength: (425, 100), piexif.ExifIFD.LensModel: b"Bench lens 4.25mm f/1.8",
    }
    gps: dict[int, Any] = {}
    if index % 2 == 0:
        lat, lon = 40 + (index % 20) * 0.37, -3 + (index % 13) * 0.91
        gps = {piexif.GPSIFD.GPSLatitudeRef: b"N",
               piexif.GPSIFD.GPSLatitude: ((int(lat * 10000), 10000), (0, 1), (0, 1)),
               piexif.GPSIFD.GPSLongitudeRef: b"W" if lon < 0 else b"E",
               piexif.GPSIFD.GPSLongitude: ((int(abs(lon) * 10000), 10000), (0, 1), (0, 1))}
    return bytes(piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps}))


def _make(index: int) -> Path:
    path = IMAGES / f"photo_{index:04}.jpg"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        photo(index).save(tmp, "JPEG", quality=QUALITY, exif=exif_for(index))
        tmp.rename(path)
    return path


def generate(count: int) -> list[Path]:
    IMAGES.mkdir(parents=True, exist_ok=True)
    marker = IMAGES / "VERSION"
    if marker.exists() and marker.read_text().strip() != GENERATOR_VERSION:
        shutil.rmtree(IMAGES)
        IMAGES.mkdir(parents=True)
    marker.write_text(GENERATOR_VERSION)
    missing = sum(1 for i in range(count) if not (IMAGES / f"photo_{i:04}.jpg").exists())
    if missing:
        log(f"generating {missing} photos into {IMAGES} (cached for later runs)")
    # numpy and the JPEG encoder release the GIL: two threads use both cores.
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(_make, range(count)))


# --- (a) the lower bound ------------------------------------------------------------------------------

def bound_one(path: Path) -> int:
    """Read once, SHA-512, decode at the reduced size the preview needs (the same ``draft`` request as
    the ingester). Returns the decoded width, so nothing is optimised away."""
    data = path.read_bytes()
    hashlib.sha512(data).digest()
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        scale = PREVIEW / max(width, height)
        im.draft("RGB", (round(width * scale), round(height * scale)))
        im.load()
        return int(im.size[0])


def lower_bound(paths: list[Path], workers: int) -> dict[str, float]:
    cpu = [0.0] * workers
    lock = threading.Lock()
    slots = list(range(workers))
    local = threading.local()

    def run(path: Path) -> int:
        if not hasattr(local, "slot"):
            with lock:
                local.slot = slots.pop()
        start = time.thread_time()
        result = bound_one(path)
        cpu[local.slot] += time.thread_time() - start
        return result

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, paths))
    wall = time.perf_counter() - start
    return {"wall_s": wall, "photos_per_s": len(paths) / wall,
            "cpu_ms_per_photo": sum(cpu) / len(paths) * 1000}


# --- (b) the pipeline ---------------------------------------------------------------------------------

def pipeline(paths: list[Path], settings: Settings, base: Path) -> dict[str, Any]:
    drop = base / "drop"
    if drop.exists():
        shutil.rmtree(drop)
    drop.mkdir()
    for path in paths:
        # A copy, not a hard link: the ingester copies files that have other links (so that no one else
        # can change a stored original), which is not the common case to measure.
        shutil.copyfile(path, drop / path.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}
    env.update({
        "PAVA_DATABASE_URL": settings.require_database_url(), "PAVA_AMQP_URL": settings.require_amqp_url(),
        "PAVA_STORAGE_ROOT": str(settings.storage_root), "PAVA_HOME": str(base / "var"),
        "PAVA_DROP_DIR": str(drop), "PAVA_INGEST__SETTLE_SECONDS": "0",
        "PAVA_INGEST__WORKERS": str(settings.ingest.workers), "PAVA_LOG_LEVEL": "WARNING",
    })
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pava", "ingest", str(drop), "--json"], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"pava ingest failed ({result.returncode}): {result.stderr[-3000:]}")
    summary = json.loads(result.stdout)
    if summary["new"] != len(paths):
        raise RuntimeError(f"expected {len(paths)} new items: {json.dumps(summary)[:2000]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall, "photos_per_s": len(paths) / wall,
        "ingest_elapsed_s": summary["elapsed_s"],
        "photos_per_s_excluding_startup": len(paths) / summary["elapsed_s"],
        "cpu_ms_per_photo": cpu / len(paths) * 1000,
        "jobs_queued": summary["jobs_queued"], "jobs_published": summary["jobs_published"],
    }


def reset_storage(settings: Settings, cluster: PostgresCluster, name: str) -> Settings:
    shutil.rmtree(settings.storage_root, ignore_errors=True)
    settings.storage_root.mkdir(parents=True)
    url = cluster.create_database(name)
    fresh = settings.model_copy(update={"database_url": SecretStr(url)})
    db.migrate(fresh)
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--workers", type=int, default=IngestSettings().workers)
    args = parser.parse_args()

    paths = generate(args.count)
    sizes = [p.stat().st_size for p in paths]
    log(f"{len(paths)} photos, {sum(sizes) / len(sizes) / 1e6:.2f} MB on average")
    for path in paths:  # page cache warm for both measurements
        path.read_bytes()

    base = Path(tempfile.mkdtemp(prefix="pava-bench-ingest-", dir=OUT))
    base.chmod(0o755)
    cluster = PostgresCluster(base / "pg" / "data", free_port(), pg_password(), fast_unsafe=True)
    node = RabbitNode(base / "rabbitmq", amqp_port=free_port(), management_port=free_port(),
                      dist_port=free_port(), epmd_port=free_port(),
                      node_name=f"pavabench{uuid.uuid4().hex[:8]}@localhost", password=rabbit_password())
    try:
        cluster.start()
        node.start()
        settings = Settings(storage_root=base / "storage", drop_dir=base / "drop",
                            database_url=cluster.url("postgres"),  # type: ignore[arg-type]
                            amqp_url=node.amqp_url("/"),  # type: ignore[arg-type]
                            ingest={"workers": args.workers, "settle_seconds": 0})  # type: ignore[arg-type]
        settings = reset_storage(settings, cluster, "bench")
        load_before = os.getloadavg()
        log("lower bound (first pass)")
        bound_a = lower_bound(paths, args.workers)
        log(f"  {bound_a['photos_per_s']:.1f} photos/s")
        log("pava ingest")
        full = pipeline(paths, settings, base)
        log(f"  {full['photos_per_s']:.1f} photos/s")
        log("lower bound (second pass)")
        bound_b = lower_bound(paths, args.workers)
        log(f"  {bound_b['photos_per_s']:.1f} photos/s")
        load_after = os.getloadavg()
    finally:
        node.destroy()
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)

    bound_rate = (bound_a["photos_per_s"] + bound_b["photos_per_s"]) / 2
    bound_cpu = (bound_a["cpu_ms_per_photo"] + bound_b["cpu_ms_per_photo"]) / 2
    ratio = bound_rate / full["photos_per_s"]
    report = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                 "load_before": load_before, "load_after": load_after},
        "inputs": {"count": len(paths), "width": WIDTH, "height": HEIGHT,
                   "mean_bytes": sum(sizes) / len(sizes), "jpeg_quality": QUALITY, "preview": PREVIEW,
                   "workers": args.workers},
        "lower_bound": {"first": bound_a, "second": bound_b, "photos_per_s": bound_rate,
                        "cpu_ms_per_photo": bound_cpu},
        "pipeline": full,
        "ratio": ratio,
        "ratio_cpu": full["cpu_ms_per_photo"] / bound_cpu,
        "goals": {"ratio_max": GOAL_RATIO, "photos_per_s_min": GOAL_RATE,
                  "ratio_met": ratio <= GOAL_RATIO, "rate_met": full["photos_per_s"] >= GOAL_RATE},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    line = (f"| {report['date']} | {len(paths)} | {args.workers} | {bound_rate:.1f} "
            f"| {full['photos_per_s']:.1f} | {ratio:.2f} | {bound_cpu:.0f} | {full['cpu_ms_per_photo']:.0f} "
            f"| {load_before[0]:.1f}-{load_after[0]:.1f} |")
    history = OUT / "ingest.md"
    if not history.exists():
        history.write_text("| date | photos | threads | bound photos/s | pava ingest photos/s | ratio "
                           "| bound CPU ms | pipeline CPU ms | load |\n"
                           "|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
    with history.open("a") as handle:
        handle.write(line + "\n")
    print(f"lower bound (SHA-512 + reduced decode, {args.workers} threads): {bound_rate:6.1f} photos/s  "
          f"{bound_cpu:5.0f} ms CPU/photo")
    print(f"pava ingest (everything, incl. start and publishing):  {full['photos_per_s']:6.1f} photos/s  "
          f"{full['cpu_ms_per_photo']:5.0f} ms CPU/photo (pava + exiftool)")
    print(f"ratio {ratio:.2f} (goal <= {GOAL_RATIO}); "
          f"{full['photos_per_s']:.1f} photos/s (goal >= {GOAL_RATE})")
    print(line)


if __name__ == "__main__":
    main()
