"""The admin page in a real browser, against the real server in a thread.

Users as ``add_users`` makes them (admin, supervisors sup and sup2, qa, agent wang of
A1001; agents A1001 and A1002), A1001 calibrated by ``voiceline calibrate`` from a
recording of calm synthetic speech, A1002 not. Headless Chromium signs in as the admin,
lands on the admin page, adds a supervisor (who can then sign in), reads the agents'
baselines, issues an ingest token and resets a password; disables a supervisor (who is
then told so at sign-in) and enables them again; revokes an ingest token that a call is
streaming with (the call is cut, the token refused). A supervisor is refused the page by
the page and by the API. The audit log shows the sign-in and what the admin did, filtered by
action and by local dates, fifty entries a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as sync_connect

from capture.ingest import audiofork
from test_console_support import cli, sign_in, watched_page
from test_server_support import add_users, as_account, login, voice
from voiceline import __version__
from voiceline.cli import main
from voiceline.store import Store

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
    assert page.get_by_role("button", name="查看基线：A1002").count() == 0

    # Its baseline in plain words, opened and closed by keyboard.
    view = page.get_by_role("button", name="查看基线：A1001")
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
    # ... and listed at once, newest first, without the token itself
    issued = page.locator("#tokens tr").first
    issued.locator("td", has_text="freeswitch-1").wait_for()
    assert issued.get_attribute("data-status") == "valid"
    cells = issued.locator("td").all_inner_texts()
    assert cells[0] == "freeswitch-1" and cells[2:5] == ["永久", "有效", "0"]
    assert token not in page.locator("#tokens-table").inner_text()

    # Reset zhou's password: zhou's session ends, only the new password works.
    page.get_by_role("button", name="重置密码：zhou").click()
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
    # An agent who left: confirmed, their row says so, their id free for someone new.
    page.get_by_role("button", name="登记离职：A1003").click()
    page.locator("#confirm-title", has_text="李娜 · A1003 离职？").wait_for()
    page.click("#confirm-submit")
    page.locator("#agent-done", has_text="李娜 · A1003 已离职；移走 0 个基线文件。").wait_for()
    page.locator("#agents tr[data-agent=A1003] td", has_text="已离职（").wait_for()
    left = page.locator("#agents tr[data-agent=A1003] td").all_inner_texts()
    assert left[3].startswith("已离职（") and "history/retired/" in left[3]
    assert page.get_by_role("button", name="登记离职：A1003").count() == 0
    agents = httpx.get(f"{server.url}/api/agents", headers=admin).json()
    assert next(a for a in agents if a["agent_id"] == "A1003")["retired_s"] is not None

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


def test_an_admin_disables_a_supervisor_who_is_told_so_at_sign_in_then_enables_them(
        new_page, server, tmp_path):
    page = new_page()
    sign_in(page, "admin")
    page.wait_for_url(re.compile(r"/admin\.html"))
    page.wait_for_selector("body[data-status=ready]")
    own = page.locator("#users tr[data-name=admin]")
    assert own.locator("td.user-status").inner_text() == "正常"
    assert own.get_by_role("button").all_inner_texts() == ["重置密码"]  # no disabling oneself
    # every button's name starts with the words it shows ("重置密码：sup2"), so that
    # speech input ("click 重置密码") and what a screen reader says agree with the screen
    shown = page.evaluate("""() => [...document.querySelectorAll('table button')]
        .map((b) => [b.textContent, b.getAttribute('aria-label') ?? b.textContent])""")
    assert len(shown) >= 5 and all(name.startswith(text) for text, name in shown), shown
    row = page.locator("#users tr[data-name=sup2]")
    assert row.locator("td.user-status").inner_text() == "正常"
    open_session = {"Authorization": f"Bearer {login(server.url, 'sup2')}"}
    wall = new_page()  # sup2 at the wall while it happens
    sign_in(wall, "sup2")
    wall.wait_for_url(re.compile(r"/wall\.html"))
    wall.wait_for_selector("body[data-status=live]", timeout=15_000)

    # Asked first; cancelling changes nothing.
    page.get_by_role("button", name="停用：sup2").click()
    page.locator("#confirm").wait_for()
    assert page.locator("#confirm-title").inner_text() == "停用 sup2 的账户？"
    assert "无法登录" in page.locator("#confirm-body").inner_text()
    page.click("#confirm-cancel")
    page.locator("#confirm").wait_for(state="hidden")
    assert row.get_attribute("data-disabled") == "false"
    assert httpx.get(f"{server.url}/api/seats", headers=open_session).status_code == 200

    page.get_by_role("button", name="停用：sup2").click()
    page.click("#confirm-submit")
    page.locator("#confirm").wait_for(state="hidden")
    page.locator("#users tr[data-name=sup2][data-disabled=true]").wait_for()
    assert page.locator("#add-user-done").inner_text() == "已停用 sup2 的账户，退出了 2 个会话。"
    assert page.locator("#add-user-done").get_attribute("role") == "status"
    focused = """() => [document.activeElement.closest('tr')?.dataset.name,
                        document.activeElement.textContent]"""
    assert page.evaluate(focused) == ["sup2", "启用"]  # the row's new button, not the page
    assert re.fullmatch(r"已停用（\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} 起）",
                        row.locator("td.user-status").inner_text())
    assert httpx.get(f"{server.url}/api/seats", headers=open_session).status_code == 401
    screenshot(page, tmp_path, "console-admin-disabled.png")
    # the open wall goes to the sign-in page and says why (it once said "expired")
    wall.wait_for_url(re.compile(r"/login\.html\?reason=disabled"), timeout=15_000)
    assert wall.locator("#login-notice").inner_text() == \
        "您的账户已被管理员停用；如需继续使用，请联系管理员。"

    # sup2's sign-in page says the account is disabled, not that the password is wrong.
    sup2 = new_page()
    sign_in(sup2, "sup2")
    sup2.locator("#login-error", has_text="disabled").wait_for()
    assert sup2.locator("#login-error").inner_text() == \
        "无法登录：the account 'sup2' is disabled; ask an administrator to enable it"
    assert "/login.html" in sup2.url

    page.get_by_role("button", name="启用：sup2").click()
    page.locator("#users tr[data-name=sup2][data-disabled=false]").wait_for()
    assert page.locator("#add-user-done").inner_text() == "已启用 sup2 的账户，可用原密码登录。"
    assert page.evaluate(focused) == ["sup2", "停用"]
    assert row.locator("td.user-status").inner_text() == "正常"
    sup2.click("#submit")
    sup2.wait_for_url(re.compile(r"/wall\.html"))

    # What the server refuses is said in the dialog, which stays open; the table is read again.
    page.route("**/api/users/qa/disable", lambda route: route.fulfill(
        status=409, json={"detail": "'qa' is the only enabled admin; add or enable another "
                                    "admin first"}))
    page.get_by_role("button", name="停用：qa").click()
    page.click("#confirm-submit")
    page.locator("#confirm-error").wait_for()
    assert page.locator("#confirm-error").inner_text() == \
        "操作失败：'qa' is the only enabled admin; add or enable another admin first"
    assert page.locator("#confirm").is_visible()
    page.keyboard.press("Escape")
    page.locator("#confirm").wait_for(state="hidden")

    page.click("#lang")
    assert row.locator("td.user-status").inner_text() == "enabled"
    assert page.get_by_role("button", name="Disable: sup2").is_visible()
    page.click("#lang")
    assert page.errors == []


def test_an_admin_revokes_a_token_a_call_is_streaming_with(new_page, server, tmp_path):
    admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}
    token = httpx.post(f"{server.url}/api/ingest-tokens", json={"label": "pbx-retired"},
                       headers=admin).json()["token"]
    url = f"{server.ingest_url}/ingest/audiofork?token={token}"
    streaming, closed = threading.Event(), []

    def call() -> None:
        async def stream() -> None:
            async with connect(url) as ws:
                await ws.send(audiofork.start_message("rv-1", "S-RV", "A1002"))
                frame = audiofork.pcm_message(np.zeros(160, dtype=np.int16))
                with contextlib.suppress(ConnectionClosed):
                    for _ in range(1000):  # 20 s at most
                        await ws.send(frame)
                        streaming.set()
                        await asyncio.sleep(0.02)
                closed.append((ws.close_code, ws.close_reason))

        asyncio.run(stream())

    caller = threading.Thread(target=call)
    caller.start()
    try:
        assert streaming.wait(10.0)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            listed = httpx.get(f"{server.url}/api/ingest-tokens", headers=admin).json()
            mine = next(t for t in listed if t["label"] == "pbx-retired")
            if mine["connections"] == 1:
                break
            time.sleep(0.1)
        assert mine["connections"] == 1

        page = new_page()
        sign_in(page, "admin")
        page.wait_for_url(re.compile(r"/admin\.html"))
        page.wait_for_selector("body[data-status=ready]")
        row = page.locator(f"#tokens tr[data-token='{mine['id']}']")
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == "pbx-retired" and cells[2:5] == ["永久", "有效", "1"]
        row.get_by_role("button", name="吊销令牌“pbx-retired”").click()
        page.locator("#confirm").wait_for()
        assert page.locator("#confirm-title").inner_text() == "吊销令牌“pbx-retired”？"
        body = page.locator("#confirm-body").inner_text()
        assert "正在用它传输音频的通话会被立即切断（目前有 1 个连接）" in body
        screenshot(page, tmp_path, "console-admin-revoke.png")
        page.click("#confirm-submit")
        page.locator(f"#tokens tr[data-token='{mine['id']}'][data-status=revoked]").wait_for()
        assert page.locator("#tokens-done").inner_text() == \
            "已吊销令牌“pbx-retired”，切断了 1 个连接。"
        cells = row.locator("td").all_inner_texts()
        assert re.fullmatch(r"已吊销（\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}）", cells[3])
        assert row.get_by_role("button").count() == 0
    finally:
        caller.join(30.0)
    assert closed == [(1008, "the ingest token 'pbx-retired' was revoked")]

    with pytest.raises(InvalidStatus) as refused:  # sync: Playwright's loop runs here
        sync_connect(url)
    assert refused.value.response.status_code == 401
    page.click("#lang")
    assert row.locator("td").nth(3).inner_text().startswith("revoked ")
    assert page.errors == []


def audit_rows(page, action: str, n: int) -> list[list[str]]:
    """Wait until the audit table shows ``n`` entries, all of ``action``; their cells."""
    page.wait_for_function("""([action, n]) => {
        const rows = [...document.querySelectorAll('#audit tr')];
        return rows.length === n && rows.every((r) => r.dataset.action === action);
    }""", arg=[action, n])
    return page.locator("#audit tr").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")


def test_an_admin_reads_the_audit_log_by_action_and_date_a_page_at_a_time(new_page, server,
                                                                          monkeypatch):
    admin = {"Authorization": f"Bearer {login(server.url, 'admin')}"}
    added = httpx.post(f"{server.url}/api/users", headers=admin, json={
        "name": "auditee", "role": "supervisor", "password": "audited night 0714"})
    assert added.status_code == 201
    page = new_page()
    sign_in(page, "admin")
    page.wait_for_url(re.compile(r"/admin\.html"))
    page.wait_for_selector("body[data-status=ready]")

    # Newest first: this sign-in, then the user added through the API before it.
    page.locator("#audit tr[data-action=login]").first.wait_for()
    rows = page.locator("#audit tr").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")
    assert rows[0][1:4] == ["admin", "login", "–"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", rows[0][0])
    assert rows[1][1:] == ["admin", "add_user", "user:auditee",
                           "role: supervisor, agent_id: null, via: api, agent_registered: false"]
    assert len(rows) == min(50, len(httpx.get(f"{server.url}/api/audit", headers=admin).json()))

    # Disabling on the page puts it at the top of the log at once.
    page.get_by_role("button", name="停用：auditee").click()
    page.click("#confirm-submit")
    newest = page.locator("#audit tr").first
    newest.locator("td", has_text="disable_user").wait_for()
    assert newest.locator("td").all_inner_texts()[1:] == \
        ["admin", "disable_user", "user:auditee", "revoked_sessions: 0, via: api"]

    # Filtered by action: those entries alone, as the API lists them.
    page.fill("#audit-action", "disable_user")
    page.click("#audit-search")
    disables = httpx.get(f"{server.url}/api/audit", params={"action": "disable_user"},
                         headers=admin).json()
    rows = audit_rows(page, "disable_user", len(disables))
    assert [r[3] for r in rows] == [d["object"] for d in disables]
    assert rows[0][3:] == ["user:auditee", "revoked_sessions: 0, via: api"]

    # A change made on the server's machine with `voiceline user` names its system account.
    as_account(monkeypatch, "ops-li")
    assert main(["user", "enable", "auditee", "--data", str(server.config.data_dir)]) == 0
    page.fill("#audit-action", "enable_user")
    page.click("#audit-search")
    enables = httpx.get(f"{server.url}/api/audit", params={"action": "enable_user"},
                        headers=admin).json()
    rows = audit_rows(page, "enable_user", len(enables))
    assert rows[0][1:] == ["cli:ops-li", "enable_user", "user:auditee",
                           "revoked_sessions: 0, via: cli"]

    # 55 entries by the system: 50, then the 5 older, then no more to ask for.
    with Store(server.config.data_dir / "voiceline.db") as store:
        for k in range(55):
            store.audit(None, "paging_check", f"seq:{k}", {"note": "<b>loud</b>", "k": k})
        # around one local day, as the browser counts days
        day_s = page.evaluate("new Date(2020, 2, 14).getTime() / 1000")
        next_s = page.evaluate("new Date(2020, 2, 15).getTime() / 1000")
        for k, time_s in enumerate((day_s - 1, day_s, next_s - 1, next_s)):
            store.audit("admin", "dated_check", f"day:{k}", now_s=time_s)
    page.fill("#audit-action", "paging_check")
    page.press("#audit-action", "Enter")
    rows = audit_rows(page, "paging_check", 50)
    assert [r[3] for r in rows] == [f"seq:{k}" for k in range(54, 4, -1)]
    assert rows[0][1] == "系统" and rows[0][4] == "note: <b>loud</b>, k: 54"
    older = page.locator("#audit-older")
    assert older.is_visible() and older.inner_text() == "更早的记录"
    older.click()
    rows = audit_rows(page, "paging_check", 55)
    assert [r[3] for r in rows[50:]] == ["seq:4", "seq:3", "seq:2", "seq:1", "seq:0"]
    assert older.is_hidden()

    # From and to the same date: that local day, midnight to midnight.
    page.fill("#audit-action", "")
    page.fill("#audit-from", "2020-03-14")
    page.fill("#audit-to", "2020-03-14")
    page.click("#audit-search")
    rows = audit_rows(page, "dated_check", 2)
    assert [r[:4] for r in rows] == [["2020-03-14 23:59:59", "admin", "dated_check", "day:2"],
                                     ["2020-03-14 00:00:00", "admin", "dated_check", "day:1"]]
    assert older.is_hidden()
    page.fill("#audit-from", "2020-03-15")
    page.click("#audit-search")
    assert page.locator("#audit-error").inner_text() == "起始日期晚于截止日期，请重新选择。"

    page.fill("#audit-from", "")
    page.fill("#audit-to", "")
    page.fill("#audit-action", "paging_check")
    page.click("#audit-search")
    audit_rows(page, "paging_check", 50)
    assert page.locator("#audit-error").is_hidden()
    page.click("#lang")
    assert page.locator("#audit-title").inner_text() == "Audit log"
    assert page.locator("#audit tr").first.locator("td").nth(1).inner_text() == "system"
    assert older.inner_text() == "Older"
    page.click("#lang")
    assert page.errors == []
