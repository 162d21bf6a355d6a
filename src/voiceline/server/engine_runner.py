"""The engine's own thread: one tick every ``tick_s``, results handed back to the loop.

DSP never runs on the event loop. The thread calls :meth:`LiveEngine.tick`, times it
(the tick latency of ``/metrics`` and ``/healthz``) and passes the result to the loop
with ``call_soon_threadsafe``; a tick that overruns its period delays the next one
rather than queueing a burst, so a slow machine degrades into coarser ticks (the
engine's backlog limit then drops the oldest audio, which ``/metrics`` reports).

The same runner ticks the engine inside the engine process
(:mod:`voiceline.server.engine_child`), where there is no loop and each result goes
straight to the socket to the server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from voiceline.server.config import ENGINE_FS_HZ, ServerConfig

log = logging.getLogger("voiceline.server")


def build_engine(config: ServerConfig, baselines: Any) -> Any:
    """The :class:`emotion.engine.LiveEngine` the settings describe, warmed up."""
    from emotion.alerts import AlertConfig
    from emotion.engine import LiveEngine
    from emotion.scoring import VoiceModel

    e = config.engine
    engine = LiveEngine(
        baselines=baselines, model=VoiceModel(e.model) if e.model else None,
        alert_config=AlertConfig.from_dict(config.alerts), fs_hz=ENGINE_FS_HZ,
        tick_s=e.tick_s, jitter_s=e.jitter_s, max_backlog_s=e.max_backlog_s,
        group_size=e.group_size)
    engine.warm_up()  # before any audio: a first tick that compiles stalls every call
    return engine


class EngineRunner:
    """Ticks ``engine`` in a dedicated thread.

    Parameters
    ----------
    engine : emotion.engine.LiveEngine
    tick_s : float
        Period between tick starts, s.
    on_result : callable
        ``on_result(result, latency_s)``, called on ``loop`` after every tick.
    loop : asyncio.AbstractEventLoop or None
        None: ``on_result`` is called in the engine thread itself.
    """

    def __init__(self, engine: Any, tick_s: float,
                 on_result: Callable[[Any, float], None],
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self.engine = engine
        self.tick_s = tick_s
        self._on_result = on_result
        self._loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voiceline-engine", daemon=True)
        self.overruns = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the tick in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        next_s = time.monotonic()
        while not self._stop.is_set():
            delay = next_s - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            started = time.perf_counter()
            try:
                result = self.engine.tick()
            except Exception:  # one bad tick must not end live monitoring
                self.failures += 1
                log.exception("engine tick failed; continuing with the next one")
                result = None
            latency_s = time.perf_counter() - started
            if result is not None:
                try:
                    if self._loop is None:
                        self._on_result(result, latency_s)
                    else:
                        self._loop.call_soon_threadsafe(self._on_result, result, latency_s)
                except (RuntimeError, OSError):  # the loop or pipe has closed: shutting down
                    break
            next_s += self.tick_s
            now = time.monotonic()
            if next_s < now:
                self.overruns += 1
                next_s = now
