"""Object detection (COCO) on photos and video keyframes; one module per concern:

- ``analyzer``: the analyzer and the choice of backend;
- ``yolo`` / ``ssd``: the two detectors behind ``backend.Backend``;
- ``torchvision_cpu``: the CPU ``nms`` that lets ultralytics run with the registry's torchvision;
- ``images``: decoding at the size the model needs; ``coco``: label names; ``result``: the result types.

Importing this package imports no model library (the registry lists analyzers without loading them).
"""

from workers.analyzers.objects.analyzer import ObjectsAnalyzer
from workers.analyzers.objects.result import Detection, ObjectsResult

__all__ = ["Detection", "ObjectsAnalyzer", "ObjectsResult"]
