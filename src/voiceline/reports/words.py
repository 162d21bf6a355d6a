"""The report's words in Chinese and English: feature names, units, labels, tips."""

from __future__ import annotations

import math


def semitones_to_hz(st: float) -> float:
    """F0 in semitones re 27.5 Hz (``emotion.windows``) to Hz."""
    return 27.5 * 2.0 ** (st / 12.0)


#: Features in the order the report shows them: names, unit, how to show a value.
FEATURES = {
    "loudness_mean_sone": {"en": "loudness", "zh": "音量", "unit": "sone", "digits": 1},
    "f0_median_st": {"en": "pitch", "zh": "音调", "unit": "Hz", "digits": 0,
                     "show": semitones_to_hz},
    "f0_range_st": {"en": "pitch range", "zh": "音调变化幅度", "unit": "st", "unit_zh": "半音",
                    "digits": 1},
    "speech_rate_syl_s": {"en": "speaking rate", "zh": "语速", "unit": "syl/s",
                          "unit_zh": "音节/秒", "digits": 1},
    "sharpness_acum": {"en": "sharpness", "zh": "尖锐度", "unit": "acum", "digits": 2},
    "roughness_asper": {"en": "roughness", "zh": "粗糙度", "unit": "asper", "digits": 3},
}

#: Pre-inspection checks (as in the console's i18n.js).
CHECKS = {
    "en": {"dead_air": "Dead air", "slow_response": "Slow response", "overtalk": "Overtalk",
           "agent_agitation": "Agent agitation", "caller_agitation": "Caller agitation",
           "fast_speech": "Fast speech", "agent_low_energy": "Agent low energy",
           "clipping": "Clipping", "low_level": "Low level", "one_way_audio": "One-way audio",
           "long_call": "Long call", "long_hold": "Long hold",
           "forbidden_phrase": "Forbidden phrase", "missing_greeting": "No greeting",
           "missing_closing": "No closing",
           "agitation": "Agitation (live)", "low_energy": "Low energy (live)"},
    "zh": {"dead_air": "冷场", "slow_response": "响应慢", "overtalk": "抢话",
           "agent_agitation": "坐席情绪激动", "caller_agitation": "来电者情绪激动",
           "fast_speech": "语速过快", "agent_low_energy": "坐席状态低落",
           "clipping": "削波失真", "low_level": "音量过低", "one_way_audio": "单通",
           "long_call": "超长通话", "long_hold": "长时间保持",
           "forbidden_phrase": "使用禁语", "missing_greeting": "缺少开场问候",
           "missing_closing": "缺少结束语",
           "agitation": "情绪激动（实时）", "low_energy": "低能量（实时）"},
}

#: Something to try when a feature often leaves the usual range in one direction; a
#: direction without a tip (a smoother voice, say) is no cause for advice.
TIPS = {
    ("loudness_mean_sone", "above"): (
        "Let the headset carry your voice: keep the microphone two fingers from your mouth "
        "instead of raising your voice.",
        "让耳麦替您放大声音：话筒离嘴约两指，不必提高嗓门。"),
    ("loudness_mean_sone", "below"): (
        "Speak towards the microphone and check the headset's position and level.",
        "请对着话筒说话，并检查耳麦的位置和音量。"),
    ("sharpness_acum", "above"): (
        "Relax your jaw and throat; a rounder, softer tone sounds calmer.",
        "放松下巴和喉咙，圆润柔和的声音听起来更平静。"),
    ("roughness_asper", "above"): (
        "Take a sip of water and breathe between sentences; a strained voice turns rough.",
        "喝口水，句与句之间换口气；嗓子紧了声音就会发粗。"),
    ("f0_median_st", "above"): (
        "A raised pitch often comes with tension: breathe out slowly before you answer.",
        "音调升高常伴随紧张：回答前先慢慢呼一口气。"),
    ("f0_range_st", "below"): (
        "Let your pitch move: stress the key word of each sentence.",
        "让语调有起伏：每句话重读关键词。"),
    ("speech_rate_syl_s", "above"): (
        "Pause after each question and let the caller finish before you answer.",
        "每个问题后停一停，等来电者说完再回答。"),
    ("speech_rate_syl_s", "below"): (
        "Keep a steady pace: prepare the next step while the caller is talking.",
        "保持平稳的节奏：在来电者说话时准备下一步。"),
}

LABELS = {
    "en": {
        "title": "Voice self-assessment: {agent}", "period": "{first} to {last} ({days} days)",
        "tz": "times in {zone} ({offsets})", "tz_local": "local time",
        "summary": "Summary", "calls": "Calls analysed",
        "talk": "Talk time", "in_range": "Speech within your usual range",
        "live_qa": "{live} live, {qa} from recordings", "baseline_agent":
        "Compared with your own baseline. Speech is within your usual range when its "
        "loudness, sharpness, roughness, fluctuation, pitch, pitch range and rate, taken "
        "together, are as close to your baseline as 90 % of your calibration speech was; "
        "for each feature alone, the usual range is its 5–95 % band.",
        "baseline_population": "You have no personal baseline yet: your voice is compared "
        "with the population of agents until one is calibrated, so “your usual range” "
        "below is the agents' usual range.",
        "baseline_none": "No baseline is available for you yet.",
        "baseline_made": " It was calibrated on {created}.",
        "baseline_followed": " It was calibrated on {created} and has followed your "
        "ordinary speech since, last on {updated} ({n} updates of at most 0.1 σ each).",
        "guidance": "What the data suggests", "features": "Your voice over the period",
        "features_intro": "Each dot is one call's median; the shaded band is your usual "
        "range (5–95 %), the darker band its middle half, the line your usual median.",
        "feature_line": "median {median} {unit} (usual {usual}); above your usual range in "
        "{above} of speech, below in {below}",
        "distributions": "This period against your baseline",
        "distributions_intro": "Share of speech by distance from your usual median, in σ "
        "(robust standard deviations of your baseline). Dark: this period; light: a "
        "voice that behaves as in your baseline.",
        "flagged": "Flagged moments", "flagged_none": "No flagged moments in this period.",
        "when": "When", "kind": "Kind", "reason": "Reason", "where": "Where",
        "listen": "Listen from {at}", "in_call": "call {call} at {at}",
        "live_no_audio": "live call {call} at {at} (not recorded)",
        "verdict_confirmed": "confirmed by QA", "verdict_dismissed": "dismissed by QA",
        "shift": "Time of day and shifts",
        "shift_intro": "A shift is a run of calls with gaps under {gap} h; night is "
        "22:00–06:00. {shifts} shifts in this period.",
        "by_hour": "Within your usual range, by hour of day",
        "by_position": "Within your usual range, by hours into the shift",
        "night_day": "Night: {night} of speech in range ({ncalls}) · day: {day} "
        "({dcalls})",
        "weeks": "Week over week", "weeks_intro": "Share of speech within your usual range "
        "per week (weeks start on Monday).", "week_of": "week of {date}",
        "team": "Where you stand", "team_intro": "How many agents ({scope}) had each share "
        "of speech within their own usual range in this period. No names: only you are "
        "marked.", "team_scope_team": "of your team", "team_scope_all": "of the centre",
        "team_none": "Too few agents had calls in this period for an anonymous comparison "
        "(at least {n} are needed).", "you": "you are here",
        "team_no_share": "Your calls in this period were analysed before the in-range share "
        "was measured as it is now, so there is no share of yours to compare.",
        "older_summaries": " {n} of these calls were analysed by an earlier version, whose "
        "in-range share measured something else; they count for everything but it.",
        "population_calls": " All of these calls were judged before your baseline existed, "
        "against other agents' voices; your own baseline judges your calls from now on.",
        "tenure_bounded": " This agent id became yours on {day}; nothing from before "
        "that day is in this report.",
        "tenure_reused": " This agent id was given to someone new on {day}: calls before "
        "that day are a previous holder's.",
        "left_out_calls": " {n} more calls of this period were judged before your baseline "
        "existed, against other agents' voices, and are left out of these figures.",
        "team_median": "team median {median}", "agents": "agents",
        "no_data": "No analysed calls of yours in this period.",
        "generated": "Generated {time}. Agents see only their own report; every view is "
        "logged.", "hour": "hour", "share": "share in range", "calls_n": "{n} calls",
        "calls_1": "1 call",
        "period_label": "this period", "baseline_label": "baseline",
    },
    "zh": {
        "title": "声线自评报告：{agent}", "period": "{first} 至 {last}（{days} 天）",
        "tz": "时间按 {zone}（{offsets}）", "tz_local": "本地时间",
        "summary": "概览", "calls": "分析的通话",
        "talk": "通话时长", "in_range": "说话时处于平时范围内的比例",
        "live_qa": "实时 {live} 通，录音 {qa} 通",
        "baseline_agent": "与您本人的基线比较。响度、尖锐度、粗糙度、波动度、音高、音域和语速"
                          "综合起来，与基线的接近程度不低于您校准语音的 90% 时，即处于平时范围内；"
                          "单看某一项时，平时范围是它的 5–95% 区间。",
        "baseline_population": "您还没有个人基线：在完成校准之前，您的声音与全体坐席的"
                               "总体基线比较，下文的“平时范围”即坐席总体的平时范围。",
        "baseline_none": "暂时没有可用的基线。",
        "baseline_made": "该基线校准于 {created}。",
        "baseline_followed": "该基线校准于 {created}，此后随您平常的说话缓慢更新，最近一次在 "
        "{updated}（共 {n} 次，每次至多 0.1 σ）。",
        "guidance": "数据给出的建议", "features": "本期声音变化",
        "features_intro": "每个点是一通电话的中位数；浅色带为平时范围（5–95%），深色带为中间一半，"
                          "横线为平时的中位数。",
        "feature_line": "中位数 {median} {unit}（平时 {usual}）；高于平时范围的说话时间占 {above}，"
                        "低于占 {below}",
        "distributions": "本期与基线的分布对比",
        "distributions_intro": "按与平时中位数的距离（σ，基线的稳健标准差）统计的说话时间比例。"
                               "深色：本期；浅色：与基线一致时的分布。",
        "flagged": "被标记的时刻", "flagged_none": "本期没有被标记的时刻。",
        "when": "时间", "kind": "类型", "reason": "原因", "where": "位置",
        "listen": "从 {at} 收听", "in_call": "通话 {call} 第 {at}",
        "live_no_audio": "实时通话 {call} 第 {at}（无录音）",
        "verdict_confirmed": "质检已确认", "verdict_dismissed": "质检已驳回",
        "shift": "时段与班次",
        "shift_intro": "班次指间隔不足 {gap} 小时的一串通话；夜间为 22:00–06:00。"
                       "本期共 {shifts} 个班次。",
        "by_hour": "各小时处于平时范围内的比例",
        "by_position": "班次开始后各时段处于平时范围内的比例",
        "night_day": "夜间：{night} 的说话时间在平时范围内（{ncalls} 通）· "
                     "白天：{day}（{dcalls} 通）",
        "weeks": "逐周趋势", "weeks_intro": "每周处于平时范围内的说话时间比例（每周从周一开始）。",
        "week_of": "{date} 当周",
        "team": "您所处的位置", "team_intro": "本期{scope}坐席中，各比例区间（说话时间处于各自平时"
        "范围内的比例）有多少人。不显示任何姓名，只标出您自己。",
        "team_scope_team": "您所在班组的", "team_scope_all": "全中心的",
        "team_none": "本期有通话的坐席太少，无法做匿名比较（至少需要 {n} 人）。", "you": "您在这里",
        "team_no_share": "您本期的通话是在“平时范围内比例”改用现行算法之前分析的，"
                         "暂无可比较的比例。",
        "older_summaries": "其中 {n} 通由早期版本分析，其“平时范围内比例”的算法不同，"
                           "只有这一项不计入。",
        "population_calls": "这些通话都是在您的基线建立之前分析的，当时与其他坐席的声音比较；"
                            "今后的通话将与您本人的基线比较。",
        "tenure_bounded": "该坐席编号自 {day} 起归您使用；此前的内容不在本报告中。",
        "tenure_reused": "该坐席编号于 {day} 改由新坐席使用：此前的通话属于前一位使用者。",
        "left_out_calls": "另有 {n} 通本期通话是在您的基线建立之前分析的"
                          "（当时与其他坐席的声音比较），不计入以上数字。",
        "team_median": "中位数 {median}", "agents": "人",
        "no_data": "本期没有您的已分析通话。",
        "generated": "生成于 {time}。坐席只能查看本人的报告；每次查看都会记录。", "hour": "时",
        "share": "平时范围内比例", "calls_n": "{n} 通", "calls_1": "1 通",
        "period_label": "本期", "baseline_label": "基线",
    },
}


def pct(x: float | None, lang: str) -> str:
    """12 % (en) / 12%（zh）; – for no value."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{round(x * 100)}%" if lang == "zh" else f"{round(x * 100)} %"


def show(name: str, value: float | None) -> str:
    """A feature's value in the unit the report shows it in."""
    if value is None:
        return "–"
    spec = FEATURES[name]
    v = spec.get("show", lambda x: x)(value)
    return f"{v:.{spec['digits']}f}"


def unit(name: str, lang: str) -> str:
    spec = FEATURES[name]
    return spec.get("unit_zh", spec["unit"]) if lang == "zh" else spec["unit"]


def duration(seconds: float, lang: str) -> str:
    """2 h 05 min / 2 小时 5 分; minutes and seconds below an hour."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if lang == "zh":
        return f"{h} 小时 {m} 分" if h else (f"{m} 分 {sec} 秒" if m else f"{sec} 秒")
    return f"{h} h {m:02d} min" if h else (f"{m} min {sec} s" if m else f"{sec} s")


def clock(seconds: float) -> str:
    """65.3 → 1:05 (m:ss)."""
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"
