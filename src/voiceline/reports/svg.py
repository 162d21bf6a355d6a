"""Inline SVG charts for the report: a feature against its usual band, and bar charts.

Each chart is a self-contained ``<svg role="img">`` with a ``<title>`` and a ``<desc>``
that say in words what it shows (the numbers are in the text next to it too), drawn in
colours that print. Coordinates are in CSS pixels of a ``viewBox``; the chart scales.
"""

from __future__ import annotations

import math
from datetime import timedelta
from html import escape

from voiceline.reports.period import Period, day_start_s

INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#d9dee4"
BAND = "#cfe3f6"
BAND_MID = "#9cc3ea"
ACCENT = "#1f6fb8"
WARM = "#c2571a"
NIGHT = "#eef0f5"
_uid = 0


def _id(prefix: str) -> str:
    global _uid
    _uid += 1
    return f"{prefix}-{_uid}"


def _open(width: int, height: int, title: str, desc: str, cls: str) -> list[str]:
    tid, did = _id("t"), _id("d")
    return [f'<svg class="vl-chart {cls}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{tid} {did}" xmlns="http://www.w3.org/2000/svg" '
            f'font-size="11" font-family="inherit">',
            f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>']


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = MUTED,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(text)}</text>")


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def band_chart(calls: list[dict], band: dict | None, period: Period, *, show, title: str,
               desc: str, digits: int) -> str:
    """One feature over the period: each call's median (dot, size by speech) and middle
    half (whisker) against the usual band (q05–q95, q25–q75) and median line."""
    width, height, left, right, top, bottom = 640, 170, 48, 10, 10, 24
    start, end = period.start_s, period.end_s
    vals = [show(v) for c in calls for v in (c["q25"], c["q75"], c["median"]) if v is not None]
    if band:
        vals += [show(band[k]) for k in ("q05", "q95") if k in band]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(t):
        return left + (t - start) / (end - start) * (width - left - right)

    def y(v):
        return top + (hi - show(v)) / (hi - lo) * (height - top - bottom)

    def y_raw(v):
        return top + (hi - v) / (hi - lo) * (height - top - bottom)

    out = _open(width, height, title, desc, "band-chart")
    for tick in _nice_ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y_raw(tick):.1f}" '
                   f'y2="{y_raw(tick):.1f}" stroke="{GRID}" stroke-width="0.5"/>')
        out.append(_text(left - 4, y_raw(tick) + 3.5, f"{tick:.{digits}f}", "end"))
    if band and {"q05", "q95", "q25", "q75", "median"} <= band.keys():
        w = width - left - right
        out.append(f'<rect class="band" x="{left}" width="{w}" y="{y(band["q95"]):.1f}" '
                   f'height="{y(band["q05"]) - y(band["q95"]):.1f}" fill="{BAND}"/>')
        out.append(f'<rect class="band-mid" x="{left}" width="{w}" y="{y(band["q75"]):.1f}" '
                   f'height="{y(band["q25"]) - y(band["q75"]):.1f}" fill="{BAND_MID}"/>')
        out.append(f'<line class="usual" x1="{left}" x2="{width - right}" '
                   f'y1="{y(band["median"]):.1f}" y2="{y(band["median"]):.1f}" stroke="{ACCENT}" '
                   'stroke-width="1.2" stroke-dasharray="4 3"/>')
    day = period.first_day
    step = max(1, period.days // 10)
    while day <= period.last_day:
        t = day_start_s(day, period.tz)
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{height - bottom}" '
                   f'stroke="{GRID}" stroke-width="0.5"/>')
        out.append(_text(x(t) + 2, height - 8, day.strftime("%m-%d"), "start"))
        day += timedelta(days=step)
    most = max((c["windows"] for c in calls), default=1)
    for c in calls:
        if c["median"] is None:
            continue
        cx = x(c["t_s"])
        if c["q25"] is not None and c["q75"] is not None:
            out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(c["q75"]):.1f}" '
                       f'y2="{y(c["q25"]):.1f}" stroke="{INK}" stroke-opacity="0.45"/>')
        r = 1.8 + 2.7 * math.sqrt(c["windows"] / most)
        out.append(f'<circle class="call" cx="{cx:.1f}" cy="{y(c["median"]):.1f}" r="{r:.1f}" '
                   f'fill="{WARM}" fill-opacity="0.8"/>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(labels: list[str], series: list[list[float | None]], *, title: str, desc: str,
              ymax: float = 1.0, y_format=lambda v: f"{round(v * 100)}%",
              colours: tuple[str, ...] = (ACCENT, BAND_MID), highlight: int | None = None,
              highlight_label: str = "", shade: set[int] | None = None,
              label_every: int = 1, width: int = 640, height: int = 150,
              cls: str = "bar-chart") -> str:
    """Vertical bars, one group per label and one bar per series (``None``: no bar).

    ``highlight`` outlines one group and writes ``highlight_label`` over it; ``shade``
    greys the background of some groups (night hours).
    """
    left, right, top, bottom = 40, 8, 18 if highlight is not None else 8, 22
    n = max(1, len(labels))
    slot = (width - left - right) / n
    bar = slot * 0.8 / max(1, len(series))
    ymax = ymax or 1.0

    def y(v):
        return top + (1 - v / ymax) * (height - top - bottom)

    out = _open(width, height, title, desc, cls)
    for k in sorted(shade or ()):
        out.append(f'<rect class="shade" x="{left + k * slot:.1f}" y="{top}" width="{slot:.1f}" '
                   f'height="{height - top - bottom}" fill="{NIGHT}"/>')
    for tick in _nice_ticks(0, ymax, 3):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}" stroke="{GRID}" stroke-width="0.5"/>')
        out.append(_text(left - 4, y(tick) + 3.5, y_format(tick), "end"))
    for g, label in enumerate(labels):
        x0 = left + g * slot + slot * 0.1
        for s, values in enumerate(series):
            v = values[g]
            if v is None:
                continue
            out.append(f'<rect class="bar s{s}" x="{x0 + s * bar:.1f}" y="{y(v):.1f}" '
                       f'width="{max(bar - 1, 1):.1f}" height="{y(0) - y(v):.1f}" '
                       f'fill="{colours[s % len(colours)]}"/>')
        if g % label_every == 0:
            out.append(_text(left + (g + 0.5) * slot, height - 8, label))
    if highlight is not None:
        hx = left + highlight * slot
        out.append(f'<rect class="you" x="{hx + 1:.1f}" y="{top}" width="{slot - 2:.1f}" '
                   f'height="{height - top - bottom}" fill="none" stroke="{WARM}" '
                   'stroke-width="2"/>')
        out.append(_text(min(max(hx + slot / 2, left + 30), width - 40), top - 5,
                         highlight_label, fill=WARM, extra=' font-weight="600"'))
    out.append("</svg>")
    return "".join(out)
