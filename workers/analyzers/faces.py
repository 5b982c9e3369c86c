"""Faces: dlib's HOG (or CNN) detector, 68-landmark alignment and 128-d ResNet encoding, through the
models that ``face_recognition`` loads (shipped in the ``face_recognition_models`` wheel, so nothing is
downloaded at run time).

The detector's own objects are called rather than ``face_recognition.face_locations`` because only
``detector.run`` reports a detection score, and the landmarks are then computed once per face for the
encoding (``face_encodings`` would repeat them).

Images are decoded at a bounded size, below twice ``faces.max_image_side``: libjpeg's DCT scaling
(``draft``) for JPEG, so a 24-megapixel photo is never fully decoded; EXIF orientation applied; RGB, which
dlib expects (the seed passed OpenCV's BGR, which degrades encodings). The detector sees a copy of at most
``max_image_side``; landmarks, encodings and chips come from the sharper decoded image. Boxes are
normalised to the displayed image. Videos are scanned on the keyframes of ``workers.keyframes`` (the
dHash algorithm, one shared function), each face carrying its keyframe's time.

The analyzer only reads: face chips travel in the result as JPEG bytes and the store writes them, so a
redelivered job rewrites the same files instead of leaving strays behind.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from core.media import MediaKind
from core.settings import FacesSettings, Settings
from core.storage import THUMB_PREVIEW, resolve, thumbnail_rel
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta, TransientError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

log = logging.getLogger(__name__)

ENCODING_MODEL = "dlib_face_recognition_resnet_model_v1"
LANDMARK_MODEL = "shape_predictor_68_face_landmarks"
ENCODING_DIM = 128
# HOG boxes run from the brows to the chin; a square 1.6 times the box's longer side shows the whole
# head, which is what a person's thumbnail should look like.
_CHIP_MARGIN = 1.6
_CHIP_QUALITY = 88
_ORIENTATION = 0x0112  # EXIF tag
# EXIF orientation -> PIL.Image.Transpose member value (FLIP_LEFT_RIGHT 0, FLIP_TOP_BOTTOM 1, ROTATE_90 2,
# ROTATE_180 3, ROTATE_270 4, TRANSPOSE 5, TRANSVERSE 6), as in ImageOps.exif_transpose; ints, so that
# Pillow is not imported with this module.
_TRANSPOSE: dict[int, int] = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}


@dataclass(frozen=True)
class DetectedFace:
    """One face: where (normalised x, y, w, h of the displayed image), how sure, who (encoding)."""

    frame_ms: int | None  # None for a photo; the keyframe's time for a video
    box: tuple[float, float, float, float]
    score: float | None
    encoding: tuple[float, ...]  # 128 floats, euclidean space (same person: distance below about 0.5)
    chip_jpeg: bytes


@dataclass(frozen=True)
class FacesResult:
    """Everything found in one item. ``model_seconds`` is the time spent inside dlib (for the bench)."""

    faces: tuple[DetectedFace, ...]
    frames: int  # images scanned: 1 for a photo, keyframes scanned for a video
    width: int | None  # size the detector saw (of the last frame, for a video)
    height: int | None
    model_seconds: float = 0.0


class _Models:
    """The dlib objects ``face_recognition`` creates at import. dlib's DNN keeps per-call buffers in
    its layers, so calls are serialised by a lock (run more processes, not threads, for throughput)."""

    def __init__(self, detector: str) -> None:
        # face_recognition_models imports pkg_resources, which warns on recent setuptools; and
        # face_recognition turns *any* error there into quit(). Silence the warning, catch the exit.
        from PIL import ImageFile

        truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                from face_recognition import api  # type: ignore[import-untyped]
            except (ImportError, SystemExit) as exc:
                raise TransientError(
                    "face_recognition or its models are not installed (pip install -r "
                    "requirements/worker-faces.txt, then face-recognition==1.3.0 with --no-deps)"
                ) from exc
            finally:
                # face_recognition sets this process-wide flag to True at import, which would make every
                # truncated JPEG decode "successfully" with a grey lower half.
                ImageFile.LOAD_TRUNCATED_IMAGES = truncated
        self.detector_kind = detector
        self._hog = api.face_detector
        self._cnn = api.cnn_face_detector if detector == "cnn" else None
        self._landmarks = api.pose_predictor_68_point
        self._encoder = api.face_encoder
        self._rectangle = api.dlib.rectangle
        self.lock = threading.Lock()

    def detect(self, pixels: npt.NDArray[np.uint8], upsample: int,
               min_score: float) -> list[tuple[Any, float]]:
        """(dlib rectangle, score) pairs."""
        if self._cnn is not None:
            found = self._cnn(pixels, upsample)
            return [(d.rect, float(d.confidence)) for d in found if float(d.confidence) >= min_score]
        rects, scores, _kinds = self._hog.run(pixels, upsample, min_score)
        return list(zip(rects, (float(s) for s in scores), strict=True))

    def scaled(self, rect: Any, factor: float) -> Any:
        """A detection rectangle in the coordinates of an image ``factor`` times larger."""
        if factor == 1.0:
            return rect
        left, top = round(rect.left() * factor), round(rect.top() * factor)
        right, bottom = round((rect.right() + 1) * factor) - 1, round((rect.bottom() + 1) * factor) - 1
        return self._rectangle(left, top, right, bottom)

    def encode(self, pixels: npt.NDArray[np.uint8], rect: Any) -> tuple[float, ...]:
        shape = self._landmarks(pixels, rect)
        return tuple(float(v) for v in self._encoder.compute_face_descriptor(pixels, shape, 1))


class FacesAnalyzer(Analyzer[FacesResult]):
    """Detect, encode and crop the faces of a photo or of a video's keyframes."""

    name: ClassVar[str] = "faces"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.PHOTO, MediaKind.VIDEO})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._models: _Models | None = None

    @property
    def config(self) -> FacesSettings:
        return self.settings.faces

    def _load(self) -> None:
        self._models = _Models(self.config.detector)
        log.info("faces: dlib %s detector, %s, %s loaded", self.config.detector, LANDMARK_MODEL,
                 ENCODING_MODEL)

    def meta(self) -> ResultMeta:
        c = self.config
        return ResultMeta(
            analyzer=self.name,
            version=self.version,
            backend=c.detector,
            model=f"{ENCODING_MODEL}+{LANDMARK_MODEL}",
            # The store groups new faces into people with these (it has no settings of its own).
            extra={
                "upsample": c.upsample,
                "max_image_side": c.max_image_side,
                "min_face_size": c.min_face_size,
                "min_score": c.min_score,
                "people_max_distance": c.people_max_distance,
                "people_min_faces": c.people_min_faces,
            },
        )

    def analyze(self, item: MediaItem) -> FacesResult:
        self.load()
        if item.kind is MediaKind.VIDEO:
            return self._analyze_video(item)
        image = self._decode_photo(item)
        faces, seconds, view = self._faces_in(image, None)
        return FacesResult(tuple(faces), 1, view.width, view.height, seconds)

    def _decode_photo(self, item: MediaItem) -> Image.Image:
        """The original, or the ingester's upright preview JPEG when it is smaller than the original
        and still covers the detector's input: a 12 MP original costs about 40 ms to decode even at
        libjpeg's 1/2 scale, its 1440 px preview about 10 ms. RAW photos always go through the preview."""
        side, max_pixels = self.config.max_image_side, self.settings.ingest.max_image_pixels
        preview = _preview_path(item)
        if self.config.use_preview and preview.is_file():
            preview_size, original_size = _header_size(preview), _header_size(item.path)
            if (preview_size is not None and max(preview_size) >= side
                    and (original_size is None or _area(original_size) > _area(preview_size))):
                try:
                    return decode_image(preview, side, max_pixels)
                except PermanentError as exc:  # a damaged preview must not fail a good original
                    log.warning("unreadable preview %s (%s): decoding the original", preview, exc)
        return decode_image(item.path, side, max_pixels, fallback=preview)

    def _analyze_video(self, item: MediaItem) -> FacesResult:
        from workers import keyframes as kf

        timeout = self.settings.worker.job_timeout
        found = kf.keyframes_for(item.path, self.settings.dhash, timeout=timeout)
        chosen = spread(found, self.config.max_video_frames)
        faces: list[DetectedFace] = []
        seconds = 0.0
        frames = 0
        width = height = None
        frames_iter = kf.frames_at(item.path, [k.ms for k in chosen],
                                   sample_fps=self.settings.dhash.keyframe_sample_fps,
                                   max_side=self.config.max_image_side, timeout=timeout)
        for frame in frames_iter:
            more, spent, view = self._faces_in(frame.image, frame.ms)
            faces.extend(more)
            seconds += spent
            frames += 1
            width, height = view.width, view.height
        return FacesResult(tuple(faces), frames, width, height, seconds)

    def _faces_in(self, image: Image.Image,
                  frame_ms: int | None) -> tuple[list[DetectedFace], float, Image.Image]:
        """Faces of one RGB image, sorted left to right; the seconds spent in dlib; the image the
        detector saw.

        The detector runs on a copy of at most ``max_image_side`` (nearest-neighbour: the image is
        already less than twice that size, see ``decode_image``, and a smooth filter cost as much as
        the JPEG decoding on a 12-megapixel photo). Landmarks, encoding and chip come from the sharper
        image itself, the box scaled up to it.
        """
        import numpy as np
        from PIL import Image

        assert self._models is not None
        c = self.config
        width, height = image.size
        scale = min(1.0, c.max_image_side / max(width, height))
        view = image
        if scale < 1.0:
            view = image.resize((max(1, round(width * scale)), max(1, round(height * scale))),
                                Image.Resampling.NEAREST)
        detect_pixels = np.asarray(view, dtype=np.uint8)
        pixels = detect_pixels if view is image else np.asarray(image, dtype=np.uint8)
        faces: list[DetectedFace] = []
        with self._models.lock:
            started = time.perf_counter()
            detections = self._models.detect(detect_pixels, c.upsample, c.min_score)
            kept = [(r, s) for r, s in detections if min(r.width(), r.height()) >= c.min_face_size]
            rects = [self._models.scaled(r, 1 / scale) for r, _ in kept]
            encodings = [self._models.encode(pixels, r) for r in rects]
            seconds = time.perf_counter() - started
        for rect, (_, score), encoding in zip(rects, kept, encodings, strict=True):
            left, top = max(0, rect.left()), max(0, rect.top())
            right, bottom = min(width, rect.right() + 1), min(height, rect.bottom() + 1)
            if right <= left or bottom <= top:
                continue
            box = (left / width, top / height, (right - left) / width, (bottom - top) / height)
            faces.append(DetectedFace(frame_ms, box, score, encoding, face_chip(image, box, c.chip_size)))
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
        return faces, seconds, view


def spread(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` items, evenly spaced over the list, first and last included."""
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[0]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def decode_image(path: Path, max_side: int, max_pixels: int, *, fallback: Path | None = None) -> Image.Image:
    """The image as RGB, orientation applied, its long side below ``2 * max_side`` (and at least
    ``max_side`` when the original is that large), never decoding more pixels than that: a JPEG is
    decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's DCT scaling, anything else reduced by an integer
    factor (a fast box filter). ``fallback`` (the ingester's preview) is used for formats Pillow cannot
    read, such as camera RAW. Raises PermanentError for corrupt, truncated, unsupported or oversized
    input."""
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    if not path.is_file():
        # The storage mount being away is the likely cause: retry rather than fail for good.
        raise TransientError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():
            # The size is checked below against our own limit; Pillow's warning would be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError as exc:
        if fallback is not None and fallback.is_file():
            log.info("%s: not readable by Pillow, using the preview %s", path, fallback)
            return decode_image(fallback, max_side, max_pixels)
        raise PermanentError(f"not a readable image: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise PermanentError(f"image too large to decode safely: {exc}") from exc
    except OSError as exc:
        raise PermanentError(f"cannot open the image: {exc}") from exc
    try:
        with image:
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise PermanentError(f"image of {width}x{height} pixels is over the limit of {max_pixels}")
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))
            image.load()
            orientation = image.getexif().get(_ORIENTATION, 1)
            rgb = image if image.mode == "RGB" else image.convert("RGB")
    except PermanentError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise PermanentError(f"corrupt or truncated image: {exc}") from exc
    factor = max(rgb.size) // max_side
    if factor >= 2:
        rgb = rgb.reduce(factor)
    # Rotated last, on the smallest image (what ImageOps.exif_transpose does, without its copies).
    method = _TRANSPOSE.get(orientation)
    return rgb.transpose(Image.Transpose(method)) if method is not None else rgb


def face_chip(image: Image.Image, box: tuple[float, float, float, float], size: int) -> bytes:
    """A square JPEG around the face, slid (not padded) to stay inside the image where it can."""
    from PIL import Image

    width, height = image.size
    x, y, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    side = min(max(w, h) * _CHIP_MARGIN, width, height)
    cx, cy = x + w / 2, y + h / 2
    left = min(max(0.0, cx - side / 2), width - side)
    top = min(max(0.0, cy - side / 2), height - side)
    crop = image.crop((round(left), round(top), round(left + side), round(top + side)))
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=_CHIP_QUALITY)
    return out.getvalue()


def _header_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the file's header (nothing decoded), or None when Pillow cannot tell."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Exception:  # unreadable here means "no size": the decoder itself reports the real error
        return None


def _area(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _preview_path(item: MediaItem) -> Path:
    return resolve(item.storage_root, thumbnail_rel(item.sha512, THUMB_PREVIEW))


_heif_lock = threading.Lock()
_heif_done = False


def _register_heif() -> None:
    """HEIC/HEIF/AVIF through pillow-heif, once per process, when it is installed."""
    global _heif_done  # noqa: PLW0603 (a once-per-process registration with Pillow, itself global)
    if _heif_done:
        return
    with _heif_lock:
        if not _heif_done:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:
                log.info("pillow-heif is not installed: HEIC photos are read through their preview")
            _heif_done = True
