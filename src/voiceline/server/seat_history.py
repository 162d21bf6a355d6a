"""Each seat's last minutes of the seat snapshot, kept in memory for the seat detail.

The console draws an agent's loudness, pitch and speaking rate over the last minutes; a
page that has just opened has seen none of them, so the server keeps them: every ``seats``
message the dashboards get (about once a second) appends one point per scored seat to that
seat's ring. A ring holds at most ``max_points`` points and none older than ``window_s``:
600 points of 8 float64 and a call id take 43 kB a seat, 43 MB for 1,000 seats. A ring
starts over when another agent sits down at the seat (another voice, another baseline),
as the console's own history does; each point carries its call id, so a call's boundary
shows. A seat whose points have all aged out is forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

FIELDS = ("loudness_sone", "f0_hz", "speech_rate_syl_s", "agitation", "low_energy",
          "deviation", "agent_speaking")
"""Per point, besides ``t`` and ``call_id``: the snapshot's values (None where missing)."""


class _Ring:
    """One seat's points, oldest first from ``(next - size) % capacity``."""

    __slots__ = ("agent_id", "call_ids", "data", "next", "size")

    def __init__(self, agent_id: str | None, capacity: int) -> None:
        self.agent_id = agent_id
        self.data = np.full((capacity, 1 + len(FIELDS)), np.nan)  # (points, t + FIELDS)
        self.call_ids: list[str | None] = [None] * capacity
        self.next = 0
        self.size = 0

    def order(self) -> np.ndarray:
        """Row indices, oldest point first."""
        capacity = self.data.shape[0]
        return (self.next - self.size + np.arange(self.size)) % capacity

    def drop_before(self, cutoff_t: float) -> None:
        capacity = self.data.shape[0]
        while self.size and self.data[(self.next - self.size) % capacity, 0] < cutoff_t:
            self.size -= 1


def _number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return math.nan


class SeatHistory:
    """The last ``window_s`` of every seat's snapshot points, at most ``max_points`` each.

    Parameters
    ----------
    window_s : float
        Points older than this (against the newest snapshot's ``t``) are dropped.
    max_points : int
        Ring size per seat: ``window_s`` at the snapshot rate.
    """

    def __init__(self, window_s: float = 600.0, max_points: int = 600) -> None:
        if not (window_s > 0 and max_points >= 1):
            raise ValueError(f"window_s must be > 0 and max_points >= 1, got {window_s}, "
                             f"{max_points}")
        self.window_s = float(window_s)
        self.max_points = int(max_points)
        self._rings: dict[str, _Ring] = {}
        self._latest_t = -math.inf

    def __len__(self) -> int:
        return len(self._rings)

    def __contains__(self, seat_id: object) -> bool:
        return seat_id in self._rings

    def add(self, t: float, seats: Iterable[dict]) -> None:
        """Record one ``seats`` message: its ``t`` (unix s) and its seat entries.

        Entries that are not scored (starting, unscored) carry no voice and are skipped.
        A repeated ``t`` is ignored; an earlier one (the clock was set back) starts every
        ring over, so that each stays in time order.
        """
        if t == self._latest_t:
            return
        if t < self._latest_t:
            self._rings.clear()
        self._latest_t = t
        for seat in seats:
            seat_id = seat.get("seat_id")
            if not seat.get("scored") or not isinstance(seat_id, str):
                continue
            agent_id = seat.get("agent_id")
            ring = self._rings.get(seat_id)
            if ring is None or ring.agent_id != agent_id:
                ring = self._rings[seat_id] = _Ring(agent_id, self.max_points)
            row = ring.next
            ring.data[row, 0] = t
            ring.data[row, 1:] = [_number(seat.get(name)) for name in FIELDS]
            ring.call_ids[row] = seat.get("call_id")
            ring.next = (row + 1) % self.max_points
            ring.size = min(ring.size + 1, self.max_points)
        cutoff_t = t - self.window_s
        for seat_id, ring in list(self._rings.items()):
            ring.drop_before(cutoff_t)
            if not ring.size:
                del self._rings[seat_id]

    def agent_of(self, seat_id: str) -> str | None:
        """The agent whose points the seat's ring holds (None if none or unknown)."""
        ring = self._rings.get(seat_id)
        return ring.agent_id if ring is not None else None

    def points(self, seat_id: str, since: float | None = None) -> list[dict]:
        """The seat's points at or after ``since`` (unix s), oldest first, NaN as None.

        Each is ``{t, call_id, loudness_sone, f0_hz, speech_rate_syl_s, agitation,
        low_energy, deviation, agent_speaking}``.
        """
        ring = self._rings.get(seat_id)
        if ring is None:
            return []
        cutoff_t = self._latest_t - self.window_s
        if since is not None:
            cutoff_t = max(cutoff_t, since)
        out = []
        for row in ring.order():
            t, *values = ring.data[row].tolist()
            if t < cutoff_t:
                continue
            point: dict = {"t": t, "call_id": ring.call_ids[row]}
            for name, value in zip(FIELDS, values, strict=True):
                point[name] = None if math.isnan(value) else value
            if point["agent_speaking"] is not None:
                point["agent_speaking"] = point["agent_speaking"] > 0
            out.append(point)
        return out
