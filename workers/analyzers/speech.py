"""Speech to text for videos: language, timed segments, full text, and a WebVTT subtitle file.

Order of work, cheapest first, so that most videos without speech never touch a model:

1. ffprobe: no audio stream -> ``no_audio``.
2. one ``volumedetect`` pass: loudest sample below ``speech.silence_max_db`` -> ``silent``.
3. the model (loaded on first need), fed the soundtrack in chunks streamed from ffmpeg.

Why our own chunking rather than handing the file to faster-whisper: its ``decode_audio`` reads the whole
soundtrack into one array (two hours at 16 kHz float32 is 460 MB, plus resampling buffers), and
openai-whisper does the same through ffmpeg. Here ffmpeg streams 16 kHz PCM through a pipe; a buffer of
``chunk_seconds`` is transcribed; segments ending in the last ``chunk_overlap_seconds`` are dropped and
the buffer restarts where the first dropped segment began, so a word cut by the chunk boundary is heard
again whole with the next chunk (the same seek-to-last-timestamp rule Whisper applies inside a file).
The last kept text is the next chunk's prompt, as Whisper conditions on previous text within a file.
Memory stays at one chunk (300 s: 19 MB) whatever the length of the video.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from core.media import MediaKind
from core.settings import Settings
from core.storage import derived_dir_rel, resolve
from workers import audio
from workers.analyzer import Analyzer, MediaItem, ResultMeta
from workers.analyzers import speech_models
from workers.analyzers.speech_engines import Segment, SpeechEngine, create_engine

log = logging.getLogger(__name__)

Status = Literal["transcribed", "no_speech", "silent", "no_audio"]
SUBTITLES_NAME = "speech.vtt"
_PROMPT_CHARS = 200  # of previous text handed to the next chunk (Whisper's prompt holds ~224 tokens)


@dataclass(frozen=True)
class SpeechResult:
    """What the speech analysis found in one item."""

    status: Status
    engine: str
    model: str
    duration_s: float | None = None
    language: str | None = None
    language_probability: float | None = None
    segments: tuple[Segment, ...] = ()
    subtitles_rel: str | None = None
    loudness_max_db: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


@dataclass(frozen=True)
class StreamTranscript:
    language: str | None
    language_probability: float | None
    segments: list[Segment]
    audio_seconds: float
    model_seconds: float
    chunks: int


class SpeechAnalyzer(Analyzer[SpeechResult]):
    name: ClassVar[str] = "speech"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.speech
        self.model_ref = speech_models.resolve(self.config.model)
        self.cache_dir = self.config.cache_dir or settings.home / "cache" / "models"
        self.engine: SpeechEngine = create_engine(
            self.config.engine,
            self.model_ref,
            self.cache_dir,
            compute_type=self.config.compute_type,
            vad_filter=self.config.vad_filter,
            beam_size=self.config.beam_size,
            cpu_threads=self.config.cpu_threads,
        )
        self.load_seconds = 0.0

    def _load(self) -> None:
        started = time.monotonic()
        self.engine.load()
        self.load_seconds = time.monotonic() - started

    def meta(self) -> ResultMeta:
        return ResultMeta(
            analyzer=self.name,
            version=self.version,
            backend=self.engine.name,
            model=self.model_ref.describe(),
            extra=self.engine.describe(),
        )

    def analyze(self, item: MediaItem) -> SpeechResult:
        started = time.monotonic()
        timings: dict[str, float] = {}
        probe = audio.probe(item.path)
        timings["probe_s"] = time.monotonic() - started
        if not probe.has_audio:
            self._remove_subtitles(item)
            return self._empty("no_audio", probe.duration_s, None, timings, started)
        mark = time.monotonic()
        loudness = audio.loudness(item.path)
        timings["loudness_s"] = time.monotonic() - mark
        if loudness.is_silent(self.config.silence_max_db):
            self._remove_subtitles(item)
            return self._empty("silent", probe.duration_s, loudness.max_db, timings, started)

        mark = time.monotonic()
        self.load()  # a no-op once loaded; lazily here so silent items never wait for a model
        timings["load_s"] = time.monotonic() - mark
        language = None if self.config.language == "auto" else self.config.language
        block = min(30.0, self.config.chunk_seconds)
        transcript = transcribe_stream(
            self.engine,
            audio.stream_pcm(item.path, block_seconds=block),
            chunk_seconds=self.config.chunk_seconds,
            overlap_seconds=self.config.chunk_overlap_seconds,
            language=language,
        )
        timings["model_s"] = transcript.model_seconds
        timings["audio_s"] = transcript.audio_seconds
        timings["chunks"] = float(transcript.chunks)
        subtitles_rel: str | None = None
        if transcript.segments:
            subtitles_rel = subtitles_path(item.sha512)
            write_webvtt(resolve(item.storage_root, subtitles_rel), transcript.segments)
        else:
            self._remove_subtitles(item)
        timings["total_s"] = time.monotonic() - started
        return SpeechResult(
            status="transcribed" if transcript.segments else "no_speech",
            engine=self.engine.name,
            model=self.model_ref.describe(),
            duration_s=transcript.audio_seconds,
            language=transcript.language,
            language_probability=transcript.language_probability,
            segments=tuple(transcript.segments),
            subtitles_rel=subtitles_rel,
            loudness_max_db=loudness.max_db,
            timings=timings,
        )

    def _empty(
        self,
        status: Status,
        duration: float | None,
        max_db: float | None,
        timings: dict[str, float],
        started: float,
    ) -> SpeechResult:
        timings["total_s"] = time.monotonic() - started
        return SpeechResult(
            status=status,
            engine=self.engine.name,
            model=self.model_ref.describe(),
            duration_s=duration,
            loudness_max_db=max_db,
            timings=timings,
        )

    @staticmethod
    def _remove_subtitles(item: MediaItem) -> None:
        # A re-run that finds no speech must not leave an older run's subtitles behind.
        resolve(item.storage_root, subtitles_path(item.sha512)).unlink(missing_ok=True)


def transcribe_stream(
    engine: SpeechEngine,
    blocks: Iterable[audio.AudioArray],
    *,
    chunk_seconds: float,
    overlap_seconds: float,
    language: str | None,
) -> StreamTranscript:
    """Transcribe a stream of 16 kHz blocks chunk by chunk (see the module docstring for the stitching)."""
    rate = audio.SAMPLE_RATE
    chunk_samples = int(chunk_seconds * rate)
    source: Iterator[audio.AudioArray] = iter(blocks)
    buffer = np.empty(0, dtype=np.float32)
    offset = 0.0  # seconds of audio before buffer[0]
    consumed = 0  # samples read from the stream
    eof = False
    kept: list[Segment] = []
    probability: float | None = None
    model_seconds = 0.0
    chunks = 0
    prompt: str | None = None
    while True:
        pieces = [buffer]
        have = len(buffer)
        while not eof and have < chunk_samples:
            block = next(source, None)
            if block is None:
                eof = True
            else:
                pieces.append(block)
                have += len(block)
                consumed += len(block)
        buffer = np.concatenate(pieces) if len(pieces) > 1 else buffer
        if len(buffer) == 0:
            break
        window = buffer[:chunk_samples]  # the last block read may overshoot the chunk
        final = eof and len(buffer) <= chunk_samples
        started = time.monotonic()
        result = engine.transcribe(window, language=language, prompt=prompt)
        model_seconds += time.monotonic() - started
        chunks += 1
        length = len(window) / rate
        segments = [_clamped(s, length) for s in result.segments]
        if final:
            cut, keep = length, segments
        else:
            limit = length - overlap_seconds
            crossing = [s for s in segments if s.end > limit]
            if not crossing:
                cut = limit
            elif crossing[0].start >= limit / 2:
                cut = crossing[0].start  # heard again, whole, at the start of the next chunk
            else:
                # A segment spanning most of the chunk (Whisper left it without inner timestamps): keeping
                # it whole loses at most a word at its end; re-hearing it would never make progress.
                cut = max(crossing[0].end, limit / 2)
            keep = [s for s in segments if s.end <= cut + 1e-3]
        kept.extend(s.shifted(offset) for s in keep if s.text)
        if language is None and keep and result.language:
            # Fixed from the first chunk with speech: one language per video, and no re-detection cost.
            language, probability = result.language, result.language_probability
        if keep:
            prompt = " ".join(s.text for s in keep)[-_PROMPT_CHARS:]
        if final:
            break
        drop = int(cut * rate)
        buffer = buffer[drop:]
        offset += drop / rate
    return StreamTranscript(language, probability, kept, consumed / rate, model_seconds, chunks)


def _clamped(segment: Segment, length: float) -> Segment:
    # Whisper may stamp an end a little past the audio it was given.
    end = min(max(segment.end, segment.start), length)
    return Segment(min(segment.start, end), end, segment.text, segment.avg_logprob, segment.no_speech_prob)


def subtitles_path(sha512_hex: str) -> str:
    """Storage-relative path of an item's WebVTT file (named by content: a re-run overwrites it)."""
    return f"{derived_dir_rel(sha512_hex, 'subtitles')}/{SUBTITLES_NAME}"


def webvtt(segments: Iterable[Segment]) -> str:
    """A WebVTT document with one cue per segment."""
    lines = ["WEBVTT", ""]
    for number, segment in enumerate(segments, start=1):
        end = max(segment.end, segment.start + 0.001)  # a cue's end must follow its start
        lines += [
            str(number),
            f"{_timestamp(segment.start)} --> {_timestamp(end)}",
            _cue_text(segment.text),
            "",
        ]
    return "\n".join(lines)


def write_webvtt(path: Path, segments: Iterable[Segment]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(webvtt(segments), encoding="utf-8")
    partial.replace(path)  # readers never see half a file


def _timestamp(seconds: float) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    # WebVTT cue text: '&' and '<' are markup, '-->' ends nothing but is forbidden, blank lines end the cue.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split()) or "..."


def result_json(result: SpeechResult) -> dict[str, Any]:
    """The result as plain JSON data (export, logs)."""
    return {
        "status": result.status,
        "language": result.language,
        "language_probability": result.language_probability,
        "duration_s": result.duration_s,
        "text": result.text,
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in result.segments],
        "subtitles": result.subtitles_rel,
        "engine": result.engine,
        "model": result.model,
    }
