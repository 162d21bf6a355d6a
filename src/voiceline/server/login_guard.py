"""Slowing down password guessing: too many failed logins lock a name or an address a while.

Failures are counted per user name and per client address over ``window_s``. At
``max_failures`` for a name, or ``max_address_failures`` from one address (higher: a
whole call centre may sit behind one NAT address), logins are refused (HTTP 429 with
``Retry-After``) until the oldest counted failure leaves the window, even with the right
password, so guessing gets nowhere while the owner waits minutes at worst. A successful
login clears its name.
Kept in memory: a restart forgets (and Argon2 still makes each guess cost).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 30
WINDOW_S = 300.0
MAX_KEYS = 100_000


class LoginGuard:
    """Failed-login counts per key (``"name:…"``, ``"addr:…"``)."""

    def __init__(self, max_failures: int = MAX_FAILURES,
                 max_address_failures: int = MAX_ADDRESS_FAILURES, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after_s(self, name: str, address: str | None) -> float:
        """Seconds until a login for this name from this address is taken (0 = now)."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(name, address):
            times = self._recent(key, now)
            limit = self.max_failures if key.startswith("name:") else self.max_address_failures
            if len(times) >= limit:
                wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, name: str, address: str | None) -> None:
        now = self.clock()
        if len(self._failures) >= MAX_KEYS:  # bounded memory under a spray of names
            self._failures.clear()
        for key in self._keys(name, address):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name.casefold()}", None)

    @staticmethod
    def _keys(name: str, address: str | None) -> list[str]:
        keys = [f"name:{name.casefold()}"]
        if address:
            keys.append(f"addr:{address}")
        return keys
