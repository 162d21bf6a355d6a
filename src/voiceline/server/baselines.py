"""The engine's baseline provider: per-agent baselines from the data directory.

``<data>/baselines/<agent>.json`` are the 8 kHz baselines written by ``voiceline
calibrate --out <data>/baselines`` (the engine runs at 8 kHz). An agent without one, and
a call whose agent is unknown, is judged against the *population* baseline fitted from
every agent baseline in the directory (:func:`emotion.baseline.population_baseline`).

No baseline is shipped: when the directory holds none at all there is nothing to judge
a voice against, so the provider refuses (a :class:`~emotion.baseline.BaselineError`)
and the server records such calls without scoring them, and says so in ``/healthz``
(``scoring.enabled`` false with the reason). Scoring starts by itself for calls that
begin after the first baseline appears: the directory is re-read whenever it or any of
its baseline files changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from emotion.baseline import Baseline, BaselineError, load_all_baselines, population_baseline

CHANNEL_TYPE = "8k"
log = logging.getLogger("voiceline.server")


class BaselineBook:
    """Thread-safe ``provider(agent_id) -> (baseline, "agent" | "population")``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._agents: dict[str, Baseline] = {}
        self._population: Baseline | None = None
        self._problems: dict[str, str] = {}

    def __call__(self, agent_id: str | None) -> tuple[Baseline, str]:
        with self._lock:
            self._refresh()
            if agent_id is not None and agent_id in self._agents:
                return self._agents[agent_id], "agent"
            if self._population is not None:
                return self._population, "population"
        raise BaselineError(
            f"no voice baselines in {self.directory}: calls are recorded but not scored "
            f"until an agent is calibrated ('voiceline calibrate --agent ID --out "
            f"{self.directory} FILES')")

    def agent_baseline(self, agent_id: str) -> Baseline | None:
        """The agent's own baseline, or None."""
        with self._lock:
            self._refresh()
            return self._agents.get(agent_id)

    def agents(self) -> set[str]:
        """Agents with a baseline of their own."""
        with self._lock:
            self._refresh()
            return set(self._agents)

    def summaries(self) -> dict[str, dict]:
        """Per agent with a baseline of their own, what it rests on (for the admin page):
        ``speech_s, n_windows, channel_type, level_profile, created, updated,
        software_version``."""
        with self._lock:
            self._refresh()
            return {agent: summary(base) for agent, base in self._agents.items()}

    def problems_by_agent(self) -> dict[str, str]:
        """Agents whose own baseline file (``<agent>.json``) is there but cannot be used,
        with the reason: they are judged against the population meanwhile, and should
        not read as "no baseline" (an audit: a damaged file was reported as none)."""
        with self._lock:
            self._refresh()
            return {name.removesuffix(".json"): reason
                    for name, reason in self._problems.items()
                    if name.endswith(".json") and name.count(".") == 1}

    def status(self) -> dict:
        """For ``/healthz``: whether scoring can run, and why not."""
        with self._lock:
            self._refresh()
            n = len(self._agents)
            problems = dict(self._problems)
        unread = {"unreadable_baselines": len(problems),
                  "unreadable_example": next(iter(problems.values()), None)}
        if n:
            return {"enabled": True, "agents_with_baselines": n, "reason": None, **unread}
        reason = (f"no voice baselines in {self.directory}; calibrate agents with "
                  f"'voiceline calibrate --out {self.directory}'")
        if self.directory.exists() and not self.directory.is_dir():
            reason = (f"{self.directory} is a file, not the folder of voice baselines; move "
                      "it away and calibrate agents into that folder")
        elif problems:
            reason = (f"none of the {len(problems)} baseline file(s) in {self.directory} "
                      f"can be used (e.g. {unread['unreadable_example']})")
        return {"enabled": False, "agents_with_baselines": 0, "reason": reason, **unread}

    def _refresh(self) -> None:
        stamp = self._read_stamp()
        if stamp == self._stamp and self._stamp is not None:
            return
        self._stamp = stamp
        problems: dict[str, str] = {}
        found = load_all_baselines(self.directory, CHANNEL_TYPE, problems) if stamp else []
        if problems and problems != self._problems:
            log.warning("%d baseline file(s) in %s cannot be used and are ignored; e.g. %s",
                        len(problems), self.directory, next(iter(problems.values())))
        self._problems = problems
        self._agents = {b.agent_id: b for b in found}
        try:
            self._population = population_baseline(found, channel_type=CHANNEL_TYPE)
        except BaselineError:
            self._population = None

    def _read_stamp(self) -> tuple | None:
        """What changes when any baseline file does: the folder's own times, and each
        file's (a baseline restored by ``cp`` over the current one, or written in place,
        leaves the folder's times as they were: an audit's rollback went unseen)."""
        try:
            stat = self.directory.stat()
            files = []
            for path in self.directory.glob("*.json"):
                with contextlib.suppress(FileNotFoundError):  # replaced meanwhile
                    st = path.stat()
                    files.append((path.name, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_ino, tuple(sorted(files)))


def summary(base: Baseline) -> dict:
    """A baseline's metadata without its statistics."""
    return {"speech_s": round(base.speech_s, 1), "n_windows": base.n_windows,
            "channel_type": base.channel_type, "level_profile": base.level_profile,
            "created": base.created, "updated": base.updated,
            "software_version": base.software_version}
