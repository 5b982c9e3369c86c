"""Faces: speed of the real analyzer and store, and accuracy on the corpus.

    .venv/bin/python bench/bench_faces.py [--rounds 3] [--processes 2]

Inputs: the 6 corpus/faces photos, the 4 corpus/objects photos (two with 2 faces each, two with none),
the 4 neardup Obama copies, a 12-megapixel JPEG made from fr_two_people.jpg (what a phone writes) and an
8 s 640x480 video (dog, Obama, Biden, Obama) for the keyframe path. Postgres (embedded, fsync off) is
started for the run, so the store, the grouping into people and the k-NN queries are real too.

Reported:
- photos per second in one process and in ``--processes`` processes at once (the 2 cores); dlib runs
  one thread per call, so a host scales by worker processes;
- the share of worker time spent outside the model call (decode, resize, chips, database), per photo
  summed: (analyze + store - dlib) / (analyze + store); the goal is under 5 %;
- the trade-off of the decoded size (max_image_side 960 / 1280 / 1600): time and faces found;
- accuracy: faces found against the manifest's face_count per image, the Obama/Biden distances, and the
  grouping into people (incremental, then after a full re-cluster);
- the latency of a similar-faces query through the HNSW index.
Writes bench/out/faces.json.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import multiprocessing
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import db, people  # noqa: E402
from core.media import MediaKind  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import THUMB_PREVIEW, thumbnail_rel  # noqa: E402
from pava.services.postgres import PostgresCluster, free_port, new_password  # noqa: E402
from workers.analyzer import MediaItem  # noqa: E402
from workers.analyzers.faces import FacesAnalyzer, FacesResult  # noqa: E402
from workers.stores.faces import store  # noqa: E402

OUT = ROOT / "bench" / "out"
CORPUS = ROOT.parent / "shared" / "corpus"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def item(
    path: Path, kind: MediaKind = MediaKind.PHOTO, media_id: int = 0, root: Path | None = None
) -> MediaItem:
    sha = hashlib.sha512(path.read_bytes()).hexdigest()
    return MediaItem(
        media_id=media_id,
        job_id=0,
        kind=kind,
        path=path,
        rel_path=path.name,
        sha512=sha,
        storage_root=root or path.parent,
    )


def make_inputs(work: Path) -> tuple[Path, Path]:
    big = work / "two_people_12mp.jpg"
    with Image.open(CORPUS / "faces" / "fr_two_people.jpg") as source:
        source.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(big, quality=92)
    video = work / "faces_640x480.mp4"
    inputs: list[str] = []
    shots = ("objects/dn_dog.jpg", "faces/fr_obama.jpg", "faces/fr_biden.jpg", "faces/fr_knn_test_obama1.jpg")
    for name in shots:
        inputs += ["-loop", "1", "-t", "2", "-framerate", "30", "-i", str(CORPUS / name)]
    scale = ";".join(
        f"[{i}:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:-1:-1,setsar=1[v{i}]"
        for i in range(len(shots))
    )
    labels = "".join(f"[v{i}]" for i in range(len(shots)))
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            f"{scale};{labels}concat=n={len(shots)}:v=1:a=0[out]",
            "-map",
            "[out]",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(video),
        ],
        check=True,
        timeout=300,
    )
    return big, video


def photos() -> list[Path]:
    return (
        sorted((CORPUS / "faces").glob("*.jpg"))
        + sorted((CORPUS / "objects").glob("*"))
        + sorted((CORPUS / "neardup" / "real").glob("*.jpg"))
    )


def add_media(conn: db.Connection, path: Path, kind: MediaKind, tag: str) -> int:
    row = conn.execute(
        """INSERT INTO media (sha512, status, kind, format, mime_type, size_bytes, storage_path,
                              original_path)
           VALUES (%s, 'ready', %s, 'jpeg', 'image/jpeg', 1, %s, %s) RETURNING id""",
        (
            hashlib.sha512(f"{tag}/{path}".encode()).digest(),
            kind.value,
            f"originals/{tag}/{path.name}",
            path.name,
        ),
    ).fetchone()
    assert row is not None
    return int(row["id"])


# --- speed -------------------------------------------------------------------------------------------------


def timed_run(
    settings: Settings,
    analyzer: FacesAnalyzer,
    paths: list[Path],
    tag: str,
    kind: MediaKind = MediaKind.PHOTO,
) -> dict[str, float]:
    """Analyse and store each path once, as the worker does; the sums of the three clocks."""
    analyze_s = store_s = model_s = 0.0
    with db.connect(settings, autocommit=True, application_name="bench-faces") as conn:
        for index, path in enumerate(paths):
            with conn.transaction():
                media_id = add_media(conn, path, kind, f"{tag}/{index}")
            one = item(path, kind, media_id, settings.storage_root)
            started = time.perf_counter()
            result = analyzer.analyze(one)
            analyzed = time.perf_counter()
            with conn.transaction():
                store(conn, one, result, analyzer.meta())
            stored = time.perf_counter()
            analyze_s += analyzed - started
            store_s += stored - analyzed
            model_s += result.model_seconds
    return {"analyze_s": analyze_s, "store_s": store_s, "model_s": model_s}


def _worker(args: tuple[str, list[str], int, str]) -> dict[str, float]:
    url, names, rounds, tag = args
    settings = Settings.model_validate(
        {"database_url": url, "storage_root": tempfile.mkdtemp(prefix="bench-faces-")}
    )
    analyzer = FacesAnalyzer(settings)
    analyzer.load()
    totals = {"analyze_s": 0.0, "store_s": 0.0, "model_s": 0.0}
    started = time.perf_counter()
    for r in range(rounds):
        for key, value in timed_run(settings, analyzer, [Path(n) for n in names], f"{tag}-{r}").items():
            totals[key] += value
    totals["wall_s"] = time.perf_counter() - started
    shutil.rmtree(settings.storage_root, ignore_errors=True)
    return totals


def speed(url: str, paths: list[Path], rounds: int, processes: int) -> dict[str, Any]:
    """One process, then ``processes`` at once, each on the whole photo list ``rounds`` times."""
    report: dict[str, Any] = {}
    for count in sorted({1, processes}):
        log(f"speed: {count} process(es), {rounds} rounds of {len(paths)} photos")
        started = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")  # dlib and psycopg in a fresh interpreter each
        with ctx.Pool(count) as pool:
            parts = pool.map(
                _worker, [(url, [str(p) for p in paths], rounds, f"speed{count}-{i}") for i in range(count)]
            )
        wall = time.perf_counter() - started
        photos_done = count * rounds * len(paths)
        analyze = sum(p["analyze_s"] for p in parts)
        stored = sum(p["store_s"] for p in parts)
        model = sum(p["model_s"] for p in parts)
        busy = max(p["wall_s"] for p in parts)  # excludes the pool's start-up and model loading
        report[f"processes_{count}"] = {
            "photos": photos_done,
            "photos_per_s": round(photos_done / busy, 2),
            "photos_per_s_including_startup": round(photos_done / wall, 2),
            "s_per_photo_analyze": round(analyze / photos_done, 3),
            "s_per_photo_store": round(stored / photos_done, 4),
            "s_per_photo_model": round(model / photos_done, 3),
            "outside_model_share": round((analyze + stored - model) / (analyze + stored), 4),
            "outside_model_share_analyze_only": round((analyze - model) / analyze, 4),
        }
        log(json.dumps(report[f"processes_{count}"]))
    return report


def size_tradeoff(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for side in (960, 1280, 1600):
        analyzer = FacesAnalyzer(Settings.model_validate({"faces": {"max_image_side": side}}))
        analyzer.load()
        analyzer.analyze(item(paths[0]))  # warm
        started = time.perf_counter()
        found = {p.name: len(analyzer.analyze(item(p)).faces) for p in paths}
        elapsed = time.perf_counter() - started
        rows.append({"max_image_side": side, "s_per_photo": round(elapsed / len(paths), 3), "faces": found})
        log(f"max_image_side {side}: {rows[-1]['s_per_photo']} s/photo, {sum(found.values())} faces")
    return rows


# --- accuracy ---------------------------------------------------------------------------------------------


def counts(manifest: dict[str, Any], results: dict[str, FacesResult]) -> dict[str, Any]:
    per_image = {}
    exact = 0
    for rel, result in results.items():
        truth = manifest["files"][rel]["ground_truth"]
        expected = truth.get("face_count", truth.get("faces_visible"))
        if expected is None:
            continue
        found = len(result.faces)
        per_image[rel] = {"found": found, "expected": expected, "max": truth.get("faces_max", expected)}
        exact += expected <= found <= per_image[rel]["max"]
    return {"images": len(per_image), "correct": exact, "per_image": per_image}


def distances(results: dict[str, FacesResult]) -> dict[str, Any]:
    two = results["faces/fr_two_people.jpg"].faces
    obama = [
        results[f"faces/{n}"].faces[0].encoding
        for n in ("fr_obama.jpg", "fr_obama2.jpg", "fr_knn_test_obama1.jpg")
    ]
    obama.append(two[0].encoding)
    biden = [results[f"faces/{n}"].faces[0].encoding for n in ("fr_biden.jpg", "fr_knn_train_biden2.jpg")]
    biden.append(two[1].encoding)
    within_o = [math.dist(a, b) for a, b in itertools.combinations(obama, 2)]
    within_b = [math.dist(a, b) for a, b in itertools.combinations(biden, 2)]
    across = [math.dist(a, b) for a in obama for b in biden]
    return {
        "obama_within_max": round(max(within_o), 3),
        "biden_within_max": round(max(within_b), 3),
        "across_min": round(min(across), 3),
        "separated": max(within_o + within_b) < min(across),
    }


def who(name: str, face_index: int) -> str:
    """The identity of a stored face, from its file name (the composite: Obama left, Biden right)."""
    if name.endswith("fr_two_people.jpg") or name.endswith("two_people_12mp.jpg"):
        return "obama" if face_index == 0 else "biden"
    if "biden" in name:
        return "biden"
    if "obama" in name:
        return "obama"
    return f"{name}#{face_index}"


def snapshot(conn: db.Connection) -> dict[str, Any]:
    """Persons as identity counts; pure: no person mixes identities; split: identities in several persons."""
    groups: dict[int, Counter[str]] = {}
    unassigned: Counter[str] = Counter()
    rows = conn.execute(
        "SELECT f.person_id, f.face_index, m.original_path FROM face f JOIN media m ON m.id = f.media_id"
    )
    for row in rows:
        identity = who(row["original_path"], row["face_index"])
        if row["person_id"] is None:
            unassigned[identity] += 1
        else:
            groups.setdefault(row["person_id"], Counter())[identity] += 1
    spread: Counter[str] = Counter(i for c in groups.values() for i in c)
    return {
        "persons": {str(k): dict(v) for k, v in sorted(groups.items())},
        "unassigned": dict(unassigned),
        "pure": all(len(c) == 1 for c in groups.values()),
        "obama_and_biden_in_one_person_each": spread["obama"] == 1
        and spread["biden"] == 1
        and not unassigned["obama"]
        and not unassigned["biden"],
    }


def recluster(conn: db.Connection, analyzer: FacesAnalyzer) -> dict[str, Any]:
    with conn.transaction():
        report = people.recluster(
            conn, max_distance=analyzer.config.people_max_distance, min_faces=analyzer.config.people_min_faces
        )
    return report.as_dict()


def grouping(settings: Settings, analyzer: FacesAnalyzer, results: dict[str, FacesResult]) -> dict[str, Any]:
    """Store the faces of corpus/faces and the neardup copies (incremental grouping), then re-cluster."""
    with db.connect(settings, autocommit=True) as conn:
        for rel, result in results.items():
            if not (rel.startswith("faces/") or rel.startswith("neardup/")):
                continue
            path = CORPUS / rel
            with conn.transaction():
                media_id = add_media(conn, path, MediaKind.PHOTO, "grouping")
                store(
                    conn, item(path, media_id=media_id, root=settings.storage_root), result, analyzer.meta()
                )
        incremental = snapshot(conn)
        report = recluster(conn, analyzer)
        after = snapshot(conn)
        query = conn.execute("SELECT min(id) AS id FROM face").fetchone()
        assert query is not None
        latencies = []
        for _ in range(50):
            started = time.perf_counter()
            people.similar_faces(conn, query["id"], k=10)
            latencies.append((time.perf_counter() - started) * 1000)
    return {
        "incremental": incremental,
        "after_recluster": after,
        "recluster": report,
        "similar_faces_k10_ms_median": round(median(latencies), 2),
    }


def stress(url: str, analyzer: FacesAnalyzer) -> dict[str, Any]:
    """The speed runs' database: every photo stored 9 times by two processes at once (bursts of
    identical faces), grouped incrementally; then a full re-cluster."""
    settings = Settings.model_validate({"database_url": url})
    with db.connect(settings, autocommit=True) as conn:
        before = snapshot(conn)
        report = recluster(conn, analyzer)
        return {"incremental": before, "after_recluster": snapshot(conn), "recluster": report}


def synthetic_scale(cluster: PostgresCluster, identities: int, per_identity: int) -> dict[str, Any]:
    """Re-cluster cost and quality at library scale, on synthetic encodings shaped like dlib's: random
    identity centres about 0.8 apart, faces about 0.35 from each other within an identity (the corpus
    figures), loaded with COPY into a fresh database."""
    import random

    settings = Settings.model_validate({"database_url": cluster.create_database("scale")})
    db.migrate(settings)
    rng = random.Random(20261122)
    truth: dict[int, int] = {}
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO media (id, sha512, status, kind, format, mime_type, size_bytes, storage_path,
                                  original_path)
               VALUES (1, decode(repeat('ab', 64), 'hex'), 'ready', 'photo', 'jpeg', 'image/jpeg', 1, 's',
                       's')"""
        )
        copy_sql = """COPY face (id, media_id, face_index, box_x, box_y, box_w, box_h, encoding, chip_path,
                                 analyzer, analyzer_version, backend, model) FROM STDIN"""
        with conn.cursor().copy(copy_sql) as copy:
            face_id = 0
            for identity in range(identities):
                centre = [rng.gauss(0, 0.05) for _ in range(128)]
                for _ in range(per_identity):
                    face_id += 1
                    truth[face_id] = identity
                    vector = [c + rng.gauss(0, 0.022) for c in centre]
                    copy.write_row(
                        (
                            face_id,
                            1,
                            face_id,
                            0.1,
                            0.1,
                            0.1,
                            0.1,
                            people.vector_literal(vector),
                            "-",
                            "faces",
                            "1",
                            "hog",
                            "synthetic",
                        )
                    )
        conn.execute("ANALYZE face")
        log(f"scale: {face_id} synthetic faces loaded; re-clustering")
        with conn.transaction():
            report = people.recluster(conn, max_distance=0.5, min_faces=3)
        persons: dict[int, Counter[int]] = {}
        for row in conn.execute("SELECT id, person_id FROM face WHERE person_id IS NOT NULL"):
            persons.setdefault(row["person_id"], Counter())[truth[row["id"]]] += 1
        pure = sum(1 for c in persons.values() if len(c) == 1)
        whole = Counter(i for c in persons.values() for i in c)
        latencies = []
        for query in rng.sample(sorted(truth), 100):
            started = time.perf_counter()
            people.similar_faces(conn, query, k=10)
            latencies.append((time.perf_counter() - started) * 1000)
    return {
        "faces": face_id,
        "identities": identities,
        "recluster_s": report.seconds,
        "recluster_ms_per_face": round(report.seconds * 1000 / face_id, 2),
        "persons": len(persons),
        "pure_persons": pure,
        "identities_in_exactly_one_person": sum(1 for n in whole.values() if n == 1),
        "unassigned": report.unassigned,
        "similar_faces_k10_ms_median": round(median(latencies), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--scale-identities", type=int, default=500, help="synthetic re-cluster test (0: skip)"
    )
    parser.add_argument("--scale-faces-per-identity", type=int, default=20)
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())

    base = Path(tempfile.mkdtemp(prefix="pava-bench-faces-"))
    base.chmod(0o755)
    cluster = PostgresCluster(base / "pg" / "data", free_port(), new_password(), fast_unsafe=True)
    try:
        log("starting postgres")
        cluster.start()
        url = cluster.create_database("bench")
        settings = Settings.model_validate({"database_url": url, "storage_root": base / "storage"})
        settings.storage_root.mkdir()
        db.migrate(settings)
        grouping_settings = Settings.model_validate(
            {"database_url": cluster.create_database("grouping"), "storage_root": settings.storage_root}
        )
        db.migrate(grouping_settings)
        big, video = make_inputs(base)
        analyzer = FacesAnalyzer(settings)
        started = time.perf_counter()
        analyzer.load()
        load_s = time.perf_counter() - started

        log("accuracy")
        results = {str(p.relative_to(CORPUS)): analyzer.analyze(item(p)) for p in photos()}
        log("12 MP photo and video")
        # The 12 MP photo as stored by the ingester: with its 1440 px preview beside it.
        preview = settings.storage_root / thumbnail_rel(item(big).sha512, THUMB_PREVIEW)
        preview.parent.mkdir(parents=True)
        with Image.open(big) as source:
            source.resize((1440, 1080), Image.Resampling.BILINEAR).save(preview, quality=85)
        original_only = FacesAnalyzer(
            settings.model_copy(update={"faces": settings.faces.model_copy(update={"use_preview": False})})
        )
        original_only.load()
        photo_12mp = {}
        for label, which in (("original", original_only), ("preview", analyzer)):
            which.analyze(item(big, root=settings.storage_root))  # warm: the files into the page cache
            timing = timed_run(settings, which, [big] * 5, f"big-{label}")
            photo_12mp[label] = {
                "s_per_photo_analyze": round(timing["analyze_s"] / 5, 3),
                "s_per_photo_model": round(timing["model_s"] / 5, 3),
                "outside_model_share": round(
                    1 - timing["model_s"] / (timing["analyze_s"] + timing["store_s"]), 4
                ),
                "faces": len(which.analyze(item(big, root=settings.storage_root)).faces),
            }
        video_started = time.perf_counter()
        video_result = analyzer.analyze(item(video, MediaKind.VIDEO))
        video_s = time.perf_counter() - video_started

        report = {
            "command": "python bench/bench_faces.py " + " ".join(sys.argv[1:]),
            "machine": {"cpus": multiprocessing.cpu_count(), "python": platform.python_version()},
            "note": "shared 2-core machine (other sessions ran tests meanwhile): treat times as +-30 %",
            "settings": analyzer.meta().extra | {"detector": analyzer.config.detector},
            "model_load_s": round(load_s, 2),
            "speed": speed(url, photos(), args.rounds, args.processes),
            "photo_12mp": photo_12mp,
            "video_8s_640x480": {
                "s": round(video_s, 2),
                "keyframes_scanned": video_result.frames,
                "faces": [(f.frame_ms, round(f.score or 0, 2)) for f in video_result.faces],
                "model_s": round(video_result.model_seconds, 2),
            },
            "size_tradeoff": size_tradeoff(photos()),
            "face_counts": counts(manifest, results),
            "distances": distances(results),
            "grouping": grouping(grouping_settings, analyzer, results),
            "grouping_stress": stress(url, analyzer),
            "scale": synthetic_scale(cluster, args.scale_identities, args.scale_faces_per_identity)
            if args.scale_identities
            else None,
        }
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "faces.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
