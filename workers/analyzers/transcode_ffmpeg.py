"""The ffmpeg command that makes a browser rendition, and running it within a deadline.

The command maps only the first video stream and the first audio stream (what a ``<video>`` element
plays), drops subtitles, data streams, chapters and metadata (the library keeps the metadata; a file made
for showing in a browser need not carry the place it was shot), and writes an MP4 whose index is at the
front (``+faststart``) so a browser starts playing before the whole file has arrived.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import TranscodeSettings
from workers.analyzer import PermanentError, TransientError
from workers.analyzers.transcode_rules import Decision, SourceProbe, target_size
from workers.audio import drain_lines
from workers.ffprobe import summary

log = logging.getLogger(__name__)

_STDERR_KEEP = 20  # last lines of ffmpeg's stderr kept for the error message


@dataclass(frozen=True)
class Plan:
    """What the command does with each stream (recorded with the result)."""

    video: str  # "encode" or "copy"
    audio: str  # "encode", "copy" or "none"
    width: int  # the rendition's frame size
    height: int


def plan(source: SourceProbe, decision: Decision, config: TranscodeSettings) -> Plan:
    video = "copy" if config.copy_video and decision.video_copyable else "encode"
    if source.audio is None or source.audio.codec == "unknown":
        # A soundtrack this ffmpeg cannot decode (a codec newer than it) must not cost the video its
        # rendition: the rendition is silent instead, and the reason says why.
        audio = "none"
    else:
        audio = "copy" if decision.audio_copyable else "encode"
    if video == "copy":
        width, height = source.video.display_size
    else:
        width, height = target_size(source.video, config.max_height)
    return Plan(video, audio, width, height)


def command(source: SourceProbe, path: Path, output: Path, steps: Plan, *, config: TranscodeSettings,
            threads: int) -> list[str]:
    """The ffmpeg argv writing the rendition of ``path`` to ``output`` (an MP4 whatever its name)."""
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
            "-y", "-threads", str(threads), "-i", str(path), "-map", f"0:{source.video.index}"]
    if source.audio is not None and steps.audio != "none":
        args += ["-map", f"0:{source.audio.index}"]
    args += ["-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    if steps.video == "copy":
        args += ["-c:v", "copy"]
    else:
        filters = []
        if not source.video.progressive:
            filters.append("yadif=deint=interlaced")  # only frames flagged interlaced are touched
        # ffmpeg has already turned the frames upright (autorotate), so the size is the displayed one;
        # setsar=1: square pixels, as a browser would otherwise stretch by the sample aspect again.
        filters += [f"scale={steps.width}:{steps.height}:flags=bicubic", "setsar=1", "format=yuv420p"]
        args += ["-vf", ",".join(filters), "-c:v", "libx264", "-preset", config.preset,
                 "-crf", str(config.crf), "-profile:v", "high", "-threads", str(threads)]
    if steps.audio == "copy":
        args += ["-c:a", "copy"]
    elif steps.audio == "encode":
        args += ["-c:a", "aac", "-b:a", f"{config.audio_bitrate}k"]
        channels = source.audio.channels if source.audio else None
        if channels is not None and channels > 2:
            args += ["-ac", "2"]  # a browser downmixes anyway; stereo at this bitrate sounds better
    # Sparse or late-starting streams (a soundtrack that begins after seconds of video) would otherwise
    # overflow ffmpeg's default muxing queue and abort a perfectly good file.
    args += ["-max_muxing_queue_size", "4096", "-movflags", "+faststart", "-f", "mp4", str(output)]
    return args


def run(args: list[str], *, timeout: float, duration_s: float | None, name: str) -> None:
    """Run ffmpeg; raise PermanentError when it cannot transcode the file or runs past ``timeout``.

    ffmpeg writes its progress to stdout, read here line by line: the calling thread comes back to Python
    every half second, so the runtime's own job timeout can interrupt it, and the ``finally`` below then
    kills ffmpeg. A watchdog kills it at ``timeout`` even if it stops writing.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise TransientError(f"ffmpeg is not installed (apt-get install ffmpeg): {exc}") from exc
    assert process.stdout is not None and process.stderr is not None
    errors: collections.deque[str] = collections.deque(maxlen=_STDERR_KEEP)
    # stderr has its own reader: a corrupt file can make ffmpeg print faster than we read progress.
    drain = threading.Thread(target=drain_lines, args=(process.stderr, errors), name="ffmpeg-stderr",
                             daemon=True)
    drain.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        process.kill()

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    position = 0.0
    try:
        for raw in process.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                position = max(position, int(value) / 1e6)
        code = process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        drain.join(timeout=5)
    elapsed = time.monotonic() - started
    if expired.is_set():
        total = f" of {_clock(duration_s)}" if duration_s else ""
        raise PermanentError(
            f"transcoding {name} was stopped after {elapsed:.0f}s at {_clock(position)}{total}: longer than "
            "PAVA_WORKER__JOB_TIMEOUT allows; raise it or choose a faster PAVA_TRANSCODE__PRESET, then "
            "`pava requeue transcode --failed`"
        )
    tail = summary(errors)
    if code < 0:  # killed by a signal we did not send (the OOM killer, an operator): worth a retry
        raise TransientError(f"ffmpeg was killed by signal {-code} transcoding {name}: {tail}")
    if code != 0:
        if "No space left on device" in tail:
            raise TransientError(f"no space left on the storage for the rendition of {name}")
        raise PermanentError(
            f"cannot decode {name}, corrupt or unsupported video (ffmpeg exit {code}): {tail}")
    log.debug("transcoded %s in %.1fs (%.1fs of video)", name, elapsed, position)


def _clock(seconds: float | None) -> str:
    total = round(seconds or 0.0)
    return f"{total // 3600:d}:{total // 60 % 60:02d}:{total % 60:02d}"
