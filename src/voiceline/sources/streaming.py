"""Moving one call's frames to the server: a bounded frame queue and the reconnecting pump.

The producer (a microphone callback, the simulator's tick) puts 20 ms frames into a
:class:`FrameQueue` and never waits; :func:`stream_call` takes them out and sends them
over a connection it opens, and reopens it with backoff when it is lost. Each reopened
connection is a new call on the wire (a new call id), as a PBX's would be: the server's
parsers see one connection per call. While no connection is up, the queue keeps the
latest frames (``max_frames``) and drops the oldest, counting them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from voiceline.sources.backoff import Backoff
from voiceline.sources.connections import RETRYABLE, CallConnection

__all__ = ["FrameQueue", "StreamCounters", "stream_call"]

log = logging.getLogger("voiceline.sources")


@dataclass
class StreamCounters:
    """Counters over one or many calls' streams.

    Attributes
    ----------
    frames_sent : int
        Audio frames sent (a frame is one 20 ms block of every channel).
    frames_dropped : int
        Frames never sent: the queue overflowed while disconnected, or the call ended
        before a connection came back.
    connections : int
        Connections opened (the first of each call and every reconnection).
    connections_open : int
        Connections open now.
    reconnects : int
        Attempts made after a failure (to connect, or of a connection).
    errors : int
        Failures: connection attempts that failed and connections lost.
    last_error : str or None
        The latest failure, in words.
    """

    frames_sent: int = 0
    frames_dropped: int = 0
    connections: int = 0
    connections_open: int = 0
    reconnects: int = 0
    errors: int = 0
    last_error: str | None = None


class FrameQueue:
    """Frames waiting to be sent, newest kept: ``put`` never blocks the producer.

    Parameters
    ----------
    max_frames : int
        Most frames held; putting one more drops the oldest (counted in
        :attr:`dropped`).
    """

    def __init__(self, max_frames: int = 250) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self._frames: collections.deque[np.ndarray] = collections.deque()
        self._max = int(max_frames)
        self._waiter: asyncio.Future | None = None
        self._finished = asyncio.Event()
        self.dropped = 0
        self.reason: str | None = None

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` was called (frames already queued are still sent)."""
        return self._finished.is_set()

    def put(self, frame: np.ndarray) -> None:
        """Queue a frame (int16, ``(channels, samples)``); ignored once finished."""
        if self._finished.is_set():
            return
        if len(self._frames) >= self._max:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._wake()

    def finish(self, reason: str | None = None) -> None:
        """No more frames: the call ends after those queued (``reason`` goes on the wire)."""
        if not self._finished.is_set():
            self.reason = reason
            self._finished.set()
            self._wake()

    def discard(self) -> int:
        """Drop every queued frame (counted in :attr:`dropped`); returns how many."""
        n = len(self._frames)
        self._frames.clear()
        self.dropped += n
        return n

    async def get(self) -> np.ndarray | None:
        """The next frame, waiting for one; None once finished and empty."""
        while not self._frames:
            if self._finished.is_set():
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    async def wait_finished(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for :meth:`finish`; True if it came."""
        try:
            await asyncio.wait_for(self._finished.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


async def stream_call(
    frames: FrameQueue,
    *,
    call_id: Callable[[int], str],
    open_connection: Callable[[str], Awaitable[CallConnection]],
    backoff: Backoff,
    counters: StreamCounters,
    label: str,
    verbose: bool = False,
) -> list[str]:
    """Send ``frames`` until the queue finishes, reconnecting with backoff.

    Parameters
    ----------
    frames : FrameQueue
        The call's frames; its :meth:`~FrameQueue.finish` ends the call.
    call_id : callable
        ``call_id(k)`` is the wire call id of the ``k``-th connection (``k`` from 0):
        every reconnection is a new call on the wire.
    open_connection : callable
        ``await open_connection(wire_call_id)`` connects and starts the call.
    backoff : Backoff
        Delays between attempts.
    counters : StreamCounters
        Updated as frames go out and connections come and go.
    label : str
        Names the stream in log messages ("seat S001").
    verbose : bool
        Log connections and losses at INFO (a seat client) instead of DEBUG (one of
        hundreds of simulated calls); failures to connect are WARNING either way
        for a verbose stream.

    Returns
    -------
    list of str
        The wire call ids that were started, in order.

    Raises
    ------
    SourceError
        When the server refuses in a way retrying cannot fix; the stream stops.
    """
    level = logging.INFO if verbose else logging.DEBUG
    started: list[str] = []
    while True:
        wire_id = call_id(len(started))
        try:
            conn = await open_connection(wire_id)
        except RETRYABLE as exc:
            counters.errors += 1
            counters.last_error = f"{label}: cannot connect: {_describe(exc)}"
            if frames.finished:
                frames.discard()
                log.log(level, "%s; the call ended meanwhile, giving up on it",
                        counters.last_error)
                return started
            delay_s = backoff.next_delay()
            log.log(logging.WARNING if verbose else level, "%s; retrying in %.1f s",
                    counters.last_error, delay_s)
            await frames.wait_finished(delay_s)
            counters.reconnects += 1
            continue
        started.append(wire_id)
        backoff.connected()
        counters.connections += 1
        counters.connections_open += 1
        log.log(level, "%s: streaming call %s", label, wire_id)
        try:
            lost = await _pump(frames, conn, counters)
        finally:
            counters.connections_open -= 1
        if lost is None:
            log.log(level, "%s: call %s ended", label, wire_id)
            return started
        counters.errors += 1
        counters.last_error = f"{label}: connection lost: {_describe(lost)}"
        if frames.finished:
            frames.discard()
            log.log(level, "%s; the call had ended, not reconnecting", counters.last_error)
            return started
        delay_s = backoff.next_delay()
        log.log(logging.WARNING if verbose else level,
                "%s (call %s); reconnecting in %.1f s with a new call id",
                counters.last_error, wire_id, delay_s)
        await frames.wait_finished(delay_s)
        counters.reconnects += 1


async def _pump(frames: FrameQueue, conn: CallConnection, counters: StreamCounters
                ) -> BaseException | None:
    """Send frames until the queue finishes (returns None) or the connection fails."""
    try:
        while (frame := await frames.get()) is not None:
            try:
                await conn.send(frame)
            except BaseException:
                frames.dropped += 1
                raise
            counters.frames_sent += 1
        await conn.close(frames.reason)
        return None
    except RETRYABLE as exc:
        conn.abort()
        return exc
    except BaseException:
        conn.abort()
        raise


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
