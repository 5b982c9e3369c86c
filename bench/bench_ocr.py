"""OCR: speed and accuracy of the real analyzer and store (Tesseract through pytesseract).

    .venv/bin/python bench/bench_ocr.py [--rounds 3]

Inputs: the two corpus pages (tess_phototest.tif, pyt_test-european.jpg) upright and turned by 90, 180
and 270 degrees; every readable corpus photo without text (faces, objects, exif samples); and a
12-megapixel JPEG made from bus.jpg (what a phone writes). Postgres (embedded, fsync off) is started for
the run, so each result is also stored as the worker stores it.

Reported, per category: images per second and the share of worker time spent outside the model call,
(analyze + store - tesseract) / (analyze + store), the goal being under 5 %. The model call is the
Tesseract process (pytesseract's ``image_to_data`` and ``image_to_osd``: process start, reading, TSV).
Accuracy: the character error rate of every page image against MANIFEST.json (whitespace normalised).
Writes bench/out/ocr.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import db  # noqa: E402
from core.media import MediaKind  # noqa: E402
from core.settings import Settings  # noqa: E402
from pava.services.postgres import PostgresCluster, free_port, new_password  # noqa: E402
from workers.analyzer import MediaItem, PermanentError  # noqa: E402
from workers.analyzers.ocr import OcrAnalyzer  # noqa: E402
from workers.stores.ocr import store  # noqa: E402

OUT = ROOT / "bench" / "out"
CORPUS = ROOT.parent / "shared" / "corpus"
PAGES = ("ocr/tess_phototest.tif", "ocr/pyt_test-european.jpg")
ERRORS: list[str] = []  # permanent errors met on inputs that should read: reported, never expected
NO_TEXT_DIRS = ("faces", "objects", "exif/jpeg_gps", "exif/jpeg_nogps", "neardup/real")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cer(got: str, expected: str) -> float:
    """Character error rate (jiwer): edit distance over the reference length."""
    return float(jiwer.cer(expected, got))


def normalise(text: str) -> str:
    return " ".join(text.split())


def make_inputs(base: Path) -> dict[str, list[tuple[str, Path]]]:
    """Category -> [(label, path)]."""
    pages: list[tuple[str, Path]] = []
    turned: list[tuple[str, Path]] = []
    for rel in PAGES:
        pages.append((rel, CORPUS / rel))
        for degrees in (90, 180, 270):
            path = base / f"{Path(rel).stem}_{degrees}.png"
            with Image.open(CORPUS / rel) as image:
                image.rotate(degrees, expand=True).save(path)
            turned.append((f"{rel}@{degrees}", path))
    photos = [
        (str(p.relative_to(CORPUS)), p)
        for d in NO_TEXT_DIRS
        for p in sorted((CORPUS / d).iterdir())
        if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    ]
    big = base / "bus_12mp.jpg"
    with Image.open(CORPUS / "objects/ul_bus.jpg") as image:
        image.convert("RGB").resize((3000, 4000), Image.Resampling.BICUBIC).save(big, quality=92)
    return {
        "pages_upright": pages,
        "pages_turned": turned,
        "photos": photos,
        "photo_12mp_jpeg": [("bus 12 MP", big)],
    }


def run_category(
    analyzer: OcrAnalyzer,
    conn: db.Connection,
    ids: dict[Path, int],
    inputs: list[tuple[str, Path]],
    root: Path,
) -> tuple[dict[str, float], dict[str, str]]:
    """Analyse and store each input once, as the worker does; the sums of the three clocks."""
    clocks = {"analyze_s": 0.0, "store_s": 0.0, "model_s": 0.0, "items": 0.0, "empty": 0.0}
    texts: dict[str, str] = {}
    for label, path in inputs:
        item = MediaItem(
            media_id=ids[path],
            job_id=0,
            kind=MediaKind.PHOTO,
            path=path,
            rel_path=path.name,
            sha512=hashlib.sha512(str(path).encode()).hexdigest(),
            storage_root=root,
        )
        started = time.perf_counter()
        try:
            result = analyzer.analyze(item)
        except PermanentError as exc:
            log(f"  {label}: permanent error {exc}")
            ERRORS.append(f"{label}: {exc}")
            continue
        analyzed = time.perf_counter()
        with conn.transaction():
            store(conn, item, result, analyzer.meta())
        stored = time.perf_counter()
        clocks["analyze_s"] += analyzed - started
        clocks["store_s"] += stored - analyzed
        clocks["model_s"] += result.timings["model_s"]
        clocks["items"] += 1
        clocks["empty"] += result.text == ""
        texts[label] = result.text
    return clocks, texts


def summary(clocks: dict[str, float]) -> dict[str, Any]:
    worker = clocks["analyze_s"] + clocks["store_s"]
    return {
        "items": int(clocks["items"]),
        "seconds": round(worker, 3),
        "items_per_s": round(clocks["items"] / worker, 2) if worker else None,
        "ms_per_item": round(1000 * worker / clocks["items"], 1) if clocks["items"] else None,
        "model_ms_per_item": round(1000 * clocks["model_s"] / clocks["items"], 1)
        if clocks["items"]
        else None,
        "store_ms_per_item": round(1000 * clocks["store_s"] / clocks["items"], 2)
        if clocks["items"]
        else None,
        "outside_model_share": round((worker - clocks["model_s"]) / worker, 4) if worker else None,
        "empty_results": int(clocks["empty"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())["files"]
    base = Path(tempfile.mkdtemp(prefix="pava-bench-ocr-"))
    cluster = PostgresCluster(base / "pg" / "data", free_port(), new_password(), fast_unsafe=True)
    try:
        log("starting postgres")
        cluster.start()
        settings = Settings.model_validate(
            {"database_url": cluster.create_database("bench"), "storage_root": base / "storage"}
        )
        settings.storage_root.mkdir()
        db.migrate(settings)
        inputs = make_inputs(base)
        analyzer = OcrAnalyzer(settings)
        started = time.perf_counter()
        analyzer.load()
        load_s = time.perf_counter() - started
        with db.connect(settings) as conn:
            ids: dict[Path, int] = {}
            with conn.transaction():
                for n, path in enumerate(p for group in inputs.values() for _, p in group):
                    row = conn.execute(
                        """INSERT INTO media (sha512, status, kind, format, mime_type, size_bytes,
                                              storage_path, original_path)
                           VALUES (%s, 'ready', 'photo', 'jpeg', 'image/jpeg', 1, %s, %s) RETURNING id""",
                        (
                            hashlib.sha512(str(path).encode()).digest(),
                            f"originals/{n}/{path.name}",
                            path.name,
                        ),
                    ).fetchone()
                    assert row is not None
                    ids[path] = int(row["id"])
            totals = {
                name: {"analyze_s": 0.0, "store_s": 0.0, "model_s": 0.0, "items": 0.0, "empty": 0.0}
                for name in inputs
            }
            texts: dict[str, str] = {}
            for round_no in range(1, args.rounds + 1):
                log(f"round {round_no}/{args.rounds}")
                for name, group in inputs.items():
                    clocks, found = run_category(analyzer, conn, ids, group, settings.storage_root)
                    for key, value in clocks.items():
                        totals[name][key] += value
                    texts.update(found)
        accuracy = {}
        for label, text in sorted(texts.items()):
            rel = label.split("@")[0]
            if rel in PAGES:
                truth = normalise(manifest[rel]["ground_truth"]["text"])
                accuracy[label] = round(cer(normalise(text), truth), 4)
        everything = {key: sum(t[key] for t in totals.values()) for key in next(iter(totals.values()))}
        report = {
            "host": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            },
            "tesseract": analyzer.meta().model,
            "settings": analyzer.settings.ocr.model_dump(),
            "rounds": args.rounds,
            "load_s": round(load_s, 3),
            "categories": {name: summary(clocks) for name, clocks in totals.items()},
            "all": summary(everything),
            "cer": accuracy,
            "errors": ERRORS,
            "photos_without_text_read_as_empty": "{}/{}".format(
                int(totals["photos"]["empty"]), int(totals["photos"]["items"])
            ),
        }
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ocr.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    print(
        f"OCR: {report['tesseract']}, {report['rounds']} rounds, load average at end "
        f"{report['host']['load_average_at_end']}"
    )
    print(
        f"{'category':18} {'items':>5} {'img/s':>6} {'ms/img':>7} {'model ms':>9} {'store ms':>9} "
        f"{'outside':>8}"
    )
    for name, row in [*report["categories"].items(), ("all", report["all"])]:
        print(
            f"{name:18} {row['items']:>5} {row['items_per_s']:>6} {row['ms_per_item']:>7} "
            f"{row['model_ms_per_item']:>9} {row['store_ms_per_item']:>9} {row['outside_model_share']:>8.2%}"
        )
    print("CER: " + ", ".join(f"{label} {value:.3f}" for label, value in report["cer"].items()))
    print(f"photos without text read as empty: {report['photos_without_text_read_as_empty']}")


if __name__ == "__main__":
    raise SystemExit(main())
