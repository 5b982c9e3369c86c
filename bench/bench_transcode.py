"""Browser renditions: how long the transcode worker takes per second of video, and what it writes.

    .venv/bin/python bench/bench_transcode.py [--presets veryfast,ultrafast] [--threads 2]

Generates once (cached under bench/out/transcode_videos/) camera-like clips: moving test patterns with
per-frame noise (sensor noise is what makes real footage expensive to encode; clean patterns compress to
nothing), as a phone writes them: 1080p30 HEVC 20 s with AAC, 2160p30 HEVC 10 s (turned to 1080p), an
upright 1080x1920 HEVC 10 s with a rotation matrix, a 720p MPEG-4 Part 2 AVI with MP3 (an old camera), a
1080p H.264 in MKV with AAC (copied, not re-encoded) and a 1080p H.264 MP4 (needs nothing). Each goes
through the real analyzer (``TranscodeAnalyzer.analyze``: ffprobe, decision, ffmpeg, ffprobe of the
result, rename) for each preset. The headline is CPU seconds of ffmpeg per second of video (children's
rusage: the machine is shared, and wall time also counts waiting for a core); wall time beside it.
Writes bench/out/transcode.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.media import MediaKind  # noqa: E402
from core.settings import Settings  # noqa: E402
from workers.analyzer import MediaItem  # noqa: E402
from workers.analyzers.transcode import TranscodeAnalyzer, ffmpeg_version  # noqa: E402

OUT = ROOT / "bench" / "out"
VIDEOS = OUT / "transcode_videos"
NOISY = "testsrc2=size={size}:rate=30:duration={seconds},noise=alls=12:allf=t+u"
TONE = "sine=frequency=330:sample_rate=48000:duration={seconds}"

# name -> (seconds, frame size, ffmpeg output arguments)
CLIPS: dict[str, tuple[int, str, list[str]]] = {
    "phone_1080p_hevc.mov": (20, "1920x1080", ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                               "-pix_fmt", "yuv420p", "-b:v", "12M", "-c:a", "aac"]),
    "phone_4k_hevc.mov": (10, "3840x2160", ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                            "-pix_fmt", "yuv420p", "-b:v", "40M", "-c:a", "aac"]),
    "upright_hevc.mov": (10, "1920x1080", ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                                           "-pix_fmt", "yuv420p", "-b:v", "12M", "-c:a", "aac"]),
    "camera_720p.avi": (20, "1280x720", ["-c:v", "mpeg4", "-q:v", "4", "-c:a", "libmp3lame"]),
    "screen_1080p.mkv": (20, "1920x1080", ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                                           "-c:a", "aac"]),
    "web_1080p.mp4": (20, "1920x1080", ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                                        "-c:a", "aac"]),
}


def generate() -> dict[str, Path]:
    VIDEOS.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, (seconds, size, args) in CLIPS.items():
        path = VIDEOS / name
        if not path.exists():
            print(f"making {name} ...", flush=True)
            partial = path.with_suffix(".partial" + path.suffix)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                            "-f", "lavfi", "-i", NOISY.format(size=size, seconds=seconds),
                            "-f", "lavfi", "-i", TONE.format(seconds=seconds),
                            "-x265-params", "log-level=error", *args, "-shortest", str(partial)],
                           check=True)
            if name.startswith("upright"):
                # A phone held upright stores landscape frames and a display matrix turning them.
                subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(partial), "-c", "copy",
                                "-metadata:s:v:0", "rotate=90", str(path)], check=True)
                partial.unlink()
            else:
                partial.replace(path)
        paths[name] = path
    return paths


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(paths: dict[str, Path], preset: str, threads: int) -> list[dict[str, Any]]:
    storage = Path(tempfile.mkdtemp(prefix="pava-bench-transcode-"))
    try:
        settings = Settings(_env_file=None, storage_root=storage,  # type: ignore[call-arg]
                            transcode={"preset": preset, "threads": threads})  # type: ignore[arg-type]
        analyzer = TranscodeAnalyzer(settings)
        analyzer.load()
        rows = []
        for name, path in paths.items():
            seconds = CLIPS[name][0]
            digest = hashlib.sha512(path.read_bytes()).hexdigest()
            item = MediaItem(media_id=1, job_id=1, kind=MediaKind.VIDEO, path=path, rel_path=name,
                             sha512=digest, storage_root=storage)
            cpu, wall = children_cpu(), time.monotonic()
            result = analyzer.analyze(item)
            cpu, wall = children_cpu() - cpu, time.monotonic() - wall
            rows.append({
                "clip": name, "preset": preset, "threads": threads, "video_s": seconds,
                "status": result.status, "reason": result.reason,
                "video": result.params.get("video"), "audio": result.params.get("audio"),
                "size": f"{result.width}x{result.height}", "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "cpu_per_video_s": round(cpu / seconds, 3), "wall_per_video_s": round(wall / seconds, 3),
                "source_mb": round(path.stat().st_size / 1e6, 2),
                "rendition_mb": round((result.size_bytes or 0) / 1e6, 2),
            })
            print(f"{preset:9} {name:22} {result.status:11} {rows[-1]['video'] or '-':6} "
                  f"{rows[-1]['size']:>9} wall {wall:6.2f}s cpu {cpu:6.2f}s "
                  f"cpu/video-s {cpu / seconds:5.2f} {rows[-1]['source_mb']:6.1f} MB -> "
                  f"{rows[-1]['rendition_mb']:5.1f} MB", flush=True)
        return rows
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="veryfast,ultrafast")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    paths = generate()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for preset in args.presets.split(","):
        rows += run(paths, preset, args.threads)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "ffmpeg": ffmpeg_version(), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "rows": rows,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transcode.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}; "
          f"wrote {OUT / 'transcode.json'}")


if __name__ == "__main__":
    main()
