"""One dedicated thread for every store call, so SQLite never blocks the event loop.

A single thread runs the calls in the order they were submitted: a call's start is
written before any alert on it, an alert's opening before its update, whichever
coroutine submitted them. Password hashing does not go here (it is slow and needs no
order): it runs in the default executor.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger("voiceline.server")
T = TypeVar("T")


class StoreWorker:
    """Runs blocking store calls in one thread, first in, first out."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voiceline-store")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the store thread and wait for its result."""
        future = self._pool.submit(functools.partial(fn, *args, **kwargs))
        return await asyncio.wrap_future(future)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Queue ``fn`` without waiting; an exception it raises is logged, not lost."""
        future = self._pool.submit(functools.partial(fn, *args, **kwargs))
        future.add_done_callback(_log_failure)
        return future

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        self._pool.shutdown(wait=True)


def _log_failure(future: Future) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("store call failed: %s", exc, exc_info=exc)
