"""Thresholds from reviewers' verdicts: how strict each check would have to be to reach a
precision QA leads can trust.

Every flag carries the value its check compared with its threshold (a silence's length
for ``dead_air``, the judged probability for the voice checks, …: :data:`THRESHOLD_OF`).
Reviewers confirm or dismiss flags. For a check whose judged flags fall short of the
target precision, the least strict setting at which the flags it would still have
raised reach the target is the suggestion, with what it costs: the confirmed flags it
would have dropped. Verdicts only say something about flags that were raised, so a
suggestion only ever makes a check stricter; a check that reaches the target keeps its
setting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

#: Per check: the evidence key of the value its threshold is compared with, the
#: setting, and +1 when a higher value is more severe (the flag needs value >= setting)
#: or -1 when lower is (``low_level``: the level must be under the setting). Exact for
#: the timing checks, the agent's voice checks (a turn's judged mean) and fast speech's
#: tempo; for caller agitation, clipping and low level a flag can also shrink or split
#: under a stricter setting, so the suggestion is a close guide there, not a replay.
THRESHOLD_OF: dict[str, tuple[str, str, int]] = {
    "dead_air": ("silence_s", "min_s", +1),
    "slow_response": ("wait_s", "min_s", +1),
    "overtalk": ("overlap_s", "min_s", +1),
    "agent_agitation": ("judged_probability", "warning", +1),
    "caller_agitation": ("judged_probability", "warning", +1),
    "agent_low_energy": ("judged_probability", "warning", +1),
    "fast_speech": ("tempo_ratio", "ratio", +1),
    "clipping": ("clipped_samples", "min_samples", +1),
    "low_level": ("level_dbov", "level_dbov", -1),
    "one_way_audio": ("silent_s", "min_s", +1),
    "long_call": ("duration_s", "min_s", +1),
    "long_hold": ("hold_s", "min_s", +1),
}
#: Results of earlier versions gave the voice checks' mean probability only.
FALLBACK_EVIDENCE = {"judged_probability": "mean_probability"}
#: Decimals of a suggested setting, per setting.
DECIMALS = {"min_s": 2, "warning": 3, "ratio": 3, "min_samples": 0, "level_dbov": 1}
TARGET_PRECISION = 0.8
MIN_VERDICTS = 10
#: Why a suggestion is what it is: too few verdicts, precision already at the target, no
#: setting reaches it, the setting in use is already as strict, or a stricter setting.
CODES = ("few_verdicts", "at_target", "unreachable", "already_strict", "stricter")


@dataclass(frozen=True)
class Suggestion:
    """What the verdicts of one check say about its threshold.

    ``suggested`` is None when the setting should stay (``reason`` says why, ``code``
    is one of :data:`CODES`); ``precision_after``, ``confirmed_lost`` and
    ``dismissed_removed`` describe the judged flags under the suggested setting.
    """

    code: str
    check: str
    setting: str
    judged: int
    precision: float | None
    suggested: float | None
    precision_after: float | None
    confirmed_lost: int
    dismissed_removed: int
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def judged_value(check: str, evidence: Mapping) -> float | None:
    """The value ``check``'s threshold was compared with, from a flag's evidence."""
    key = THRESHOLD_OF[check][0]
    value = evidence.get(key, evidence.get(FALLBACK_EVIDENCE.get(key, key)))
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _setting_at(value: float, setting: str, sign: int) -> float:
    """The setting that still raises a flag of ``value`` (rounded toward keeping it)."""
    step = 10.0 ** -DECIMALS[setting]
    if sign > 0:  # flag when value >= setting
        out = math.floor(value / step + 1e-9) * step
    else:  # flag when value < setting
        out = (math.floor(value / step + 1e-9) + 1) * step
    return int(out) if DECIMALS[setting] == 0 else round(out, DECIMALS[setting])


def suggest(check: str, verdicts: Iterable[tuple[float, bool]], *,
            current: float | None = None, target: float = TARGET_PRECISION,
            min_verdicts: int = MIN_VERDICTS) -> Suggestion:
    """The least strict setting of ``check`` at which its judged flags reach ``target``.

    Parameters
    ----------
    verdicts : iterable of (value, confirmed)
        Each judged flag's :func:`judged_value` and whether a reviewer confirmed it.
    current : float, optional
        The setting in use; a suggestion is never less strict than it.
    """
    _, setting, sign = THRESHOLD_OF[check]
    pairs = sorted(((sign * v, ok) for v, ok in verdicts), reverse=True)
    judged = len(pairs)
    confirmed = sum(ok for _, ok in pairs)
    precision = confirmed / judged if judged else None

    def keep(code: str, reason: str) -> Suggestion:
        return Suggestion(code, check, setting, judged, _r(precision), None, None, 0, 0,
                          reason)

    if judged < min_verdicts:
        return keep("few_verdicts", f"{judged} verdicts; at least {min_verdicts} are needed")
    if precision >= target:
        return keep("at_target", f"precision {precision:.0%} reaches the target {target:.0%}")
    # Each judged value gives a candidate setting (rounded toward keeping that flag); the
    # flags a candidate keeps are counted at the candidate itself, as the check would
    # compare them, so the numbers said are the numbers a rerun gives.
    signed = np.array([v for v, _ in pairs])[::-1]  # ascending
    oks = np.array([ok for _, ok in pairs], dtype=float)[::-1]
    ok_above = np.concatenate([np.cumsum(oks[::-1])[::-1], [0.0]])  # confirmed from i up
    best = None
    for value in sorted({v for v, _ in pairs}, reverse=True):  # strictest first
        candidate = _setting_at(sign * value, setting, sign)
        t = sign * candidate
        # kept: value >= setting (sign +1), value < setting (sign -1, i.e. -v > -s)
        first = int(np.searchsorted(signed, t - 1e-9, side="left") if sign > 0
                    else np.searchsorted(signed, t + 1e-9, side="right"))
        kept, kept_ok = signed.size - first, int(ok_above[first])
        if kept and kept_ok and kept_ok / kept >= target:
            best = (candidate, kept, kept_ok)
    if best is None:
        return keep("unreachable", f"precision {precision:.0%}, and no stricter setting "
                    f"reaches {target:.0%}: review what the check flags, or turn it off")
    suggested, kept, kept_ok = best
    if current is not None and sign * suggested <= sign * current:
        return keep("already_strict",
                    f"the setting in use ({current:g}) is already at least as strict")
    return Suggestion(
        "stricter", check, setting, judged, _r(precision), suggested, _r(kept_ok / kept),
        confirmed - kept_ok, (judged - confirmed) - (kept - kept_ok),
        f"{setting} {suggested:g} keeps {kept_ok} of {confirmed} confirmed flags and "
        f"drops {(judged - confirmed) - (kept - kept_ok)} of {judged - confirmed} dismissed")


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def suggest_all(flags: Iterable[tuple[str, Mapping, str]], currents: Mapping[str, float]
                | None = None, *, target: float = TARGET_PRECISION,
                min_verdicts: int = MIN_VERDICTS) -> dict[str, Suggestion]:
    """:func:`suggest` for every check of :data:`THRESHOLD_OF` from judged flags
    ``(check, evidence, verdict)``; flags without the value are left out."""
    by: dict[str, list[tuple[float, bool]]] = {c: [] for c in THRESHOLD_OF}
    for check, evidence, verdict in flags:
        if check in by and verdict in ("confirmed", "dismissed"):
            value = judged_value(check, evidence)
            if value is not None:
                by[check].append((value, verdict == "confirmed"))
    currents = currents or {}
    return {c: suggest(c, v, current=currents.get(c), target=target,
                       min_verdicts=min_verdicts) for c, v in by.items()}


@dataclass(frozen=True)
class PhraseVerdicts:
    """Reviewers' verdicts on the ``forbidden_phrase`` flags that named one phrase."""

    phrase: str
    confirmed: int
    dismissed: int
    precision: float
    drop: bool  # enough verdicts, and under the target: the phrase flags ordinary speech

    def to_json(self) -> dict:
        return asdict(self)


def phrase_verdicts(flags: Iterable[tuple[str, Mapping, str]], *,
                    target: float = TARGET_PRECISION, min_verdicts: int = 5
                    ) -> list[PhraseVerdicts]:
    """Per forbidden phrase, from judged ``(check, evidence, verdict)``: the precision of
    the flags that named it, and whether to drop it from the list (at least
    ``min_verdicts``, precision under ``target``). A phrase a recogniser hears in
    ordinary sentences, or one the centre does not mind, shows here; worst first."""
    counts: dict[str, list[int]] = {}
    for check, evidence, verdict in flags:
        if check != "forbidden_phrase" or verdict not in ("confirmed", "dismissed"):
            continue
        for phrase in evidence.get("phrases") or ():
            if isinstance(phrase, str):
                counts.setdefault(phrase, [0, 0])[verdict == "dismissed"] += 1
    out = [PhraseVerdicts(p, ok, no, round(ok / (ok + no), 3),
                          ok + no >= min_verdicts and ok / (ok + no) < target)
           for p, (ok, no) in counts.items()]
    return sorted(out, key=lambda v: (v.precision, -v.dismissed, v.phrase))
