"""Audio out of media files with ffmpeg (through ``ffmpeg-python``): probe, loudness, streamed PCM.

Nothing here holds a whole soundtrack in memory: ``stream_pcm`` reads 16 kHz mono samples from an ffmpeg
pipe a block at a time (64 KiB per second of audio as float32), so a two-hour video costs what one block
costs. ``loudness`` is one fast decode pass through ffmpeg's ``volumedetect`` filter, run before any model
is loaded so that silent soundtracks are recorded as such without one.
"""

from __future__ import annotations

import collections
import logging
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from workers.analyzer import PermanentError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper (and most speech models) expect
_BYTES_PER_SAMPLE = 2  # s16le
_STDERR_KEEP = 40  # lines of ffmpeg's stderr kept for the error message

AudioArray = npt.NDArray[np.float32]


class AudioError(PermanentError):
    """ffmpeg cannot read the file or its audio: the input is broken or not media at all."""


@dataclass(frozen=True)
class AudioProbe:
    """What ffprobe says about a file's sound."""

    has_audio: bool
    duration_s: float | None  # of the container; None when unknown
    codec: str | None  # of the first audio stream
    sample_rate: int | None
    channels: int | None


@dataclass(frozen=True)
class Loudness:
    """ffmpeg ``volumedetect`` over the first audio stream, in dBFS (-91 is digital silence for s16)."""

    mean_db: float | None
    max_db: float | None
    samples: int

    def is_silent(self, threshold_db: float) -> bool:
        return self.samples == 0 or self.max_db is None or self.max_db < threshold_db


def probe(path: Path, *, timeout: float = 60.0) -> AudioProbe:
    """ffprobe the file; ``AudioError`` when it is not a media file ffmpeg understands."""
    import ffmpeg

    try:
        info: dict[str, Any] = ffmpeg.probe(str(path), timeout=timeout)
    except ffmpeg.Error as exc:
        raise AudioError(f"ffprobe cannot read {path.name}: {_last_line(exc.stderr)}") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"ffprobe took longer than {timeout:.0f}s on {path.name}") from exc
    streams = info.get("streams") or []
    if not streams:
        raise AudioError(f"{path.name} has no streams ffmpeg can read")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(info.get("format", {}).get("duration"))
    if audio is None:
        return AudioProbe(False, duration, None, None, None)
    return AudioProbe(
        has_audio=True,
        duration_s=duration if duration is not None else _float(audio.get("duration")),
        codec=audio.get("codec_name"),
        sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
        channels=audio.get("channels"),
    )


_VOLUME = re.compile(r"(n_samples|mean_volume|max_volume):\s*(-?[\d.]+|-inf)")


def loudness(path: Path, *, timeout: float = 1800.0) -> Loudness:
    """Decode the first audio stream once through ``volumedetect`` (about 1000x real time here)."""
    import ffmpeg

    stream = (
        ffmpeg.input(str(path))
        .output("-", format="null", map="0:a:0", af="volumedetect")
        .global_args("-nostdin", "-hide_banner", "-nostats")
    )
    try:
        completed = subprocess.run(stream.compile(), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"measuring the loudness of {path.name} took longer than {timeout:.0f}s") from exc
    err = completed.stderr.decode("utf-8", "replace")
    if completed.returncode != 0:
        raise AudioError(f"ffmpeg cannot decode the audio of {path.name}: {_last_line(err)}")
    values: dict[str, float] = {}
    for name, value in _VOLUME.findall(err):
        values[name] = float("-inf") if value == "-inf" else float(value)
    return Loudness(
        mean_db=values.get("mean_volume"),
        max_db=values.get("max_volume"),
        samples=int(values.get("n_samples", 0)),
    )


def stream_pcm(
    path: Path, *, block_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE
) -> Iterator[AudioArray]:
    """Yield the first audio stream as float32 mono blocks of ``block_seconds`` (the last one shorter).

    ffmpeg decodes and resamples in its own process and writes signed 16-bit PCM to a pipe; the pipe's
    back-pressure keeps it at most one block ahead of the consumer. Closing the generator early kills it.
    """
    import ffmpeg

    stream = (
        ffmpeg.input(str(path))
        .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=sample_rate, map="0:a:0")
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    )
    process: subprocess.Popen[bytes] = stream.run_async(pipe_stdout=True, pipe_stderr=True)
    assert process.stdout is not None and process.stderr is not None
    # stderr is drained by a thread: a chatty ffmpeg must never block on a full pipe while we read stdout.
    errors: collections.deque[str] = collections.deque(maxlen=_STDERR_KEEP)
    drain = threading.Thread(target=drain_lines, args=(process.stderr, errors), daemon=True)
    drain.start()
    block_bytes = max(1, int(block_seconds * sample_rate)) * _BYTES_PER_SAMPLE
    finished = False
    try:
        while True:
            data = _read_exactly(process.stdout, block_bytes)
            if not data:
                break
            usable = len(data) - len(data) % _BYTES_PER_SAMPLE
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
            yield samples
        code = process.wait()
        drain.join(timeout=5)
        finished = True
        if code != 0:
            raise AudioError(f"ffmpeg failed decoding the audio of {path.name}: {' | '.join(errors) or code}")
    finally:
        if not finished:
            process.kill()
            process.wait()
        process.stdout.close()


def _read_exactly(pipe: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes: less only at the end of the stream (a pipe read may return short)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = pipe.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def drain_lines(pipe: IO[bytes], keep: collections.deque[str]) -> None:
    """Read a child's stderr to its end (so it never blocks on a full pipe), keeping the last lines."""
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", "replace").strip()
        if line:
            keep.append(line)
    pipe.close()


def _last_line(stderr: bytes | str | None) -> str:
    if stderr is None:
        return "no output"
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
