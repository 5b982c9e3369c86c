"""OCR: the analyzer on the corpus with real Tesseract, its error paths, its store, and text search.

Thresholds, from what was measured here (Tesseract 5.3.0, eng + osd only):
- ocr/tess_phototest.tif: exact text (whitespace normalised), upright and turned by 90, 180 and 270 degrees.
- ocr/pyt_test-european.jpg: CER 0.022 with eng only (the accented letters of the German, Spanish and
  Portuguese lines); the test allows 0.04.
- a photo without text: an empty result in 0.15 s; the test allows 2 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jiwer
import pytest
from PIL import Image, ImageDraw, ImageFont
from support import insert_media_for_file

from core import db
from core.media import MediaKind
from core.results.ocr import export
from core.settings import Settings
from workers.analyzer import MediaItem, PermanentError
from workers.analyzers.ocr import OcrAnalyzer, OcrLine, OcrResult, OcrWord, unrotate_box
from workers.registry import REGISTRY
from workers.stores.ocr import store

PHOTOTEST = "ocr/tess_phototest.tif"
EUROPEAN = "ocr/pyt_test-european.jpg"
MAX_CER = {PHOTOTEST: 0.0, EUROPEAN: 0.04}
NO_TEXT_SECONDS = 2.0


def _new_settings(**groups: Any) -> Settings:
    """Settings from defaults and ``groups`` only (no .env file); keyword names unchecked by mypy on purpose:
    with or without the pydantic plugin, ``_env_file`` and nested dicts type-check the same way."""
    return Settings(**{"_env_file": None, **groups})


@pytest.fixture(scope="module")
def analyzer() -> OcrAnalyzer:
    created = OcrAnalyzer(_new_settings())
    created.load()
    return created


def _item(path: Path, *, media_id: int = 0, root: Path | None = None) -> MediaItem:
    sha = hashlib.sha512(path.read_bytes()).hexdigest() if path.is_file() else "0" * 128
    return MediaItem(
        media_id=media_id,
        job_id=0,
        kind=MediaKind.PHOTO,
        path=path,
        rel_path=f"originals/{path.name}",
        sha512=sha,
        storage_root=root or path.parent,
    )


def _truth(manifest: dict[str, Any], rel: str) -> str:
    return _normalise(manifest["files"][rel]["ground_truth"]["text"])


def _normalise(text: str) -> str:
    return " ".join(text.split())


def cer(got: str, expected: str) -> float:
    """Character error rate (jiwer): edit distance over the reference length."""
    return float(jiwer.cer(expected, got))


# --- registration, settings, contract --------------------------------------------------------------------


def test_registered_with_requirements_store_and_export() -> None:
    registration = REGISTRY["ocr"]
    created = registration.create(_new_settings())
    assert isinstance(created, OcrAnalyzer)
    assert created.kinds == {MediaKind.PHOTO}
    assert registration.store_function() is store
    assert registration.export_function() is export
    assert "pytesseract==" in Path(registration.requirements_path).read_text()
    meta = created.meta()
    assert (meta.analyzer, meta.version, meta.backend) == ("ocr", OcrAnalyzer.version, "tesseract")


def test_accepts_photos_only(analyzer: OcrAnalyzer, tmp_path: Path) -> None:
    photo = _item(tmp_path / "a.jpg")
    assert analyzer.accepts(photo)
    video = MediaItem(0, 0, MediaKind.VIDEO, tmp_path / "a.mp4", "originals/a.mp4", "0" * 128, tmp_path)
    assert not analyzer.accepts(video)


def test_loaded_meta_names_tesseract_version_and_languages(analyzer: OcrAnalyzer) -> None:
    meta = analyzer.meta()
    assert meta.model.startswith("tesseract 5.") and meta.model.endswith(" eng")
    assert meta.extra["psm"] == 3


def test_importing_the_analyzer_loads_no_ocr_library() -> None:
    code = (
        "import sys, core.settings as s, workers.registry as r, workers.stores.ocr; "
        "r.REGISTRY['ocr'].create(s.Settings(_env_file=None)); "
        "print(sorted(m for m in ('pytesseract', 'PIL', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVA_OCR__LANGUAGES", "eng+deu")
    monkeypatch.setenv("PAVA_OCR__PSM", "6")
    monkeypatch.setenv("PAVA_OCR__DETECT_ORIENTATION", "false")
    settings = _new_settings()
    assert (settings.ocr.languages, settings.ocr.psm, settings.ocr.detect_orientation) == (
        "eng+deu",
        6,
        False,
    )


def test_tesseract_gets_the_thread_limit_and_this_process_does_not(analyzer: OcrAnalyzer) -> None:
    # OMP_THREAD_LIMIT=1 in this process would silence CTranslate2 (speech) run in the same process.
    import pytesseract.pytesseract as runner  # type: ignore[import-untyped]

    assert runner.environ["OMP_THREAD_LIMIT"] == os.environ.get("OMP_THREAD_LIMIT", "1")
    assert (
        "OMP_THREAD_LIMIT" not in os.environ
        or os.environ["OMP_THREAD_LIMIT"] == runner.environ["OMP_THREAD_LIMIT"]
    )
    assert runner.environ is not os.environ


def test_a_language_that_is_not_installed_stops_the_worker_at_load() -> None:
    created = OcrAnalyzer(_new_settings(ocr={"languages": "eng+xxx"}))
    with pytest.raises(RuntimeError, match="xxx"):
        created.load()


# --- units -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_unrotate_box_maps_a_turned_box_back(rotation: int) -> None:
    # A dark block in a known place, found again after turning the image and mapping its box back.
    image = Image.new("L", (200, 100), 255)
    image.paste(0, (20, 10, 60, 30))  # x 0.1..0.3, y 0.1..0.3
    turned = image.rotate(-rotation, expand=True)  # clockwise, as OSD means it
    bbox = Image.eval(turned, lambda v: 255 - v).getbbox()
    assert bbox is not None
    box = (
        bbox[0] / turned.width,
        bbox[1] / turned.height,
        (bbox[2] - bbox[0]) / turned.width,
        (bbox[3] - bbox[1]) / turned.height,
    )
    assert unrotate_box(box, rotation) == pytest.approx((0.1, 0.1, 0.2, 0.2), abs=0.011)


def test_text_joins_lines_and_separates_blocks() -> None:
    word = OcrWord("a", 90.0, (0.0, 0.0, 0.1, 0.1))
    lines = (
        OcrLine("one", 90.0, word.box, (word,), 1),
        OcrLine("two", 90.0, word.box, (word,), 1),
        OcrLine("three", 90.0, word.box, (word,), 2),
    )
    result = OcrResult(
        languages="eng", width=10, height=10, rotation=0, orientation_confidence=None, lines=lines
    )
    assert result.text == "one\ntwo\n\nthree"
    assert result.mean_confidence == 90.0


# --- the corpus ---------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_phototest_exact_text(analyzer: OcrAnalyzer, corpus: Path, manifest: dict[str, Any]) -> None:
    result = analyzer.analyze(_item(corpus / PHOTOTEST))
    assert _normalise(result.text) == _truth(manifest, PHOTOTEST)
    assert result.rotation == 0 and result.orientation_confidence is None  # upright: no OSD pass
    assert (result.width, result.height) == (640, 480)
    assert all(0 <= v <= 1 for line in result.lines for word in line.words for v in word.box)
    assert min(w.confidence for w in result.words) >= analyzer.config.min_confidence


@pytest.mark.corpus
@pytest.mark.parametrize("rel", [PHOTOTEST, EUROPEAN])
def test_character_error_rate(
    analyzer: OcrAnalyzer, corpus: Path, manifest: dict[str, Any], rel: str
) -> None:
    result = analyzer.analyze(_item(corpus / rel))
    rate = cer(_normalise(result.text), _truth(manifest, rel))
    print(f"CER {rel}: {rate:.4f}")
    assert rate <= MAX_CER[rel]


@pytest.mark.corpus
@pytest.mark.parametrize("rel", [PHOTOTEST, EUROPEAN])
def test_rotated_by_90_degrees_is_read(
    analyzer: OcrAnalyzer, corpus: Path, manifest: dict[str, Any], tmp_path: Path, rel: str
) -> None:
    upright = analyzer.analyze(_item(corpus / rel))
    path = tmp_path / "turned.png"
    Image.open(corpus / rel).rotate(90, expand=True).save(path)  # anticlockwise: reads bottom to top
    result = analyzer.analyze(_item(path))
    assert result.rotation == 90 and result.orientation_confidence is not None
    assert cer(_normalise(result.text), _truth(manifest, rel)) <= MAX_CER[rel]
    # Boxes are on the photo as stored (turned): the upright box (x, y, w, h) is now at (y, 1-x-w, h, w).
    x, y, w, h = upright.lines[0].words[0].box
    assert result.lines[0].words[0].box == pytest.approx((y, 1 - x - w, h, w), abs=0.01)


@pytest.mark.corpus
def test_upside_down_is_read(
    analyzer: OcrAnalyzer, corpus: Path, manifest: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "upside_down.png"
    Image.open(corpus / PHOTOTEST).rotate(180).save(path)
    result = analyzer.analyze(_item(path))
    assert result.rotation == 180
    assert _normalise(result.text) == _truth(manifest, PHOTOTEST)


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel", ["faces/fr_obama.jpg", "objects/ul_bus.jpg", "exif/jpeg_gps/pp_Iceland-sRGB.jpg"]
)
def test_a_photo_without_text_gets_an_empty_result_quickly(
    analyzer: OcrAnalyzer, corpus: Path, rel: str
) -> None:
    started = time.monotonic()
    result = analyzer.analyze(_item(corpus / rel))
    elapsed = time.monotonic() - started
    assert result.text == "" and result.lines == ()
    assert result.mean_confidence is None
    assert elapsed < NO_TEXT_SECONDS, elapsed


@pytest.mark.corpus
def test_exif_orientation_gives_the_displayed_size(analyzer: OcrAnalyzer, corpus: Path) -> None:
    result = analyzer.analyze(_item(corpus / "exif/orientation/ia_landscape_6.jpg"))
    with Image.open(corpus / "exif/orientation/ia_landscape_6.jpg") as image:
        stored = image.size
    assert (result.width, result.height) == (stored[1], stored[0])  # orientation 6 swaps the sides


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel",
    [
        "bad/not_an_image.jpg",
        "bad/truncated_half_DSCN0027.jpg",
        "bad/empty.mp4",
        "bad/pil_decompression_bomb.gif",
        "exif/corrupt/pil_truncated_jpeg.jpg",
        "exif/corrupt/pp_broken.jpg",
    ],
)
def test_bad_input_is_a_permanent_error(
    analyzer: OcrAnalyzer, corpus: Path, tmp_path: Path, rel: str
) -> None:
    with pytest.raises(PermanentError):
        analyzer.analyze(_item(corpus / rel, root=tmp_path))


def test_dark_text_on_a_transparent_background_is_read(analyzer: OcrAnalyzer, tmp_path: Path) -> None:
    # Dropping the alpha would turn the transparent background black, under black text.
    path = tmp_path / "label.png"
    image = Image.new("RGBA", (900, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).text(
        (30, 60), "Transparent labels read", fill=(0, 0, 0, 255), font=ImageFont.load_default(size=56)
    )
    image.save(path)
    assert analyzer.analyze(_item(path)).text == "Transparent labels read"


def test_an_image_above_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (3000, 2000), 255).save(path)
    small_limit = OcrAnalyzer(_new_settings(ingest={"max_image_pixels": 5_000_000}))
    with pytest.raises(PermanentError, match="max_image_pixels"):
        small_limit.analyze(_item(path))


def test_a_large_image_is_reduced_before_reading(tmp_path: Path, corpus: Path) -> None:
    # Four times the phototest page, with a pixel budget that forces a reduction: still read.
    path = tmp_path / "large.png"
    with Image.open(corpus / PHOTOTEST) as page:
        page.convert("L").resize((2560, 1920), Image.Resampling.LANCZOS).save(path)
    reduced = OcrAnalyzer(_new_settings(ocr={"max_pixels": 1_300_000}))
    result = reduced.analyze(_item(path))
    assert (result.width, result.height) == (2560, 1920)
    assert "quick brown dog jumped" in _normalise(result.text)


# --- the store and search -----------------------------------------------------------------------------


@pytest.mark.corpus
def test_store_is_idempotent_and_text_is_searchable(
    settings: Settings, analyzer: OcrAnalyzer, corpus: Path
) -> None:
    with db.connect(settings) as conn:
        with conn.transaction():
            ids = {rel: insert_media_for_file(conn, corpus / rel)
                   for rel in (PHOTOTEST, EUROPEAN, "faces/fr_obama.jpg")}
        results = {rel: analyzer.analyze(_item(corpus / rel, media_id=ids[rel])) for rel in ids}
        meta = analyzer.meta()
        for _ in range(2):  # a redelivered job writes the same rows again, not more rows
            for rel, result in results.items():
                with conn.transaction():
                    store(conn, _item(corpus / rel, media_id=ids[rel]), result, meta)
        rows = conn.execute(
            "SELECT media_id, text, word_count, analyzer, analyzer_version, backend, model "
            "FROM ocr_result ORDER BY media_id"
        ).fetchall()
        assert [r["media_id"] for r in rows] == sorted(ids.values())
        by_id = {r["media_id"]: r for r in rows}
        empty = by_id[ids["faces/fr_obama.jpg"]]
        assert (empty["text"], empty["word_count"]) == ("", 0)  # recorded: the job is done, never re-queued
        assert by_id[ids[PHOTOTEST]]["backend"] == "tesseract"
        assert by_id[ids[PHOTOTEST]]["model"] == meta.model
        assert by_id[ids[PHOTOTEST]]["analyzer_version"] == OcrAnalyzer.version

        # A re-run with another result replaces the row.
        with conn.transaction():
            store(
                conn, _item(corpus / PHOTOTEST, media_id=ids[PHOTOTEST]), results["faces/fr_obama.jpg"], meta
            )
        replaced = conn.execute(
            "SELECT text FROM ocr_result WHERE media_id = %s", (ids[PHOTOTEST],)
        ).fetchone()
        assert replaced is not None and replaced["text"] == ""
        with conn.transaction():
            store(conn, _item(corpus / PHOTOTEST, media_id=ids[PHOTOTEST]), results[PHOTOTEST], meta)

        def words(query: str) -> set[int]:
            found = conn.execute(
                "SELECT media_id FROM ocr_result WHERE text_tsv @@ websearch_to_tsquery('simple', %s)",
                (query,),
            )
            return {r["media_id"] for r in found}

        def substring(fragment: str) -> set[int]:
            found = conn.execute("SELECT media_id FROM ocr_result WHERE text ILIKE %s", (f"%{fragment}%",))
            return {r["media_id"] for r in found}

        assert words("brown fox") == {ids[PHOTOTEST], ids[EUROPEAN]}
        assert words('"jumped over the lazy fox"') == {ids[PHOTOTEST]}
        assert words("volpe marrone") == {ids[EUROPEAN]}
        assert substring("spammer@websi") == {ids[EUROPEAN]}  # inside a token: only trigrams find it
        assert substring("file form") == {ids[PHOTOTEST]}

        # Both queries are served by their GIN indexes (sequential scans off: the table is tiny).
        conn.execute("SET enable_seqscan = off")
        plan_tsv = json.dumps(
            conn.execute(
                "EXPLAIN (FORMAT JSON) SELECT media_id FROM ocr_result "
                "WHERE text_tsv @@ websearch_to_tsquery('simple', 'fox')"
            ).fetchall()
        )
        plan_trgm = json.dumps(
            conn.execute(
                "EXPLAIN (FORMAT JSON) SELECT media_id FROM ocr_result WHERE text ILIKE '%spammer%'"
            ).fetchall()
        )
        assert "ocr_result_tsv" in plan_tsv
        assert "ocr_result_trgm" in plan_trgm

        exported = export(conn, list(ids.values()))
        assert _normalise(exported[ids[PHOTOTEST]]["text"]).startswith("This is a lot of 12 point text")
        assert exported[ids[PHOTOTEST]]["lines"][0]["words"][0]["text"] == "This"
        assert exported[ids["faces/fr_obama.jpg"]]["text"] == ""
