"""The console's pieces in a real browser, on its static files alone (no server behind).

The wall's tile grid at 1,000 seats: an update touches exactly the tiles whose shown
values changed, and its cost is measured and printed (timing is not asserted: it belongs
in ``benchmarks/console.py``). The plain-words explanations say what the engine says,
and the tile layout that fits a wall display does fit it.
"""

from __future__ import annotations

import pytest

from emotion.explain import FEATURE_WORDS, explain_drivers
from test_console_support import MEASURE_TILES_JS, static_server, summary_ms


@pytest.fixture(scope="module")
def base_url():
    with static_server() as url:
        yield url


@pytest.fixture
def page(chromium_browser, base_url):
    context = chromium_browser.new_context(viewport={"width": 1600, "height": 900},
                                           base_url=base_url)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto("/login.html")
    yield page
    context.close()


def test_a_1000_seat_update_touches_only_the_tiles_that_changed(page):
    touched = page.evaluate("""async () => {
        const { TileGrid } = await import('/tiles.js');
        const host = document.createElement('div');
        host.className = 'grid';
        document.body.append(host);
        const grid = new TileGrid(host);
        const ids = Array.from({length: 1000}, (_, i) => 'S' + String(i + 1).padStart(4, '0'));
        grid.setSeats(ids.map((seat_id) => ({seat_id, team: 'T'})));
        const seats = ids.slice(0, 700).map((seat_id, i) => ({seat_id, call_id: 'c' + i,
            agent_id: 'A' + i, agent_speaking: i % 2 === 0, deviation: (i % 40) / 10,
            open_alerts: []}));
        const first = grid.update(seats);
        const watch = (seatsNow) => {  // which tiles does one update write to?
            const observer = new MutationObserver(() => {});
            observer.observe(host, {subtree: true, childList: true, attributes: true,
                characterData: true});
            const changed = grid.update(seatsNow);
            const seen = new Set();
            for (const r of observer.takeRecords()) {
                const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                seen.add(el.closest('.tile').dataset.seat);
            }
            observer.disconnect();
            return {changed, seen: [...seen].sort()};
        };
        const same = watch(seats.map((s) => ({...s})));
        const moved = seats.map((s, i) => (i % 70 === 3 ? {...s, deviation: s.deviation + 1}
                                                        : {...s}));
        const ten = watch(moved);
        const hungUp = watch(moved.slice(5));  // five calls end: those seats go idle
        return {first, same, ten, hungUp, states: [...host.children].slice(0, 6)
            .map((el) => el.dataset.state)};
    }""")
    assert touched["first"] == 700  # the first snapshot changes every seat in a call
    assert touched["same"] == {"changed": 0, "seen": []}
    expected = [f"S{i + 1:04d}" for i in range(3, 700, 70)]
    assert touched["ten"] == {"changed": 10, "seen": expected}
    assert touched["hungUp"] == {"changed": 5, "seen": [f"S{i:04d}" for i in range(1, 6)]}
    assert touched["states"] == ["idle"] * 5 + ["in_call"]
    assert page.errors == []


def test_updating_1000_tiles_once_a_second_costs_milliseconds(page):
    result = page.evaluate(MEASURE_TILES_JS, {"n": 1000, "rounds": 40})
    assert result["tiles"] == 1000
    assert 600 < result["inCall"] < 800
    update, layout = summary_ms(result["update"]), summary_ms(result["withLayout"])
    changed = sorted(result["changed"])[len(result["changed"]) // 2]
    print(f"\n1,000 tiles, {result['inCall']} in a call, ~{changed} changed a round: "
          f"update {update['median']} ms median ({update['p95']} p95), with style and layout "
          f"{layout['median']} ms ({layout['p95']} p95); long tasks {result['longTasks']}")
    assert 0 < changed < 1000  # a round changes some tiles, never all: only those are touched
    assert page.errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explanations_read_as_the_engines(page, lang):
    cases = [
        ([("loudness_n5_sone", 2.61), ("loudness_mean_sone", 2.2), ("f0_median_st", 1.94)],
         "A1001", 7.4),
        ([("speech_rate_syl_s", -1.26), ("pause_ratio", 2.04)], None, 65.0),
        ([("vowel_tilt_db", -3.01)], "王芳", 125.6),
        ([], "A1002", 3.0),
        ([("unknown_feature", 1.5)], "A1003", 0.4),
        ([("loudness_slope_sone_s", 6.0), ("f0_median_st", 5.9), ("vowel_tilt_db", -6.0)],
         "A1004", 12.0),
    ]
    for drivers, agent, duration_s in cases:
        ours = page.evaluate("""async ([drivers, agent, duration, lang]) => {
            const { explainDrivers } = await import('/i18n.js');
            return explainDrivers(drivers.map(([feature, z]) => ({feature, z})), agent,
                                  duration, lang);
        }""", [drivers, agent, duration_s, lang])
        assert ours == explain_drivers(drivers, agent, duration_s, lang)
    words = page.evaluate("async () => (await import('/i18n.js')).FEATURE_WORDS")
    assert words == {k: {f: list(w) for f, w in v.items()} for k, v in FEATURE_WORDS.items()}


def test_the_fitted_layout_shows_every_tile_on_a_wall_display(page):
    # An HD and a 4K wall show every seat; a laptop's box cannot hold 300 readable tiles,
    # so it gets the smallest readable ones and scrolls. Text always fits its tile.
    boxes = [(300, 1500, 900, True), (1000, 3200, 1900, True), (300, 1150, 640, False)]
    for n, box_w, box_h, fits in boxes:
        fit = page.evaluate("""async ([n, w, h]) => {
            const { fitTiles } = await import('/tiles.js');
            return fitTiles(n, w, h, 4);
        }""", [n, box_w, box_h])
        rows = -(-n // fit["cols"])
        tile_w = (box_w - 4 * (fit["cols"] - 1)) / fit["cols"]
        assert (rows * fit["h"] + 4 * (rows - 1) <= box_h) == fits, (n, box_w, box_h, fit)
        assert fit["h"] >= 30 and fit["font"] >= 9 and tile_w >= 7.8 * fit["font"], fit


def test_the_seat_detail_says_how_the_line_is_judged(page):
    said = page.evaluate("""async () => {
        const { lineFact } = await import('/detail.js');
        const seat = (read, db, baseline = 'agent') => ({baseline, scored: true,
                                                          line_read_db: read, line_db: db});
        return {
            population: lineFact(seat(null, null, 'population')),
            reading: lineFact(seat(null, 0)),
            carried: lineFact(seat(null, 5.3)),
            usual: lineFact(seat(1.24, 0)),
            corrected: lineFact(seat(7.3, 5.3)),
            quieter: lineFact(seat(-8.0, -6.0)),
            none: lineFact(undefined),
        };
    }""")
    assert said == {
        "population": "–", "none": "–",
        "reading": "正在从平静语句测量…",
        "carried": "沿用本座席上一通电话的校正 +5.3 dB，正在测量…",
        "usual": "与校准时相比 +1.2 dB（按校准判断）",
        "corrected": "与校准时相比 +7.3 dB，已按线路校正 +5.3 dB",
        "quieter": "与校准时相比 −8.0 dB，已按线路校正 −6.0 dB",
    }


def test_the_qa_call_page_says_how_the_agents_line_was_judged(page):
    said = page.evaluate("""async () => {
        const { callLineFact } = await import('/qa_common.js');
        return [callLineFact({}), callLineFact({agent_line_level_db: 0.6,
                                                agent_line_correction_db: 0}),
                callLineFact({agent_line_level_db: 7.41, agent_line_correction_db: 5.41})];
    }""")
    assert said == [None, "与校准时相比 +0.6 dB（按校准判断）",
                    "与校准时相比 +7.4 dB，已按线路校正 +5.4 dB"]
