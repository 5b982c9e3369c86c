"""The interface both detectors implement, so the analyzer does not care which one it runs."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from workers.analyzers.objects.images import Need
from workers.analyzers.objects.result import Detection

if TYPE_CHECKING:
    from PIL import Image


class Backend(ABC):
    """One loaded detector. ``detect`` is serialised: neither an OpenCV ``Net`` nor an ultralytics
    predictor may run two inferences at once, while decoding (outside) may."""

    name: str
    default_confidence: float

    def __init__(self, model: str, min_confidence: float | None, max_detections: int) -> None:
        self.model = model
        self.min_confidence = self.default_confidence if min_confidence is None else min_confidence
        self.max_detections = max_detections
        self.model_seconds = 0.0  # time spent inside the model call, for the benchmark's breakdown
        self.model_calls = 0
        self._lock = threading.Lock()

    @property
    @abstractmethod
    def need(self) -> Need:
        """The smallest image this model can use."""

    @abstractmethod
    def load(self) -> None:
        """Load the weights and run one warm-up inference (so a broken install fails here, not on a job)."""

    @abstractmethod
    def _infer(self, image: Image.Image) -> list[Detection]:
        """Run the model on an RGB image; boxes normalised to that image."""

    def detect(self, image: Image.Image, frame_ms: int | None = None) -> list[Detection]:
        """Detections above the confidence threshold, best first, at most ``max_detections``."""
        with self._lock:
            started = time.perf_counter()
            found = self._infer(image)
            self.model_seconds += time.perf_counter() - started
            self.model_calls += 1
        found.sort(key=lambda d: d.confidence, reverse=True)
        if frame_ms is not None:
            found = [Detection(d.label, d.confidence, d.x, d.y, d.w, d.h, frame_ms) for d in found]
        return found[: self.max_detections]
