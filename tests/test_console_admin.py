"""The admin page in a real browser, against the real server in a thread.

Users as ``add_users`` makes them (admin, supervisors sup and sup2, qa, agent wang of
A1001; agents A1001 and A1002), A1001 calibrated by ``voiceline calibrate`` from a
recording of calm synthetic speech, A1002 not. Headless Chromium signs in as the admin,
lands on the admin page, adds a supervisor (who can then sign in), reads the agents'
baselines, issues an ingest token and resets a password; a supervisor is refused the page
by the page and by the API.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect

from capture.ingest import audiofork
from test_console_support import cli, sign_in, watched_page
from test_server_support import add_users, login, voice
from voiceline import __version__

VIEWPORT = {"width": 1400, "height": 1000}
NEW_PASSWORD = "duty night 0712"


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_browser):
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    data_dir = tmp_path_factory.mktemp("admin-console")
    add_users(data_dir)
    recording = data_dir / "A1001-calm.wav"
    sf.write(recording, voice(50.0, seed=1), 8000, subtype="PCM_16")
    cli("calibrate", "--agent", "A1001", "--out", str(data_dir / "baselines"), str(recording))
    server = ServerThread(ServerConfig(data_dir=data_dir, audiosocket_port=None)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_page(chromium_browser, server):
    contexts = []

    def make():
        context = chromium_browser.new_context(viewport=VIEWPORT, base_url=server.url)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        contexts.append(context)
        page = watched_page(context)
        return page

    yield make
    for context in contexts:
        context.close()


def api_login(server, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/login", json={"name": name, "password": password})


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    target = os.environ.get("VOICELINE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)


def test_an_admin_manages_users_baselines_and_tokens(new_page, server, tmp_path):
    page = new_page()
    sign_in(page, "admin")
    page.wait_for_url(re.compile(r"/admin\.html"))
    page.wait_for_selector("body[data-status=ready]")
    names = page.locator("#users tr").evaluate_all("(rows) => rows.map((r) => r.dataset.name)")
    assert names == ["admin", "qa", "sup", "sup2", "wang"]
    assert page.locator("#users tr[data-name=admin] td").first.inner_text() == "admin（您）"
    assert page.locator("#users tr[data-name=wang]").inner_text().split("\t")[1:3] == \
        ["坐席", "A1001"]
    assert page.locator("#to-wall").is_visible()

    # Add a supervisor: the page catches a short password, the server a taken name.
    page.fill("#new-name", "zhou")
    page.fill("#new-password", "short")
    page.click("#add-user-submit")
    assert page.locator("#add-user-error").inner_text() == "密码至少需要 8 个字符。"
    page.fill("#new-name", "SUP")
    page.fill("#new-password", NEW_PASSWORD)
    page.press("#new-password", "Enter")
    page.locator("#add-user-error", has_text="已存在").wait_for()
    assert page.locator("#add-user-error").inner_text() == \
        "用户名“SUP”已存在（不区分大小写），请换一个。"
    page.fill("#new-name", "zhou")
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#add-user-submit")
    page.locator("#users tr[data-name=zhou]").wait_for()
    assert page.locator("#add-user-done").inner_text() == "已添加用户 zhou（值班长）。"
    assert page.locator("#users tr[data-name=zhou]").inner_text().split("\t")[1] == "值班长"
    login = api_login(server, "zhou", NEW_PASSWORD)
    assert login.status_code == 200 and login.json()["role"] == "supervisor"

    # Agents: A1001's baseline as calibrated; A1002 is judged against the population.
    baseline = json.loads((server.config.data_dir / "baselines" / "A1001.json").read_text())
    cells = page.locator("#agents tr[data-agent=A1001] td").all_inner_texts()
    assert cells[:3] == ["A1001", "Wang Fang", "–"]
    assert cells[3:6] == ["有", f"{round(baseline['speech_s'])} 秒", "电话 8 kHz"]
    assert cells[7] == __version__ and re.match(r"\d{4}年\d{1,2}月\d{1,2}日", cells[6])
    assert page.locator("#agents tr[data-agent=A1002] td").all_inner_texts()[3] == \
        "无个人基线 — 按全体坐席基线评判"
    assert page.get_by_role("button", name="查看 A1002 的基线").count() == 0

    # Its baseline in plain words, opened and closed by keyboard.
    view = page.get_by_role("button", name="查看 A1001 的基线")
    view.focus()
    page.keyboard.press("Enter")
    rows = page.locator("#baseline-rows tr")
    rows.nth(14).wait_for()
    assert page.locator("#baseline-title").inner_text() == "Wang Fang · A1001 的声音基线"
    assert rows.count() == len(baseline["feature_names"]) == 16
    pitch = page.locator("#baseline-rows tr[data-feature=f0_median_st] > *").all_inner_texts()
    median_hz = 27.5 * 2 ** (baseline["median"][baseline["feature_names"].index("f0_median_st")]
                             / 12)
    assert pitch[0] == "音高" and pitch[1] == f"{median_hz:.0f} 赫兹"
    assert 120 < median_hz < 180, "the synthetic voice speaks at about 150 Hz"
    rate = page.locator("#baseline-rows tr[data-feature=speech_rate_syl_s] > *")
    assert rate.first.inner_text() == "语速" and rate.nth(2).inner_text().endswith(" 音节/秒")
    screenshot(page, tmp_path, "console-admin-baseline.png")
    page.keyboard.press("Escape")
    page.locator("#baseline").wait_for(state="hidden")

    # An ingest token, shown once with a warning, copied, and good for streaming.
    page.fill("#token-label", "freeswitch-1")
    page.click("#token-submit")
    page.locator("#token-result").wait_for()
    assert "只显示这一次" in page.locator("#token-result .warning").inner_text()
    token = page.input_value("#token-value")
    assert len(token) >= 40
    page.click("#token-copy")
    page.locator("#token-copied", has_text="已复制").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == token
    metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status_code == 200

    # Reset zhou's password: zhou's session ends, only the new password works.
    page.get_by_role("button", name="重置 zhou 的密码").click()
    page.locator("#reset").wait_for()
    page.fill("#reset-password", "another night 0713")
    page.click("#reset-submit")
    page.locator("#reset").wait_for(state="hidden")
    assert page.locator("#add-user-done").inner_text() == "已重置 zhou 的密码，退出了 1 个会话。"
    zhou = {"Authorization": f"Bearer {login.json()['token']}"}
    assert httpx.get(f"{server.url}/api/seats", headers=zhou).status_code == 401
    assert api_login(server, "zhou", NEW_PASSWORD).status_code == 401
    assert api_login(server, "zhou", "another night 0713").status_code == 200

    page.click("#lang")
    assert page.locator("#agents tr[data-agent=A1002] td").all_inner_texts()[3] == \
        "No baseline — judged against the population"
    assert page.locator("#users-title").inner_text() == "Users"
    page.click("#lang")
    screenshot(page, tmp_path, "console-admin.png")

    # The admin reaches the live wall and comes back by the header's links.
    page.click("#to-wall")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.locator("#to-admin").wait_for()
    page.click("#to-admin")
    page.wait_for_selector("body[data-status=ready]")
    assert page.errors == []


def test_an_admin_names_agents_and_arranges_the_seats_the_wall_shows(new_page, server,
                                                                     tmp_path):
    page = new_page()
    sign_in(page, "admin")
    page.wait_for_url(re.compile(r"/admin\.html"))
    page.wait_for_selector("body[data-status=ready]")
    admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}

    # An agent's team, and a new agent with a name.
    page.get_by_role("button", name="修改坐席 A1002").click()
    assert page.input_value("#agent-id") == "A1002"
    assert page.input_value("#agent-name") == "Zhao Lei"
    page.fill("#agent-team", "north")
    page.click("#agent-submit")
    page.locator("#agent-done", has_text="已保存坐席 A1002。").wait_for()
    assert page.locator("#agents tr[data-agent=A1002] td").all_inner_texts()[:3] == \
        ["A1002", "Zhao Lei", "north"]
    page.fill("#agent-id", "A1003")
    page.fill("#agent-name", "李娜")
    page.fill("#agent-team", "south")
    page.press("#agent-team", "Enter")
    page.locator("#agents tr[data-agent=A1003]").wait_for()
    assert page.locator("#agents tr[data-agent=A1003] td").all_inner_texts()[:4] == \
        ["A1003", "李娜", "south", "无个人基线 — 按全体坐席基线评判"]

    # Seats: none yet; two added, one relabelled, one retired.
    assert "尚无座席" in page.locator("#seats").inner_text()
    page.click("#seat-submit")
    assert page.locator("#seat-error").inner_text() == "请填写座席编号。"
    for seat, label in (("S-01", "座席 1"), ("S-02", "座席 2")):
        page.fill("#seat-id", seat)
        page.fill("#seat-team", "north")
        page.fill("#seat-label", label)
        page.click("#seat-submit")
        page.locator(f"#seats tr[data-seat={seat}]").wait_for()
    assert page.locator("#seat-error").is_hidden()
    teams = page.locator("#teams option").evaluate_all("(os) => os.map((o) => o.value)")
    assert teams == ["north", "south"]
    page.get_by_role("button", name="修改座席 S-02").click()
    assert page.input_value("#seat-team") == "north"
    page.fill("#seat-label", "窗口 2")
    page.click("#seat-submit")
    page.locator("#seats tr[data-seat=S-02] td", has_text="窗口 2").wait_for()
    page.get_by_role("button", name="停用座席 S-01").click()
    page.locator("#seat-done", has_text="已停用座席 S-01。").wait_for()
    assert page.locator("#seats tr").evaluate_all("(rs) => rs.map((r) => r.dataset.seat)") == \
        ["S-02"]
    configured = httpx.get(f"{server.url}/api/seats", params={"all": 1}, headers=admin
                           ).json()["configured"]
    assert [(s["seat_id"], s["team"], s["label"]) for s in configured] == \
        [("S-02", "north", "窗口 2")]
    screenshot(page, tmp_path, "console-admin-directory.png")
    page.click("#lang")
    assert page.locator("#seats-title").inner_text() == "Seats"
    assert page.get_by_role("button", name="Retire seat S-02").is_visible()
    page.click("#lang")

    # The wall lays the seat out under its team.
    page.click("#to-wall")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.locator("#team option[value=north]").wait_for(state="attached")
    assert page.errors == []


def test_the_open_wall_learns_of_a_seat_added_since_when_it_takes_a_call(new_page, server):
    admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}
    page = new_page()
    sign_in(page, "sup")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.wait_for_selector("body[data-status=live]", timeout=15_000)
    assert page.locator("#team option[value=east]").count() == 0
    assert httpx.put(f"{server.url}/api/seats/S-EAST", json={"team": "east"},
                     headers=admin).status_code == 200
    token = httpx.post(f"{server.url}/api/ingest-tokens", json={"label": "wall-test"},
                       headers=admin).json()["token"]
    stop = threading.Event()

    def call() -> None:
        async def stream() -> None:
            url = f"{server.ws_url}/ingest/audiofork?token={token}"
            async with connect(url) as ws:
                await ws.send(audiofork.start_message("east-1", "S-EAST", "A1002"))
                frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))
                while not stop.is_set():
                    await ws.send(frame)
                    await asyncio.sleep(0.02)
                await ws.send(audiofork.stop_message("hung up"))

        asyncio.run(stream())

    caller = threading.Thread(target=call)
    caller.start()
    try:
        # the call's seat is not in the wall's directory: the wall reads it again
        page.locator("#team option[value=east]").wait_for(state="attached", timeout=15_000)
        page.locator(".tile[data-seat=S-EAST]").wait_for(timeout=15_000)
    finally:
        stop.set()
        caller.join()
    assert page.errors == []


def test_a_supervisor_is_refused_the_admin_page_and_its_api(new_page):
    page = new_page()
    sign_in(page, "sup")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.wait_for_selector("#wall-main:not([hidden])", timeout=15_000)
    assert page.locator("#to-admin").is_hidden()

    page.goto("/admin.html")
    refused = page.locator("#refused")
    refused.wait_for()
    assert refused.locator("h2").inner_text() == "此页面不对您的角色开放"
    assert "您以“值班长”身份登录" in page.locator("#refused-body").inner_text()
    assert page.locator("#admin-main").is_hidden() and page.locator("#users tr").count() == 0
    status = page.evaluate("""async () => {
        const token = JSON.parse(localStorage.getItem('voiceline.session')).token;
        const r = await fetch('/api/users', {headers: {Authorization: 'Bearer ' + token}});
        return r.status;
    }""")
    assert status == 403
    page.click("#refused-switch")
    page.wait_for_url(re.compile(r"/login\.html"))
    assert page.errors == []
