"""An agent's report as numbers: pure functions from :class:`ReportInputs` to a JSON dict.

Every share is weighted by analysis windows (about one per second of speech), so a long
call counts for what it lasted and a short one for little. A *shift* is a run of calls
with gaps under :data:`SHIFT_GAP_S`; *night* is a call starting 22:00–06:00 local time.
The team appears only as counts per bin of agents' in-range shares, never by name.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

from emotion.summary import REPORT_FEATURES, Z_EDGES
from voiceline.reports.data import MIN_TEAM, ReportInputs, trend_start_day
from voiceline.reports.period import local

REPORT_VERSION = 1
SHIFT_GAP_S = 4 * 3600.0
NIGHT_HOURS = (22, 6)  # from 22:00 to 06:00
LONG_CALL_S = 600.0
#: Hours since the start of the shift at which each position bucket begins.
POSITION_EDGES_H = (0, 2, 4, 6, 8)
LATE_H = 4.0
TEAM_BINS = 10
#: Share of a normally distributed baseline in each z bin of ``emotion.summary.Z_EDGES``.
NORMAL_Z_SHARES = (0.00135, 0.02140, 0.13591, 0.34134, 0.34134, 0.13591, 0.02140, 0.00135)


def _share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den > 0 else None


def is_night(t_s: float, tz) -> bool:
    hour = local(t_s, tz).hour
    return hour >= NIGHT_HOURS[0] or hour < NIGHT_HOURS[1]


def usable(row: dict) -> bool:
    return (row["summary"].get("windows") or 0) > 0


def pool(rows: list[dict]) -> dict:
    """Calls, talk time and window-weighted shares and feature medians of some calls.

    ``medians`` are the window-weighted means of the calls' medians; ``above``/``below``
    the shares of windows outside the baseline's 5–95 % band.
    """
    out = {"calls": len(rows), "talk_s": round(sum(r["duration_s"] for r in rows), 1),
           "speech_s": round(sum(r["summary"].get("speech_s") or 0.0 for r in rows), 1)}
    good = [r for r in rows if usable(r)]
    w = [r["summary"]["windows"] for r in good]
    total = float(sum(w))
    out["windows"] = int(total)
    # A summary of an older version has no in-range share (data.gather): it counts for
    # the features and the other shares, not for this one.
    ranged = [(r["summary"]["in_range_share"], n) for r, n in zip(good, w, strict=True)
              if r["summary"].get("in_range_share") is not None]
    out["range_windows"] = int(sum(n for _, n in ranged))
    out["in_range_share"] = _share(sum(v * n for v, n in ranged), out["range_windows"])
    for key in ("agitated_share", "low_energy_share"):
        pairs = [(r["summary"][key], n) for r, n in zip(good, w, strict=True)
                 if r["summary"].get(key) is not None]
        out[key] = _share(sum(v * n for v, n in pairs), sum(n for _, n in pairs))
    medians, above, below = {}, {}, {}
    for name in REPORT_FEATURES:
        trip = [(r["summary"]["features"][name], n) for r, n in zip(good, w, strict=True)
                if name in r["summary"].get("features", {})]
        den = sum(n for f, n in trip if f.get("median") is not None)
        medians[name] = (round(sum(f["median"] * n for f, n in trip
                                   if f.get("median") is not None) / den, 4) if den else None)
        den = sum(n for f, n in trip if f.get("above") is not None)
        above[name] = _share(sum(f["above"] * n for f, n in trip
                                 if f.get("above") is not None), den)
        den = sum(n for f, n in trip if f.get("below") is not None)
        below[name] = _share(sum(f["below"] * n for f, n in trip
                                 if f.get("below") is not None), den)
    out.update(medians=medians, above=above, below=below)
    return out


def _features(rows: list[dict], pooled: dict, baseline: dict | None) -> dict:
    out = {}
    for name in REPORT_FEATURES:
        hist = [0] * (len(Z_EDGES) + 1)
        calls = []
        for r in rows:
            f = r["summary"].get("features", {}).get(name)
            if not f or not usable(r):
                continue
            for k, count in enumerate(f.get("z_hist") or ()):
                hist[k] += int(count)
            calls.append({"t_s": r["started_s"], "median": f.get("median"),
                          "q25": f.get("q25"), "q75": f.get("q75"),
                          "windows": r["summary"]["windows"]})
        n = sum(hist)
        out[name] = {"median": pooled["medians"][name], "above": pooled["above"][name],
                     "below": pooled["below"][name], "z_hist": hist,
                     "z_shares": [round(c / n, 4) for c in hist] if n else None,
                     "baseline": (baseline or {}).get("features", {}).get(name),
                     "calls": calls}
    return out


def shifts_of(rows: list[dict]) -> list[list[dict]]:
    """Calls grouped into shifts: a gap of :data:`SHIFT_GAP_S` or more starts a new one."""
    shifts: list[list[dict]] = []
    end_s = -math.inf
    for r in sorted(rows, key=lambda r: r["started_s"]):
        if r["started_s"] - end_s >= SHIFT_GAP_S:
            shifts.append([])
        shifts[-1].append(r)
        end_s = max(end_s, r["started_s"] + r["duration_s"])
    return shifts


def position_label(k: int) -> str:
    lo = POSITION_EDGES_H[k]
    return f"{lo}+" if k == len(POSITION_EDGES_H) - 1 else f"{lo}-{POSITION_EDGES_H[k + 1]}"


def _slim(p: dict) -> dict:
    return {k: p[k] for k in ("calls", "talk_s", "windows", "range_windows", "in_range_share",
                              "agitated_share", "low_energy_share", "medians", "above",
                              "below")}


def shift_effects(history: list[dict], start_s: float, end_s: float, tz) -> tuple[dict, dict]:
    """Hour of day, position in the shift, night vs day, over the period's calls; and each
    period call's ``{call_id: hours since its shift began}``."""
    position: dict[str, float] = {}
    n_shifts = 0
    for shift in shifts_of(history):
        t0 = shift[0]["started_s"]
        inside = [r for r in shift if start_s <= r["started_s"] < end_s]
        n_shifts += bool(inside)
        for r in inside:
            position[r["call_id"]] = (r["started_s"] - t0) / 3600.0
    rows = [r for r in history if r["call_id"] in position]
    by_hour = defaultdict(list)
    by_pos = defaultdict(list)
    for r in rows:
        by_hour[local(r["started_s"], tz).hour].append(r)
        k = max(i for i, edge in enumerate(POSITION_EDGES_H) if position[r["call_id"]] >= edge)
        by_pos[k].append(r)
    hours = []
    for h in range(24):
        p = pool(by_hour[h])
        hours.append({"hour": h, "calls": p["calls"], "windows": p["windows"],
                      "in_range_share": p["in_range_share"]})
    positions = [{"bucket": position_label(k), "from_h": POSITION_EDGES_H[k],
                  **_slim(pool(by_pos[k]))} for k in range(len(POSITION_EDGES_H))]
    night = [r for r in rows if is_night(r["started_s"], tz)]
    day = [r for r in rows if not is_night(r["started_s"], tz)]
    early = [r for r in rows if position[r["call_id"]] < POSITION_EDGES_H[1]]
    late = [r for r in rows if position[r["call_id"]] >= LATE_H]
    return ({"shifts": n_shifts, "gap_h": SHIFT_GAP_S / 3600, "night_hours": NIGHT_HOURS,
             "by_hour": hours, "by_position": positions, "night": _slim(pool(night)),
             "day": _slim(pool(day)), "early": _slim(pool(early)), "late": _slim(pool(late)),
             "late_from_h": LATE_H}, position)


def weekly(history: list[dict], inputs: ReportInputs) -> list[dict]:
    """One row per week (Monday first) from the trend's start to the period's last day."""
    period = inputs.period
    monday = trend_start_day(period)
    weeks = []
    while monday <= period.last_day:
        nxt = monday + timedelta(days=7)
        rows = [r for r in history if monday <= local(r["started_s"], period.tz).date() < nxt]
        p = pool(rows)
        weeks.append({"week_start": monday.isoformat(), "calls": p["calls"],
                      "talk_s": p["talk_s"], "windows": p["windows"],
                      "range_windows": p["range_windows"],
                      "in_range_share": p["in_range_share"], "medians": p["medians"]})
        monday = nxt
    return weeks


def team_distribution(shares: list[float], own: float | None, scope: str) -> dict:
    """Counts of agents per tenth of in-range share, and the agent's own bin."""
    if own is None or len(shares) < MIN_TEAM:
        return {"available": False, "agents": len(shares), "min_agents": MIN_TEAM,
                "scope": scope}
    counts = [0] * TEAM_BINS
    for s in shares:
        counts[min(int(s * TEAM_BINS), TEAM_BINS - 1)] += 1
    ordered = sorted(shares)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"available": True, "agents": len(shares), "scope": scope, "bins": TEAM_BINS,
            "counts": counts, "you_bin": min(int(own * TEAM_BINS), TEAM_BINS - 1),
            "you": own, "median": round(median, 4), "min_agents": MIN_TEAM}


def _reason(alert: dict) -> dict:
    """An alert's words for the agent: against "usual" (their own), or the agents' usual
    when the alert says a population baseline judged it (schema 11)."""
    from emotion.explain import POPULATION, explain_drivers

    drivers = [(d["feature"], d["z"]) for d in alert.get("drivers") or ()
               if isinstance(d, dict) and isinstance(d.get("z"), int | float)]
    end = alert["closed_s"] if alert.get("closed_s") is not None else alert["updated_s"]
    duration_s = max(0.0, end - alert["opened_s"])
    if not drivers:
        return {"en": alert["explanation"], "zh": alert["explanation"]}
    whose = POPULATION if alert.get("baseline") == "population" else None
    return {lang: explain_drivers(drivers, whose, duration_s, lang=lang) for lang in ("en", "zh")}


def flagged_moments(inputs: ReportInputs) -> list[dict]:
    """Live alerts and pre-inspection flags, oldest first, each with its plain-words reason."""
    out = []
    for a in inputs.alerts:
        end = a["closed_s"] if a.get("closed_s") is not None else a["updated_s"]
        started = a.get("call_started_s")
        out.append({"source": "live", "time_s": a["opened_s"], "call_id": a["call_id"],
                    "offset_s": None if started is None else round(a["opened_s"] - started, 1),
                    "duration_s": round(max(0.0, end - a["opened_s"]), 1), "kind": a["kind"],
                    "severity": a["severity"], "reason": _reason(a), "listen": False,
                    "verdict": None})
    for call in inputs.qa_calls:
        t0 = call.get("recorded_s") or call["analysed_s"]
        for f in call["flags"]:
            evidence = f.get("evidence") or {}
            out.append({"source": "qa", "time_s": t0 + f["start_s"], "call_id": call["call_id"],
                        "offset_s": round(f["start_s"], 1),
                        "duration_s": round(f["end_s"] - f["start_s"], 1), "kind": f["check"],
                        "severity": f["severity"],
                        "reason": {"en": f["detail"], "zh": evidence.get("detail_zh")
                                   or f["detail"]},
                        "listen": True, "verdict": f.get("verdict")})
    out.sort(key=lambda m: (m["time_s"], m["call_id"]))
    return out


def judged_by_own(inputs: ReportInputs) -> tuple[list[dict], list[dict]]:
    """The summaries the report's figures pool, and those it leaves out.

    A call judged against the population (before the agent's baseline existed) measured
    the voice against other agents' ranges, so its shares say nothing about the agent's
    own usual: with a baseline of their own and calls judged against it, the report
    pools those calls only. Without such calls, every call is pooled (and the report
    says against what).
    """
    if (inputs.baseline or {}).get("source") != "agent":
        return list(inputs.summaries), []
    own = [r for r in inputs.summaries if r["summary"].get("baseline") != "population"]
    if not own:
        return list(inputs.summaries), []
    return own, [r for r in inputs.summaries if r["summary"].get("baseline") == "population"]


def build(inputs: ReportInputs, *, now_s: float) -> dict:
    """The report's numbers (guidance included) for one agent and period."""
    from voiceline.reports.guidance import guidance

    period = inputs.period
    start_s, end_s = period.start_s, period.end_s
    summaries, before_own = judged_by_own(inputs)
    rows = [r for r in summaries if start_s <= r["started_s"] < end_s]
    pooled = pool(rows)
    shift, position = shift_effects(summaries, start_s, end_s, period.tz)
    sources = [r["summary"].get("baseline") for r in rows]
    report = {
        "version": REPORT_VERSION, "agent_id": inputs.agent_id, "period": period.to_dict(),
        "generated_s": now_s,
        # since_s: the id was retired and given to someone new then (None: its first
        # holder); bounded: this report reads nothing from before it
        "tenure": {"since_s": inputs.tenure_since_s, "bounded": inputs.tenure_bounded},
        "baseline": {"source": (inputs.baseline or {}).get("source")
                     or ("population" if "population" in sources else
                         "agent" if sources else None),
                     "population_calls": sources.count("population"),
                     # calls of the period judged before the agent's baseline existed,
                     # left out of every figure (judged_by_own)
                     "left_out_calls": sum(start_s <= r["started_s"] < end_s
                                           for r in before_own),
                     "features": (inputs.baseline or {}).get("features", {}),
                     **{k: (inputs.baseline or {}).get(k) for k in ("created", "updated")},
                     "updates": (inputs.baseline or {}).get("updates", 0)},
        "totals": {**{k: pooled[k] for k in ("calls", "talk_s", "speech_s", "windows",
                                             "in_range_share", "agitated_share",
                                             "low_energy_share")},
                   "live_calls": sum(r["source"] == "live" for r in rows),
                   "qa_calls": sum(r["source"] == "qa" for r in rows),
                   "long_calls": sum(r["duration_s"] > LONG_CALL_S for r in rows),
                   # analysed, but without the current in-range share (data.gather)
                   "older_calls": sum(usable(r) and r["summary"].get("in_range_share") is None
                                      for r in rows)},
        "features": _features(rows, pooled, inputs.baseline),
        "normal_z_shares": list(NORMAL_Z_SHARES), "z_edges": list(Z_EDGES),
        "flagged": flagged_moments(inputs),
        "shift": shift,
        "weeks": weekly(summaries, inputs),
        "team": team_distribution(inputs.team_shares, pooled["in_range_share"],
                                  inputs.team_scope),
    }
    report["guidance"] = guidance(rows, pooled, report, position, period.tz)
    return report
