"""The one small interface every analysis implements.

An analyzer knows nothing of RabbitMQ or Postgres: it receives a ``MediaItem`` (a file on the
storage, with its kind) and returns a result. Persisting the result is the job of the analysis's
``store`` function, called by the generic runtime inside the transaction that marks the job done.

Heavy libraries are imported inside ``load`` (or the module's private loader), never at import time,
so the registry, the API and the tests can list analyzers without paying for their models.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from core.db import Connection
from core.media import MediaKind
from core.settings import Settings


class AnalysisError(Exception):
    """Base of the errors an analyzer raises on purpose."""


class PermanentError(AnalysisError):
    """The input can never be analysed (corrupt, truncated, too large, unsupported): not retried."""


class TransientError(AnalysisError):
    """Worth retrying later (a resource briefly missing, a subprocess killed)."""


@dataclass(frozen=True)
class MediaItem:
    """What an analyzer works on."""

    media_id: int
    job_id: int
    kind: MediaKind
    path: Path  # absolute, resolved against this host's storage root
    rel_path: str  # as stored, relative to the storage root
    sha512: str  # hex
    storage_root: Path


@dataclass(frozen=True)
class ResultMeta:
    """Recorded with every result: who produced it."""

    analyzer: str
    version: str
    backend: str = ""
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


R = TypeVar("R")


class Analyzer(ABC, Generic[R]):
    """One analysis. Subclasses set the class attributes and implement ``_load`` and ``analyze``."""

    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[MediaKind]]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load models once, lazily, thread-safely."""
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self) -> None:
        """Load heavy resources; default: nothing."""

    def meta(self) -> ResultMeta:
        """Name, version, backend and model, as stored beside every result."""
        return ResultMeta(analyzer=self.name, version=self.version)

    def accepts(self, item: MediaItem) -> bool:
        return item.kind in self.kinds

    @abstractmethod
    def analyze(self, item: MediaItem) -> R:
        """Analyse one item. Raise ``PermanentError`` for bad input, ``TransientError`` to retry."""


# store(conn, item, result, meta): writes the result inside the caller's transaction, replacing any
# earlier result for the same media item, so a redelivered job writes nothing twice.
Store = Callable[[Connection, MediaItem, Any, ResultMeta], None]
