"""Per-call voice summaries of live calls: the engine's windows gathered, summarised at call end.

Every scored window of a call (``TickResult.windows``) is kept in memory while the call
lasts (about 0.1 KB per window, one window a second); when the call ends, the windows
are reduced to :func:`emotion.summary.summarise_call`'s compact dict against the
baseline the engine scored them with, and stored for the agent's report. Old summaries
are deleted after the retention period.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from emotion.summary import summarise_call

log = logging.getLogger("voiceline.server")
PRUNE_EVERY_S = 3600.0


class LiveSummaries:
    """Window records per live call (loop thread), summaries stored by the store thread."""

    def __init__(self, retention_days: float) -> None:
        self.retention_s = retention_days * 86400.0
        self._calls: dict[str, list] = {}
        self._pruned_s = 0.0

    def add(self, windows) -> None:
        """Keep a tick's window records (called on the event loop)."""
        for w in windows:
            if w.agent_id is None:
                continue
            self._calls.setdefault(w.call_id, []).append(
                (w.t_s, w.features.astype(np.float32), w.agitation, w.low_energy,
                 w.speech_s))

    def pop(self, call_id: str) -> list:
        return self._calls.pop(call_id, [])

    def store(self, store: Any, baselines: Any, call_id: str, agent_id: str | None,
              started_s: float, duration_s: float, records: list) -> bool:
        """Summarise and store one ended call (store thread); False if nothing to keep."""
        now = time.time()
        if now - self._pruned_s > PRUNE_EVERY_S:
            self._pruned_s = now
            removed = store.prune_voice_summaries(now - self.retention_s)
            if removed:
                log.info("deleted %d voice summaries older than the retention", removed)
        if agent_id is None or not records:
            return False
        try:
            base, _ = baselines(agent_id)
        except ValueError as exc:  # no baseline any more
            log.debug("no summary for %s: %s", call_id, exc)
            return False
        t_s = np.array([r[0] for r in records])
        summary = summarise_call(t_s, np.stack([r[1] for r in records]).astype(np.float64),
                                 np.array([r[2] for r in records], dtype=float),
                                 np.array([r[3] for r in records], dtype=float), base,
                                 speech_s=np.array([r[4] for r in records], dtype=float))
        if not summary["windows"]:
            return False
        store.save_voice_summary(call_id, "live", agent_id, started_s, duration_s, summary)
        return True
