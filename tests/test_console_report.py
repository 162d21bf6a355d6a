"""The agent's report page in a real browser, against the real server and a seeded store.

Headless Chromium (time zone Asia/Shanghai, as the seed) signs in as agent wang (A1001):
the login lands on the report page; the week of the seed shows the seed's numbers; a
flagged moment of a recorded call plays from its point, by keyboard; the language
switches; the page prints to PDF. Another agent's report is refused (page and API); a
supervisor opens any agent's. The file ``voiceline report`` writes opens without errors
and prints to PDF.
"""

from __future__ import annotations

import re

import pytest

from test_console_support import accessible_name, cli, sign_in, watched_page
from test_report_support import FIRST, LAST, seed
from test_server_support import add_users

VIEWPORT = {"width": 1200, "height": 900}
PERIOD = f"from={FIRST}&to={LAST}"


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_browser):
    from voiceline.server import ServerConfig
    from voiceline.server.testing import ServerThread

    data_dir = tmp_path_factory.mktemp("report-console") / "data"
    add_users(data_dir)
    seed(data_dir)
    server = ServerThread(ServerConfig(data_dir=data_dir, audiosocket_port=None)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_page(chromium_browser, server):
    contexts = []

    def make(base_url: str | None = server.url):
        context = chromium_browser.new_context(viewport=VIEWPORT, base_url=base_url,
                                               timezone_id="Asia/Shanghai", locale="zh-CN")
        contexts.append(context)
        page = watched_page(context, console_errors=True)
        return page

    yield make
    for context in contexts:
        context.close()


def api_status(page, path: str) -> int:
    return page.evaluate("""async (path) => {
        const token = JSON.parse(localStorage.getItem('voiceline.session')).token;
        return (await fetch(path, {headers: {Authorization: 'Bearer ' + token}})).status;
    }""", path)


def test_an_agent_reads_and_hears_their_own_report_and_prints_it(new_page, server, tmp_path):
    page = new_page()
    sign_in(page, "wang")
    page.wait_for_url(re.compile(r"/report\.html"))
    page.wait_for_selector("body[data-status=ready]")
    assert page.locator("#agent-field").is_hidden()  # an agent's own: no agent field

    page.goto(f"/report.html?{PERIOD}")
    page.wait_for_selector("body[data-status=ready]")
    report = page.locator("#report .vl-report")
    assert report.locator("[data-field=calls]").inner_text().startswith("5")
    assert report.locator("[data-field=in-range]").inner_text() == "64%"
    # the page's one h1 is its top bar; the report's title is a part of the page
    assert report.locator("h2").first.inner_text() == "声线自评报告：A1001"
    first_tip = report.locator(".guidance li").first.inner_text()
    assert first_tip.startswith("您的语速高于平时范围的时间占说话时间的 13%")
    assert report.locator(".team-chart .you").count() == 1
    assert report.locator("table.flagged tbody tr").count() == 2

    # Keyboard: the listen button of the recorded call's moment plays from 0:02.
    button = report.locator("button.listen[data-call=c2]")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-playing=c2]")
    page.wait_for_function("""() => { const p = document.getElementById('player');
        return p.readyState >= 1 && Math.abs(p.currentTime - 2) < 0.3; }""")
    assert page.evaluate("document.getElementById('player').error") is None
    assert "audio_token=" in page.locator("#player").get_attribute("src")
    assert "c2" in page.locator("#player-status").inner_text()
    assert accessible_name(page, "#player")[0] == "录音回放"  # named by its label

    page.click("#lang")
    page.wait_for_function("() => document.querySelector('#report h2')?.textContent === "
                           "'Voice self-assessment: A1001'")
    page.wait_for_selector("body[data-status=ready]")
    assert page.locator("#report .guidance li").first.inner_text().startswith(
        "Your speaking rate was above your usual range in 13 %")
    assert page.locator("html").get_attribute("lang") == "en"
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2
    page.screenshot(path=str(tmp_path / "report-console.png"), full_page=True)
    page.click("#lang")
    assert page.errors == []


def test_an_agent_is_refused_another_agents_report(new_page, server):
    page = new_page()
    sign_in(page, "wang")
    page.wait_for_url(re.compile(r"/report\.html"))
    page.goto(f"/report.html?agent=A1002&{PERIOD}")
    page.locator("#refused").wait_for()
    assert page.locator("body").get_attribute("data-status") == "refused"
    assert "A1002" in page.locator("#refused-body").inner_text()
    assert page.locator("#report-main").is_hidden()
    assert page.locator(".vl-report").count() == 0
    assert api_status(page, f"/api/reports/agents/A1002/view?{PERIOD}") == 403
    assert api_status(page, f"/api/reports/agents/A1002?{PERIOD}") == 403


def test_a_supervisor_opens_any_agents_report(new_page, server):
    page = new_page()
    sign_in(page, "sup")
    page.wait_for_url(re.compile(r"/wall\.html"))
    page.goto("/report.html")
    page.wait_for_selector("body[data-status=idle]")
    page.fill("#f-agent", "A1002")
    page.fill("#f-from", FIRST)
    page.fill("#f-to", LAST)
    page.locator("#f-to").press("Enter")
    page.wait_for_url(re.compile(r"agent=A1002"))
    page.wait_for_selector("body[data-status=ready]")
    assert page.locator("#report [data-field=calls]").inner_text().startswith("1")
    assert page.locator("#report button.listen[data-call=t0]").count() == 1
    assert page.errors == []


def test_the_report_file_opens_without_errors_and_prints_to_pdf(new_page, server, tmp_path):
    out = tmp_path / "report.html"
    cli("report", "--agent", "A1001", "--from", FIRST, "--to", LAST, "--tz", "Asia/Shanghai",
        "--data", str(server.config.data_dir), "--out", str(out))
    page = new_page(None)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    assert requests == [out.as_uri()]  # nothing else is fetched
    assert page.locator("svg.vl-chart").count() == 16
    assert page.locator("[data-field=calls]").inner_text().startswith("5")
    pdf = page.pdf(format="A4", print_background=True)
    (tmp_path / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2
    assert page.errors == []
