"""Browser renditions: an H.264/AAC MP4 for each video a browser cannot play as it is.

Not an analysis of the content, but the same machinery: a job per video, a queue, ``pava worker
transcode``, a ``rendition`` row per video. Cheapest first: ffprobe decides (``transcode_rules``); a video
that plays as it is gets a ``not_needed`` row within a second and is never decoded. The others are
transcoded by ffmpeg (``transcode_ffmpeg``) into ``derived/renditions/<aa>/<bb>/<sha512>/<sha512>.mp4``.

The original is only read. The rendition is written under a temporary name in the same folder, flushed
to disk, and renamed over the final name: a reader (the API, nginx) sees the previous complete file or
the new complete file, never half of one, and a redelivered job simply makes it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from core.media import MediaKind
from core.settings import Settings
from core.storage import derived_dir_rel, resolve
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta, TransientError
from workers.analyzers import transcode_ffmpeg, transcode_rules
from workers.analyzers.transcode_rules import SourceProbe

log = logging.getLogger(__name__)

Status = Literal["transcoded", "not_needed"]
RENDITION_TYPE = "video/mp4"
_PARTIAL = ".partial"
# Time kept back from the job timeout for probing the result and committing it, so that our own deadline
# (a clear, permanent failure) comes before the runtime's (a retry that would only time out again).
_COMMIT_MARGIN_S = 15.0


@dataclass(frozen=True)
class TranscodeResult:
    """One video's outcome. For ``not_needed``: the original's codecs and displayed size, no path."""

    status: Status
    reason: str
    mime_type: str  # of the rendition; for not_needed, the type to serve the original with
    path: str | None = None  # storage-relative, for transcoded
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    size_bytes: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


class TranscodeAnalyzer(Analyzer[TranscodeResult]):
    """Decides from ffprobe; makes an H.264/AAC MP4 with ffmpeg when a browser needs one."""

    name: ClassVar[str] = "transcode"
    # Bump when the rules or the rendition change (other codecs playable, other encoding), so that
    # `pava requeue transcode --all` re-runs with a reason and old rows are recognisable.
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.transcode
        self.ffmpeg_version = ""

    def _load(self) -> None:
        self.ffmpeg_version = ffmpeg_version()

    @property
    def threads(self) -> int:
        """ffmpeg threads per job: the configured number, else this host's cores shared among the
        worker's concurrent jobs (x264 would otherwise start 1.5 threads per core for each of them)."""
        if self.config.threads:
            return self.config.threads
        # The cores this process may run on (a cpuset, taskset), not all of the host's.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // self.settings.worker.concurrency)

    def meta(self) -> ResultMeta:
        config = self.config
        return ResultMeta(
            analyzer=self.name, version=self.version, backend=self.ffmpeg_version or "ffmpeg",
            model=f"libx264 {config.preset} crf {config.crf} + aac {config.audio_bitrate}k",
            extra={"crf": config.crf, "preset": config.preset, "max_height": config.max_height,
                   "audio_bitrate": config.audio_bitrate, "copy_video": config.copy_video},
        )

    def analyze(self, item: MediaItem) -> TranscodeResult:
        started = time.monotonic()
        source = transcode_rules.probe(item.path)
        decision = transcode_rules.decide(source, max_height=self.config.max_height)
        source_params = {"container": source.container, "video_codec": source.video.codec,
                         "audio_codec": source.audio.codec if source.audio else None,
                         "duration_s": source.duration_s}
        if decision.playable:
            # A rendition left by an older run (other rules, other settings) must not outlive its reason.
            rendition_path(item).unlink(missing_ok=True)
            width, height = source.video.display_size
            assert decision.browser_type is not None
            return TranscodeResult(
                status="not_needed", reason=f"plays as it is: {source.describe()}",
                mime_type=decision.browser_type, video_codec=source.video.codec,
                audio_codec=source.audio.codec if source.audio else None, width=width, height=height,
                duration_s=source.duration_s,
                params={"source": source_params, "probe_s": round(time.monotonic() - started, 3)},
            )
        reason = "; ".join(decision.reasons)
        log.info("media %d: transcoding (%s)", item.media_id, reason)
        steps = transcode_ffmpeg.plan(source, decision, self.config)
        made = self._make(item, source, steps, started)
        return TranscodeResult(
            status="transcoded", reason=reason, mime_type=RENDITION_TYPE, path=rendition_rel(item.sha512),
            video_codec=made.video_codec, audio_codec=made.audio_codec, width=made.width, height=made.height,
            duration_s=made.duration_s, size_bytes=made.size_bytes,
            params={"source": source_params, "video": steps.video, "audio": steps.audio,
                    "threads": self.threads, "seconds": round(time.monotonic() - started, 3)},
        )

    def _make(self, item: MediaItem, source: SourceProbe, steps: transcode_ffmpeg.Plan,
              started: float) -> _Made:
        final = rendition_path(item)
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(final, older_than=2 * self.settings.worker.job_timeout)
        # Unique per run: two deliveries of the same job running at once never write into one file.
        partial = final.with_name(f"{final.stem}.{uuid.uuid4().hex[:12]}{_PARTIAL}")
        budget = self.settings.worker.job_timeout - (time.monotonic() - started) - _COMMIT_MARGIN_S
        try:
            args = transcode_ffmpeg.command(source, item.path, partial, steps, config=self.config,
                                            threads=self.threads)
            transcode_ffmpeg.run(args, timeout=max(budget, 1.0), duration_s=source.duration_s,
                                 name=item.rel_path)
            made = _check_output(partial, source, item.rel_path)
            _flush(partial)
            partial.replace(final)
            _flush(final.parent)
        finally:
            partial.unlink(missing_ok=True)
        return made


@dataclass(frozen=True)
class _Made:
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    duration_s: float | None
    size_bytes: int


def rendition_rel(sha512_hex: str) -> str:
    """Storage-relative path of an item's rendition (named by content: a re-run overwrites it)."""
    return f"{derived_dir_rel(sha512_hex, 'renditions')}/{sha512_hex}.mp4"


def rendition_path(item: MediaItem) -> Path:
    return resolve(item.storage_root, rendition_rel(item.sha512))


def ffmpeg_version() -> str:
    """``ffmpeg 5.1.9-0+deb12u1``: recorded with every rendition."""
    try:
        done = subprocess.run(["ffmpeg", "-hide_banner", "-version"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise TransientError(f"ffmpeg does not run on this host (apt-get install ffmpeg): {exc}") from exc
    words = (done.stdout.splitlines() or [""])[0].split()
    return f"ffmpeg {words[2]}" if len(words) > 2 and words[1] == "version" else "ffmpeg"


def _check_output(partial: Path, source: SourceProbe, name: str) -> _Made:
    """ffprobe the new file: a decoder that gave up on every frame can still leave a valid, empty MP4."""
    try:
        made = transcode_rules.probe(partial)
    except PermanentError as exc:
        raise PermanentError(f"ffmpeg made no playable video from {name}: {exc}") from exc
    if made.video.codec != "h264" or not made.duration_s:
        raise PermanentError(f"ffmpeg made no playable video from {name} ({made.describe()}, "
                             f"{made.duration_s or 0:.2f}s)")
    if source.duration_s and made.duration_s < 0.9 * source.duration_s - 0.5:
        # A truncated recording: the browser would play only this much of the original too.
        log.warning("%s: the rendition lasts %.1fs, the original claims %.1fs", name, made.duration_s,
                    source.duration_s)
    width, height = made.video.display_size
    return _Made(made.video.codec, made.audio.codec if made.audio else None, width, height, made.duration_s,
                 partial.stat().st_size)


def _flush(path: Path) -> None:
    """fsync a file or a folder: after a power cut the rename must not point at unwritten data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_partials(final: Path, *, older_than: float) -> None:
    """Temporary files of runs killed outright (kill -9, power cut) that no running job can own anymore."""
    limit = time.time() - older_than
    for stale in final.parent.glob(f"{final.stem}.*{_PARTIAL}"):
        with contextlib.suppress(FileNotFoundError):
            if stale.stat().st_mtime < limit:
                stale.unlink()
                log.info("removed %s, left by an interrupted run", stale.name)

