"""Alert rules: per-seat alerts from window scores, with dwell, hysteresis and cooldown.

Every hop each seat may bring one scored window: an agitation and a low-energy
probability, or NaN when the agent did not speak enough (no evidence). Per seat and
kind an alert goes through one life:

- **dwell**: it opens on a window at or above ``warning`` once ``dwell_s`` of the
  last ``span_s`` of *speech windows* were at or above it (each window stands for
  ``hop_s``). Windows are 3 s long with a 1 s hop, so one loud second colours two to
  four windows (measured on acted speech); the default agitation dwell (5 of 8 at
  0.9) asks for more than that.
- **fast path**: it also opens at once on ``fast_s`` of *consecutive* speech windows
  at or above ``fast``, a level only sustained agitation usually reaches (agitation:
  two windows at or above 0.998 by default; low energy: off). This is what brings an
  agitated turn to an alert within ~3 s of its first word instead of ~5 s; the price
  is that a single very loud second that saturates two windows opens too (93 of 204
  loud seconds in ``benchmarks/capacity.py``'s replayed calls; 3 with the dwell alone,
  38 with the previous 4-of-6-at-0.7 rule). ``fast_s = 0`` turns it off.
- **severity**: "critical" when ``dwell_s`` of the last ``span_s`` hold above
  ``critical`` (at opening, or later as an "updated" event); severity never falls
  while the alert is open. A fast opening is "warning" until that holds.
- **hysteresis and hold**: it closes after ``hold_s`` of consecutive speech windows
  below ``close`` (< ``warning``); a window at or above ``close`` restarts the hold.
- **silence**: a window without evidence counts towards neither dwell, fast path nor
  hold, and keeps the state; after ``max_silence_s`` without evidence an open alert
  closes ("silence") and the dwell history is forgotten. The caller closes alerts at
  call end with :meth:`AlertRules.reset_seat`.
- **cooldown**: the same kind may not reopen on that seat until ``cooldown_s`` after
  it closed; the dwell history keeps running meanwhile.

:class:`AlertRules` keeps all this as ``(seats, kinds)`` arrays and advances every seat
in one vectorised step; Python runs per event only. Each event names its drivers, the
features whose mean z over the alert's windows pushed that kind's model head up most
(weight × z), and says so in plain words (:func:`explain_drivers`, English or Chinese).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from emotion.explain import (
    FEATURE_WORDS,
    explain_drivers,
    head_weights,
    top_drivers,
)
from emotion.scoring import HEADS
from emotion.windows import FEATURE_NAMES

KINDS = HEADS
SEVERITIES = ("warning", "critical")
def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def _windows(seconds: float, hop_s: float) -> int:
    """Whole windows of ``hop_s`` covering ``seconds`` (rounded up)."""
    return math.ceil(seconds / hop_s - 1e-9)


class AlertConfigError(ValueError):
    """An alert setting is unknown or out of range; the message names it."""


@dataclass(frozen=True)
class KindConfig:
    """Thresholds (probabilities) and times (s) of one kind of alert.

    Attributes
    ----------
    warning, critical : float
        Probability at or above which a window is hot, and critical.
    close : float
        Probability below which a window counts towards closing (< ``warning``).
    dwell_s, span_s : float
        Speech seconds at or above ``warning`` needed among the last ``span_s`` of
        speech windows to open (at least two windows).
    fast, fast_s : float
        The fast path: ``fast_s`` of consecutive speech windows at or above ``fast``
        (>= ``warning``) open at once, before the dwell is complete (at least two
        windows; 0 turns it off).
    hold_s : float
        Consecutive speech seconds below ``close`` that close an open alert.
    cooldown_s : float
        Seconds after a close before the same kind may reopen on that seat.
    """

    warning: float = 0.7
    critical: float = 0.9
    close: float = 0.5
    dwell_s: float = 4.0
    span_s: float = 6.0
    hold_s: float = 5.0
    cooldown_s: float = 30.0
    fast: float = 1.0
    fast_s: float = 0.0

    def __post_init__(self) -> None:
        problems = [f"{f.name} must be a number, not {getattr(self, f.name)!r}"
                    for f in fields(self) if not _is_number(getattr(self, f.name))]
        if problems:
            raise AlertConfigError("; ".join(problems))
        if not 0.0 <= self.close < self.warning <= self.critical <= 1.0:
            problems.append(
                f"need 0 <= close < warning <= critical <= 1, got close={self.close}, "
                f"warning={self.warning}, critical={self.critical}")
        if not self.warning <= self.fast <= 1.0:
            problems.append(f"need warning <= fast <= 1, got warning={self.warning}, "
                            f"fast={self.fast}")
        problems += [f"{name} must be >= 0 s, got {getattr(self, name)}"
                     for name in ("dwell_s", "span_s", "hold_s", "cooldown_s", "fast_s")
                     if not getattr(self, name) >= 0.0]
        if self.span_s < self.dwell_s:
            problems.append(f"span_s ({self.span_s}) must be >= dwell_s ({self.dwell_s})")
        if problems:
            raise AlertConfigError("; ".join(problems))


@dataclass(frozen=True)
class AlertConfig:
    """All alert settings; :meth:`from_dict` reads them from a TOML/JSON table.

    Attributes
    ----------
    agitation, low_energy : KindConfig
        Agitation opens on 5 of the last 8 s of speech windows at or above 0.9, or at
        once on 2 consecutive windows at or above 0.998 (the fast path); chosen on
        ``benchmarks/capacity.py --sections detection`` (median ~3 s from the first
        agitated speech, <= 1 false agitation alert per agent-shift on synthetic and
        replayed acted neutral speech; benchmarks/RESULTS.md). Low energy (fatigue,
        monotony) is slow and its head weaker (LOSO AUC ~0.74 vs 0.97), so it needs 25
        of 30 s of speech at or above 0.8 to open (20 of 30 s at 0.7 gave 9 false alerts
        in 8.6 h of replayed neutral speech), holds longer, cools longer and has no fast
        path.
    hop_s : float
        Seconds of speech each scored window stands for (the windower's hop).
    max_silence_s : float
        Seconds without evidence after which an open alert closes and the dwell
        history is forgotten.
    """

    agitation: KindConfig = KindConfig(warning=0.9, critical=0.95, dwell_s=5.0, span_s=8.0,
                                       fast=0.998, fast_s=2.0)
    low_energy: KindConfig = KindConfig(warning=0.8, dwell_s=25.0, span_s=30.0, hold_s=10.0,
                                        cooldown_s=60.0)
    hop_s: float = 1.0
    max_silence_s: float = 20.0

    def __post_init__(self) -> None:
        for name in ("hop_s", "max_silence_s"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0.0):
                raise AlertConfigError(f"{name} must be a number > 0 s, got {value!r}")
        for kind in KINDS:
            rules = getattr(self, kind)
            if not isinstance(rules, KindConfig):
                raise AlertConfigError(f"{kind} must be a KindConfig, got {rules!r}")
            for name in ("dwell_s", "fast_s"):
                seconds = getattr(rules, name)
                if (name == "dwell_s" or seconds > 0) and _windows(seconds, self.hop_s) < 2:
                    raise AlertConfigError(
                        f"{kind}.{name} = {seconds} s is less than two windows of "
                        f"hop_s = {self.hop_s} s: a single window could open an alert")

    @classmethod
    def from_dict(cls, data: Mapping) -> AlertConfig:
        """Settings from a mapping such as ``{"agitation": {"warning": 0.75}}``; what is
        not given keeps its default. Raises :class:`AlertConfigError` on an unknown key
        or an out-of-range value."""
        if not isinstance(data, Mapping):
            raise AlertConfigError(f"alert settings must be a table, got {type(data).__name__}")
        default = cls()
        top = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - top)
        if unknown:
            raise AlertConfigError(f"unknown alert setting(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(sorted(top))}")
        values = {k: v for k, v in data.items() if k not in KINDS}
        for kind in KINDS:
            table = data.get(kind, {})
            if not isinstance(table, Mapping):
                raise AlertConfigError(f"{kind} must be a table of settings, got {table!r}")
            known = {f.name for f in fields(KindConfig)}
            unknown = sorted(set(table) - known)
            if unknown:
                raise AlertConfigError(
                    f"unknown alert setting(s) {', '.join(f'{kind}.{k}' for k in unknown)}; "
                    f"known: {', '.join(sorted(known))}")
            try:
                values[kind] = replace(getattr(default, kind), **table)
            except AlertConfigError as error:
                raise AlertConfigError(f"{kind}: {error}") from None
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain nested dict (JSON/TOML-ready) that :meth:`from_dict` reads back."""
        return asdict(self)


@dataclass(frozen=True)
class AlertEvent:
    """One change in a seat's alert.

    Attributes
    ----------
    type : str
        "opened", "updated" (escalated to critical) or "closed".
    seat : int
    kind : str
        "agitation" or "low_energy".
    severity : str
        "warning" or "critical".
    opened_t_s, t_s : float
        When the alert opened, and when this event happened (window end times, s).
    duration_s : float
        From the first window of the episode to this event, s.
    peak : float
        Highest probability of the kind over the episode's windows.
    drivers : tuple of (str, float)
        Up to 3 features that pushed the kind up most: (feature name, mean z over the
        episode's windows at or above ``close``), largest contribution first.
    explanation : str
        The drivers in plain words, in the agent's own terms.
    reason : str
        "dwell" or "fast" (opened), "escalated", "recovered", "silence", or the caller's
        (e.g. "call ended").
    """

    type: str
    seat: int
    kind: str
    severity: str
    opened_t_s: float
    t_s: float
    duration_s: float
    peak: float
    drivers: tuple[tuple[str, float], ...]
    explanation: str
    reason: str


class AlertRules:
    """Alert state of many seats, advanced one scored window per seat per step.

    Parameters
    ----------
    n_seats : int
        Seats at start (all in use); :meth:`add_seat` adds more.
    config : AlertConfig, optional
    weights : array ``(kinds, F)`` or mapping kind → ``(F,)``, optional
        Head weights that say which way a feature pushes each kind; default from
        :data:`emotion.explain.DEFAULT_MODEL_CARD`.
    feature_names : tuple of str
        Names of the columns of ``z``.
    agent : callable or mapping, optional
        Seat index → agent label for the explanations (looked up at each event);
        default "seat N". A label of None says "usual" (population baseline).
    lang : str
        Language of the explanations, "en" or "zh".
    """

    def __init__(self, n_seats: int, config: AlertConfig | None = None, *, weights=None,
                 feature_names: tuple[str, ...] = FEATURE_NAMES,
                 agent: Callable[[int], str | None] | Mapping[int, str] | None = None,
                 lang: str = "en") -> None:
        self.config = config if config is not None else AlertConfig()
        self.feature_names = tuple(feature_names)
        if weights is None:
            weights = head_weights(feature_names=self.feature_names)
        elif isinstance(weights, Mapping):
            weights = [weights[kind] for kind in KINDS]
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.shape != (len(KINDS), len(self.feature_names)):
            raise ValueError(f"weights must have shape {(len(KINDS), len(self.feature_names))}, "
                             f"got {self.weights.shape}")
        if lang not in FEATURE_WORDS:
            raise ValueError(f"lang must be one of {', '.join(FEATURE_WORDS)}, got {lang!r}")
        self.agent, self.lang = agent, lang
        cfg = self.config
        kinds = [getattr(cfg, kind) for kind in KINDS]
        self._warning = np.array([k.warning for k in kinds])
        self._critical = np.array([k.critical for k in kinds])
        self._close = np.array([k.close for k in kinds])
        self._cooldown_s = np.array([k.cooldown_s for k in kinds])
        self._fast = np.array([k.fast for k in kinds])
        self._dwell_n = np.array([_windows(k.dwell_s, cfg.hop_s) for k in kinds])
        self._fast_n = np.array([_windows(k.fast_s, cfg.hop_s) if k.fast_s > 0 else 0
                                 for k in kinds])
        self._span_n = np.array([_windows(k.span_s, cfg.hop_s) for k in kinds])
        self._hold_n = np.array([max(1, _windows(k.hold_s, cfg.hop_s)) for k in kinds])
        self._t_s = -math.inf
        self._s = self._fresh(n_seats)
        self._s["active"][:] = True
        self._ring_base = self._ring_offsets(n_seats)

    @property
    def n_seats(self) -> int:
        """Length of the seat axis that :meth:`step` expects (free slots included)."""
        return len(self._s["active"])

    @property
    def active(self) -> np.ndarray:
        """``(seats,)`` bool: which seat slots are in use."""
        return self._s["active"].copy()

    @property
    def open(self) -> np.ndarray:
        """``(seats, kinds)`` bool: which alerts are open."""
        return self._s["open"].copy()

    def step(self, t_s: float, agitation: np.ndarray, low_energy: np.ndarray,
             z: np.ndarray, valid: np.ndarray) -> list[AlertEvent]:
        """Advance every seat by one scored window; return the events, by seat then kind.

        Parameters
        ----------
        t_s : float
            End time of this tick's windows, s (not decreasing).
        agitation, low_energy : ndarray, shape (seats,)
            Probabilities; NaN = no evidence for that kind.
        z : ndarray, shape (seats, F)
            Robust z of the windows (finite where there is evidence).
        valid : ndarray of bool, shape (seats,)
            Seats with a window this tick; others are silent.
        """
        t_s = float(t_s)
        if t_s < self._t_s:
            raise ValueError(f"t_s went back from {self._t_s} to {t_s}")
        n, n_f = self.n_seats, len(self.feature_names)
        p = np.stack((np.asarray(agitation, np.float64), np.asarray(low_energy, np.float64)),
                     axis=1)
        z = np.asarray(z, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        if p.shape != (n, 2) or z.shape != (n, n_f) or valid.shape != (n,):
            raise ValueError(f"expected agitation, low_energy and valid of shape ({n},) and z "
                             f"of shape ({n}, {n_f}); got {p.shape[:1]}, {z.shape}, "
                             f"{valid.shape}")
        self._t_s = t_s
        s = self._s
        evidence = (valid & s["active"])[:, None] & np.isfinite(p)
        level = np.where(evidence, (p >= self._warning).astype(np.int8)
                         + (p >= self._critical), 0).astype(np.int8)
        ring = s["ring"].reshape(-1)  # a view: slot (seat, kind, i) at ring_base + i
        slot = self._ring_base + s["ptr"]
        old = ring[slot]
        new = np.where(evidence, level, old)
        ring[slot] = new
        s["n_hot"] += new > 0
        s["n_hot"] -= old > 0
        s["n_crit"] += new > 1
        s["n_crit"] -= old > 1
        s["ptr"] = np.where(evidence, (s["ptr"] + 1) % self._span_n, s["ptr"])
        s["run_fast"] = np.where(evidence, np.where(p >= self._fast, s["run_fast"] + 1, 0),
                                 s["run_fast"])
        np.copyto(s["last_t"], t_s, where=evidence)

        was_open = s["open"].copy()
        hot = level > 0
        self._end_episode(~was_open & (s["n_hot"] == 0) & np.isfinite(s["onset_t"]))
        np.copyto(s["onset_t"], t_s, where=hot & np.isnan(s["onset_t"]))
        episode = np.isfinite(s["onset_t"])
        elevated = evidence & (p >= self._close)
        counted = episode & elevated
        if counted.any():
            seats, kinds = np.nonzero(counted)
            s["z_sum"][seats, kinds] += z[seats]
            s["z_n"] += counted
        s["peak"] = np.where(episode & evidence, np.fmax(s["peak"], p), s["peak"])

        dwell_critical = s["n_crit"] >= self._dwell_n
        fast = evidence & (self._fast_n > 0) & (s["run_fast"] >= self._fast_n)
        opening = (~was_open & hot & ((s["n_hot"] >= self._dwell_n) | fast)
                   & (t_s >= s["closed_t"] + self._cooldown_s))
        escalating = was_open & ~s["critical"] & (level > 1) & dwell_critical
        s["below"] = np.where(was_open & evidence, np.where(elevated, 0, s["below"] + 1),
                              s["below"])
        recovered = was_open & (s["below"] >= self._hold_n)
        long_silent = ~evidence & (t_s - s["last_t"] >= self.config.max_silence_s)
        silent = was_open & long_silent
        s["open"] |= opening
        s["critical"] = np.where(opening, dwell_critical, s["critical"] | escalating)
        np.copyto(s["opened_t"], t_s, where=opening)
        np.copyto(s["below"], 0, where=opening)

        events: list[AlertEvent] = []
        changed = opening | escalating | recovered | silent
        if changed.any():
            for seat, k in zip(*np.nonzero(changed), strict=True):
                if opening[seat, k]:
                    reason = "dwell" if s["n_hot"][seat, k] >= self._dwell_n[k] else "fast"
                    events.append(self._event("opened", seat, k, reason))
                elif escalating[seat, k]:
                    events.append(self._event("updated", seat, k, "escalated"))
                else:
                    reason = "recovered" if recovered[seat, k] else "silence"
                    events.append(self._event("closed", seat, k, reason))
            self._close_alerts(recovered | silent)
        forget = long_silent & ((s["n_hot"] > 0) | np.isfinite(s["onset_t"]))
        if forget.any():
            s["ring"][forget] = 0
            s["n_hot"][forget] = 0
            s["n_crit"][forget] = 0
            s["run_fast"][forget] = 0
            self._end_episode(forget)
        return events

    def add_seat(self) -> int:
        """Take a free seat slot (the lowest) or grow the seat axis by one; its index."""
        free = np.flatnonzero(~self._s["active"])
        if len(free):
            seat = int(free[0])
        else:
            seat = self.n_seats
            for name, fresh in self._fresh(1).items():
                self._s[name] = np.concatenate([self._s[name], fresh])
            self._ring_base = self._ring_offsets(self.n_seats)
        self._s["active"][seat] = True
        return seat

    def reset_seat(self, seat: int, reason: str = "call ended",
                   t_s: float | None = None) -> list[AlertEvent]:
        """Close the seat's open alerts with ``reason`` and start it afresh (new call):
        dwell history and cooldown are forgotten. ``t_s`` defaults to the last step's."""
        if not (0 <= seat < self.n_seats and self._s["active"][seat]):
            raise ValueError(f"seat {seat} is not in use (seats in use: "
                             f"{np.flatnonzero(self._s['active']).tolist()})")
        t_s = self._t_s if t_s is None else float(t_s)
        events = [self._event("closed", seat, k, reason, t_s)
                  for k in np.flatnonzero(self._s["open"][seat])]
        for name, fresh in self._fresh(1).items():
            self._s[name][seat] = fresh[0]
        self._s["active"][seat] = True
        return events

    def remove_seat(self, seat: int, t_s: float | None = None) -> list[AlertEvent]:
        """Close the seat's open alerts ("seat left") and free its slot for :meth:`add_seat`."""
        events = self.reset_seat(seat, "seat left", t_s)
        self._s["active"][seat] = False
        return events

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        shape = (n, len(KINDS))
        return {
            "active": np.zeros(n, bool),
            "ring": np.zeros((*shape, int(self._span_n.max())), np.int8),
            "ptr": np.zeros(shape, np.int64),
            "n_hot": np.zeros(shape, np.int64),
            "n_crit": np.zeros(shape, np.int64),
            "run_fast": np.zeros(shape, np.int64),
            "last_t": np.full(shape, -np.inf),
            "onset_t": np.full(shape, np.nan),
            "z_sum": np.zeros((*shape, len(self.feature_names))),
            "z_n": np.zeros(shape, np.int64),
            "peak": np.zeros(shape),
            "open": np.zeros(shape, bool),
            "critical": np.zeros(shape, bool),
            "opened_t": np.full(shape, np.nan),
            "closed_t": np.full(shape, -np.inf),
            "below": np.zeros(shape, np.int64),
        }

    def _ring_offsets(self, n: int) -> np.ndarray:
        length = self._s["ring"].shape[-1]
        return (np.arange(n * len(KINDS)) * length).reshape(n, len(KINDS))

    def _end_episode(self, mask: np.ndarray) -> None:
        if not mask.any():
            return
        s = self._s
        s["onset_t"][mask] = np.nan
        s["z_sum"][mask] = 0.0
        s["z_n"][mask] = 0
        s["peak"][mask] = 0.0

    def _close_alerts(self, mask: np.ndarray) -> None:
        s = self._s
        s["open"][mask] = False
        s["critical"][mask] = False
        s["below"][mask] = 0
        s["opened_t"][mask] = np.nan
        s["closed_t"][mask] = self._t_s
        self._end_episode(mask)

    def _event(self, type_: str, seat, k, reason: str, t_s: float | None = None) -> AlertEvent:
        s, seat, k = self._s, int(seat), int(k)
        t_s = self._t_s if t_s is None else t_s
        mean_z = s["z_sum"][seat, k] / max(int(s["z_n"][seat, k]), 1)
        drivers = top_drivers(mean_z, self.weights[k], self.feature_names)
        duration_s = t_s - float(s["onset_t"][seat, k]) + self.config.hop_s
        if callable(self.agent):
            label = self.agent(seat)
        elif self.agent is not None:
            label = self.agent.get(seat)
        else:
            label = f"seat {seat}"
        return AlertEvent(
            type=type_, seat=seat, kind=KINDS[k], severity=SEVERITIES[int(s["critical"][seat, k])],
            opened_t_s=float(s["opened_t"][seat, k]), t_s=t_s, duration_s=duration_s,
            peak=float(s["peak"][seat, k]), drivers=drivers,
            explanation=explain_drivers(drivers, label, duration_s, self.lang), reason=reason,
        )

