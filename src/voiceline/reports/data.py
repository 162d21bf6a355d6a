"""What a report reads from the store and the baseline directory, and nothing else.

The store's public methods give the agent's per-call voice summaries, live alerts and
pre-inspection flags. Two questions it has no method for are asked here with read-only
SQL through ``store._read()``: whether an agent id is known at all, and each agent's
speech-weighted in-range share for the anonymous team distribution (computed in SQLite
with ``json_extract``, so that a centre's worth of summaries is never loaded into Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from emotion.baseline import (
    BaselineError,
    load_all_baselines,
    load_baseline,
    population_baseline,
)
from emotion.summary import REPORT_FEATURES
from voiceline.reports.period import Period, day_start_s

#: Weeks shown in the week-over-week trend (more when the period is longer).
TREND_WEEKS = 8
#: Calls this long before the period are read too, so that a shift that began before the
#: period's first midnight is measured from its real start.
SHIFT_LOOKBACK_S = 24 * 3600.0
NO_LIMIT = 1_000_000
#: Fewest agents with calls for an anonymous team distribution (the agent included).
MIN_TEAM = 5
#: The first summary version whose in-range share is the current measure (joint, see
#: ``emotion.summary.in_usual_range``); an older share measured something else.
IN_RANGE_SINCE_VERSION = 2
_CURRENT_RANGE = f"COALESCE(json_extract(v.summary, '$.version'), 0) >= {IN_RANGE_SINCE_VERSION}"
_ONE_PER_CALL = ("NOT (v.source = 'live' AND EXISTS (SELECT 1 FROM voice_summaries q "
                 "WHERE q.call_id = v.call_id AND q.source = 'qa'))")


@dataclass
class ReportInputs:
    """Everything one report is computed from (see :func:`gather`)."""

    agent_id: str
    period: Period
    summaries: list[dict]          # the agent's, from ``history_start_s`` to the period end
    history_start_s: float
    alerts: list[dict]             # live alerts opened in the period, with ``call_started_s``
    qa_calls: list[dict]           # flagged inspected calls recorded in the period
    baseline: dict | None          # {"source", "features": {name: {q05, q25, median, q75, q95}}}
    team_shares: list[float] = field(default_factory=list)  # one per agent, anonymous
    team_scope: str = "all"        # "team" (the agent's team) or "all" agents
    tenure_since_s: float | None = None  # the id's current tenure, if it was reused
    tenure_bounded: bool = False   # nothing from before that start was read


def trend_start_day(period: Period):
    """Monday of the earliest week in the trend: at least :data:`TREND_WEEKS` weeks."""
    earliest = min(period.first_day, period.last_day - timedelta(weeks=TREND_WEEKS - 1))
    return earliest - timedelta(days=earliest.weekday())


def agent_known(store, agent_id: str) -> bool:
    """Registered, or named by any voice summary or inspected call."""
    with store._read() as conn:
        return conn.execute(
            "SELECT 1 FROM agents WHERE agent_id = ?1 UNION ALL "
            "SELECT 1 FROM voice_summaries WHERE agent_id = ?1 UNION ALL "
            "SELECT 1 FROM qa_calls WHERE agent_id = ?1 LIMIT 1", (agent_id,)).fetchone() \
            is not None


def _own_or_population(baselines_dir: Path, agent_id: str):
    """The agent's own baseline, else the population of the agents' (8k before 16k), as
    the live engine and pre-inspection judge an agent without one; None without either."""
    for channel_type in ("8k", "16k"):
        try:
            return load_baseline(baselines_dir, agent_id, channel_type), channel_type
        except BaselineError:
            continue
    for channel_type in ("8k", "16k"):
        agents = load_all_baselines(baselines_dir, channel_type)
        if agents:
            return population_baseline(agents, channel_type=channel_type), channel_type
    return None, None


def _baseline(baselines_dir: Path | None, agent_id: str) -> dict | None:
    if baselines_dir is None or not Path(baselines_dir).is_dir():
        return None
    base, channel_type = _own_or_population(baselines_dir, agent_id)
    if base is None:
        return None
    out = {}
    for name in REPORT_FEATURES:
        if name not in base.feature_names:
            continue
        k = base.feature_names.index(name)
        out[name] = {"median": float(base.median[k]),
                     **{q: float(base.quantiles[q][k])
                        for q in ("q05", "q25", "q75", "q95") if q in base.quantiles}}
    return {"source": base.source, "channel_type": channel_type, "features": out,
            "created": base.created, "updated": base.updated,
            "updates": int(base.notes.get("updates", 0))}


def team_shares(store, agent_id: str, start_s: float, end_s: float) -> tuple[list[float], str]:
    """Each agent's in-range share of the period (window-weighted over their calls).

    The agent's own team when it has at least ``MIN_TEAM`` agents with calls, otherwise
    every agent. Only the shares are returned, never who they belong to.
    """
    sql = ("SELECT SUM(json_extract(v.summary, '$.in_range_share') "
           "* json_extract(v.summary, '$.windows')) / SUM(json_extract(v.summary, "
           "'$.windows')) FROM voice_summaries v {join} WHERE v.started_s >= ? "
           "AND v.started_s < ? AND json_extract(v.summary, '$.windows') > 0 "
           "AND json_extract(v.summary, '$.in_range_share') IS NOT NULL AND "
           + _CURRENT_RANGE + " AND " + _ONE_PER_CALL + "{team} GROUP BY v.agent_id")
    with store._read() as conn:
        row = conn.execute("SELECT team FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
        team = row["team"] if row else None
        if team:
            rows = conn.execute(sql.format(join="JOIN agents a ON a.agent_id = v.agent_id",
                                           team=" AND a.team = ?"),
                                (start_s, end_s, team)).fetchall()
            if len(rows) >= MIN_TEAM:
                return [float(r[0]) for r in rows], "team"
        rows = conn.execute(sql.format(join="", team=""), (start_s, end_s)).fetchall()
    return [float(r[0]) for r in rows], "all"


def tenure_of(store, agent_id: str) -> float | None:
    """When the agent id's current tenure began, if it was retired and given to someone
    new (``Store.retire_agent``); None for its first."""
    with store._read() as conn:
        row = conn.execute("SELECT active_since_s FROM agents WHERE agent_id = ?",
                           (agent_id,)).fetchone()
    return None if row is None else row[0]


def gather(store, agent_id: str, period: Period, baselines_dir: Path | None, *,
           tenure_only: bool = False) -> ReportInputs:
    """Read one agent's report inputs for ``period`` (the caller checked the agent exists).

    ``tenure_only``: nothing from before the id's current tenure (what the person given
    a reused id may see); otherwise the id's whole history.
    """
    start_s, end_s = period.start_s, period.end_s
    tenure_s = tenure_of(store, agent_id)
    floor_s = tenure_s if tenure_only and tenure_s is not None else None
    history_start_s = min(day_start_s(trend_start_day(period), period.tz),
                          start_s - SHIFT_LOOKBACK_S)
    summaries = store.list_voice_summaries(agent_id=agent_id,
                                           since_s=_later(history_start_s, floor_s),
                                           until_s=end_s, limit=NO_LIMIT)
    for row in summaries:
        summary = row["summary"]
        if (summary.get("version") or 0) < IN_RANGE_SINCE_VERSION:
            summary["in_range_share"] = None  # measured otherwise; its features still count
            for segment in summary.get("segments") or []:
                segment["in_range_share"] = None
    alerts = [a for a in store.list_alerts(agent_id=agent_id,
                                           since_s=_later(start_s, floor_s), limit=10_000)
              if a["opened_s"] < end_s]
    starts: dict[str, float | None] = {}
    for alert in alerts:
        if alert["call_id"] not in starts:
            try:
                starts[alert["call_id"]] = store.get_call(alert["call_id"])["started_s"]
            except KeyError:
                starts[alert["call_id"]] = None
        alert["call_started_s"] = starts[alert["call_id"]]
    qa_calls = store.qa_queue(agent_id=agent_id, since_s=_later(start_s, floor_s),
                              until_s=end_s, limit=10_000)["calls"]
    shares, scope = team_shares(store, agent_id, start_s, end_s)
    return ReportInputs(agent_id, period, summaries, history_start_s, alerts, qa_calls,
                        _baseline(baselines_dir, agent_id), shares, scope, tenure_s,
                        floor_s is not None)


def _later(a_s: float, b_s: float | None) -> float:
    return a_s if b_s is None else max(a_s, b_s)
