"""Reconnection delays: exponential backoff with jitter, reset once a connection holds.

Every source (the seat client, each simulated call) waits ``initial_s`` after its first
failure, doubling up to ``max_s``; jitter spreads 300 seats that lost the server at the
same instant so they do not all knock again in the same millisecond. A connection that
stayed up for ``stable_s`` counts as recovered: the next failure starts from
``initial_s`` again, while a server that accepts and drops at once keeps escalating.
"""

from __future__ import annotations

import random
import time

__all__ = ["Backoff"]


class Backoff:
    """Delays before reconnection attempts.

    Parameters
    ----------
    initial_s : float
        Nominal delay after the first failure (default 0.5 s).
    max_s : float
        Largest nominal delay (default 30 s); the delay never exceeds it.
    jitter : float
        Each delay is drawn uniformly from ``[(1 - jitter) * d, d]``, ``d`` the nominal
        delay (default 0.25).
    stable_s : float
        A connection up at least this long resets the sequence (default 10 s).
    rng : random.Random, optional
        Source of the jitter (for reproducible tests).
    """

    def __init__(
        self,
        initial_s: float = 0.5,
        max_s: float = 30.0,
        *,
        jitter: float = 0.25,
        stable_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s!r} and {max_s!r}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
        self.initial_s, self.max_s = float(initial_s), float(max_s)
        self.jitter, self.stable_s = float(jitter), float(stable_s)
        self._rng = rng or random.Random()
        self.failures = 0
        self._connected_at: float | None = None

    def connected(self) -> None:
        """Note that a connection is up (its lifetime decides whether the next failure resets)."""
        self._connected_at = time.monotonic()

    def reset(self) -> None:
        """Start the sequence over."""
        self.failures = 0
        self._connected_at = None

    def nominal_s(self) -> float:
        """The nominal delay for the next failure, before jitter."""
        return min(self.max_s, self.initial_s * 2.0 ** min(self.failures, 64))

    def next_delay(self) -> float:
        """A failure happened: how long to wait before the next attempt, in seconds."""
        if self._connected_at is not None:
            if time.monotonic() - self._connected_at >= self.stable_s:
                self.failures = 0
            self._connected_at = None
        nominal = self.nominal_s()
        self.failures += 1
        return nominal * (1.0 - self.jitter * self._rng.random())
