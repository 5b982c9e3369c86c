"""Crash points for the fault tests: ``PAVA_INGEST_FAILPOINT=after_link:3`` makes the process kill itself
with SIGKILL the third time it passes ``after_link``, exactly between two steps of the protocol, so that
tests reach every window (row staged but file not moved, file linked but source not removed...) instead
of hoping a timed kill lands there. Unset (always, outside tests), a check is one dictionary lookup.

Points: ``before_move`` (row staged and locked, file not moved), ``after_link`` (file in storage and
still in the drop folder), ``after_move``, ``after_thumbnails`` (media: not yet ready).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

ENV = "PAVA_INGEST_FAILPOINT"

_lock = threading.Lock()
_hits: Counter[str] = Counter()


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or 1)


def point(name: str) -> None:
    """Die here (SIGKILL, no cleanup of any kind) if the environment asks for it."""
    target = _target()
    if target is None or target[0] != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] >= target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
