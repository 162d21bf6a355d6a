"""The "My account" page in a real browser, against the real server in a thread.

Agent wang (the least privileged role) opens it from the report page's header, sees who is
signed in, and changes their password: a wrong current password and a weak new one are
refused in the page's words, two new passwords that differ are caught before anything
is sent, and a good change keeps this page signed in while wang's other session ends. Every
page's header links to it beside the sign-out button.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from test_console_support import sign_in, watched_page
from test_server_support import PASSWORD, add_users, cheap_hasher, login
from voiceline.console import STATIC_DIR

VIEWPORT = {"width": 1200, "height": 800}
NEW_PASSWORD = "quiet morning 0805"
PAGES = ("index.html", "admin.html", "qa.html", "qa_call.html", "report.html", "wall.html")


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_browser):
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    data_dir = tmp_path_factory.mktemp("account-console")
    add_users(data_dir)
    config = ServerConfig(data_dir=data_dir, audiosocket_port=None, ingest_port=None,
                          password_hasher=cheap_hasher())
    with ServerThread(config) as server:
        yield server


@pytest.fixture
def new_page(chromium_browser, server):
    contexts = []

    def make():
        context = chromium_browser.new_context(viewport=VIEWPORT, base_url=server.url)
        contexts.append(context)
        return watched_page(context)

    yield make
    for context in contexts:
        context.close()


def api_login(server, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/login", json={"name": name, "password": password})


def api_status(page, path: str) -> int:
    """The status of GET ``path`` with the page's own session."""
    return page.evaluate("""async (path) => {
        const token = JSON.parse(localStorage.getItem('voiceline.session')).token;
        return (await fetch(path, {headers: {Authorization: 'Bearer ' + token}})).status;
    }""", path)


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    target = os.environ.get("VOICELINE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)


def change(page, current: str, new: str, repeat: str | None = None) -> None:
    page.fill("#current-password", current)
    page.fill("#new-password", new)
    page.fill("#repeat-password", new if repeat is None else repeat)
    page.click("#password-submit")


def test_every_page_header_links_to_the_account_page_beside_sign_out():
    link = re.compile(r'<a href="/account\.html" id="to-account" class="nav-link" '
                      r'data-i18n="nav\.account">账户</a>\s*<button type="button"'
                      r'(?: class="primary")? id="logout"')
    for name in PAGES:
        assert link.search((STATIC_DIR / name).read_text(encoding="utf-8")), name


def test_an_agent_changes_their_own_password_and_stays_signed_in(new_page, server, tmp_path):
    page = new_page()
    sent = []
    page.on("request", lambda r: sent.append(r.method) if "/api/me/password" in r.url else None)
    sign_in(page, "wang")
    page.wait_for_url(re.compile(r"/report\.html"))
    page.click("#to-account")
    page.wait_for_url(re.compile(r"/account\.html"))
    page.wait_for_selector("body[data-status=ready]")
    facts = page.locator(".account-facts > :visible").all_inner_texts()
    assert facts == ["用户名", "wang", "角色", "坐席", "坐席编号", "A1001"]
    assert page.locator("#who").inner_text() == "wang（坐席）"
    elsewhere = {"Authorization": f"Bearer {login(server.url, 'wang')}"}

    # A wrong current password: said in the page's language (from an audit: it read
    # "密码未修改：the current password is wrong"), the field marked, nothing changes.
    change(page, "not my password", NEW_PASSWORD)
    page.locator("#password-error", has_text="当前密码").wait_for()
    assert page.locator("#password-error").inner_text() == "密码未修改：当前密码不正确。"
    assert page.get_attribute("#current-password", "aria-invalid") == "true"
    assert sent == ["POST"]

    # New passwords that differ never leave the page.
    change(page, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert page.locator("#password-error").inner_text() == "两次输入的新密码不一致，请重新输入。"
    assert sent == ["POST"]

    # A weak new password: what the server's policy requires, in the page's language.
    change(page, PASSWORD, "short")
    page.locator("#password-error", has_text="8 个字符").wait_for()
    assert page.locator("#password-error").inner_text() == \
        "密码未修改：新密码至少需要 8 个字符，这个只有 5 个。"
    assert page.get_attribute("#new-password", "aria-invalid") == "true"

    change(page, PASSWORD, NEW_PASSWORD)
    page.locator("#password-done", has_text="已修改").wait_for()
    assert page.locator("#password-done").inner_text() == \
        "密码已修改。其他地方的 1 个会话已退出，本页保持登录。"
    assert page.locator("#password-error").is_hidden()
    assert page.input_value("#current-password") == page.input_value("#new-password") == ""
    assert sent == ["POST"] * 3
    screenshot(page, tmp_path, "console-account.png")
    page.click("#lang")
    assert page.locator("#password-done").inner_text() == \
        "Password changed. 1 other session(s) signed out; you stay signed in here."
    assert page.locator("#password-title").inner_text() == "Change password"
    page.click("#lang")

    # This page stays signed in; the other session has ended; only the new password works.
    assert api_status(page, "/api/agents") == 200
    assert httpx.get(f"{server.url}/api/agents", headers=elsewhere).status_code == 401
    page.reload()
    page.wait_for_selector("body[data-status=ready]")
    page.click("#to-home")
    page.wait_for_url(re.compile(r"/report\.html"))
    assert api_login(server, "wang", PASSWORD).status_code == 401
    answer = api_login(server, "wang", NEW_PASSWORD)
    assert answer.status_code == 200 and answer.json()["role"] == "agent"
    assert page.errors == []


def test_the_account_page_sends_a_signed_out_visitor_to_sign_in(new_page):
    page = new_page()
    page.goto("/account.html")
    page.wait_for_url(re.compile(r"/login\.html\?next=%2Faccount\.html"))
    assert page.errors == []
