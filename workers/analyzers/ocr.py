"""Text in photos: Tesseract (through pytesseract) reads words with boxes and confidence, lines, full text.

Reading order of work, cheapest first:

1. Decode the photo once (EXIF orientation applied, large images reduced while decoding), to greyscale:
   Tesseract binarises a grey image anyway, and a grey PGM is the cheapest file to hand it.
2. Read it upright. Most photos with text are upright, and a photo without text ends here: no words
   -> an empty result, recorded like any other (the job is done and never re-queued).
3. Only when the upright reading is poor (low mean confidence), ask Tesseract's orientation detection
   (OSD) how the text is turned, rotate, read again and keep the better reading. Running OSD on every
   photo would double the cost of the common case.

Boxes are normalised (0..1) to the photo as displayed (EXIF orientation applied), whatever rotation was
needed to read it. Tesseract runs with ``OMP_THREAD_LIMIT=1``: its OpenMP threads fight the worker's own
parallelism (a page takes 1.9 s instead of 0.3 s on a busy two-core host). The limit is given to the
Tesseract processes only, never set in this process: CTranslate2 (the speech engine) reads it too, and
with fewer OpenMP threads than it asks for it transcribes nothing, silently.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.media import MediaKind
from core.settings import Settings
from core.storage import THUMB_PREVIEW, resolve, thumbnail_rel
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta, TransientError

log = logging.getLogger(__name__)

# A reading below this mean confidence (0-100) may be sideways or upside down: worth an OSD pass.
_POOR_READING = 70.0
# OSD's orientation confidence below which we do not trust it enough to rotate.
_MIN_OSD_CONFIDENCE = 1.5
# Tokens without a letter or digit need at least this confidence (see ``_reading``).
_MIN_MARK_CONFIDENCE = 80.0
_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_CONFIDENCE = re.compile(r"Orientation confidence:\s*([\d.]+)")

Box = tuple[float, float, float, float]  # x, y, w, h in 0..1 of the displayed photo


@dataclass(frozen=True)
class OcrWord:
    text: str
    confidence: float  # 0-100
    box: Box


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float  # mean of its words
    box: Box
    words: tuple[OcrWord, ...]
    block: int  # Tesseract's block number: lines of one block belong together


@dataclass(frozen=True)
class OcrResult:
    """What was read in one photo; ``lines`` empty means no text."""

    languages: str
    width: int  # of the displayed photo, before any reduction
    height: int
    rotation: int  # degrees clockwise the photo was turned to read it (0, 90, 180, 270)
    orientation_confidence: float | None  # OSD's, when it was asked
    lines: tuple[OcrLine, ...] = ()
    source: str = "original"  # or "preview" (formats Pillow cannot decode, such as RAW)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Lines joined by newlines, blocks separated by an empty line."""
        out: list[str] = []
        previous_block: int | None = None
        for line in self.lines:
            if previous_block is not None and line.block != previous_block:
                out.append("")
            out.append(line.text)
            previous_block = line.block
        return "\n".join(out)

    @property
    def words(self) -> list[OcrWord]:
        return [word for line in self.lines for word in line.words]

    @property
    def mean_confidence(self) -> float | None:
        words = self.words
        return sum(w.confidence for w in words) / len(words) if words else None


@dataclass(frozen=True)
class _Reading:
    lines: tuple[OcrLine, ...]
    raw_words: int  # before the confidence filter: tells "no text" from "unreadable text"
    raw_confidence: float  # mean over all raw words

    @property
    def score(self) -> float:
        # Confident characters read: favours the orientation under which most text reads well.
        return sum(w.confidence * len(w.text) for line in self.lines for w in line.words)


class OcrAnalyzer(Analyzer[OcrResult]):
    name: ClassVar[str] = "ocr"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.PHOTO})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.ocr
        self.tesseract_version = ""

    def _load(self) -> None:
        import pytesseract  # type: ignore[import-untyped]
        import pytesseract.pytesseract as runner  # type: ignore[import-untyped]

        # pytesseract starts every Tesseract process with env=<its module's ``environ``>: a copy of ours
        # with the thread limit, so this process's own environment stays as it was (see the docstring).
        runner.environ = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}

        try:
            self.tesseract_version = str(pytesseract.get_tesseract_version())
            installed = set(pytesseract.get_languages(config=""))
        except pytesseract.TesseractNotFoundError as exc:
            raise RuntimeError("the tesseract program is not installed (Debian: tesseract-ocr)") from exc
        wanted = [lang for lang in self.config.languages.split("+") if lang]
        missing = [lang for lang in wanted if lang not in installed]
        if not wanted or missing:
            raise RuntimeError(
                f"OCR languages {missing or wanted} are not installed "
                f"(installed: {', '.join(sorted(installed))}; "
                "Debian: tesseract-ocr-<lang>)"
            )
        if self.config.detect_orientation and "osd" not in installed:
            raise RuntimeError("orientation detection needs the osd data (Debian: tesseract-ocr-osd)")

    def meta(self) -> ResultMeta:
        return ResultMeta(
            analyzer=self.name,
            version=self.version,
            backend="tesseract",
            model=f"tesseract {self.tesseract_version or '?'} {self.config.languages}".strip(),
            extra={
                "psm": self.config.psm,
                "min_confidence": self.config.min_confidence,
                "detect_orientation": self.config.detect_orientation,
            },
        )

    def analyze(self, item: MediaItem) -> OcrResult:
        self.load()
        started = time.monotonic()
        timings: dict[str, float] = {}
        image, source, (width, height) = self._decode(item)
        with _pgm(image) as upright_file:
            timings["decode_s"] = time.monotonic() - started
            mark = time.monotonic()
            reading = self._read(upright_file, image.size)
            timings["model_s"] = time.monotonic() - mark
            rotation, osd_confidence = 0, None
            if (
                self.config.detect_orientation
                and reading.raw_words
                and (not reading.lines or reading.raw_confidence < _POOR_READING)
            ):
                mark = time.monotonic()
                rotation, osd_confidence = self._orientation(upright_file)
                timings["model_s"] += time.monotonic() - mark
                if rotation:
                    # PIL turns anticlockwise, OSD's "Rotate" is clockwise.
                    turned = image.rotate(-rotation, expand=True)
                    with _pgm(turned) as turned_file:
                        mark = time.monotonic()
                        other = self._read(turned_file, turned.size)
                        timings["model_s"] += time.monotonic() - mark
                    if other.score > reading.score:
                        reading = _unrotate(other, rotation)
                    else:
                        rotation = 0
        timings["total_s"] = time.monotonic() - started
        return OcrResult(
            languages=self.config.languages,
            width=width,
            height=height,
            rotation=rotation,
            orientation_confidence=osd_confidence,
            lines=reading.lines,
            source=source,
            timings=timings,
        )

    # -- decoding ------------------------------------------------------------------------------------

    def _decode(self, item: MediaItem) -> tuple[Any, str, tuple[int, int]]:
        """The photo as displayed (grey, at most max_pixels), where it came from, and its displayed size."""
        from PIL import Image, UnidentifiedImageError

        try:
            image, size = self._open(item.path)
            return image, "original", size
        except UnidentifiedImageError as exc:
            # RAW and other formats Pillow cannot decode: read the preview the ingester rendered.
            preview = resolve(item.storage_root, thumbnail_rel(item.sha512, THUMB_PREVIEW))
            if not preview.is_file():
                raise PermanentError(f"not an image Pillow can decode: {exc}") from exc
            image, size = self._open(preview)
            return image, "preview", size
        except Image.DecompressionBombError as exc:
            raise PermanentError(f"image too large to decode safely: {exc}") from exc
        except (FileNotFoundError, PermissionError) as exc:
            raise TransientError(f"cannot read {item.rel_path}: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise PermanentError(f"corrupt or truncated image: {exc}") from exc

    def _open(self, path: Path) -> tuple[Any, tuple[int, int]]:
        from PIL import Image, ImageOps

        _register_heif()
        limit = self.settings.ingest.max_image_pixels
        with warnings.catch_warnings():
            # We check the size ourselves, against our own limit, before decoding a pixel.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > limit:
                    raise PermanentError(f"{width}x{height} is above ingest.max_image_pixels ({limit})")
                turned = opened.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientation swaps the sides
                displayed = (height, width) if turned else (width, height)
                scale = min(1.0, (self.config.max_pixels / (width * height)) ** 0.5)
                # JPEG decodes the luminance only (a third of the work, and what Tesseract reads), and
                # at 1/2, 1/4 or 1/8 directly when smaller will do: fewer pixels read, not just fewer kept.
                opened.draft("L", (int(width * scale), int(height * scale)))
                opened.load()  # the first frame of a multi-frame file
                image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # Transparent pixels are black once the alpha is dropped: dark text on them would vanish.
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        if image.mode != "L":
            image = image.convert("L")
        pixels = image.width * image.height
        if pixels > self.config.max_pixels:
            scale = (self.config.max_pixels / pixels) ** 0.5
            size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS)
        return image, displayed

    # -- Tesseract -----------------------------------------------------------------------------------

    def _read(self, file: str, size: tuple[int, int]) -> _Reading:
        import pytesseract

        try:
            data = pytesseract.image_to_data(
                file,
                lang=self.config.languages,
                config=f"--psm {self.config.psm}",
                output_type=pytesseract.Output.DICT,
                timeout=self.config.timeout,
            )
        except RuntimeError as exc:  # pytesseract's timeout
            raise PermanentError(f"tesseract took longer than {self.config.timeout:.0f}s") from exc
        except pytesseract.TesseractError as exc:
            # The image was decoded and written by us, so Tesseract failing on it is the process (killed,
            # out of memory), not the input: worth another attempt (the runtime bounds how many).
            raise TransientError(f"tesseract failed: {exc.message}") from exc
        return _reading(data, size, self.config.min_confidence)

    def _orientation(self, file: str) -> tuple[int, float | None]:
        """Degrees to turn clockwise so the text is upright, per OSD (0 when it cannot tell)."""
        import pytesseract

        try:
            osd = pytesseract.image_to_osd(file, config="--psm 0", timeout=self.config.timeout)
        except pytesseract.TesseractError:
            return 0, None  # "Too few characters": nothing to turn
        except RuntimeError as exc:
            raise PermanentError(
                f"tesseract orientation detection took longer than {self.config.timeout:.0f}s"
            ) from exc
        rotate, confidence = _ROTATE.search(osd), _OSD_CONFIDENCE.search(osd)
        value = float(confidence.group(1)) if confidence else None
        if rotate is None or value is None or value < _MIN_OSD_CONFIDENCE:
            return 0, value
        return int(rotate.group(1)) % 360, value


def _reading(data: dict[str, list[Any]], size: tuple[int, int], min_confidence: float) -> _Reading:
    """Words (level 5 rows of Tesseract's TSV) grouped into lines, boxes normalised to ``size``."""
    width, height = size
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    raw_confidences: list[float] = []
    for i, text in enumerate(data["text"]):
        if int(data["level"][i]) != 5 or not str(text).strip():
            continue
        confidence = float(data["conf"][i])
        raw_confidences.append(max(confidence, 0.0))
        word = str(text).strip()
        # Words made of marks only ("|", "——", "=") are what Tesseract reads in textures and edges:
        # they need a high confidence to count ("&" in a sentence reads at 90+).
        needed = (
            min_confidence if any(ch.isalnum() for ch in word) else max(min_confidence, _MIN_MARK_CONFIDENCE)
        )
        if confidence < needed:
            continue
        box = (
            data["left"][i] / width,
            data["top"][i] / height,
            data["width"][i] / width,
            data["height"][i] / height,
        )
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append(OcrWord(word, confidence, _clip(box)))
    built = tuple(_line(words, key[0]) for key, words in sorted(lines.items()))
    raw_mean = sum(raw_confidences) / len(raw_confidences) if raw_confidences else 0.0
    return _Reading(built, len(raw_confidences), raw_mean)


def _line(words: list[OcrWord], block: int) -> OcrLine:
    return OcrLine(
        text=" ".join(w.text for w in words),
        confidence=sum(w.confidence for w in words) / len(words),
        box=_union([w.box for w in words]),
        words=tuple(words),
        block=block,
    )


def _union(boxes: list[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def _clip(box: Box) -> Box:
    x, y, w, h = (min(max(v, 0.0), 1.0) for v in box)
    return (x, y, min(w, 1.0 - x), min(h, 1.0 - y))


def unrotate_box(box: Box, rotation: int) -> Box:
    """A box measured on the photo turned ``rotation`` degrees clockwise, on the photo as displayed."""
    x, y, w, h = box
    corners = [(x, y), (x + w, y + h)]
    if rotation == 90:  # turned clockwise: u = 1 - y, v = x
        points = [(v, 1 - u) for u, v in corners]
    elif rotation == 180:
        points = [(1 - u, 1 - v) for u, v in corners]
    elif rotation == 270:  # u = y, v = 1 - x
        points = [(1 - v, u) for u, v in corners]
    else:
        return box
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return _clip((min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))


def _unrotate(reading: _Reading, rotation: int) -> _Reading:
    lines = tuple(
        OcrLine(
            line.text,
            line.confidence,
            unrotate_box(line.box, rotation),
            tuple(OcrWord(w.text, w.confidence, unrotate_box(w.box, rotation)) for w in line.words),
            line.block,
        )
        for line in reading.lines
    )
    return _Reading(lines, reading.raw_words, reading.raw_confidence)


@contextmanager
def _pgm(image: Any) -> Iterator[str]:
    """The image as a temporary binary PGM: no compression to spend time on, and Leptonica reads it."""
    handle, name = tempfile.mkstemp(prefix="pava-ocr-", suffix=".pgm")
    try:
        with os.fdopen(handle, "wb") as out:
            image.save(out, format="PPM")
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:  # a host without HEIC support reads everything else
        return
    pillow_heif.register_heif_opener()


def result_json(result: OcrResult) -> dict[str, Any]:
    """The result as plain JSON data: what the store keeps in ``lines`` and what export shows."""
    return {
        "text": result.text,
        "languages": result.languages,
        "rotation": result.rotation,
        "orientation_confidence": result.orientation_confidence,
        "source": result.source,
        "width": result.width,
        "height": result.height,
        "lines": [
            {
                "text": line.text,
                "confidence": round(line.confidence, 2),
                "block": line.block,
                "box": [round(v, 5) for v in line.box],
                "words": [
                    {
                        "text": w.text,
                        "confidence": round(w.confidence, 2),
                        "box": [round(v, 5) for v in w.box],
                    }
                    for w in line.words
                ],
            }
            for line in result.lines
        ],
    }
