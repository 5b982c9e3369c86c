"""The explicit list of analyzers. One entry per analysis: its analyzer class, its result store, the
requirements file a worker host installs to run it, and optionally an export hook for ``pava export``.
Entries name import paths, so listing the registry imports no model library.

Tests (and plugins) may pass the objects themselves instead of import paths, and hand their own registry
to ``workers.runtime``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.analyses import ANALYSES
from core.export import ResultHook
from core.settings import PROJECT_ROOT, Settings
from workers.analyzer import Analyzer, Store

log = logging.getLogger(__name__)

# export(conn, media_ids) -> {media_id: JSON-able result}; ids without a result are left out.
# Called once per batch of media by `pava export`, so it must not query per item.
ExportHook = ResultHook


@dataclass(frozen=True)
class Registration:
    name: str
    analyzer: str | Callable[[Settings], Analyzer[Any]]  # "module:Class", or the class itself
    store: str | Store  # "module:function", or the function itself
    requirements: str  # path relative to the project root
    export: str | ExportHook | None = None  # "module:function": the results `pava export` shows

    def create(self, settings: Settings) -> Analyzer[Any]:
        cls = _import(self.analyzer) if isinstance(self.analyzer, str) else self.analyzer
        instance: Analyzer[Any] = cls(settings)
        return instance

    def store_function(self) -> Store:
        function: Store = _import(self.store) if isinstance(self.store, str) else self.store
        return function

    def export_function(self) -> ExportHook | None:
        if self.export is None:
            return None
        function: ExportHook = _import(self.export) if isinstance(self.export, str) else self.export
        return function

    @property
    def requirements_path(self) -> str:
        return str(PROJECT_ROOT / self.requirements)


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


REGISTRY: dict[str, Registration] = {
    "objects": Registration(
        name="objects",
        analyzer="workers.analyzers.objects:ObjectsAnalyzer",
        store="workers.stores.objects:store",
        requirements="requirements/worker-objects.txt",
        export="core.results.objects:export",
    ),
    "faces": Registration(
        name="faces",
        analyzer="workers.analyzers.faces:FacesAnalyzer",
        store="workers.stores.faces:store",
        requirements="requirements/worker-faces.txt",
        export="core.results.faces:export",
    ),
    "ocr": Registration(
        name="ocr",
        analyzer="workers.analyzers.ocr:OcrAnalyzer",
        store="workers.stores.ocr:store",
        requirements="requirements/worker-ocr.txt",
        export="core.results.ocr:export",
    ),
    "speech": Registration(
        name="speech",
        analyzer="workers.analyzers.speech:SpeechAnalyzer",
        store="workers.stores.speech:store",
        requirements="requirements/worker-speech.txt",
        export="core.results.speech:export",
    ),
    "dhash": Registration(
        name="dhash",
        analyzer="workers.analyzers.dhash:DhashAnalyzer",
        store="workers.stores.dhash:store",
        requirements="requirements/worker-dhash.txt",
        export="core.results.dhash:export",
    ),
    "transcode": Registration(
        name="transcode",
        analyzer="workers.analyzers.transcode:TranscodeAnalyzer",
        store="workers.stores.transcode:store",
        requirements="requirements/worker-transcode.txt",
        export="core.results.transcode:export",
    ),
}


def get(name: str) -> Registration:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none"
        if name in ANALYSES:
            raise KeyError(f"analysis {name!r} has no worker yet (registered: {known})")
        raise KeyError(f"unknown analyzer {name!r} (registered: {known})")
    return REGISTRY[name]


def export_hooks(registry: Mapping[str, Registration] = REGISTRY) -> dict[str, ExportHook]:
    """The export hook of every analysis that has one, in registry order."""
    hooks: dict[str, ExportHook] = {}
    for name, registration in registry.items():
        try:
            hook = registration.export_function()
        except ImportError as exc:
            # A host without this analysis's libraries can still export everything else.
            log.warning("export leaves out %s results: %s", name, exc)
            continue
        if hook is not None:
            hooks[name] = hook
    return hooks
