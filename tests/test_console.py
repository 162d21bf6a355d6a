"""The supervisor's console in a real browser, against the real server and simulated seats.

One floor per module: 48 configured seats in four teams, 8 of them simulated (short calls,
each with scheduled agitated episodes), streamed by ``voiceline simulate``'s engine to
``voiceline serve`` in a thread. Headless Chromium logs in, watches the seats fill in,
meets the alert of an agitation episode, acknowledges and resolves it (and a second
supervisor sees it happen), reloads, opens a seat's detail by keyboard, is refused as an
agent, and rides out a server restart. The restart test runs last: it ends every call.

Screenshots go to pytest's temporary directory; with ``VOICELINE_SCREENSHOTS=DIR`` also
to DIR (``docs/`` for the README).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from test_console_support import (
    NAMES,
    PASSWORD,
    Floor,
    SimulationThread,
    make_floor,
    prepare_data,
    seat_ids,
    sign_in,
    watched_page,
)

N_LIVE = 8
N_CONFIGURED = 48
VIEWPORT = {"width": 1600, "height": 900}


@pytest.fixture(scope="module")
def floor(tmp_path_factory, chromium_browser):
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    data_dir = tmp_path_factory.mktemp("console-data")
    sim_floor = make_floor(N_LIVE)
    token = prepare_data(data_dir, sim_floor, N_CONFIGURED)
    server = ServerThread(ServerConfig(data_dir=data_dir, audiosocket_port=None)).start()
    simulation = SimulationThread(server.url, token, sim_floor).start()
    try:
        yield Floor(server.url, data_dir, server, simulation, N_LIVE, N_CONFIGURED)
    finally:
        simulation.stop()
        server.stop()


@pytest.fixture
def new_page(chromium_browser, floor):
    """Pages in fresh browser contexts (own storage: a separate person at a separate desk)."""
    contexts = []

    def make():
        context = chromium_browser.new_context(viewport=VIEWPORT, base_url=floor.url)
        contexts.append(context)
        page = watched_page(context)
        return page

    yield make
    for context in contexts:
        context.close()


def login(page, name: str, password: str = PASSWORD) -> None:
    sign_in(page, name, password)  # this floor's users have the console password


def wall_of(new_page, name: str = "sup"):
    page = new_page()
    login(page, name)
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.wait_for_selector("body[data-status=live]", timeout=15_000)
    return page


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    target = os.environ.get("VOICELINE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name))


def tile_states(page) -> dict:
    return page.evaluate("""() => {
        const out = {};
        for (const el of document.querySelectorAll('.tile')) out[el.dataset.seat] = {
            state: el.dataset.state, name: el.querySelector('.name').textContent,
            dev: el.querySelector('.dev').textContent, hidden: el.hidden,
            severity: el.dataset.severity ?? '',
            label: JSON.parse(getComputedStyle(el.querySelector('.st'), '::after').content)};
        return out;
    }""")


def page_alerts(page) -> list[dict]:
    return page.evaluate("() => [...window.__voiceline.feed.alerts.values()]")


def api(page, path: str, method: str = "GET", body=None) -> dict:
    """Call the API from the page with its session, as the page itself would."""
    return page.evaluate("""async ([path, method, body]) => {
        const token = JSON.parse(localStorage.getItem('voiceline.session')).token;
        const r = await fetch(path, {method, body: body === null ? undefined : JSON.stringify(body),
            headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'}});
        return {status: r.status, body: await r.json()};
    }""", [path, method, body])


def test_login_then_the_wall_fills_with_the_floor(new_page, floor, tmp_path):
    page = new_page()
    login(page, "sup", "not the password")
    error = page.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == "用户名或密码不正确。"
    assert "/login.html" in page.url
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.wait_for_selector("body[data-status=live]", timeout=15_000)
    # the session token goes in the first message only: a URL reaches proxies' access
    # logs, and the browser console prints it whenever a connection fails
    assert sockets and all("token" not in url for url in sockets), sockets

    assert page.locator(".tile").count() == N_CONFIGURED
    assert page.locator("#conn-text").inner_text() == "实时"
    # The simulated seats' calls show up as tiles in call, with names and deviations.
    page.wait_for_function(f"""() => document.querySelectorAll(
        '.tile:not([data-state=idle])').length >= {N_LIVE // 2}""", timeout=20_000)
    page.wait_for_function("""() => [...document.querySelectorAll(
        '.tile:not([data-state=idle]) .dev')]
        .some((el) => /^\\d+\\.\\d\u03c3$/.test(el.textContent))""", timeout=20_000)
    states = tile_states(page)
    live_seats = {seat for seat, tile in states.items() if tile["state"] != "idle"}
    assert live_seats <= set(seat_ids(N_LIVE)), "only simulated seats can be in a call"
    for seat in live_seats:
        tile = states[seat]
        assert tile["name"] == NAMES[int(seat[1:]) - 1], tile
        # an alert tile says how severe in words, not by colour alone
        words = {"in_call": "通话中", "speaking": "说话中"}
        if tile["state"] == "alert":
            assert tile["label"] == {"warning": "警告", "critical": "严重"}[tile["severity"]], tile
        else:
            assert tile["label"] == words[tile["state"]], tile
    for seat in set(states) - set(seat_ids(N_LIVE)):
        assert states[seat] == {"state": "idle", "name": "", "dev": "", "label": "空闲",
                                "hidden": False, "severity": ""}
    counts = page.evaluate("""() => ({
        strip: Number(document.getElementById('m-in-call').textContent),
        tiles: document.querySelectorAll('.tile:not([data-state=idle])').length})""")
    assert counts["strip"] == counts["tiles"]

    # Filters: one team, then only seats in a call.
    page.select_option("#team", "二组")
    visible = [seat for seat, tile in tile_states(page).items() if not tile["hidden"]]
    assert visible == seat_ids(24)[12:]
    page.select_option("#team", "")
    page.uncheck("input[name=state][value=idle]")
    states = tile_states(page)
    shown = {seat for seat, tile in states.items() if not tile["hidden"]}
    assert shown == {seat for seat, tile in states.items() if tile["state"] != "idle"}
    assert shown, "some seats are in a call"
    page.check("input[name=state][value=idle]")
    assert page.locator(".tile:visible").count() == N_CONFIGURED
    assert page.errors == []


def test_an_agitation_episode_raises_an_alert_that_supervisors_handle(new_page, floor, tmp_path):
    page = wall_of(new_page, "sup")
    other = wall_of(new_page, "sup2")
    first = page.locator(".alert[data-kind=agitation]").first
    first.wait_for(timeout=60_000)
    seen_at = time.time()
    alert_id = int(first.get_attribute("data-id"))
    item = page.locator(f".alert[data-id='{alert_id}']")
    alert = next(a for a in page_alerts(page) if a["id"] == alert_id)

    # It belongs to an agitated episode the simulation scheduled on that seat and call.
    episodes = [e for e in floor.simulation.agitated_episodes()
                if e[0] == alert["seat_id"] and alert["call_id"] in e[1]]
    assert episodes, (alert, floor.simulation.agitated_episodes())
    start_s = min(e[2] for e in episodes if e[2] <= alert["opened_s"])
    detect_s = alert["opened_s"] - start_s
    shown_s = seen_at - alert["opened_s"]
    print(f"\nagitation episode → alert opened {detect_s:.1f} s; opened → on the wall "
          f"{shown_s:.1f} s")
    assert 0 < detect_s < 20
    assert shown_s < 5
    # Kind, severity, agent and seat in words; the explanation in the agent's own terms.
    text = item.inner_text()
    assert "情绪激动" in text and ("警告" in text or "严重" in text)
    name = NAMES[int(alert["seat_id"][1:]) - 1]
    assert f"座席 {alert['seat_id']}" in text and f"{name} · {alert['agent_id']}" in text
    assert f"与{name}平时相比：" in item.locator(".a-why").inner_text()
    assert re.search(r"进行中 \d+ 秒|已结束，持续", text)
    # when it opened, on the clock (from an audit: only durations were shown)
    opened = page.evaluate(f"""() => new Date({alert['opened_s']} * 1000)
        .toLocaleTimeString('zh-CN', {{hour: '2-digit', minute: '2-digit'}})""")
    assert f"{opened} · " in text
    tile = page.locator(f".tile[data-seat={alert['seat_id']}]")
    if alert["state"] == "open":
        assert tile.get_attribute("data-state") == "alert"
    if alert["severity"] == "critical":  # hard to miss: a banner, and the chime
        assert page.evaluate("window.__voiceline.alarm.played") >= 1
        assert page.locator("#critical").is_visible()

    item.locator("button.ack").click()
    status = item.locator(".a-status")
    status.wait_for()
    assert status.inner_text() == "sup 已确认"
    other_item = other.locator(f".alert[data-id='{alert_id}']")
    other_item.locator(".a-status", has_text="sup 已确认").wait_for(timeout=3_000)
    assert other_item.locator("button.ack").is_hidden()

    other_item.locator("button.resolve").click()  # the second supervisor starts too
    other.locator("#resolve").wait_for()
    other.get_by_label("已介入").check()
    item.locator("button.resolve").click()
    dialog = page.locator("#resolve")
    dialog.wait_for()
    page.get_by_label("已介入").check()
    page.fill("#resolve-note", "已提醒坐席放慢语速")
    page.click("#resolve-submit")
    dialog.wait_for(state="hidden")
    expected = "sup 已处理：已介入：已提醒坐席放慢语速"
    # drawn on the next frame after the dialog closes (read at once, it raced)
    item.locator(".a-status", has_text=expected).wait_for(timeout=3_000)
    assert item.locator(".a-status").inner_text() == expected
    other_item.locator(".a-status", has_text=expected).wait_for(timeout=3_000)
    assert item.locator("button.resolve").is_hidden()
    # ... and submits second: told who did it and when, in the page's words (from an
    # audit: the server's English with a raw Unix time)
    other.click("#resolve-submit")
    late = other.locator("#resolve-error", has_text="sup 已于")
    late.wait_for()
    assert re.fullmatch(r"sup 已于 \d\d:\d\d 处理了这条告警", late.inner_text())
    other.click("#resolve-cancel")

    page.reload()
    page.wait_for_selector("body[data-status=live]", timeout=15_000)
    again = page.locator(f".alert[data-id='{alert_id}']")
    assert again.get_attribute("data-resolved") == "true"
    assert again.locator(".a-status").inner_text() == expected
    stored = api(page, f"/api/alerts/{alert_id}")
    assert stored["status"] == 200
    assert stored["body"]["resolved_by"] == "sup"
    assert stored["body"]["resolution_note"] == "已介入：已提醒坐席放慢语速"
    screenshot(page, tmp_path, "console-wall.png")
    assert page.errors == [] and other.errors == []


def test_seat_detail_opens_by_keyboard_with_the_agents_band(new_page, floor, tmp_path):
    # Seats whose agent the server has already heard (loudness measured) before the page opens.
    history = floor.server.service.history

    def heard() -> list[str]:
        return [s for s in seat_ids(N_LIVE)
                if sum(p["loudness_sone"] is not None for p in history.points(s)) >= 3]

    deadline = time.monotonic() + 30
    while len(heard()) < N_LIVE // 2:
        assert time.monotonic() < deadline, "the simulated seats were not scored in time"
        time.sleep(0.5)
    opened_s = time.time()
    earlier = heard()
    page = wall_of(new_page)
    busy = " ".join(f".tile[data-seat={s}][data-state={state}]," for s in earlier
                    for state in ("speaking", "alert")).rstrip(",")
    page.wait_for_function(f"() => document.querySelector('{busy}') !== null",
                           timeout=30_000)
    seat = page.evaluate(f"() => document.querySelector('{busy}').dataset.seat")
    page.locator(".tile").first.focus()
    for _ in range(int(seat[1:]) - 1):  # arrows move along the wall
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.seat") == seat
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    dialog.wait_for()
    assert page.locator("#detail-title").inner_text() == f"座席 {seat}"
    assert NAMES[int(seat[1:]) - 1] in dialog.locator(".facts").inner_text()
    # how the seat's line is judged: read from the calm speech, or still being read
    line = dialog.locator(".facts dt", has_text="线路音量").locator(
        "xpath=following-sibling::dd[1]")
    assert re.fullmatch(r"与校准时相比 [+−]\d+\.\d dB.*|正在从平静语句测量…|–",
                        line.inner_text()), line.inner_text()
    # Three charts, each with the agent's usual band (from their baseline) and a trace.
    page.wait_for_function("""() => document.querySelectorAll('#detail .band-outer').length === 3
        && [...document.querySelectorAll('#detail .series')].some((p) =>
            (p.getAttribute('d') || '').split('L').length > 3)""", timeout=20_000)
    names = dialog.locator("figcaption .chart-name").all_inner_texts()
    assert names == ["响度 (宋)", "音高 (赫兹)", "语速 (音节/秒)"]
    band = page.evaluate("""() => { const r = document.querySelector(
        '#detail [data-field=f0_hz] .band-outer'); return Number(r.getAttribute('height')); }""")
    assert band > 5, "the pitch band has a height"
    # The traces reach back before the page opened: the server's history of the seat, merged
    # with what the page gathered (one sample per snapshot time).
    page.wait_for_function("""([seat, openedS]) => {
        const t = window.__voiceline.history.series(seat).t;
        return t.length > 0 && t[0] < openedS - 1; }""", arg=[seat, opened_s], timeout=5_000)
    drawn = page.evaluate("""([seat, openedS]) => {
        window.__voiceline.detail.render();
        const series = window.__voiceline.history.series(seat);
        const path = document.querySelector('#detail [data-field=loudness_sone] .series');
        const drawn = ((path.getAttribute('d') || '').match(/[ML]/g) || []).length;
        return {times: series.t, drawn, own: series.t.filter((t, i) => t >= openedS
            && Number.isFinite(series.loudness_sone[i])).length}; }""",
        [seat, opened_s])
    times = drawn["times"]
    assert times == sorted(set(times)), "merged, in time order, once each"
    assert drawn["drawn"] > drawn["own"], "the loudness trace has points from before the page"
    screenshot(page, tmp_path, "console-seat-detail.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.dataset.seat") == seat
    assert page.errors == []


def test_an_agent_is_refused_the_supervisors_wall(new_page, floor):
    page = new_page()
    login(page, "wang")
    page.wait_for_url(re.compile(r"/report\.html"))  # an agent's home: their own report
    page.locator("#report-main").wait_for()

    page.goto("/wall.html")
    refused = page.locator("#refused")
    refused.wait_for()
    assert refused.locator("h2").inner_text() == "此页面不对您的角色开放"
    assert page.locator("#wall-main").is_hidden()
    assert page.locator(".tile").count() == 0
    assert page.locator("#sound").is_hidden()
    page.click("#lang")
    assert refused.locator("h2").inner_text() == "This page is not available for your role"
    assert "signed in as agent" in page.locator("#refused-body").inner_text()
    page.click("#lang")
    # The server refuses the agent on its own, whatever the page does.
    assert api(page, "/api/seats")["status"] == 403
    assert api(page, "/api/alerts/1/ack", "POST")["status"] == 403
    close = page.evaluate("""() => new Promise((resolve) => {
        const token = JSON.parse(localStorage.getItem('voiceline.session')).token;
        const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws/alerts');
        ws.onopen = () => ws.send(JSON.stringify({type: 'auth', token, since: 0}));
        ws.onclose = (event) => resolve(event.code);
    })""")
    assert close == 1008
    page.click("#refused-switch")
    page.wait_for_url(re.compile(r"/login\.html"))
    assert page.errors == []


def test_language_and_sound_choices_are_remembered(new_page, floor):
    page = wall_of(new_page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    sound = page.locator("#sound")
    assert sound.get_attribute("aria-pressed") == "true"
    page.locator("body").press("Alt+m")  # Alt+M mutes, as the button's title says
    assert sound.get_attribute("aria-pressed") == "false"
    assert page.locator("#sound-text").inner_text() == "提示音"
    assert sound.get_attribute("title") == "严重告警时发出提示音（Alt+M 切换）"
    assert page.evaluate("window.__voiceline.alarm.chime('critical')") is False
    page.click("#lang")
    idle_word = """() => JSON.parse(getComputedStyle(
        document.querySelector('.tile[data-state=idle] .st'), '::after').content)"""
    assert page.evaluate(idle_word) == "Idle"
    assert page.locator("#conn-text").inner_text() == "Live"

    page.reload()
    page.wait_for_selector("body[data-status=live]", timeout=15_000)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#feed-title").inner_text() == "Alerts"
    assert page.evaluate(idle_word) == "Idle"
    assert page.locator("#sound-text").inner_text() == "Alert sound"
    assert sound.get_attribute("aria-pressed") == "false"
    if page.locator(".alert").count():
        kind = page.locator(".alert .kind").first.inner_text()
        assert kind in ("Agitation", "Low energy")
    page.click("#lang")
    assert page.evaluate(idle_word) == "空闲"
    assert page.errors == []


def test_the_page_recovers_after_the_server_restarts(new_page, floor, tmp_path):
    page = wall_of(new_page)
    page.wait_for_function("() => window.__voiceline.feed.alerts.size > 0", timeout=60_000)
    before = {a["id"]: a for a in page_alerts(page)}
    last_before = page.evaluate("window.__voiceline.live.lastEventId")

    floor.server.stop()  # ends every call: their open alerts close
    page.wait_for_selector("body[data-status=reconnecting]", timeout=10_000)
    assert "重新连接" in page.locator("#conn").inner_text()
    time.sleep(1.0)
    floor.server.start()
    page.wait_for_selector("body[data-status=live]", timeout=20_000)
    assert page.locator("#conn-text").inner_text() == "实时"

    # The events written meanwhile arrive, once each: the page agrees with the store.
    page.wait_for_function(f"""() => [...window.__voiceline.feed.alerts.values()]
        .filter((a) => {json.dumps(sorted(before))}.includes(a.id))
        .every((a) => a.state === 'closed')""", timeout=15_000)
    assert page.evaluate("window.__voiceline.live.lastEventId") > last_before
    stored = {a["id"]: a for a in api(page, "/api/alerts?limit=500")["body"]}
    for alert in page_alerts(page):
        mine = {k: alert[k] for k in ("state", "severity", "acknowledged_by", "resolved_by")}
        theirs = {k: stored[alert["id"]][k] for k in mine}
        assert mine == theirs, alert["id"]
    ids = page.evaluate("() => [...document.querySelectorAll('.alert')].map((el) => el.dataset.id)")
    assert len(ids) == len(set(ids))
    # how each ended is said (from an audit: "recovered" and "cut off" read the same)
    why = {"call ended": "（通话结束）", "recovered": "（声音已恢复平常）",
           "silence": "（坐席停止说话）", "server stopped": "（服务器已停止）"}
    for alert in page_alerts(page):
        if alert["state"] == "closed" and alert.get("close_reason") in why:
            text = page.locator(f".alert[data-id='{alert['id']}']").inner_text()
            assert why[alert["close_reason"]] in text, text
    assert page.evaluate("window.__voiceline.live.reconnects") >= 1
    # The simulated seats reconnect and the wall fills in again.
    page.wait_for_function("""() => document.querySelectorAll('.tile:not([data-state=idle])')
        .length > 0""", timeout=20_000)
    assert page.errors == []


def test_a_reload_keeps_every_alert_still_waiting_to_be_resolved(new_page, floor):
    # Found by an outside audit: the wall loaded the latest 200 alerts only, so after a
    # reload the older ones still waiting to be resolved were nowhere on it.
    from voiceline.store import Store

    # Written while the server is down, as a day's alerts are there when the wall opens
    # (written beside a running server, the feed would replay them as new events).
    floor.server.stop()
    with Store(floor.data_dir / "voiceline.db") as store:
        store.upsert_seat("S-OLD")
        store.start_call("old-backlog", "S-OLD", None, "audio_fork", started_s=time.time() - 600)
        waiting, handled = [], []
        for k in range(260):  # 30 waiting, then 230 newer ones someone resolved
            alert = store.open_alert("old-backlog", "agitation", "warning", 0.8, "louder",
                                     now_s=time.time() - 590 + k)
            alert = store.close_alert(alert["id"], "recovered")
            if k < 30:
                waiting.append(alert["id"])
            else:
                store.resolve_alert(alert["id"], "sup2", "handled")
                handled.append(alert["id"])
        store.end_call("old-backlog", ended_s=time.time())
    floor.server.start()
    page = wall_of(new_page)
    page.wait_for_function(f"() => window.__voiceline.feed.alerts.has({max(handled)})",
                           timeout=15_000)
    page.wait_for_timeout(500)
    shown = {a["id"] for a in page_alerts(page)}
    assert set(waiting) <= shown  # every one still waiting, however old
    page.click("button[data-feed-filter=action]")
    # the filter is drawn on the next frame (read at once, it raced on a loaded machine)
    page.wait_for_function("""(ids) => ids.every((id) => document.querySelector(
        `.alert[data-id='${id}']`)?.hidden !== false)""", arg=handled, timeout=5_000)
    visible = page.evaluate("""() => [...document.querySelectorAll('.alert:not([hidden])')]
        .map((el) => Number(el.dataset.id))""")
    assert set(waiting) <= set(visible) and not set(handled) & set(visible)
    assert page.errors == []


def test_audio_dropped_unscored_is_said_on_the_wall(new_page, floor):
    # Found by an outside audit: with the engine overloaded, 4,059 s of audio went
    # unscored while the wall showed green and calm tiles.
    page = wall_of(new_page)
    assert page.locator("#lag").is_hidden()
    page.evaluate("""() => {
        const seat = (dropped) => ({seat_id: 'S-LAG', call_id: 'lag-1', agent_id: null,
                                    scored: true, state: 'calm', dropped_s: dropped});
        const t = Date.now() / 1000;
        window.__voiceline.onSeats({type: 'seats', t, seats: [seat(0)], floor: {}});
        window.__voiceline.onSeats({type: 'seats', t: t + 1, seats: [seat(12.4)], floor: {}});
    }""")
    banner = page.locator("#lag")
    assert banner.is_visible()
    assert banner.inner_text() == "评分跟不上：过去一分钟 1 个座席共 12 秒音频未评分"



MISSED_ALERT_JS = """([id, state, updated, acked]) => window.__voiceline.feed.apply({
    event_id: 0, event: state === 'open' ? 'opened' : (acked ? 'acknowledged' : 'closed'),
    alert: {id, seat_id: 'S-MISS', call_id: 'miss-1', agent_id: null, kind: 'agitation',
            severity: 'critical', state, score: 0.97, explanation: 'louder',
            opened_s: updated - 30, updated_s: updated,
            closed_s: state === 'closed' ? updated - 1 : null, close_reason:
            state === 'closed' ? 'recovered' : null,
            acknowledged_s: acked ? updated : null, acknowledged_by: acked ? 'sup2' : null,
            resolved_s: null, resolved_by: null, resolution_note: null}})"""


def test_a_critical_alert_that_ended_unseen_stays_on_the_banner_until_acknowledged(
        new_page, floor):
    # Found by an outside audit: a critical alert that closed before anyone acknowledged
    # it took the banner with it, leaving no trace in the wall's top bar.
    page = wall_of(new_page)
    floor.server.stop()  # no alert of the floor's own comes in meanwhile
    try:
        # The floor's own critical alerts, open ones seen (on this page only).
        page.evaluate("""() => { const feed = window.__voiceline.feed;
            for (const a of feed.criticalPending()) feed.upsert({...a,
                updated_s: a.updated_s + 0.001, acknowledged_s: a.updated_s,
                acknowledged_by: 'sup2'}); }""")
        known = page.evaluate("() => window.__voiceline.feed.criticalMissed().length")
        banner, text = page.locator("#critical"), page.locator("#critical-text")
        alert_id, now = 900_000_001, time.time()
        page.evaluate(MISSED_ALERT_JS, [alert_id, "open", now, False])
        page.wait_for_function("() => document.body.classList.contains('has-critical')")
        assert "missed" not in banner.get_attribute("class")
        text.filter(has_text="1 条严重告警待确认").wait_for(timeout=5_000)

        page.evaluate(MISSED_ALERT_JS, [alert_id, "closed", now + 30, False])
        text.filter(has_text=f"{known + 1} 条严重告警在有人确认前已结束").wait_for(
            timeout=5_000)
        assert banner.is_visible() and "missed" in banner.get_attribute("class")
        assert not page.evaluate("() => document.body.classList.contains('has-critical')")
        page.click("#critical-show")  # takes the supervisor to the newest of them
        ack = page.locator(f".alert[data-id='{alert_id}'] button.ack")
        assert ack.evaluate("(button) => button === document.activeElement")

        page.evaluate(MISSED_ALERT_JS, [alert_id, "closed", now + 40, True])
        if known == 0:
            banner.wait_for(state="hidden", timeout=5_000)
        else:
            text.filter(has_text=f"{known} 条严重告警在有人确认前已结束").wait_for(
                timeout=5_000)
    finally:
        floor.server.start()
    assert page.errors == []
