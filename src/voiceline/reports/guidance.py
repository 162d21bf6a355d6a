"""Short guidance in Chinese and English, each sentence computed from the report's numbers.

A sentence appears only when the data supports it: a feature outside the agent's usual
range in at least :data:`OFTEN` of their speech (the band's own rate is 5 % per side),
with *where* it happened when one kind of call holds most of those moments; a drop in the
in-range share late in shifts, at night, or from one week to the next. Each item keeps
the numbers it says, so a test can check the words against the seed.
"""

from __future__ import annotations

from voiceline.reports.aggregate import LATE_H, LONG_CALL_S, is_night, usable
from voiceline.reports.words import FEATURES, TIPS, pct, show, unit

#: A feature is "often" out of range above this share of speech per side.
OFTEN = 0.10
#: Where: a kind of call holds at least this share of the out-of-range moments ...
MOSTLY = 0.5
#: ... and this many times its share of all speech.
OVER_REPRESENTED = 1.25
#: Comparisons (early/late, night/day, week/week) need this much speech on each side.
MIN_WINDOWS = 60
SHIFT_DROP = 0.10
NIGHT_GAP = 0.10
WEEK_CHANGE = 0.05
#: A feature's median moved by at least this fraction of the usual band's width.
BAND_MOVE = 0.25
MAX_FEATURE_ITEMS = 3
#: The baseline may not fit the voice any more: in at least MISFIT_CALLS of the period's
#: calls (at least MISFIT_MIN_CALLS of them, each with MISFIT_MIN_WINDOWS windows), less
#: than MISFIT_IN_RANGE of the speech lay within the usual range, which holds 90 % of
#: the calibration speech by construction (emotion.summary.in_usual_range).
MISFIT_IN_RANGE = 0.5
MISFIT_CALLS = 2 / 3
MISFIT_MIN_CALLS = 5
MISFIT_MIN_WINDOWS = 30


def _misfit_item(rows: list[dict], report: dict):
    """Ask for the baseline to be checked when most calls stay far outside the usual range.

    One hard call says nothing about the baseline; most calls of a period far from it say
    that the calibration no longer describes the voice (a new headset or line, a cold
    when it was made, or too little ordinary speech in it), and every other figure of
    the report then reads against the wrong range.
    """
    shares = [r["summary"]["in_range_share"] for r in rows
              if (r["summary"].get("windows") or 0) >= MISFIT_MIN_WINDOWS
              and r["summary"].get("in_range_share") is not None]
    if len(shares) < MISFIT_MIN_CALLS:
        return None
    far = sum(share < MISFIT_IN_RANGE for share in shares)
    if far < MISFIT_CALLS * len(shares):
        return None
    made = report["baseline"].get("updated") or report["baseline"].get("created") or ""
    day = made[:10]
    en_made = f" (last written {day})" if day else ""
    zh_made = f"（最近一次写入于 {day}）" if day else ""
    return {"id": "baseline_fit", "weight": 1.0,
            "numbers": {"calls": len(shares), "far_calls": far,
                        "below": MISFIT_IN_RANGE},
            "en": f"In {far} of {len(shares)} calls less than half of your speech was within "
                  f"your usual range, while your calibration speech was within it 90 % of "
                  f"the time. Your baseline{en_made} may no longer describe your ordinary "
                  "voice (a new headset or line, a cold when it was made, or too little "
                  "ordinary speech in it). Ask your supervisor to check it or calibrate it "
                  "again from a few minutes of your recent ordinary calls; until then, read "
                  "the figures below with care.",
            "zh": f"在 {len(shares)} 通电话中，有 {far} 通处于平时范围内的说话时间不到一半，"
                  f"而校准时的说话有 90% 处于该范围内。您的基线{zh_made}可能已不能代表您平时的声音"
                  "（例如换了耳机或线路、校准时感冒，或校准用的日常通话太少）。"
                  "请主管检查基线，或用您最近几分钟的日常通话重新校准；在此之前，请谨慎看待下面的数字。"}


def _where(rows, name, side, position, tz):
    """The kind of call that holds most of the out-of-range windows, if any."""
    conditions = {
        "long": lambda r: r["duration_s"] > LONG_CALL_S,
        "night": lambda r: is_night(r["started_s"], tz),
        "late": lambda r: position.get(r["call_id"], 0.0) >= LATE_H,
    }
    weight = [(r, r["summary"]["windows"], r["summary"]["features"][name].get(side) or 0.0)
              for r in rows if usable(r) and name in r["summary"].get("features", {})]
    out_total = sum(w * s for _, w, s in weight)
    all_total = sum(w for _, w, _ in weight)
    best = None
    for key, cond in conditions.items():
        held = sum(w * s for r, w, s in weight if cond(r)) / out_total if out_total else 0.0
        base = sum(w for r, w, _ in weight if cond(r)) / all_total if all_total else 0.0
        if held >= MOSTLY and base < 0.9 and held >= OVER_REPRESENTED * base:
            if best is None or held / max(base, 1e-9) > best[2]:
                best = (key, held, held / max(base, 1e-9), base)
    return best


_WHERE = {
    "long": (", mostly in calls longer than {m} minutes ({held} of those moments, in calls "
             "that hold {base} of your speech)",
             "，主要出现在超过 {m} 分钟的通话中（占这些时刻的 {held}，"
             "而这类通话只占说话时间的 {base}）"),
    "night": (", mostly at night, 22:00–06:00 ({held} of those moments, {base} of your speech)",
              "，主要出现在夜间 22:00–06:00（占这些时刻的 {held}，夜间只占说话时间的 {base}）"),
    "late": (", mostly {h} h or more into a shift ({held} of those moments, {base} of your "
             "speech)",
             "，主要出现在班次开始 {h} 小时之后（占这些时刻的 {held}，"
             "这段时间只占说话时间的 {base}）"),
}


def _feature_items(rows, pooled, position, tz):
    items = []
    for name in FEATURES:
        for side in ("above", "below"):
            share = pooled[side].get(name)
            if share is None or share < OFTEN or (name, side) not in TIPS:
                continue
            where = _where(rows, name, side, position, tz)
            en_dir, zh_dir = ("above", "高于") if side == "above" else ("below", "低于")
            spec = FEATURES[name]
            en = (f"Your {spec['en']} was {en_dir} your usual range in {pct(share, 'en')} of "
                  f"your speech (about 5 % is usual)")
            zh = (f"您的{spec['zh']}{zh_dir}平时范围的时间占说话时间的 {pct(share, 'zh')}"
                  "（平时约 5%）")
            numbers = {"feature": name, "side": side, "share": share}
            if where:
                key, held, _, base = where
                fill = {"m": round(LONG_CALL_S / 60), "h": round(LATE_H)}
                en += _WHERE[key][0].format(held=pct(held, "en"), base=pct(base, "en"), **fill)
                zh += _WHERE[key][1].format(held=pct(held, "zh"), base=pct(base, "zh"), **fill)
                numbers.update(where=key, held=round(held, 4), base=round(base, 4))
            tip_en, tip_zh = TIPS[(name, side)]
            items.append({"id": f"{name}_{side}", "en": f"{en}. {tip_en}",
                          "zh": f"{zh}。{tip_zh}", "numbers": numbers, "weight": share})
    items.sort(key=lambda i: -i["weight"])
    return items[:MAX_FEATURE_ITEMS]


def _moved_feature(a: dict, b: dict, baseline: dict):
    """The feature whose median moved most from ``a`` to ``b``, relative to its band."""
    best = None
    for name in FEATURES:
        band = baseline.get(name)
        x, y = a["medians"].get(name), b["medians"].get(name)
        if not band or x is None or y is None or band["q95"] <= band["q05"]:
            continue
        moved = (y - x) / (band["q95"] - band["q05"])
        if best is None or abs(moved) > abs(best[1]):
            best = (name, moved, x, y)
    return best


def _shift_item(shift: dict, baseline: dict):
    early, late = shift["early"], shift["late"]
    if min(early["range_windows"], late["range_windows"]) < MIN_WINDOWS:
        return None
    drop = early["in_range_share"] - late["in_range_share"]
    moved = _moved_feature(early, late, baseline)
    strong = moved is not None and abs(moved[1]) >= BAND_MOVE
    if drop < SHIFT_DROP and not strong:
        return None
    h = round(shift["late_from_h"])
    en = (f"Late in your shifts ({h} h or more after the first call) "
          f"{pct(late['in_range_share'], 'en')} of your speech was within your usual range, "
          f"against {pct(early['in_range_share'], 'en')} in the first 2 hours")
    zh = (f"班次开始 {h} 小时之后，您 {pct(late['in_range_share'], 'zh')} "
          "的说话时间处于平时范围内，"
          f"而班次前 2 小时为 {pct(early['in_range_share'], 'zh')}")
    numbers = {"early": early["in_range_share"], "late": late["in_range_share"]}
    if strong:
        name, _, x, y = moved
        spec = FEATURES[name]
        en += (f"; your {spec['en']} went from {show(name, x)} to {show(name, y)} "
               f"{unit(name, 'en')}")
        zh += f"；{spec['zh']}从 {show(name, x)} 变为 {show(name, y)} {unit(name, 'zh')}"
        numbers.update(feature=name, early_median=x, late_median=y)
    en += f". Plan a short break and some water around the {h}-hour mark."
    zh += f"。建议在第 {h} 小时前后安排短暂休息并喝点水。"
    return {"id": "shift_late", "en": en, "zh": zh, "numbers": numbers, "weight": drop}


def _night_item(shift: dict):
    night, day = shift["night"], shift["day"]
    if min(night["range_windows"], day["range_windows"]) < MIN_WINDOWS:
        return None
    gap = night["in_range_share"] - day["in_range_share"]
    if abs(gap) < NIGHT_GAP:
        return None
    en = (f"At night (22:00–06:00) {pct(night['in_range_share'], 'en')} of your speech was "
          f"within your usual range, against {pct(day['in_range_share'], 'en')} by day")
    zh = (f"夜间（22:00–06:00）您 {pct(night['in_range_share'], 'zh')} 的说话时间处于平时范围内，"
          f"白天为 {pct(day['in_range_share'], 'zh')}")
    if gap < 0:
        en += ". On night calls, take one breath before you answer."
        zh += "。夜间接听前，先深呼吸一次。"
    else:
        en += "."
        zh += "。"
    return {"id": "night", "en": en, "zh": zh, "weight": abs(gap),
            "numbers": {"night": night["in_range_share"], "day": day["in_range_share"]}}


def _week_item(weeks: list[dict]):
    # the latest week with a minute of speech against the week just before it: weeks
    # apart (an audit found "week over week" across three) say more about the gap
    full = [i for i, w in enumerate(weeks) if w["range_windows"] >= MIN_WINDOWS]
    if len(full) < 2 or full[-2] != full[-1] - 1:
        return None
    a, b = weeks[full[-2]], weeks[full[-1]]
    change = b["in_range_share"] - a["in_range_share"]
    if abs(change) < WEEK_CHANGE:
        return None
    en_word, zh_word = ("rose", "上升") if change > 0 else ("fell", "下降")
    en = (f"Week over week, the share of your speech within your usual range {en_word} from "
          f"{pct(a['in_range_share'], 'en')} (week of {a['week_start']}) to "
          f"{pct(b['in_range_share'], 'en')} (week of {b['week_start']}).")
    zh = (f"与前一周相比，您处于平时范围内的说话时间比例从 {pct(a['in_range_share'], 'zh')}"
          f"（{a['week_start']} 当周）{zh_word}到 {pct(b['in_range_share'], 'zh')}"
          f"（{b['week_start']} 当周）。")
    return {"id": "week", "en": en, "zh": zh, "weight": abs(change),
            "numbers": {"from": a["in_range_share"], "to": b["in_range_share"],
                        "from_week": a["week_start"], "to_week": b["week_start"]}}


def guidance(rows: list[dict], pooled: dict, report: dict, position: dict,
             tz=None) -> list[dict]:
    """The report's guidance items ``{id, en, zh, numbers}``, most telling first.

    ``rows`` are the period's calls, ``position`` each call's hours into its shift, ``tz``
    the period's time zone (night).
    """
    if not pooled["windows"]:
        return [{"id": "no_data", "en": "No analysed calls of yours in this period, so there "
                 "is nothing to suggest yet.", "zh": "本期没有您的已分析通话，暂时没有建议。",
                 "numbers": {}}]
    if report["baseline"]["source"] == "population":
        # Other agents' voices are no measure of this one's pitch or rate (a low voice
        # among higher ones reads "below the usual range" all call long): no advice on a
        # feature until the agent has a baseline of their own; changes over the shift,
        # night and the weeks still compare the agent with themselves.
        items = [{"id": "calibrate", "numbers": {},
                  "en": "These figures compare your voice with other agents' voices, which "
                        "differ from yours, so they say little about your own voice. Ask "
                        "your supervisor to calibrate your personal baseline (a few minutes "
                        "of your ordinary calls): advice about your own voice starts then.",
                  "zh": "这些数字是把您的声音与其他坐席的声音比较，而每个人的声音本来就不同，"
                        "所以对您本人的声音说明不了太多。请主管为您校准个人基线（几分钟的日常通话即可），"
                        "之后才会有针对您本人声音的建议。"}]
    elif report["baseline"].get("population_calls"):
        # a baseline of their own now, but every call of the period was judged before it
        # existed (reports.aggregate.judged_by_own): no advice from other agents' ranges
        items = [{"id": "baseline_new", "numbers": {},
                  "en": "Your calls in this period were judged before your baseline "
                        "existed, against other agents' voices, so they say little about "
                        "your own voice. Your own baseline judges your calls from now on: "
                        "advice about your voice starts with them.",
                  "zh": "本期的通话都是在您的基线建立之前分析的，当时与其他坐席的声音比较，"
                        "对您本人的声音说明不了太多。今后的通话将与您本人的基线比较，"
                        "届时会有针对您本人声音的建议。"}]
    else:
        misfit = _misfit_item(rows, report)
        items = [misfit] if misfit else []
        items += _feature_items(rows, pooled, position, tz)
    baseline = report["baseline"]["features"]
    for extra in (_shift_item(report["shift"], baseline), _night_item(report["shift"]),
                  _week_item(report["weeks"])):
        if extra:
            items.append(extra)
    if not items:
        share, calls = pooled["in_range_share"], pooled["calls"]
        if share is None:  # only summaries of an older version, without the joint share
            en = (f"In {calls} calls no feature of your speech left your usual range more "
                  "often than usual. Keep doing what you do.")
            zh = f"在 {calls} 通电话中，没有哪一项比平时更常超出平时范围。请继续保持。"
        else:
            en = (f"{pct(share, 'en')} of your speech in {calls} calls stayed within your "
                  "usual range, and no feature left it more often than usual. "
                  "Keep doing what you do.")
            zh = (f"在 {calls} 通电话中，您 {pct(share, 'zh')} 的说话时间处于平时范围内，"
                  "没有哪一项比平时更常超出范围。请继续保持。")
        items.append({"id": "steady", "numbers": {"in_range_share": share, "calls": calls},
                      "en": en, "zh": zh})
    for item in items:
        item.pop("weight", None)
    return items
