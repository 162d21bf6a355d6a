"""Event-level scoring of QA flags against the test calls' ground truth (issue 6 §3).

A flag matches a truth event of the same check in the same call if their spans overlap
or lie within :data:`TOLERANCE_S` of each other; matching is one-to-one and of maximum
size (augmenting paths, Kuhn 1955, trying the nearest candidates first), so one long
flag cannot claim two events and two flags on one event count one true positive and one
false alarm. Per check: precision = matched flags / flags, recall = matched events /
events, F1 their harmonic mean; false alarms per clean call-hour = flags on calls
without any event / hours of those calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOLERANCE_S = 1.0
#: The issue's F1 targets (issue 6 §3).
TARGETS = {
    "dead_air": 0.95, "slow_response": 0.95, "overtalk": 0.95, "clipping": 0.95,
    "low_level": 0.95, "agent_agitation": 0.85, "caller_agitation": 0.85,
    "fast_speech": 0.85, "agent_low_energy": 0.75,
    # ours, not the issue's: scored only on calls with holds (qa_bench --hold-share)
    "long_hold": 0.95,
}

Span = tuple[float, float]


def gap_s(a: Span, b: Span) -> float:
    """Seconds between two spans; 0 when they overlap or touch."""
    return max(0.0, max(a[0], b[0]) - min(a[1], b[1]))


def match_spans(flags: list[Span], events: list[Span],
                tolerance_s: float = TOLERANCE_S) -> list[tuple[int, int]]:
    """A maximum one-to-one matching of flags to events within ``tolerance_s``.

    Returns ``(flag index, event index)`` pairs.
    """
    candidates = [sorted((j for j, e in enumerate(events) if gap_s(f, e) <= tolerance_s),
                         key=lambda j, f=f: gap_s(f, events[j])) for f in flags]
    owner = [-1] * len(events)

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j not in seen:
                seen.add(j)
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in sorted(range(len(flags)), key=lambda i: len(candidates[i])):
        augment(i, set())
    return sorted((i, j) for j, i in enumerate(owner) if i >= 0)


@dataclass
class CheckScore:
    """Event-level figures of one check over a set of calls."""

    check: str
    events: int = 0
    flags: int = 0
    matched: int = 0
    clean_flags: int = 0
    missed: list[dict] = field(default_factory=list)  # unmatched truth events
    false: list[dict] = field(default_factory=list)  # unmatched flags
    hits: list[dict] = field(default_factory=list)  # matched (event, flag) pairs

    @property
    def precision(self) -> float | None:
        return self.matched / self.flags if self.flags else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.events if self.events else None

    @property
    def f1(self) -> float | None:
        if not self.events and not self.flags:
            return None
        total = self.events + self.flags
        return 2 * self.matched / total


def score_calls(truth: dict[str, dict], flags: dict[str, list[dict]],
                checks: tuple[str, ...]) -> tuple[dict[str, CheckScore], float, dict[str, int]]:
    """Per-check scores, the clean call-hours, and flags on clean calls per check.

    ``truth`` maps call_id to ``{duration_s, clean, events: [{check, start_s, end_s}]}``;
    ``flags`` maps call_id to the product's flags (a missing call has none). Flags of
    checks outside ``checks`` count only in the clean-call false alarms.
    """
    scores = {c: CheckScore(c) for c in checks}
    clean_hours = 0.0
    clean_by_check: dict[str, int] = {}
    for call_id, call in truth.items():
        mine = flags.get(call_id, [])
        if call["clean"]:
            clean_hours += call["duration_s"] / 3600
            for f in mine:
                clean_by_check[f["check"]] = clean_by_check.get(f["check"], 0) + 1
        for check in checks:
            ev = [e for e in call["events"] if e["check"] == check]
            fl = [f for f in mine if f["check"] == check]
            pairs = match_spans([(f["start_s"], f["end_s"]) for f in fl],
                                [(e["start_s"], e["end_s"]) for e in ev])
            s = scores[check]
            s.events += len(ev)
            s.flags += len(fl)
            s.matched += len(pairs)
            s.clean_flags += len(fl) if call["clean"] else 0
            hit_f = {i for i, _ in pairs}
            hit_e = {j for _, j in pairs}
            s.missed += [{"call_id": call_id, **e} for j, e in enumerate(ev) if j not in hit_e]
            s.false += [{"call_id": call_id, "clean_call": call["clean"], **f}
                        for i, f in enumerate(fl) if i not in hit_f]
            s.hits += [{"call_id": call_id, "event": ev[j], "flag": fl[i]} for i, j in pairs]
    return scores, clean_hours, clean_by_check
