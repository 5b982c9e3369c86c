"""Browser renditions: the playability rules on real files made by ffmpeg, and the real ``pava worker
transcode`` process (registry, runtime, RabbitMQ, Postgres) on the corpus's HEVC and H.264 videos, on a
3GP and an AVI made here, and on two broken files; redelivery, re-queueing and the originals untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import struct
import subprocess
import time
import urllib.request
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from support import popen_pava, run_pava, stage_job

from core import db
from core.broker import Publisher
from core.media import MediaKind
from core.outbox import publish_pending
from core.settings import Settings
from pava.services.postgres import free_port
from workers.analyzer import MediaItem, PermanentError
from workers.analyzers import transcode_rules
from workers.analyzers.transcode import TranscodeAnalyzer, rendition_path
from workers.analyzers.transcode_rules import VideoStream, decide, matroska_doctype, target_size
from workers.timeout import JobTimeout, call_with_timeout

HEVC = "speech/video/pp_quicktime-hvc1.mov"
H264 = "speech/video/derived_earth_with_jfk_speech.mp4"
SOURCE = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2"]


def _ffmpeg(path: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *SOURCE, *args, str(path)], check=True,
                   timeout=120)
    return path


def _probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                           str(path)], capture_output=True, check=True, timeout=60)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _displayed(path: Path) -> tuple[int, int]:
    """Displayed size by ffprobe's own numbers: pixel aspect and display-matrix rotation applied."""
    video = next(s for s in _probe(path)["streams"] if s["codec_type"] == "video")
    width, height = int(video["width"]), int(video["height"])
    sar = video.get("sample_aspect_ratio", "1:1")
    if sar not in ("1:1", "0:1", "N/A"):
        num, den = (int(x) for x in sar.split(":"))
        width = round(width * Fraction(num, den))
    sides = video.get("side_data_list", [])
    rotation = next((int(side["rotation"]) for side in sides if "rotation" in side), 0)
    return (height, width) if rotation % 180 else (width, height)


def _sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def _zero_media_data(source: Path, target: Path) -> Path:
    """A copy whose index is intact but whose coded frames are all zeros: ffprobe reads it, no decoder can."""
    data = bytearray(source.read_bytes())
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:  # 64-bit box size follows the type
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        if kind == b"mdat":
            data[offset + header:offset + size] = bytes(size - header)
            break
        offset += size or len(data)
    else:
        raise AssertionError(f"no mdat box in {source}")
    target.write_bytes(data)
    return target


# -- the rules, on files made here ---------------------------------------------------------------------------

RULE_CASES = [
    # (file name, ffmpeg output arguments, playable, part of the reason, video copied into the MP4)
    ("plain.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], True, "h264/aac in mp4", None),
    ("plain.mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], True, "h264/aac in mov", None),
    ("silent.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-an"], True, "h264/no audio in mp4", None),
    ("vp9.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "100k", "-c:a", "libopus"], True,
     "vp9/opus in webm", None),
    ("mp3.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libmp3lame"], True, "h264/mp3", None),
    ("phone.3gp", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], False, "container 3gp", True),
    ("h263.3gp", ["-c:v", "h263", "-s", "352x288", "-c:a", "aac", "-ar", "16000", "-ac", "1"], False,
     "container 3gp; video codec h263", False),
    ("h264.avi", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libmp3lame"], False, "container avi",
     False),
    ("old.avi", ["-c:v", "mpeg4", "-c:a", "libmp3lame"], False, "container avi; video codec mpeg4", False),
    ("h264.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], False, "container mkv", True),
    ("vp9.mkv", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "100k", "-c:a", "libopus"], False,
     "container mkv", False),
    ("hevc.mp4", ["-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p",
                  "-tag:v", "hvc1", "-c:a", "aac"], False, "video codec hevc (hvc1)", False),
    ("pcm.mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le"], False,
     "audio codec pcm_s16le", True),
    ("ac3.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "ac3"], False, "audio codec ac3", True),
    ("hi422.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv422p", "-c:a", "aac"], False,
     "video codec h264 High 4:2:2 yuv422p", False),
    ("interlaced.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme",
                        "-x264opts", "tff=1", "-c:a", "aac"], False, "interlaced video", False),
    ("mpeg2.mpg", ["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"], False, "container mpeg", False),
    ("old.wmv", ["-c:v", "wmv2", "-c:a", "wmav2"], False, "container asf; video codec wmv2", False),
]


@pytest.mark.parametrize(("name", "args", "playable", "reason", "copied"), RULE_CASES,
                         ids=[case[0] for case in RULE_CASES])
def test_what_browsers_play(tmp_path: Path, name: str, args: list[str], playable: bool, reason: str,
                            copied: bool | None) -> None:
    source = transcode_rules.probe(_ffmpeg(tmp_path / name, *args))
    decision = decide(source, max_height=1080)
    assert decision.playable is playable, decision.reasons
    if playable:
        assert reason in source.describe()
        assert decision.browser_type == ("video/webm" if name.endswith(".webm") else "video/mp4")
    else:
        assert "; ".join(decision.reasons).startswith(reason), decision.reasons
        assert decision.browser_type is None
        assert decision.video_copyable is copied


def test_webm_and_matroska_are_told_apart(tmp_path: Path) -> None:
    webm = _ffmpeg(tmp_path / "a.webm", "-c:v", "libvpx", "-b:v", "100k", "-c:a", "libvorbis")
    mkv = _ffmpeg(tmp_path / "a.mkv", "-c:v", "libvpx", "-b:v", "100k", "-c:a", "libvorbis")
    assert (matroska_doctype(webm), matroska_doctype(mkv)) == ("webm", "matroska")
    assert matroska_doctype(Path(__file__)) is None
    assert decide(transcode_rules.probe(webm), max_height=1080).playable
    assert decide(transcode_rules.probe(mkv), max_height=1080).reasons == ("container mkv",)


def _stream(width: int, height: int, *, rotation: int = 0, sar: Fraction = Fraction(1)) -> VideoStream:
    return VideoStream(index=0, codec="hevc", tag="hvc1", profile="Main", pix_fmt="yuv420p", width=width,
                       height=height, sample_aspect=sar, rotation=rotation, field_order="progressive")


def test_rendition_size_is_displayed_even_and_bounded() -> None:
    assert target_size(_stream(3840, 2160), 1080) == (1920, 1080)
    assert target_size(_stream(3840, 2160, rotation=90), 1080) == (1080, 1920)  # upright phone video
    assert target_size(_stream(1280, 720, rotation=270), 1080) == (720, 1280)  # never enlarged
    assert target_size(_stream(720, 480, sar=Fraction(32, 27)), 1080) == (854, 480)  # square pixels
    assert target_size(_stream(321, 241), 1080) == (322, 242)  # 4:2:0 needs even sides; half rounds up
    assert target_size(_stream(1920, 1080), 480) == (854, 480)


# -- the worker, end to end ----------------------------------------------------------------------------------


def _wait_finished(conn: db.Connection, count: int, timeout: float = 240) -> dict[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    jobs: dict[int, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        rows = conn.execute(
            "SELECT id, media_id, state, error, attempts FROM job WHERE analyzer = 'transcode'")
        jobs = {r["media_id"]: dict(r) for r in rows}
        if len(jobs) == count and all(j["state"] in ("done", "failed") for j in jobs.values()):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs not finished after {timeout}s: {jobs}")


def _renditions(conn: db.Connection) -> dict[int, dict[str, Any]]:
    return {r["media_id"]: dict(r) for r in conn.execute("SELECT * FROM rendition")}


def _partials(settings: Settings) -> list[Path]:
    return list((settings.storage_root / "derived").rglob("*.partial"))


def _wait_metric(port: int, series: str, value: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        seen = next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith(series + " ")), None)
        if seen == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"{series} is {seen}, not {value}, after {timeout}s")


def _stop(worker: subprocess.Popen[str], log_path: Path) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, log_path.read_text()[-3000:]


@pytest.mark.corpus
@pytest.mark.slow
def test_the_transcode_worker(settings: Settings, corpus: Path, tmp_path: Path) -> None:
    sources = {
        "hevc": corpus / HEVC,
        "h264": corpus / H264,
        "3gp": _ffmpeg(tmp_path / "phone.3gp", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        "avi": _ffmpeg(tmp_path / "old.avi", "-c:v", "mpeg4", "-c:a", "libmp3lame"),
        "html": corpus / "bad/html_error_page.mp4",
        "zeroed": _zero_media_data(corpus / HEVC, tmp_path / "zeroed.mov"),
    }
    log_path = tmp_path / "worker.log"
    with db.connect(settings, autocommit=True) as conn, log_path.open("w") as log:
        media = {name: stage_job(settings, source, analyzer="transcode", kind=MediaKind.VIDEO, conn=conn)
                 for name, source in sources.items()}
        originals = {name: settings.storage_root / m.path for name, m in media.items()}
        before = {name: _sha512(path) for name, path in originals.items()}
        ids = {name: m.media_id for name, m in media.items()}
        with Publisher(settings) as publisher:
            assert publish_pending(conn, publisher) == len(media)
        port = free_port()
        worker = popen_pava(settings, "worker", "transcode", stdout=log, stderr=subprocess.STDOUT,
                            extra_env={"PAVA_WORKER__METRICS_PORT": str(port)})
        try:
            jobs = _wait_finished(conn, len(media))
            assert {name: jobs[i]["state"] for name, i in ids.items()} == {
                "hevc": "done", "h264": "done", "3gp": "done", "avi": "done", "html": "failed",
                "zeroed": "failed"}
            # Broken input fails for good at once, with a reason a person can act on.
            assert jobs[ids["html"]]["attempts"] == 1
            assert "ffprobe cannot read html_error_page.mp4 as a video" in jobs[ids["html"]]["error"]
            assert jobs[ids["zeroed"]]["error"].startswith("cannot decode originals/zeroed.mov, corrupt")
            rows = _renditions(conn)
            assert set(rows) == {ids[n] for n in ("hevc", "h264", "3gp", "avi")}
            first = {name: rows[ids[name]] for name in ("hevc", "h264", "3gp", "avi")}

            # The done jobs' messages delivered again (a lost ack): skipped, nothing re-made or rewritten.
            made = settings.storage_root / first["hevc"]["path"]
            stamp = made.stat().st_mtime_ns
            with Publisher(settings) as publisher:
                for name in first:
                    publisher.publish("transcode", media[name].encode())
            _wait_metric(port, 'pava_jobs_total{analyzer="transcode",outcome="skipped"}', len(first))
            again = _wait_finished(conn, len(media))
            assert {i: j["attempts"] for i, j in again.items()} == {i: j["attempts"] for i, j in jobs.items()}
            assert made.stat().st_mtime_ns == stamp
            assert _renditions(conn) == rows

            # Re-queued (a new version, other settings): made again, overwriting; still one row each.
            assert "requeued 6 transcode job(s) (all)" in run_pava(settings, "requeue", "transcode",
                                                                    "--all").stdout
            redone = _wait_finished(conn, len(media))
            assert {i: j["state"] for i, j in redone.items()} == {i: j["state"] for i, j in jobs.items()}
            rerun = _renditions(conn)
            assert set(rerun) == set(rows)
            keys = ("status", "reason", "path", "mime_type", "video_codec", "audio_codec", "width", "height")
            assert [{k: r[k] for k in keys} for r in rerun.values()] == [
                {k: r[k] for k in keys} for r in rows.values()]
            assert made.stat().st_mtime_ns != stamp
        finally:
            _stop(worker, log_path)

    # The originals: byte for byte what was stored.
    assert {name: _sha512(path) for name, path in originals.items()} == before
    assert not _partials(settings)

    # HEVC -> H.264/AAC MP4, playable from its first bytes, same length and displayed size.
    hevc = first["hevc"]
    assert (hevc["status"], hevc["reason"], hevc["mime_type"]) == ("transcoded", "video codec hevc (hvc1)",
                                                                  "video/mp4")
    assert hevc["path"] == (f"derived/renditions/{media['hevc'].sha512[:2]}/{media['hevc'].sha512[2:4]}/"
                            f"{media['hevc'].sha512}/{media['hevc'].sha512}.mp4")
    rendition = settings.storage_root / hevc["path"]
    info = _probe(rendition)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert info["format"]["format_name"].startswith("mov,mp4")
    assert info["format"]["tags"]["major_brand"] == "isom"
    assert (video["codec_name"], video["pix_fmt"], audio["codec_name"]) == ("h264", "yuv420p", "aac")
    assert video["profile"] in ("Main", "High")
    assert not video.get("side_data_list"), "rotation applied to the pixels, no display matrix left"
    assert _displayed(rendition) == _displayed(originals["hevc"]) == (720, 1280)
    assert (hevc["width"], hevc["height"]) == (720, 1280) and hevc["video_codec"] == "h264"
    original_s = float(_probe(originals["hevc"])["format"]["duration"])
    assert float(info["format"]["duration"]) == pytest.approx(original_s, abs=0.2)
    head = rendition.read_bytes()[:4096]
    assert b"moov" in head and (b"mdat" not in head or head.index(b"moov") < head.index(b"mdat")), "faststart"
    assert hevc["size_bytes"] == rendition.stat().st_size

    # The JFK clip is H.264 High 4:2:0 with AAC-LC in an ISO MP4: browsers play it as it is.
    jfk = first["h264"]
    assert (jfk["status"], jfk["path"], jfk["size_bytes"]) == ("not_needed", None, None)
    assert (jfk["mime_type"], jfk["video_codec"], jfk["audio_codec"]) == ("video/mp4", "h264", "aac")
    assert (jfk["width"], jfk["height"]) == (480, 270)
    assert jfk["reason"] == "plays as it is: h264/aac in mp4"
    assert not (settings.storage_root / "derived/renditions" / media["h264"].sha512[:2]).exists()

    # The container alone decides for the 3GP (its H.264 is kept as it is) and the AVI.
    assert (first["3gp"]["status"], first["3gp"]["reason"]) == ("transcoded", "container 3gp")
    assert first["3gp"]["params"]["video"] == "copy"
    assert first["avi"]["status"] == "transcoded"
    assert first["avi"]["reason"] == "container avi; video codec mpeg4 (FMP4)"
    for name in ("3gp", "avi"):
        streams = _probe(settings.storage_root / first[name]["path"])["streams"]
        assert [s["codec_name"] for s in streams] == ["h264", first[name]["audio_codec"]]
        assert first[name]["audio_codec"] in ("aac", "mp3")

    items = {i["id"]: i for i in map(json.loads, run_pava(settings, "export", "--jsonl").stdout.splitlines())}
    exported = items[ids["hevc"]]["results"]["transcode"]
    assert exported == {k: hevc[k] for k in ("status", "reason", "path", "mime_type", "video_codec",
                                             "audio_codec", "width", "height", "size_bytes")}
    assert items[ids["html"]]["results"]["transcode"] is None
    assert items[ids["html"]]["jobs"]["transcode"]["state"] == "failed"


def test_an_unreadable_file_is_permanent_and_leaves_nothing(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, storage_root=tmp_path / "storage")  # type: ignore[call-arg,unused-ignore]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")
    item = MediaItem(media_id=1, job_id=1, kind=MediaKind.VIDEO, path=broken, rel_path="originals/broken.mp4",
                     sha512=_sha512(broken), storage_root=settings.storage_root)
    with pytest.raises(PermanentError, match=r"ffprobe cannot read broken\.mp4 as a video"):
        TranscodeAnalyzer(settings).analyze(item)
    assert not _partials(settings) and not (settings.storage_root / "derived").exists()


def _long_clip(path: Path, seconds: int = 30) -> Path:
    """MPEG-4 Part 2 in AVI (fast to make, slow enough to transcode) for the deadline tests."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1280x720:rate=30:duration={seconds}", "-c:v", "mpeg4", "-q:v", "5",
                    str(path)], check=True, timeout=120)
    return path


def _children_named(name: str) -> list[int]:
    """Processes called ``name`` whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and comm == name:
            found.append(int(entry.name))
    return found


def _item(settings: Settings, path: Path) -> MediaItem:
    return MediaItem(media_id=1, job_id=1, kind=MediaKind.VIDEO, path=path, rel_path=f"originals/{path.name}",
                     sha512=_sha512(path), storage_root=settings.storage_root)


def test_a_transcode_past_the_job_timeout_fails_for_good_and_leaves_nothing(tmp_path: Path) -> None:
    # 15 s of the job timeout are kept for probing and committing: ffmpeg gets about one second.
    settings = Settings(_env_file=None, storage_root=tmp_path / "storage",  # type: ignore[call-arg,unused-ignore]
                        worker={"job_timeout": 16})  # type: ignore[arg-type]
    item = _item(settings, _long_clip(tmp_path / "long.avi"))
    started = time.monotonic()
    with pytest.raises(PermanentError, match="longer than PAVA_WORKER__JOB_TIMEOUT allows") as info:
        TranscodeAnalyzer(settings).analyze(item)
    assert time.monotonic() - started < 10
    assert "of 0:00:30" in str(info.value)
    assert not _partials(settings) and not _children_named("ffmpeg")
    assert not list((settings.storage_root / "derived").rglob("*.mp4"))


def test_the_runtime_timeout_interrupts_ffmpeg(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, storage_root=tmp_path / "storage")  # type: ignore[call-arg,unused-ignore]
    item = _item(settings, _long_clip(tmp_path / "long.avi"))
    analyzer = TranscodeAnalyzer(settings)
    started = time.monotonic()
    with pytest.raises(JobTimeout):
        call_with_timeout(lambda: analyzer.analyze(item), 1.5)
    assert time.monotonic() - started < 5, "ffmpeg's progress lines bring the thread back to Python"
    assert not _partials(settings) and not _children_named("ffmpeg")


def test_leftovers_of_killed_runs_are_cleared(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, storage_root=tmp_path / "storage")  # type: ignore[call-arg,unused-ignore]
    clip = _ffmpeg(tmp_path / "clip.avi", "-c:v", "mpeg4", "-c:a", "libmp3lame")
    item = _item(settings, clip)
    final = rendition_path(item)
    final.parent.mkdir(parents=True)
    stale, fresh = (final.with_name(f"{final.stem}.{tag}.partial") for tag in ("dead", "busy"))
    for path in (stale, fresh):
        path.write_bytes(b"half a file")
    old = time.time() - 3 * settings.worker.job_timeout
    os.utime(stale, (old, old))  # a run killed long ago; `fresh` may belong to a delivery running now
    result = TranscodeAnalyzer(settings).analyze(item)
    assert result.status == "transcoded" and final.is_file()
    assert not stale.exists() and fresh.exists()

    # A re-run that finds the item playable (here: the same item read as a playable file, as later rules
    # might see it) removes the rendition with its reason.
    playable = _ffmpeg(tmp_path / "clip.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
    item = dataclasses.replace(item, path=playable)
    assert TranscodeAnalyzer(settings).analyze(item).status == "not_needed"
    assert not final.exists()


def test_the_ffmpeg_command(tmp_path: Path) -> None:
    from core.settings import TranscodeSettings
    from workers.analyzers.transcode_ffmpeg import command, plan
    from workers.analyzers.transcode_rules import AudioStream, SourceProbe

    config = TranscodeSettings()
    hevc = dataclasses.replace(_stream(3840, 2160, rotation=90), index=0)
    surround = AudioStream(index=1, codec="ac3", profile="", channels=6)
    source = SourceProbe(container="mov", duration_s=10.0, video=hevc, audio=surround)
    steps = plan(source, decide(source, max_height=1080), config)
    args = command(source, tmp_path / "in.mov", tmp_path / "out.partial", steps, config=config, threads=2)
    assert (steps.video, steps.audio, steps.width, steps.height) == ("encode", "encode", 1080, 1920)
    joined = " ".join(args)
    assert "-map 0:0 -map 0:1" in joined
    assert "-vf scale=1080:1920:flags=bicubic,setsar=1,format=yuv420p" in joined
    assert "-c:v libx264 -preset veryfast -crf 23 -profile:v high" in joined
    assert "-c:a aac -b:a 128k -ac 2" in joined and "-movflags +faststart -f mp4" in joined
    assert args[-1] == str(tmp_path / "out.partial")

    # An H.264 stream in the wrong container is copied; a soundtrack ffmpeg cannot decode is left out.
    h264 = dataclasses.replace(hevc, codec="h264", profile="High", rotation=0, width=1920, height=1080)
    unknown = dataclasses.replace(surround, codec="unknown")
    source = SourceProbe(container="mkv", duration_s=10.0, video=h264, audio=unknown)
    steps = plan(source, decide(source, max_height=1080), config)
    args = command(source, tmp_path / "in.mkv", tmp_path / "out.partial", steps, config=config, threads=2)
    assert (steps.video, steps.audio) == ("copy", "none")
    assert "-c:v copy" in " ".join(args) and "0:1" not in args and "-c:a" not in args

    # Interlaced: deinterlaced (only the frames flagged so) before scaling.
    interlaced = dataclasses.replace(h264, field_order="tt")
    source = SourceProbe(container="mp4", duration_s=10.0, video=interlaced, audio=None)
    steps = plan(source, decide(source, max_height=1080), config)
    args = command(source, tmp_path / "in.mp4", tmp_path / "out.partial", steps, config=config, threads=2)
    assert steps.video == "encode" and "yadif=deint=interlaced,scale=1920:1080" in " ".join(args)
