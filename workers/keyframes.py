"""Video keyframes: the one place that decides which frames of a video stand for it.

Seed 000's idea: sample frames, and a frame becomes a keyframe when its dHash differs from the last
keyframe's by more than a threshold. Here ffmpeg does all the pixel work in one streamed pass: it
decodes, applies the rotation of phone videos (autorotate is ffmpeg's default), samples at a fixed
rate with the ``fps`` filter, scales each sample to 9x8 gray, and writes 72 bytes per sample to a
pipe. Python only compares 64-bit integers, so memory stays flat for a video of any length.

The objects and faces analyzers reuse the same choice of frames: ``keyframes`` gives the sample
indexes and timestamps, and ``frames_at`` decodes those very samples at full size (same ``fps``
filter, same rotation) in one more pass, selecting them by sample index so they are the exact frames
that were hashed, not the nearest seek point.

Timestamps are milliseconds since the first video frame: sample ``n`` is at ``n * 1000 / fps``.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from core.perceptual import HASH_HEIGHT, HASH_WIDTH, hamming
from workers.analyzer import PermanentError, TransientError
from workers.ffprobe import probe_json

if TYPE_CHECKING:
    from PIL import Image

    from core.settings import DhashSettings

log = logging.getLogger(__name__)

_FRAME_BYTES = HASH_WIDTH * HASH_HEIGHT
_STDERR_KEEP = 64  # last lines of ffmpeg's stderr kept for the error message


@dataclass(frozen=True)
class Keyframe:
    """One keyframe: its sample index (frame ``index`` of the ``fps``-filtered stream), time, dHash."""

    index: int
    ms: int
    hash: int  # unsigned 64-bit dHash, as core.perceptual returns it


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about the first real video stream (cover art is not video)."""

    stream_index: int | None  # None: the file has no video stream
    width: int  # as stored (coded), before rotation
    height: int
    duration_s: float | None
    rotation: int = 0  # counter-clockwise degrees from the display matrix, as ffprobe reports it

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, i.e. of the frames ``frames_at`` returns (before ``max_side``)."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


@dataclass
class VideoFrame:
    """A decoded full-size frame (RGB, rotation applied) at a keyframe's time."""

    index: int
    ms: int
    image: Image.Image


def sample_index(ms: int, sample_fps: float) -> int:
    """The sample at (or nearest to) a timestamp: the inverse of ``sample_ms``."""
    return max(0, round(ms * sample_fps / 1000))


def sample_ms(index: int, sample_fps: float) -> int:
    """The timestamp (ms since the first frame) of sample ``index``."""
    return round(index * 1000 / sample_fps)


def probe(path: Path | str, *, timeout: float | None = 120.0) -> VideoInfo:
    """ffprobe the file. Raises PermanentError when ffprobe cannot read it at all."""
    _require_file(path)
    data = probe_json(Path(path), timeout=timeout)
    duration = _float(data.get("format", {}).get("duration"))
    for stream in data.get("streams", []):
        if stream.get("codec_type") != "video":
            continue
        if stream.get("disposition", {}).get("attached_pic"):
            continue  # album art in an audio file is a still, not a video
        return VideoInfo(int(stream["index"]), int(stream.get("width") or 0), int(stream.get("height") or 0),
                         _float(stream.get("duration")) or duration, _rotation(stream))
    return VideoInfo(None, 0, 0, duration)


def keyframes(
    path: Path | str,
    *,
    threshold: int = 10,
    sample_fps: float = 5.0,
    max_keyframes: int = 500,
    timeout: float | None = None,
) -> list[Keyframe]:
    """The keyframes of a video, in time order.

    A sample becomes a keyframe when its dHash differs from the previous keyframe's by more than
    ``threshold`` bits; the first sample always is one. At most ``max_keyframes`` are returned (the
    rest of the video is then not decoded). A file without a video stream (audio only) has none:
    an empty list, not an error. Raises PermanentError when ffmpeg cannot decode the file,
    TransientError when ffmpeg is missing, killed, or exceeds ``timeout`` seconds.
    """
    import ffmpeg

    if threshold < 0 or sample_fps <= 0 or max_keyframes < 1:
        raise ValueError("threshold >= 0, sample_fps > 0 and max_keyframes >= 1 are required")
    info = probe(path)
    if info.stream_index is None:
        log.info("%s has no video stream: no keyframes", path)
        return []
    stream = (
        ffmpeg.input(str(path))[str(info.stream_index)]
        .filter("fps", fps=sample_fps)
        # ffmpeg averages down to 9x8 itself ("area"), so only 72 bytes per sample cross the pipe.
        .filter("scale", HASH_WIDTH, HASH_HEIGHT, flags="area")
        .output("pipe:", format="rawvideo", pix_fmt="gray", an=None, sn=None, dn=None)
    )
    found: list[Keyframe] = []
    with _Ffmpeg(_command(stream), timeout) as proc:
        index = 0
        last: int | None = None
        for chunk in _read_exact(proc.stdout, _FRAME_BYTES):
            value = int.from_bytes(_dhash_bytes(chunk), "big")
            if last is None or hamming(value, last) > threshold:
                found.append(Keyframe(index, sample_ms(index, sample_fps), value))
                last = value
                if len(found) >= max_keyframes:
                    log.info("%s: stopped at max_keyframes=%d (sample %d)", path, max_keyframes, index)
                    proc.stop_early()
                    break
            index += 1
        proc.finish(produced=index > 0 or bool(found))
    return found


def keyframes_for(
    path: Path | str, settings: DhashSettings, *, timeout: float | None = None,
) -> list[Keyframe]:
    """``keyframes`` with the configured threshold, sample rate and cap."""
    return keyframes(path, threshold=settings.keyframe_threshold, sample_fps=settings.keyframe_sample_fps,
                     max_keyframes=settings.max_keyframes, timeout=timeout)


def frames_at(
    path: Path | str,
    timestamps_ms: Iterable[int],
    *,
    sample_fps: float = 5.0,
    max_side: int | None = None,
    timeout: float | None = None,
) -> Generator[VideoFrame, None, None]:
    """Decode the samples at these timestamps at full size (or scaled so the long side is at most
    ``max_side``), RGB, rotation applied, in time order, one pass over the video.

    Pass the same ``sample_fps`` as ``keyframes`` did: each timestamp then maps back to the very
    sample that was hashed. Frames stream out one at a time, so only one is in memory at once;
    closing the generator early (or dropping it) kills ffmpeg.
    """
    import ffmpeg

    wanted = sorted({sample_index(ms, sample_fps) for ms in timestamps_ms})
    if not wanted:
        return
    info = probe(path)
    if info.stream_index is None:
        return
    stream = ffmpeg.input(str(path))[str(info.stream_index)].filter("fps", fps=sample_fps)
    # select keeps only the wanted samples; ffmpeg stops decoding after the last one (-frames:v).
    expression = "+".join(f"eq(n,{n})" for n in wanted)
    stream = stream.filter("select", expression)
    if max_side is not None:
        # Fit inside max_side x max_side keeping the aspect ratio; min() never enlarges.
        stream = stream.filter("scale", f"min(iw,{max_side})", f"min(ih,{max_side})",
                               force_original_aspect_ratio="decrease")
    stream = stream.output("pipe:", format="image2pipe", vcodec="ppm", pix_fmt="rgb24",
                           fps_mode="passthrough", an=None, sn=None, dn=None, **{"frames:v": len(wanted)})
    from PIL import Image

    with _Ffmpeg(_command(stream), timeout) as proc:
        count = 0
        for (width, height), pixels in _read_ppm(proc.stdout):
            if count >= len(wanted):  # never expected (-frames:v caps it); do not let ffmpeg block
                proc.stop_early()
                break
            index = wanted[count]
            image = Image.frombytes("RGB", (width, height), pixels)
            yield VideoFrame(index, sample_ms(index, sample_fps), image)
            count += 1
        proc.finish(produced=count > 0)
    if count < len(wanted):
        log.warning("%s: %d of %d requested frames are past the end of the video", path, len(wanted) - count,
                    len(wanted))


# --- ffmpeg process handling ---------------------------------------------------------------------


def _command(stream: Any) -> list[str]:
    args: list[str] = stream.compile()
    # -nostdin: a worker has no terminal, and ffmpeg reading stdin would eat the pipe's EOF.
    return [args[0], "-nostdin", "-hide_banner", "-loglevel", "error", *args[1:]]


def _dhash_bytes(chunk: bytes) -> bytes:
    """dHash of a 9x8 gray frame as 8 big-endian bytes (pure Python: 72 comparisons)."""
    out = bytearray(HASH_HEIGHT)
    for row in range(HASH_HEIGHT):
        base = row * HASH_WIDTH
        byte = 0
        for col in range(HASH_WIDTH - 1):
            byte = (byte << 1) | (chunk[base + col + 1] > chunk[base + col])
        out[row] = byte
    return bytes(out)


def _read_exact(pipe: IO[bytes] | None, size: int) -> Iterator[bytes]:
    assert pipe is not None
    buffer = b""
    while True:
        data = pipe.read(65536)
        if not data:
            break
        buffer += data
        usable = len(buffer) - len(buffer) % size
        for start in range(0, usable, size):
            yield buffer[start:start + size]
        buffer = buffer[usable:]


def _read_ppm(pipe: IO[bytes] | None) -> Iterator[tuple[tuple[int, int], bytes]]:
    """Split ffmpeg's stream of binary PPM images ("P6 w h 255" then w*h*3 bytes)."""
    assert pipe is not None
    while True:
        fields: list[bytes] = []
        token = b""
        while len(fields) < 4:
            char = pipe.read(1)
            if not char:
                if fields or token:
                    raise PermanentError("ffmpeg's frame stream ended inside a header")
                return
            if char.isspace():
                if token:
                    fields.append(token)
                    token = b""
            else:
                token += char
        if fields[0] != b"P6" or fields[3] != b"255":
            raise PermanentError(f"unexpected frame header from ffmpeg: {b' '.join(fields)!r}")
        width, height = int(fields[1]), int(fields[2])
        size = width * height * 3
        pixels = pipe.read(size)
        if len(pixels) != size:
            raise PermanentError("ffmpeg's frame stream ended inside a frame")
        yield (width, height), pixels


class _Ffmpeg:
    """One ffmpeg child: stderr drained by a thread (so a chatty corrupt file cannot fill the pipe and
    deadlock us), an optional watchdog, and a guaranteed kill on any early exit."""

    def __init__(self, command: list[str], timeout: float | None) -> None:
        self.command = command
        self.timeout = timeout
        self.timed_out = False
        self.stopped_early = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_KEEP)
        self.proc: subprocess.Popen[bytes] | None = None
        self._drain: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None

    def __enter__(self) -> _Ffmpeg:
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
        except FileNotFoundError as exc:
            raise TransientError(f"ffmpeg is not installed: {exc}") from exc
        self._drain = threading.Thread(target=self._drain_stderr, name="ffmpeg-stderr", daemon=True)
        self._drain.start()
        if self.timeout is not None:
            self._watchdog = threading.Timer(self.timeout, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    @property
    def stdout(self) -> IO[bytes] | None:
        assert self.proc is not None
        return self.proc.stdout

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _expire(self) -> None:
        self.timed_out = True
        self._kill()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def stop_early(self) -> None:
        """We have what we need: end ffmpeg now; its non-zero exit is then no error."""
        self.stopped_early = True
        self._kill()

    def stderr_tail(self) -> str:
        return " | ".join(self._stderr)[-2000:]

    def finish(self, *, produced: bool) -> None:
        """Wait for ffmpeg and turn its exit into our error classes."""
        assert self.proc is not None
        code = self.proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
        if self.timed_out:
            raise TransientError(f"ffmpeg exceeded {self.timeout}s and was killed")
        if self.stopped_early or code == 0:
            return
        if code < 0:  # killed by a signal we did not send (OOM killer, operator): worth a retry
            raise TransientError(f"ffmpeg was killed by signal {-code}: {self.stderr_tail()}")
        if not produced:
            raise PermanentError(f"ffmpeg cannot decode the video (exit {code}): {self.stderr_tail()}")
        # A truncated recording still yields its first part; keep what was decoded.
        log.warning("ffmpeg exited with %d after decoding part of the video: %s", code, self.stderr_tail())

    def __exit__(self, *exc: object) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._kill()
        if self.proc is not None:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)  # it ends at stderr's EOF, which the exit above guarantees
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


def _require_file(path: Path | str) -> None:
    # A missing file is most likely a storage mount that is away: retry rather than fail for good.
    if not Path(path).is_file():
        raise TransientError(f"video file not found: {path}")


def _rotation(stream: dict[str, Any]) -> int:
    """Display rotation in counter-clockwise degrees, from the display matrix or the old ``rotate`` tag
    (clockwise, written by ffmpeg before 5.0 and by some phones)."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return round(float(side["rotation"])) % 360
    tag = stream.get("tags", {}).get("rotate")
    try:
        return -round(float(tag)) % 360 if tag is not None else 0
    except ValueError:
        return 0


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
