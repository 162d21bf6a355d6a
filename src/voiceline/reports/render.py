"""The report as HTML: one self-contained printable file, or a fragment for the console.

Everything the reader needs is inline (CSS and SVG, no scripts, no external assets), so
the file opens from a disk or an e-mail and prints to PDF as it looks. The console
injects the same fragment (with ``interactive=True``, whose flagged moments of recorded
calls carry "listen" buttons) into the agent's page.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from urllib.parse import urlencode

from voiceline.reports.period import Period, PeriodError, local, parse_tz, zone_key
from voiceline.reports.svg import band_chart, bar_chart
from voiceline.reports.words import (
    CHECKS,
    FEATURES,
    LABELS,
    clock,
    duration,
    pct,
    show,
    unit,
)

CSS = """
.vl-report { --ink: #1f2933; --muted: #5b6673; --line: #d9dee4; --paper: #fff;
  --accent: #1f6fb8; --warm: #a34510; color: var(--ink); background: var(--paper);
  font: 14px/1.5 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
  system-ui, sans-serif; max-width: 860px; margin: 0 auto; padding: 24px 28px; }
.vl-report h1 { font-size: 22px; margin: 0 0 4px; }
.vl-report h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px;
  border-bottom: 2px solid var(--line); }
.vl-report h3 { font-size: 14px; margin: 16px 0 2px; }
.vl-report p, .vl-report li { margin: 4px 0; }
.vl-report .meta, .vl-report .intro, .vl-report .line, .vl-report .foot { color: var(--muted); }
.vl-report .figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; padding: 0; }
.vl-report .figures div { flex: 1 1 160px; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 12px; }
.vl-report .figures dt { color: var(--muted); font-size: 12px; }
.vl-report .figures dd { margin: 0; font-size: 22px; font-weight: 600; }
.vl-report .figures dd small { display: block; font-size: 12px; font-weight: 400;
  color: var(--muted); }
.vl-report .guidance li { margin: 6px 0; }
.vl-report .vl-chart { width: 100%; height: auto; display: block; margin: 4px 0 8px;
  background: #fff; }
.vl-report .dist { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
  gap: 4px 16px; }
.vl-report .legend { font-size: 12px; color: var(--muted); }
.vl-report .legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px;
  vertical-align: -1px; }
.vl-report table { border-collapse: collapse; width: 100%; font-size: 13px; }
.vl-report th, .vl-report td { border-bottom: 1px solid var(--line); padding: 5px 6px;
  text-align: left; vertical-align: top; }
.vl-report th { color: var(--muted); font-weight: 600; }
.vl-report .sev-critical { color: #a11d2b; font-weight: 600; }
.vl-report .verdict { display: block; color: var(--muted); font-size: 12px; }
.vl-report a { color: var(--accent); }
.vl-report button.listen { font: inherit; font-size: 13px; color: var(--accent);
  background: #fff; border: 1px solid var(--accent); border-radius: 4px; padding: 2px 8px;
  cursor: pointer; }
.vl-report button.listen:focus-visible, .vl-report a:focus-visible {
  outline: 3px solid #f0b400; outline-offset: 2px; }
.vl-report section { break-inside: avoid-page; }
@media print {
  @page { size: A4; margin: 14mm; }
  .vl-report { max-width: none; padding: 0; font-size: 11pt; }
  .vl-report h2 { break-after: avoid; }
  .vl-report figure, .vl-report .feature, .vl-report tr { break-inside: avoid; }
  .vl-report * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .vl-report button.listen { display: none; }
}
"""

Z_LABELS = ("<−3", "−3…−2", "−2…−1", "−1…0", "0…1", "1…2", "2…3", ">3")


def _tz(report: dict):
    """The report's time zone from its name (the local one for "local")."""
    try:
        return parse_tz(report["period"]["tz"])
    except PeriodError:
        return None


def _zone(period: Period, L: dict) -> str:
    """"times in Asia/Shanghai (UTC+08:00)": a zone by its name and offsets, never by an
    abbreviation (CST is China's, the US's and Cuba's)."""
    return L["tz"].format(zone=zone_key(period.tz) or L["tz_local"],
                          offsets=" / ".join(period.utc_offsets))


def _day(stamp: str, tz) -> str:
    """The local day of an ISO 8601 time (a baseline's ``created``); the text as it is
    when it is not one."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp)
    return local(moment.timestamp(), tz).strftime("%Y-%m-%d")


def _when(t_s: float, tz) -> str:
    return local(t_s, tz).strftime("%Y-%m-%d %H:%M")


def _calls(n: int, L: dict) -> str:
    return L["calls_1"] if n == 1 else L["calls_n"].format(n=n)


def _summary(report: dict, L: dict, lang: str) -> str:
    t = report["totals"]
    base = report["baseline"]["source"]
    note = L["baseline_agent" if base == "agent" else "baseline_population"
             if base == "population" else "baseline_none"]
    made = report["baseline"].get("created")
    if base == "agent" and made:
        day = _day(made, _tz(report))
        n = report["baseline"].get("updates") or 0
        note += (L["baseline_followed"].format(created=day, n=n,
                                               updated=_day(report["baseline"]["updated"],
                                                            _tz(report)))
                 if n else L["baseline_made"].format(created=day))
    if base == "agent" and report["baseline"].get("population_calls"):
        note += L["population_calls"]
    if report["baseline"].get("left_out_calls"):
        note += L["left_out_calls"].format(n=report["baseline"]["left_out_calls"])
    since_s = (report.get("tenure") or {}).get("since_s")
    if since_s is not None:
        day = local(since_s, _tz(report)).strftime("%Y-%m-%d")
        note += L["tenure_bounded" if report["tenure"].get("bounded")
                  else "tenure_reused"].format(day=day)
    older = t.get("older_calls") or 0
    if older:
        note += L["older_summaries"].format(n=older)
    return (f'<section class="summary" aria-labelledby="s-summary"><h2 id="s-summary">'
            f'{L["summary"]}</h2><dl class="figures">'
            f'<div><dt>{L["calls"]}</dt><dd data-field="calls">{t["calls"]}<small>'
            f'{escape(L["live_qa"].format(live=t["live_calls"], qa=t["qa_calls"]))}</small>'
            f'</dd></div>'
            f'<div><dt>{L["talk"]}</dt><dd data-field="talk">{duration(t["talk_s"], lang)}</dd>'
            f'</div><div><dt>{L["in_range"]}</dt><dd data-field="in-range">'
            f'{pct(t["in_range_share"], lang)}</dd></div></dl>'
            f'<p class="intro">{escape(note)}</p></section>')


def _guidance(report: dict, L: dict, lang: str) -> str:
    items = "".join(f'<li data-id="{escape(g["id"])}">{escape(g[lang])}</li>'
                    for g in report["guidance"])
    return (f'<section class="guidance" aria-labelledby="s-guidance"><h2 id="s-guidance">'
            f'{L["guidance"]}</h2><ul>{items}</ul></section>')


def _features(report: dict, L: dict, lang: str, period: Period) -> str:
    out = [f'<section aria-labelledby="s-features"><h2 id="s-features">{L["features"]}</h2>'
           f'<p class="intro">{L["features_intro"]}</p>']
    for name, spec in FEATURES.items():
        f = report["features"][name]
        band = f["baseline"]
        label = spec[lang] if lang == "zh" else spec[lang].capitalize()
        line = L["feature_line"].format(
            median=show(name, f["median"]), unit=unit(name, lang),
            usual=show(name, band["median"]) if band else "–",
            above=pct(f["above"], lang), below=pct(f["below"], lang))
        title = f"{label} ({unit(name, lang)})"
        chart = band_chart(f["calls"], band, period, show=spec.get("show", lambda v: v),
                           title=title, desc=line, digits=spec["digits"])
        out.append(f'<div class="feature" data-feature="{name}"><h3>{escape(title)}</h3>'
                   f'<p class="line">{escape(line)}</p>{chart}</div>')
    out.append("</section>")
    return "".join(out)


def _distributions(report: dict, L: dict, lang: str) -> str:
    normal = report["normal_z_shares"]
    out = [f'<section aria-labelledby="s-dist"><h2 id="s-dist">{L["distributions"]}</h2>'
           f'<p class="intro">{L["distributions_intro"]}</p>'
           f'<p class="legend"><i style="background:#1f6fb8"></i>{L["period_label"]}'
           f'<i style="background:#9cc3ea"></i>{L["baseline_label"]}</p><div class="dist">']
    for name, spec in FEATURES.items():
        shares = report["features"][name]["z_shares"]
        if not shares:
            continue
        top = max(max(shares), max(normal))
        desc = "; ".join(f"{z}: {pct(a, lang)} / {pct(b, lang)}"
                         for z, a, b in zip(Z_LABELS, shares, normal, strict=True))
        out.append(f'<figure data-feature="{name}"><figcaption>{escape(spec[lang])}</figcaption>'
                   + bar_chart(list(Z_LABELS), [shares, normal], title=spec[lang], desc=desc,
                               ymax=min(1.0, top * 1.1), width=300, height=130, label_every=2,
                               cls="dist-chart")
                   + "</figure>")
    out.append("</div></section>")
    return "".join(out)


def _where(m: dict, L: dict, lang: str, agent: str, interactive: bool,
           console_url: str | None) -> str:
    at = clock(m["offset_s"]) if m["offset_s"] is not None else "–"
    if m["source"] == "live":
        return escape(L["live_no_audio"].format(call=m["call_id"], at=at))
    text = escape(L["in_call"].format(call=m["call_id"], at=at))
    if interactive:
        return (f'{text} <button type="button" class="listen" data-call="{escape(m["call_id"])}"'
                f' data-at="{m["offset_s"]}">{escape(L["listen"].format(at=at))}</button>')
    if console_url:
        query = urlencode({"agent": agent, "call": m["call_id"], "t": m["offset_s"]})
        href = f"{console_url.rstrip('/')}/report.html?{query}"
        return f'<a href="{escape(href)}">{text}</a>'
    return text


def _flagged(report: dict, L: dict, lang: str, tz, interactive: bool,
             console_url: str | None) -> str:
    head = f'<section aria-labelledby="s-flagged"><h2 id="s-flagged">{L["flagged"]}</h2>'
    if not report["flagged"]:
        return head + f'<p class="intro">{L["flagged_none"]}</p></section>'
    rows = []
    for m in report["flagged"]:
        kind = CHECKS[lang].get(m["kind"], m["kind"])
        verdict = (f'<span class="verdict">{L["verdict_" + m["verdict"]]}</span>'
                   if m["verdict"] else "")
        rows.append(
            f'<tr data-source="{m["source"]}" data-call="{escape(m["call_id"])}" '
            f'data-kind="{escape(m["kind"])}"><td>{_when(m["time_s"], tz)}</td>'
            f'<td class="sev-{m["severity"]}">{escape(kind)}</td>'
            f'<td>{escape(m["reason"][lang])}{verdict}</td>'
            f'<td>{_where(m, L, lang, report["agent_id"], interactive, console_url)}</td></tr>')
    return (head + f'<table class="flagged"><thead><tr><th scope="col">{L["when"]}</th>'
            f'<th scope="col">{L["kind"]}</th><th scope="col">{L["reason"]}</th>'
            f'<th scope="col">{L["where"]}</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></section>")


def _shift(report: dict, L: dict, lang: str) -> str:
    s = report["shift"]
    night = set(range(22, 24)) | set(range(0, 6))
    hours = [h["in_range_share"] for h in s["by_hour"]]
    hour_desc = "; ".join(f"{h['hour']:02d}: {pct(h['in_range_share'], lang)}"
                          for h in s["by_hour"] if h["calls"])
    pos = s["by_position"]
    pos_labels = [p["bucket"] + " h" for p in pos]
    pos_desc = "; ".join(f"{p['bucket']} h: {pct(p['in_range_share'], lang)} "
                         f"({_calls(p['calls'], L)})" for p in pos)
    nd = L["night_day"].format(night=pct(s["night"]["in_range_share"], lang),
                               ncalls=_calls(s["night"]["calls"], L),
                               day=pct(s["day"]["in_range_share"], lang),
                               dcalls=_calls(s["day"]["calls"], L))
    intro = L["shift_intro"].format(gap=round(s["gap_h"]), shifts=s["shifts"])
    return (f'<section aria-labelledby="s-shift"><h2 id="s-shift">{L["shift"]}</h2>'
            f'<p class="intro">{escape(intro)}</p>'
            f'<h3>{L["by_hour"]}</h3>'
            + bar_chart([f"{h:02d}" for h in range(24)], [hours], title=L["by_hour"],
                        desc=hour_desc or L["no_data"], shade=night, label_every=3,
                        cls="hour-chart")
            + f'<p class="line" data-field="night-day">{escape(nd)}</p>'
            f'<h3>{L["by_position"]}</h3>'
            + bar_chart(pos_labels, [[p["in_range_share"] for p in pos]],
                        title=L["by_position"], desc=pos_desc, height=130,
                        cls="position-chart")
            + "</section>")


def _weeks(report: dict, L: dict, lang: str) -> str:
    weeks = report["weeks"]
    labels = [w["week_start"][5:] for w in weeks]
    desc = "; ".join(f"{L['week_of'].format(date=w['week_start'])}: "
                     f"{pct(w['in_range_share'], lang)} ({_calls(w['calls'], L)})"
                     for w in weeks)
    return (f'<section aria-labelledby="s-weeks"><h2 id="s-weeks">{L["weeks"]}</h2>'
            f'<p class="intro">{L["weeks_intro"]}</p>'
            + bar_chart(labels, [[w["in_range_share"] for w in weeks]], title=L["weeks"],
                        desc=desc, height=130, cls="week-chart")
            + "</section>")


def _team(report: dict, L: dict, lang: str) -> str:
    team = report["team"]
    head = f'<section aria-labelledby="s-team"><h2 id="s-team">{L["team"]}</h2>'
    if not team["available"]:
        totals = report["totals"]
        none = (L["team_no_share"] if totals["windows"] and totals["in_range_share"] is None
                else L["team_none"].format(n=team["min_agents"]))
        return head + f'<p class="intro">{escape(none)}</p></section>'
    n = team["bins"]
    labels = [f"{100 * k // n}–{100 * (k + 1) // n}" for k in range(n)]
    top = max(team["counts"])
    desc = (L["you"] + ("：" if lang == "zh" else ": ") + f"{pct(team['you'], lang)}; "
            + L["team_median"].format(median=pct(team["median"], lang)) + "; "
            + "; ".join(f"{lab}%: {c}" for lab, c in zip(labels, team["counts"], strict=True)))
    scope = L["team_scope_" + team["scope"]]
    return (head + f'<p class="intro">{escape(L["team_intro"].format(scope=scope))}</p>'
            + bar_chart(labels, [team["counts"]], title=L["team"], desc=desc, ymax=top,
                        y_format=lambda v: f"{v:g}", highlight=team["you_bin"],
                        highlight_label=L["you"], height=140, cls="team-chart")
            + f'<p class="line" data-field="team">{escape(desc.split("; ")[0])} · '
            f'{escape(L["team_median"].format(median=pct(team["median"], lang)))}</p>'
            + "</section>")


def render_fragment(report: dict, lang: str = "zh", *, interactive: bool = False,
                    console_url: str | None = None, tz=None) -> str:
    """The report's body (``<article class="vl-report">``) in ``lang`` ("zh" or "en").

    ``tz``: the period's time zone object (default: from the report's ``period.tz``).
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be zh or en, got {lang!r}")
    L = LABELS[lang]
    tz = tz if tz is not None else _tz(report)
    p = report["period"]
    period = Period(date.fromisoformat(p["from"]), date.fromisoformat(p["to"]), tz)
    span = L["period"].format(first=p["from"], last=p["to"], days=p["days"])
    head = (f'<header><h1>{escape(L["title"].format(agent=report["agent_id"]))}</h1>'
            f'<p class="meta">{escape(span)}'
            f' · {escape(_zone(period, L))}</p></header>')
    parts = [head, _summary(report, L, lang), _guidance(report, L, lang)]
    if report["totals"]["windows"]:
        parts += [_features(report, L, lang, period), _distributions(report, L, lang)]
    parts += [_flagged(report, L, lang, tz, interactive, console_url)]
    if report["totals"]["windows"]:
        parts += [_shift(report, L, lang)]
    foot = L["generated"].format(time=_when(report["generated_s"], tz))
    parts += [_weeks(report, L, lang), _team(report, L, lang),
              f'<p class="foot">{escape(foot)}</p>']
    code = "zh-CN" if lang == "zh" else "en"
    return f'<article class="vl-report" lang="{code}">{"".join(parts)}</article>'


def render_document(report: dict, lang: str = "zh", *, console_url: str | None = None,
                    tz=None) -> str:
    """One self-contained HTML file: inline CSS and SVG, no scripts, printable."""
    title = LABELS[lang]["title"].format(agent=report["agent_id"])
    return ("<!doctype html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {report['period']['from']}–{report['period']['to']}"
            f"</title><style>body{{margin:0;background:#fff}}{CSS}</style></head><body>"
            + render_fragment(report, lang, console_url=console_url, tz=tz)
            + "</body></html>\n")
