"""Make torchvision importable next to a CPU-only torch whose torchvision wheel is a CUDA build.

Why this exists: the package registry these hosts reach has CPU torch 2.13.0 but only CUDA builds of
torchvision 0.28.0. Their compiled ops (``torchvision/_C.so``) need ``libtorch_cuda.so`` and fail to
load; torchvision then dies at import, because ``_meta_registrations`` registers a fake (meta) kernel
for ``torchvision::nms`` and that operator was never defined ("operator torchvision::nms does not
exist"). Ultralytics imports torchvision during ``predict()``'s warm-up and then calls
``torchvision.ops.nms`` for every image, so YOLO cannot run at all.

The fix, applied before anything imports torchvision, and only when its compiled ops really fail to
load (a matching CPU build, or a CUDA torch, is left alone):

1. define the ``torchvision::nms`` (and ``qnms``) schemas with ``torch.library`` exactly as the C++
   extension declares them, with a CPU kernel for ``nms`` written in torch operations (greedy NMS, the
   same result as torchvision's kernel: boxes sorted by score, a box dropped when its IoU with a kept one
   is above the threshold);
2. import torchvision, whose meta registrations now find the schemas;
3. tell ``torchvision.extension`` that its ops are available, so ``torchvision.ops.nms`` dispatches to
   the kernel above instead of raising. The other compiled ops (``roi_align``, ``deform_conv2d``...) stay
   undefined and raise "no such operator" if called; a YOLO detector never calls them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


def nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression; ``dets`` are (N, 4) x1, y1, x2, y2. Indices kept, best first."""
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=dets.device)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort(descending=True)
    keep: list[torch.Tensor] = []
    # One vectorised IoU row per kept box: O(kept x N), no N x N matrix (N can be thousands).
    while order.numel() > 0:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        width = (torch.minimum(x2[best], x2[rest]) - torch.maximum(x1[best], x1[rest])).clamp(min=0)
        height = (torch.minimum(y2[best], y2[rest]) - torch.maximum(y1[best], y1[rest])).clamp(min=0)
        inter = width * height
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.stack(keep)


def _native_ops_load() -> bool:
    """Whether torchvision's compiled ops load here (what ``torchvision.extension`` tries first)."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        library = folder / f"_C{suffix}"
        if library.is_file():
            try:
                ops: Any = torch.ops  # torch's op registry is untyped
                ops.load_library(str(library))
            except (OSError, RuntimeError) as exc:
                log.info("torchvision's compiled ops do not load (%s): using the CPU nms from torch ops",
                         str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
                return False
            return True
    return False


@functools.cache
def _cpu_library() -> object:
    """The ``torchvision`` op namespace with our schemas. Cached: the ``Library`` object must live as long
    as the process, since dropping it unregisters the operators."""
    import torch.library

    torch_library: Any = torch.library  # untyped API
    library = torch_library.Library("torchvision", "DEF")
    library.define("nms" + _NMS_SCHEMA)
    # qnms (quantised boxes) only needs to exist for torchvision's meta registration; no kernel.
    library.define("qnms" + _NMS_SCHEMA)
    library.impl("nms", nms, "CPU")
    return library


@functools.cache
def ensure_torchvision() -> str:
    """Prepare torchvision for ultralytics; returns what was done (logged and shown by the benchmark):
    ``absent`` (not installed: ultralytics then uses its own NMS), ``native`` (its ops load), ``imported``
    (someone imported it before us; nothing to do) or ``cpu-nms`` (the fix above)."""
    if "torchvision" in sys.modules:
        return "imported"
    if importlib.util.find_spec("torchvision") is None:
        return "absent"
    if _native_ops_load():
        return "native"
    _cpu_library()
    extension: Any = importlib.import_module("torchvision.extension")  # imports torchvision itself first
    # _assert_has_ops() reads this module attribute at call time; nms, the op ultralytics calls, now exists.
    extension._has_ops = lambda: True
    return "cpu-nms"
