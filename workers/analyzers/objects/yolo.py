"""YOLO through ultralytics: the design card's detector.

The model is a local ``.pt`` path or a name (``yolo11n.pt``) that ultralytics resolves the standard way,
downloading it when the host is online; a name is looked up in, and downloaded to, ``<home>/models/``
(not the worker's current directory). Offline, a name that is not on disk fails at ``load`` and the
``auto`` backend falls back to SSD.

Ultralytics is kept from reaching the network or changing the environment at run time: no pip
"AutoUpdate" of missing requirements, no PyPI version check, no DNS probe, no analytics; its settings
file lives under pava's home instead of the user's ``~/.config``. A user who sets these variables
differently keeps their values.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.analyzers.objects.backend import Backend
from workers.analyzers.objects.images import Need
from workers.analyzers.objects.result import Detection
from workers.analyzers.objects.torchvision_cpu import ensure_torchvision

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


def configure_ultralytics(config_dir: Path) -> None:
    """Environment ultralytics reads once, at import: set before the first import."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no DNS probe, no PyPI check, no analytics events
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install a "missing" requirement
    os.environ.setdefault("YOLO_VERBOSE", "false")  # per-image lines would drown the worker's log
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


def undo_pil_patch() -> None:
    """Give ``PIL.Image.open`` back its own behaviour.

    Importing ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on any file Pillow
    cannot identify, tries to pip-install ``pi-heif`` and then fails with ``ModuleNotFoundError``. That
    would turn a corrupt upload (a permanent error) into a crash retried until dead-lettered, for every
    analysis in the process. pava registers ``pillow-heif`` itself (``images._register_heif``), and
    ultralytics only gets numpy arrays from us, so it never needs its patch.
    """
    from PIL import Image

    patches: Any = importlib.import_module("ultralytics.utils.patches")
    if Image.open is patches.image_open:
        Image.open = patches._image_open


class YoloBackend(Backend):
    name = "yolo"
    default_confidence = 0.25  # ultralytics' own default for predict()

    def __init__(self, model: str, min_confidence: float | None, max_detections: int, *, input_size: int,
                 iou: float, device: str, threads: int, config_dir: Path, models_dir: Path) -> None:
        super().__init__(model, min_confidence, max_detections)
        self.input_size = input_size
        self.iou = iou
        self.device = device
        self.threads = threads
        self.config_dir = config_dir
        self.models_dir = models_dir
        self.torchvision = ""
        self.names: dict[int, str] = {}
        self.last_speed: dict[str, float] = {}  # ultralytics' own preprocess/inference/postprocess ms
        self._yolo: Any = None

    @property
    def need(self) -> Need:
        return Need(self.input_size)

    def load(self) -> None:
        import numpy as np
        import torch

        configure_ultralytics(self.config_dir)
        self.torchvision = ensure_torchvision()
        log.info("torchvision for ultralytics: %s", self.torchvision)
        if self.threads:
            torch.set_num_threads(self.threads)
        # ultralytics ships no type information; imported by name so mypy treats it as Any.
        ultralytics = importlib.import_module("ultralytics")
        undo_pil_patch()
        model = ultralytics.YOLO(self.weights())
        if model.task != "detect":
            raise ValueError(f"{self.model} is a {model.task!r} model, not a detector")
        self._yolo = model
        self.names = {int(k): str(v) for k, v in model.names.items()}
        log.info("YOLO loaded: %s (%d classes, device %s)", self.model, len(self.names), self.device)
        # Warm-up: ultralytics fuses layers and imports torchvision here; a broken install fails now.
        self._predict(np.zeros((self.input_size, self.input_size, 3), dtype=np.uint8))

    def weights(self) -> str:
        """What ultralytics is given: a file that exists, or for a bare name its place in ``models_dir``,
        where ultralytics finds it, or (online, for its published names) downloads it."""
        source = Path(self.model).expanduser()
        if source.is_file() or source.parent != Path():
            return str(source)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return str(self.models_dir / source.name)

    def _predict(self, bgr: Any) -> Any:
        results = self._yolo.predict(bgr, imgsz=self.input_size, conf=self.min_confidence, iou=self.iou,
                                     max_det=self.max_detections, device=self.device, verbose=False)
        return results[0]

    def _infer(self, image: Image.Image) -> list[Detection]:
        import numpy as np

        # ultralytics takes numpy images in OpenCV's BGR order; letterboxing happens inside predict().
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        result = self._predict(bgr)
        self.last_speed = dict(result.speed)
        boxes = result.boxes
        found: list[Detection] = []
        rows = zip(boxes.xyxyn.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True)
        for corners, score, cls in rows:
            label = self.names.get(int(cls), str(int(cls)))
            detection = Detection.from_corners(label, score, corners)
            if detection.w > 0 and detection.h > 0:
                found.append(detection)
        return found
