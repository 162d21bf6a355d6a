"""The engine's alert events written to the store, and the store's alert actions.

The engine names an alert by ``(call_id, kind, opened_t_s)``; the store by an integer
id. :class:`AlertRecorder` keeps the mapping from the alert's opening to its closing
and runs in the store thread only. The store is the one source of what dashboards see:
every change here appends an ``alert_events`` row, which the feed then publishes.

Acknowledging and resolving (from REST or a dashboard's websocket) go through
:func:`acknowledge` and :func:`resolve`, which write the change and its audit entry.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from voiceline.store import ConflictError, NotFoundError

log = logging.getLogger("voiceline.server")


def _drivers(drivers: Any) -> list[dict]:
    out = []
    for feature, z in drivers or ():
        z = float(z)
        out.append({"feature": str(feature), "z": round(z, 2) if math.isfinite(z) else None})
    return out


def _wall(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


class AlertRecorder:
    """Writes :class:`emotion.engine.EngineAlert` events as store alerts."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._ids: dict[tuple[str, str, float], int] = {}
        self._last: dict[tuple[str, str, float], Any] = {}  # the open alert's latest event

    def record(self, events: list) -> list[dict]:
        """Apply the events in order; returns the store alerts they produced.

        An event the store refuses (an alert on a call that has just ended, which the
        call's end already closed) is skipped and logged at debug level.
        """
        written = []
        for ev in events:
            key = (ev.call_id, ev.kind, float(ev.opened_t_s))
            try:
                alert = self._apply(ev, key)
            except (ConflictError, NotFoundError) as exc:
                log.debug("alert event %s of call %s skipped: %s", ev.type, ev.call_id, exc)
                if ev.type == "closed":
                    self._ids.pop(key, None)
                continue
            if alert is not None:
                written.append(alert)
        return written

    def _apply(self, ev: Any, key: tuple) -> dict | None:
        now_s = _wall(getattr(ev, "wall_s", None))
        explanation = ev.explanation or f"{ev.kind} above the usual"
        if ev.type in ("opened", "updated"):
            self._last[key] = ev
        if ev.type == "opened":
            alert = self.store.open_alert(
                ev.call_id, ev.kind, ev.severity, float(ev.peak), explanation,
                _drivers(ev.drivers), baseline=ev.baseline,
                baseline_updated=ev.baseline_updated or None, now_s=now_s)
            self._ids[key] = alert["id"]
            return alert
        alert_id = self._ids.get(key)
        if alert_id is None:
            return None
        if ev.type == "updated":
            return self.store.update_alert(alert_id, score=float(ev.peak), severity=ev.severity,
                                           explanation=explanation, drivers=_drivers(ev.drivers),
                                           now_s=now_s)
        if ev.type == "closed":
            del self._ids[key]
            self._last.pop(key, None)
            return self.store.close_alert(alert_id, ev.reason or None,
                                          explanation=explanation, now_s=now_s)
        log.warning("unknown engine alert event type %r; ignored", ev.type)
        return None

    def closing_explanations(self, call_id: str, ended_s: float) -> dict[int, str]:
        """The final words of the call's open alerts as it ends (store id → text): the
        detector's latest, with the time since then added to how long it lasted."""
        from emotion.explain import POPULATION, explain_drivers

        words = {}
        for key, alert_id in self._ids.items():
            ev = self._last.get(key)
            if key[0] != call_id or ev is None:
                continue
            wall_s = _wall(getattr(ev, "wall_s", None))
            lasted_s = float(ev.duration_s) + max(0.0, ended_s - wall_s if wall_s else 0.0)
            label = ev.agent_id if ev.baseline == "agent" else POPULATION
            words[alert_id] = explain_drivers(ev.drivers, label, lasted_s, "en")
        return words

    def forget(self, call_id: str) -> None:
        """Drop the mapping of a call that ended (the store closed its alerts)."""
        for key in [k for k in self._ids if k[0] == call_id]:
            del self._ids[key]
            self._last.pop(key, None)


def acknowledge(store: Any, alert_id: int, user_name: str, via: str) -> dict:
    """Acknowledge an alert and audit it; the store's errors propagate."""
    alert = store.acknowledge_alert(alert_id, user_name)
    store.audit(user_name, "acknowledge_alert", f"alert:{alert_id}", {"via": via})
    return alert


def resolve(store: Any, alert_id: int, user_name: str, note: str | None, via: str) -> dict:
    """Resolve an alert with a note and audit it; the store's errors propagate."""
    alert = store.resolve_alert(alert_id, user_name, note)
    store.audit(user_name, "resolve_alert", f"alert:{alert_id}", {"via": via, "note": note})
    return alert
