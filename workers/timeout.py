"""A time limit on a call running in a worker thread.

A Python thread cannot be killed. Like dramatiq's TimeLimit middleware, a watchdog timer raises
``JobTimeout`` inside the thread (``PyThreadState_SetAsyncExc``); it lands at the thread's next Python
bytecode, so a long call into C (a decoder, a model) is interrupted when it returns to Python.
The exception can only land inside the limited call: the watchdog and the end of the call agree under a
lock, and a timeout that fired too late to land is cleared and raised by the caller instead.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class JobTimeout(Exception):
    """The analysis took longer than ``settings.worker.job_timeout``."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> int:
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    ))


class _Watch:
    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.lock = threading.Lock()
        self.active = False  # true only while the limited call runs
        self.fired = False

    def fire(self) -> None:
        with self.lock:
            self.fired = True
            if self.active:
                _set_async_exc(self.thread_id, JobTimeout)


def call_with_timeout(function: Callable[[], T], seconds: float) -> T:
    """Run ``function()`` in this thread; raise ``JobTimeout`` if it runs longer than ``seconds``."""
    message = f"analysis exceeded {seconds:g}s"
    watch = _Watch(threading.get_ident())
    timer = threading.Timer(seconds, watch.fire)
    timer.daemon = True
    # The watch is armed only after the timer thread has started: an exception landing inside
    # threading's own bookkeeping would corrupt it.
    timer.start()
    try:
        with watch.lock:
            if watch.fired:
                raise JobTimeout(message)
            watch.active = True
        try:
            result = function()
        finally:
            with watch.lock:
                watch.active = False
                if watch.fired:
                    # Fired but perhaps not yet delivered: clear it so it cannot land after this call.
                    _set_async_exc(watch.thread_id, None)
    except JobTimeout:
        raise JobTimeout(message) from None
    finally:
        timer.cancel()
    if watch.fired:
        raise JobTimeout(message)
    return result
