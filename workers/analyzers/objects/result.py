"""What the objects analyzer returns (and the store writes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    """One object: its label, score, and box normalised to the displayed image (0..1, top-left x, y)."""

    label: str
    confidence: float
    x: float
    y: float
    w: float
    h: float
    frame_ms: int | None = None  # None for a photo; the keyframe's timestamp for a video

    @classmethod
    def from_corners(cls, label: str, confidence: float, corners: Sequence[float]) -> Detection:
        """From normalised corners (x1, y1, x2, y2), clipped to the image (models overshoot the border)."""
        x1, y1, x2, y2 = corners
        x1, x2 = sorted((min(max(x1, 0.0), 1.0), min(max(x2, 0.0), 1.0)))
        y1, y2 = sorted((min(max(y1, 0.0), 1.0), min(max(y2, 0.0), 1.0)))
        return cls(label, min(max(confidence, 0.0), 1.0), x1, y1, x2 - x1, y2 - y1)


@dataclass(frozen=True)
class ObjectsResult:
    """All detections of one item, and which backend and model produced them."""

    detections: tuple[Detection, ...]
    frames: int  # images the model saw: 1 for a photo, the keyframes analysed for a video
    backend: str  # "yolo" or "ssd"
    model: str
    min_confidence: float

    def label_counts(self) -> dict[str, int]:
        """Per label, the most instances seen at once (in the photo, or in any one keyframe)."""
        per_frame: dict[tuple[int | None, str], int] = {}
        for detection in self.detections:
            key = (detection.frame_ms, detection.label)
            per_frame[key] = per_frame.get(key, 0) + 1
        counts: dict[str, int] = {}
        for (_, label), count in per_frame.items():
            counts[label] = max(counts.get(label, 0), count)
        return dict(sorted(counts.items()))
