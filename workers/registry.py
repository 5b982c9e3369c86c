"""The explicit list of analyzers. One entry per analysis: its analyzer class, its result store, and the
requirements file a worker host installs to run it. Entries name import paths, so listing the registry
imports no model library.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from core.analyses import ANALYSES
from core.settings import PROJECT_ROOT, Settings
from workers.analyzer import Analyzer, Store


@dataclass(frozen=True)
class Registration:
    name: str
    analyzer: str  # "module:Class"
    store: str  # "module:function"
    requirements: str  # path relative to the project root

    def create(self, settings: Settings) -> Analyzer[Any]:
        cls = _import(self.analyzer)
        instance: Analyzer[Any] = cls(settings)
        return instance

    def store_function(self) -> Store:
        function: Store = _import(self.store)
        return function

    @property
    def requirements_path(self) -> str:
        return str(PROJECT_ROOT / self.requirements)


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


REGISTRY: dict[str, Registration] = {
    "dhash": Registration(
        name="dhash",
        analyzer="workers.analyzers.dhash:DhashAnalyzer",
        store="workers.stores.dhash:store",
        requirements="requirements/worker-dhash.txt",
    ),
}


def get(name: str) -> Registration:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none"
        if name in ANALYSES:
            raise KeyError(f"analysis {name!r} has no worker yet (registered: {known})")
        raise KeyError(f"unknown analyzer {name!r} (registered: {known})")
    return REGISTRY[name]
