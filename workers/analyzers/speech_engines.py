"""Two Whisper engines behind one small interface: faster-whisper (CTranslate2) and openai-whisper (torch).

An engine transcribes one block of 16 kHz mono float32 samples; it knows nothing of files or chunking
(``speech.py`` streams audio and stitches blocks). Libraries are imported in ``load``.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.analyzers import speech_models
from workers.audio import SAMPLE_RATE, AudioArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """A span of speech; times in seconds from the start of the audio."""

    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None

    def shifted(self, offset: float) -> Segment:
        return Segment(
            self.start + offset, self.end + offset, self.text, self.avg_logprob, self.no_speech_prob
        )


@dataclass(frozen=True)
class BlockTranscript:
    language: str | None
    language_probability: float | None
    segments: list[Segment]


class SpeechEngine(ABC):
    """Transcribes blocks of audio. ``load`` once, then ``transcribe`` from one thread at a time."""

    name: str

    def __init__(
        self, model: speech_models.ModelRef, cache_dir: Path, *, beam_size: int = 5, cpu_threads: int = 0
    ) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        # One decode at a time per model: neither library promises a thread-safe transcribe on one model.
        self._lock = threading.Lock()

    @abstractmethod
    def load(self) -> None:
        """Load the weights (joining or converting packaged weights into the cache first, once)."""

    @abstractmethod
    def _transcribe(self, audio: AudioArray, language: str | None, prompt: str | None) -> BlockTranscript: ...

    def transcribe(
        self, audio: AudioArray, *, language: str | None = None, prompt: str | None = None
    ) -> BlockTranscript:
        """Segments of ``audio`` (times relative to its first sample); ``language`` None detects it."""
        with self._lock:
            return self._transcribe(audio, language, prompt)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "model": self.model.describe()}


def _offline_if_local(model: speech_models.ModelRef) -> None:
    # Local weights must never reach for the hub (a tokenizer or config lookup would fail offline only
    # after a network timeout); a user who asks for a model by name is online and keeps the hub.
    if model.is_local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")


class FasterWhisperEngine(SpeechEngine):
    name = "faster-whisper"

    def __init__(
        self,
        model: speech_models.ModelRef,
        cache_dir: Path,
        *,
        compute_type: str = "int8",
        vad_filter: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, cache_dir, **kwargs)
        self.compute_type = compute_type
        self.vad_filter = vad_filter
        self._model: Any = None

    def load(self) -> None:
        _offline_if_local(self.model)
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]

        where = (
            str(speech_models.ct2_folder(self.model, self.cache_dir))
            if self.model.is_local
            else self.model.label
        )
        if self.model.is_openai_checkpoint:
            raise ValueError(
                "faster-whisper cannot load an openai-whisper .pt file: give a CTranslate2 folder"
            )
        self._model = WhisperModel(
            where,
            device="cpu",
            compute_type=self.compute_type,
            cpu_threads=_threads_within_omp_limit(self.cpu_threads),
            download_root=str(self.cache_dir / "hub"),
        )
        log.info("faster-whisper loaded %s (%s)", self.model.describe(), self.compute_type)

    def _transcribe(self, audio: AudioArray, language: str | None, prompt: str | None) -> BlockTranscript:
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            initial_prompt=prompt,
            condition_on_previous_text=True,
        )
        found = [
            Segment(
                float(s.start), float(s.end), s.text.strip(), float(s.avg_logprob), float(s.no_speech_prob)
            )
            for s in segments
        ]  # the generator decodes lazily
        return BlockTranscript(info.language, float(info.language_probability), found)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "compute_type": self.compute_type, "vad_filter": self.vad_filter}


def _threads_within_omp_limit(requested: int) -> int:
    """CTranslate2 threads, at most ``OMP_THREAD_LIMIT`` when it is set.

    Asked for more OpenMP threads than the limit allows, CTranslate2 4.8 decodes nothing (no error, no
    segment): a limit meant for another program (Tesseract) must not silence transcription.
    """
    limit_text = os.environ.get("OMP_THREAD_LIMIT", "")
    if not limit_text.isdigit() or int(limit_text) < 1:
        return requested
    limit = int(limit_text)
    wanted = requested or min(4, os.cpu_count() or 1)  # CTranslate2's own default for 0
    if wanted > limit:
        log.warning("OMP_THREAD_LIMIT=%d: faster-whisper runs %d thread(s), not %d", limit, limit, wanted)
        return limit
    return requested


class OpenAIWhisperEngine(SpeechEngine):
    name = "openai-whisper"

    def __init__(self, model: speech_models.ModelRef, cache_dir: Path, **kwargs: Any) -> None:
        super().__init__(model, cache_dir, **kwargs)
        self._model: Any = None
        self._whisper: Any = None  # the module, imported in load

    def load(self) -> None:
        import torch
        import whisper  # type: ignore[import-untyped]

        if self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)
        checkpoint = speech_models.openai_checkpoint(self.model, self.cache_dir)
        target = str(checkpoint) if checkpoint is not None else self.model.label
        self._whisper = whisper
        self._model = whisper.load_model(
            target, device="cpu", download_root=str(self.cache_dir / "openai-whisper")
        )
        with warnings.catch_warnings():
            # whisper.tokenizer reads its vocabulary through an unclosed open() (a ResourceWarning at every
            # first use); its encodings are cached, so building them here once keeps that out of the jobs.
            warnings.simplefilter("ignore", ResourceWarning)
            whisper.tokenizer.get_tokenizer(
                self._model.is_multilingual, num_languages=self._model.num_languages
            )
        log.info("openai-whisper loaded %s", self.model.describe())

    def _transcribe(self, audio: AudioArray, language: str | None, prompt: str | None) -> BlockTranscript:
        whisper = self._whisper
        probability: float | None = None
        if language is None and not self._model.is_multilingual:
            language = "en"  # an English-only model has no language tokens to detect with
        elif language is None:
            # transcribe() would detect the language itself but not say how sure it is; detecting here,
            # on the same first 30 s it would use, costs the same one encoder pass.
            mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self._model.dims.n_mels)
            _, probs = self._model.detect_language(mel)
            language = max(probs, key=probs.get)
            probability = float(probs[language])
        result = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            best_of=self.beam_size,
            fp16=False,
            initial_prompt=prompt,
            condition_on_previous_text=True,
            verbose=None,
        )
        found = [
            Segment(
                float(s["start"]),
                float(s["end"]),
                str(s["text"]).strip(),
                float(s["avg_logprob"]),
                float(s["no_speech_prob"]),
            )
            for s in result["segments"]
        ]
        return BlockTranscript(str(result.get("language") or language), probability, found)


def create_engine(
    engine: str,
    model: speech_models.ModelRef,
    cache_dir: Path,
    *,
    compute_type: str = "int8",
    vad_filter: bool = True,
    beam_size: int = 5,
    cpu_threads: int = 0,
) -> SpeechEngine:
    """The engine a ``speech.engine`` setting names (not yet loaded)."""
    if engine == "faster-whisper":
        return FasterWhisperEngine(
            model,
            cache_dir,
            compute_type=compute_type,
            vad_filter=vad_filter,
            beam_size=beam_size,
            cpu_threads=cpu_threads,
        )
    if engine == "openai-whisper":
        return OpenAIWhisperEngine(model, cache_dir, beam_size=beam_size, cpu_threads=cpu_threads)
    raise ValueError(f"unknown speech engine {engine!r}")


__all__ = [
    "SAMPLE_RATE",
    "BlockTranscript",
    "FasterWhisperEngine",
    "OpenAIWhisperEngine",
    "Segment",
    "SpeechEngine",
    "create_engine",
]
