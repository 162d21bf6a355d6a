"""An agent's report computed from a seeded store: every number checked against the seed.

The seed (``test_report_support``) is five calls of A1001 in the week of 2026-11-16, one
the week before and one after, a live alert, a pre-inspection flag, and five colleagues.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime

import pytest

from test_report_support import (
    BASE,
    FIRST,
    LAST,
    NOW_S,
    SPEECH_RATE_HIST_C2,
    TZ,
    at,
    seed,
    summary,
)
from test_server_support import add_users
from voiceline.reports import (
    PeriodError,
    UnknownAgentError,
    build_report,
    make_period,
    parse_tz,
    render_document,
    render_fragment,
)
from voiceline.reports.aggregate import shifts_of, team_distribution
from voiceline.store import Store


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("report-data")
    add_users(data)
    seed(data)
    return data


@pytest.fixture(scope="module")
def report(data_dir):
    with Store(data_dir / "voiceline.db") as store:
        return build_report(store, "A1001", make_period(FIRST, LAST, tz=TZ),
                            baselines_dir=data_dir / "baselines", now_s=NOW_S)


def test_totals_count_the_periods_calls_once_each_weighted_by_speech(report):
    t = report["totals"]
    # c1..c5; not c0 (week before) or c9 (after); c2 once, its recording's summary.
    assert (t["calls"], t["qa_calls"], t["live_calls"]) == (5, 4, 1)
    assert t["talk_s"] == 300 + 900 + 300 + 600 + 300
    assert t["windows"] == 200 + 600 + 200 + 400 + 100
    # Weighted by windows: (180 + 360 + 140 + 200 + 80) / 1500, not the mean 0.70 of calls.
    assert t["in_range_share"] == pytest.approx(960 / 1500, abs=1e-4)
    assert t["long_calls"] == 1
    assert report["period"]["from"] == FIRST and report["period"]["to"] == LAST
    assert report["period"]["days"] == 7 and report["period"]["tz"] == "Asia/Shanghai"


def test_features_share_above_the_usual_band_and_their_distribution(report):
    rate = report["features"]["speech_rate_syl_s"]
    assert rate["above"] == pytest.approx((0.05 * 200 + 0.30 * 600) / 1500, abs=1e-4)
    assert rate["below"] == 0.0
    assert rate["median"] == pytest.approx((4.0 * 900 + 4.6 * 600) / 1500, abs=1e-4)
    assert rate["baseline"] == {"median": 4.0, "q05": 3.0, "q25": 3.5, "q75": 4.5, "q95": 5.0}
    halves = [[0, 0, 0, w // 2, w - w // 2, 0, 0, 0] for w in (200, 200, 400, 100)]
    expected = [sum(col) for col in zip(SPEECH_RATE_HIST_C2, *halves, strict=True)]
    assert rate["z_hist"] == expected and sum(expected) == 1500
    assert rate["z_shares"][7] == pytest.approx(80 / 1500, abs=1e-4)
    assert [c["t_s"] for c in rate["calls"]] == [at(16, 9), at(16, 12), at(16, 14), at(18, 23),
                                                at(19, 2)]
    assert report["features"]["loudness_mean_sone"]["above"] == 0.0


def test_night_and_day_hours_and_position_in_the_shift(report):
    s = report["shift"]
    assert s["shifts"] == 2  # Monday's three calls; Wednesday night's two (gap < 4 h)
    assert (s["night"]["calls"], s["night"]["windows"]) == (2, 500)
    assert s["night"]["in_range_share"] == pytest.approx((200 + 80) / 500, abs=1e-4)
    assert (s["day"]["calls"], s["day"]["windows"]) == (3, 1000)
    assert s["day"]["in_range_share"] == pytest.approx((180 + 360 + 140) / 1000, abs=1e-4)
    hours = {h["hour"]: (h["calls"], h["in_range_share"]) for h in s["by_hour"] if h["calls"]}
    assert hours == {9: (1, 0.9), 12: (1, 0.6), 14: (1, 0.7), 23: (1, 0.5), 2: (1, 0.8)}
    positions = {p["bucket"]: (p["calls"], p["windows"]) for p in s["by_position"]}
    assert positions == {"0-2": (2, 600), "2-4": (2, 700), "4-6": (1, 200), "6-8": (0, 0),
                         "8+": (0, 0)}
    assert s["late"]["in_range_share"] == 0.7 and s["late"]["calls"] == 1


def test_a_shift_breaks_at_a_gap_of_four_hours():
    def call(cid, start_s, duration_s=600.0):
        return {"call_id": cid, "started_s": start_s, "duration_s": duration_s}

    rows = [call("a", 0.0), call("b", 600 + 4 * 3600 - 1), call("c", 2 * 600 + 8 * 3600 - 1)]
    assert [[r["call_id"] for r in s] for s in shifts_of(rows)] == [["a", "b"], ["c"]]


def test_week_over_week_covers_eight_weeks_up_to_the_periods_end(report):
    weeks = report["weeks"]
    assert [w["week_start"] for w in weeks][-2:] == ["2026-11-09", "2026-11-16"]
    assert len(weeks) == 8 and weeks[0]["week_start"] == "2026-09-28"
    assert (weeks[-2]["calls"], weeks[-2]["in_range_share"]) == (1, 0.95)
    assert weeks[-1]["calls"] == 5 and weeks[-1]["in_range_share"] == pytest.approx(0.64)
    assert all(w["calls"] == 0 for w in weeks[:-2])


def test_the_team_is_an_anonymous_distribution(report):
    team = report["team"]
    # Six agents (A1001's team 'north' has only A1001 with calls, so: the whole centre).
    assert team["available"] and team["agents"] == 6 and team["scope"] == "all"
    assert team["counts"] == [0, 0, 0, 1, 0, 1, 1, 0, 2, 1]
    assert team["you_bin"] == 6 and team["you"] == pytest.approx(0.64)
    assert team["median"] == pytest.approx((0.64 + 0.82) / 2)
    text = json.dumps(report, ensure_ascii=False)
    for other in ("A1002", "A1003", "A1004", "A1005", "A1006", "Colleague", "Zhao"):
        assert other not in text


def test_too_few_agents_give_no_team_distribution():
    assert team_distribution([0.5, 0.6, 0.7, 0.8], 0.5, "all")["available"] is False
    assert team_distribution([0.5] * 5, 0.5, "all")["counts"][5] == 5


def test_flagged_moments_are_the_agents_own_with_plain_words(report):
    moments = report["flagged"]
    assert [(m["source"], m["call_id"], m["kind"]) for m in moments] == [
        ("qa", "c2", "fast_speech"), ("live", "c5", "agitation")]
    qa, live = moments
    assert qa["time_s"] == at(16, 12) + 2.0 and qa["offset_s"] == 2.0 and qa["listen"]
    assert qa["reason"]["zh"] == "坐席语速 5.6 音节/秒，持续 1.5 秒"
    assert live["time_s"] == at(19, 2) + 65 and live["offset_s"] == 65.0
    assert live["duration_s"] == 7.0 and not live["listen"]
    assert live["reason"]["zh"] == "与平时相比：音量更大（+2.6 σ）、语速更快（+1.9 σ），持续 7 秒"
    assert live["reason"]["en"] == "louder (+2.6 σ) and faster (+1.9 σ) than usual, for 7 s"


def test_guidance_says_the_seeds_numbers(report):
    by_id = {g["id"]: g for g in report["guidance"]}
    assert list(by_id) == ["speech_rate_syl_s_above", "night", "week"]
    rate = by_id["speech_rate_syl_s_above"]
    # 190 of 1500 windows above the band, 180 of them in c2 (15 min) — 40 % of speech.
    assert rate["numbers"]["where"] == "long"
    assert rate["en"].startswith("Your speaking rate was above your usual range in 13 % of "
                                 "your speech (about 5 % is usual), mostly in calls longer "
                                 "than 10 minutes (95 % of those moments, in calls that hold "
                                 "40 % of your speech).")
    assert rate["zh"].startswith("您的语速高于平时范围的时间占说话时间的 13%（平时约 5%），"
                                 "主要出现在超过 10 分钟的通话中（占这些时刻的 95%")
    assert "56 %" in by_id["night"]["en"] and "68 %" in by_id["night"]["en"]
    assert "56%" in by_id["night"]["zh"] and "68%" in by_id["night"]["zh"]
    assert "fell from 95 % (week of 2026-11-09) to 64 % (week of 2026-11-16)" in \
        by_id["week"]["en"]


def test_a_steady_agent_is_told_so_with_their_numbers(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_agent("B1")
        for k in range(3):
            store.save_voice_summary(f"s{k}", "qa", "B1", at(17, 9 + k), 300,
                                     summary(100, 0.97))
        rep = build_report(store, "B1", make_period(FIRST, LAST, tz=TZ), now_s=NOW_S)
        empty = build_report(store, "B1", make_period("2026-10-01", "2026-10-07", tz=TZ),
                             now_s=NOW_S)
    assert [g["id"] for g in rep["guidance"]] == ["steady"]
    assert rep["guidance"][0]["en"].startswith("97 % of your speech in 3 calls stayed within")
    assert rep["baseline"]["source"] == "agent" and rep["baseline"]["features"] == {}
    assert [g["id"] for g in empty["guidance"]] == ["no_data"]
    assert empty["totals"]["calls"] == 0 and empty["totals"]["in_range_share"] is None
    assert "<svg" in render_document(empty, "en", tz=TZ)


def test_summaries_of_the_old_in_range_measure_count_for_all_but_that_share(tmp_path):
    # Version 1 summaries measured "in range" as every feature in its band at once (about
    # half of ordinary speech); their share is not mixed with the joint measure's, neither
    # in the agent's own numbers nor in the team's, while their features still count.
    def old(windows, share, **kw):
        return {**summary(windows, share, **kw), "version": 1}

    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_agent("B1")
        store.save_voice_summary("o1", "qa", "B1", at(16, 9), 300,
                                 old(300, 0.40, rate_median=5.0))
        store.save_voice_summary("n1", "qa", "B1", at(17, 9), 300,
                                 summary(100, 0.90, rate_median=4.0))
        for k, share in enumerate((0.2, 0.3, 0.4, 0.5, 0.6)):
            store.upsert_agent(f"B{k + 2}")
            store.save_voice_summary(f"o{k + 2}", "qa", f"B{k + 2}", at(17, 10), 300,
                                     old(100, share))
        rep = build_report(store, "B1", make_period(FIRST, LAST, tz=TZ), now_s=NOW_S)
        only_old = build_report(store, "B1", make_period("2026-11-16", "2026-11-16", tz=TZ),
                                now_s=NOW_S)
    assert rep["totals"]["windows"] == 400 and rep["totals"]["in_range_share"] == 0.9
    assert rep["features"]["speech_rate_syl_s"]["median"] == pytest.approx(
        (5.0 * 300 + 4.0 * 100) / 400)
    assert rep["team"]["available"] is False  # the colleagues' old shares are not compared
    assert only_old["totals"]["in_range_share"] is None
    steady = only_old["guidance"][0]
    assert steady["id"] == "steady" and "–" not in steady["en"] and "–" not in steady["zh"]
    # the page says why there is no share, and does not blame too few colleagues
    html = render_document(only_old, "en", tz=TZ)
    assert "1 of these calls were analysed by an earlier version" in html
    assert "before the in-range share was measured as it is now" in html
    assert "Too few agents" not in html and "(1 call)" in html and "(1 calls)" not in html
    assert rep["totals"]["older_calls"] == 1


def test_week_over_week_compares_neighbouring_weeks_only(tmp_path):
    # Found by an audit: "week over week … from 90 % (week of 11-02) to 60 % (11-23)".
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_agent("B1")
        for k in range(3):
            store.save_voice_summary(f"a{k}", "qa", "B1", at(3, 9 + k), 300,
                                     summary(100, 0.9))
            store.save_voice_summary(f"b{k}", "qa", "B1", at(24, 9 + k), 300,
                                     summary(100, 0.6))
        apart = build_report(store, "B1", make_period("2026-11-17", "2026-11-29", tz=TZ),
                             now_s=NOW_S)
        for k in range(3):
            store.save_voice_summary(f"c{k}", "qa", "B1", at(17, 9 + k), 300,
                                     summary(100, 0.8))
        beside = build_report(store, "B1", make_period("2026-11-17", "2026-11-29", tz=TZ),
                              now_s=NOW_S)
    assert "week" not in [g["id"] for g in apart["guidance"]]
    week = next(g for g in beside["guidance"] if g["id"] == "week")
    assert (week["numbers"]["from_week"], week["numbers"]["to_week"]) == ("2026-11-16",
                                                                          "2026-11-23")


def test_an_agent_without_a_baseline_sees_the_populations_range(tmp_path, data_dir):
    # As the live engine and pre-inspection judge such an agent: against the population of
    # the agents' baselines. The report used to show "usual –" and no band.
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_agent("B1")
        store.save_voice_summary("p1", "qa", "B1", at(17, 9), 300,
                                 summary(100, 0.80, baseline="population", rate_above=0.9))
        rep = build_report(store, "B1", make_period(FIRST, LAST, tz=TZ),
                           baselines_dir=data_dir / "baselines", now_s=NOW_S)
    assert rep["baseline"]["source"] == "population"
    rate = rep["baseline"]["features"]["speech_rate_syl_s"]
    assert rate["median"] == pytest.approx(BASE["speech_rate_syl_s"][0])  # the one agent's
    html = render_document(rep, "en", tz=TZ)
    assert "(usual –)" not in html and "the agents&#x27; usual range" in html
    assert "坐席总体的平时范围" in render_document(rep, "zh", tz=TZ)
    # no advice about a feature against other agents' voices (an audit found "your pitch
    # was above your usual range in 100 %... tension" for a calm low voice)
    ids = [g["id"] for g in rep["guidance"]]
    assert ids[0] == "calibrate" and not [i for i in ids if i.endswith(("_above", "_below"))]


def _own_baseline_report(tmp_path, data_dir, calls) -> dict:
    """A1001 (who has a baseline) with only ``calls``: (call_id, day, windows, in range,
    baseline source)."""
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_agent("A1001")
        for call_id, day, windows, share, source in calls:
            store.save_voice_summary(call_id, "qa", "A1001", at(day, 9), 300,
                                     summary(windows, share, baseline=source,
                                             rate_above=0.9 if source == "population"
                                             else 0.0))
        return build_report(store, "A1001", make_period(FIRST, LAST, tz=TZ),
                            baselines_dir=data_dir / "baselines", now_s=NOW_S)


def test_calls_judged_before_the_baseline_existed_are_left_out_of_the_figures(
        tmp_path, data_dir):
    # Found by the onboarding audit: the headline pooled calls judged against other
    # agents' ranges with those judged against the agent's own.
    rep = _own_baseline_report(tmp_path, data_dir, [
        ("p1", 16, 100, 0.10, "population"), ("p2", 17, 100, 0.20, "population"),
        ("a1", 19, 200, 0.90, "agent"), ("a2", 20, 200, 0.70, "agent")])
    assert rep["totals"]["calls"] == 2
    assert rep["totals"]["in_range_share"] == pytest.approx(0.80, abs=1e-4)
    assert rep["baseline"]["left_out_calls"] == 2 and rep["baseline"]["population_calls"] == 0
    assert rep["features"]["speech_rate_syl_s"]["above"] == 0.0  # p1, p2's 0.9 left out
    assert sum(w["calls"] for w in rep["weeks"]) == 2
    assert not [g for g in rep["guidance"] if g["id"].startswith("speech_rate")]
    html = render_document(rep, "en", tz=TZ)
    assert "2 more calls of this period were judged before your baseline existed" in html
    assert "不计入以上数字" in render_document(rep, "zh", tz=TZ)


def test_a_period_judged_wholly_before_the_baseline_gives_no_advice_from_others_ranges(
        tmp_path, data_dir):
    rep = _own_baseline_report(tmp_path, data_dir, [
        ("p1", 16, 100, 0.10, "population"), ("p2", 17, 100, 0.20, "population")])
    assert rep["totals"]["calls"] == 2 and rep["baseline"]["population_calls"] == 2
    assert [g["id"] for g in rep["guidance"]] == ["baseline_new"]
    assert "All of these calls were judged before your baseline existed" in \
        render_document(rep, "en", tz=TZ)


@pytest.mark.parametrize(("shares", "asked"), [
    ([0.30, 0.20, 0.40, 0.35, 0.45, 0.80], True),   # 5 of 6 calls far outside
    ([0.30, 0.20, 0.40, 0.80, 0.85, 0.80], False),  # half: hard calls, not the baseline
    ([0.30, 0.20, 0.40, 0.35], False),              # too few calls to say
])
def test_a_baseline_far_from_most_calls_is_named_as_possibly_not_fitting(
        tmp_path, data_dir, shares, asked):
    rep = _own_baseline_report(tmp_path, data_dir, [
        (f"a{i}", 16 + i, 100, share, "agent") for i, share in enumerate(shares)])
    ids = [g["id"] for g in rep["guidance"]]
    assert (ids[:1] == ["baseline_fit"]) is asked and ids.count("baseline_fit") == asked
    if asked:
        item = rep["guidance"][0]
        assert item["numbers"] == {"calls": 6, "far_calls": 5, "below": 0.5}
        assert "In 5 of 6 calls less than half of your speech" in item["en"]
        assert "calibrate it again" in item["en"] and "重新校准" in item["zh"]


def test_a_live_alert_judged_against_the_agents_usual_says_so_in_the_report(tmp_path):
    with Store(tmp_path / "voiceline.db") as store:
        store.upsert_seat("S01", "north")
        store.upsert_agent("B1")
        store.start_call("p1", "S01", "B1", "twilio", started_s=at(17, 9))
        store.open_alert("p1", "agitation", "warning", 0.8, "louder", [
            {"feature": "loudness_n5_sone", "z": 2.6}], baseline="population",
            now_s=at(17, 9) + 60)
        store.end_call("p1", "hangup", ended_s=at(17, 9) + 70)
        rep = build_report(store, "B1", make_period(FIRST, LAST, tz=TZ), now_s=NOW_S)
    (moment,) = rep["flagged"]
    assert moment["reason"]["zh"] == ("与坐席群体平时（尚无个人基线）相比：音量更大（+2.6 σ），"
                                      "持续 10 秒")
    assert "than the agents' usual (no personal baseline yet)" in moment["reason"]["en"]


def test_an_unknown_agent_is_refused_by_name(tmp_path):
    with Store(tmp_path / "voiceline.db") as store, \
            pytest.raises(UnknownAgentError, match="'nobody'"):
        build_report(store, "nobody", make_period(FIRST, LAST, tz=TZ))


def test_periods_default_to_the_last_seven_days_and_refuse_bad_dates():
    now = datetime(2026, 11, 28, 1, 0, tzinfo=TZ).timestamp()  # 27 Nov 17:00 UTC
    p = make_period(tz=TZ, now_s=now)
    assert (p.first_day, p.last_day, p.days) == (date(2026, 11, 22), date(2026, 11, 28), 7)
    assert p.end_s - p.start_s == 7 * 86400
    assert make_period(None, "2026-11-10", tz=TZ).first_day == date(2026, 11, 4)
    for first, last, words in (("2026-11-31", None, "not a date"), ("16/11/2026", None,
                                                                     "YYYY-MM-DD"),
                               ("2026-11-20", "2026-11-19", "before it starts"),
                               ("2024-01-01", "2026-01-01", "at most 400 days"),
                               ("9999-12-30", "9999-12-31", "outside 1970-01-01"),
                               ("0001-01-01", "0001-01-05", "outside 1970-01-01")):
        with pytest.raises(PeriodError, match=words):
            make_period(first, last, tz=TZ)
    for name in ("Mars/Olympus", "America", "Etc"):  # "America" is a folder of zones
        with pytest.raises(PeriodError, match=f"unknown time zone '{name}'"):
            parse_tz(name)


@pytest.mark.parametrize("name", ["Factory", "localtime", "posixrules", "right/Asia/Shanghai"])
def test_zone_files_that_name_no_place_are_unknown_time_zones(name):
    # found by an outside audit: tz=Factory ("-00", local time unknown) made a report
    with pytest.raises(PeriodError, match=f"unknown time zone '{name}'; use an IANA name"):
        parse_tz(name)
    assert parse_tz("Asia/Shanghai").key == "Asia/Shanghai"


@pytest.fixture
def machine_tz(monkeypatch):
    """Sets this process's local time zone as ``TZ=...`` does (the C library's too)."""
    def set_to(value: str) -> None:
        monkeypatch.setenv("TZ", value)
        time.tzset()

    yield set_to
    monkeypatch.undo()
    time.tzset()


def _zone_line(html: str) -> str:
    return re.search(r'<p class="meta">[^<]*· ([^<]*)</p>', html).group(1)


@pytest.mark.parametrize("tz, zone, offsets", [
    ("Asia/Shanghai", "Asia/Shanghai", "UTC+08:00"),
    ("America/Chicago", "America/Chicago", "UTC-06:00"),
    ("CST-8", None, "UTC+08:00"),  # a POSIX rule: no IANA name to give
])
def test_the_report_names_the_machines_zone_and_offset_never_an_abbreviation(
        data_dir, machine_tz, tz, zone, offsets):
    # found by an outside audit: "times in CST", which is China's, the US's and Cuba's
    machine_tz(tz)
    with Store(data_dir / "voiceline.db") as store:
        report = build_report(store, "A1001", make_period(FIRST, LAST),
                              baselines_dir=data_dir / "baselines", now_s=NOW_S)
    assert _zone_line(render_fragment(report, "en")) == \
        f"times in {zone or 'local time'} ({offsets})"
    assert _zone_line(render_fragment(report, "zh")) == f"时间按 {zone or '本地时间'}（{offsets}）"
    assert (report["period"]["tz"], report["period"]["utc_offsets"]) == (zone or "local",
                                                                          [offsets])


def test_a_period_across_a_change_of_summer_time_gives_both_offsets(data_dir):
    # US Central time ends summer time on 2026-11-01: CDT (UTC−05:00), then CST (−06:00)
    chicago = parse_tz("America/Chicago")
    with Store(data_dir / "voiceline.db") as store:
        report = build_report(store, "A1001", make_period("2026-10-29", "2026-11-04",
                                                          tz=chicago),
                              baselines_dir=data_dir / "baselines", now_s=NOW_S)
    assert _zone_line(render_fragment(report, "en", tz=chicago)) == \
        "times in America/Chicago (UTC-05:00 / UTC-06:00)"
    assert report["period"]["utc_offsets"] == ["UTC-05:00", "UTC-06:00"]
    assert make_period("1972-01-01", "1972-12-31", tz=parse_tz("Africa/Monrovia")
                       ).utc_offsets == ("UTC-00:44:30", "UTC+00:00")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_html_is_self_contained_and_in_one_language(report, lang):
    html = render_document(report, lang, tz=TZ)
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<link" not in html and "url(" not in html
    assert "@media print" in html and html.count("<svg") == 6 + 6 + 2 + 1 + 1
    assert 'data-field="in-range">64' in html
    assert ("数据给出的建议" in html) == (lang == "zh")
    assert ("What the data suggests" in html) == (lang == "en")
    assert "A1002" not in html and "Colleague" not in html


def test_the_summary_says_when_the_baseline_was_made_and_how_it_has_followed(data_dir,
                                                                             tmp_path):
    import shutil
    from dataclasses import replace as changed

    from emotion.baseline import load_baseline, save_baseline
    from voiceline.reports import render_fragment

    with Store(data_dir / "voiceline.db") as store:
        period = make_period(FIRST, LAST, tz=TZ)
        shutil.copytree(data_dir / "baselines", tmp_path / "b")
        base = load_baseline(tmp_path / "b", "A1001")
        save_baseline(changed(base, created="2026-10-01T02:00:00+00:00",
                              updated="2026-10-01T02:00:00+00:00"), tmp_path / "b")
        made = build_report(store, "A1001", period, baselines_dir=tmp_path / "b", now_s=NOW_S)
        save_baseline(changed(base, created="2026-10-01T02:00:00+00:00",
                              updated="2026-11-18T17:30:00+00:00", notes={"updates": 6}),
                      tmp_path / "b")
        followed = build_report(store, "A1001", period, baselines_dir=tmp_path / "b",
                                now_s=NOW_S)
    assert (made["baseline"]["updates"], followed["baseline"]["updates"]) == (0, 6)
    assert "It was calibrated on 2026-10-01." in render_fragment(made, "en")
    # 17:30 UTC on the 18th is the 19th in Shanghai: days are the report's local days
    assert ("It was calibrated on 2026-10-01 and has followed your ordinary speech since, "
            "last on 2026-11-19 (6 updates of at most 0.1 σ each).") in render_fragment(
                followed, "en")
    assert "最近一次在 2026-11-19（共 6 次" in render_fragment(followed, "zh")
