"""The wall words an alert by the baseline stored with it, after its call too.

Before the store kept an alert's baseline (schema 11), the wall took it from the seat's
live call, so once the call had ended an alert judged against the agents' usual voice
read as if compared with the agent's own. Runs in headless Chromium against the wall's
FakeServer (:mod:`test_console_a11y`).
"""

from __future__ import annotations

from test_console_a11y import FakeServer, base_url, in_call, make_alert, open_page, open_wall

__all__ = ["base_url", "open_page", "open_wall"]  # fixtures used here

DRIVERS = [{"feature": "loudness_n5_sone", "z": 2.6}]
USUAL = "与坐席群体平时（尚无个人基线）相比：音量更大（+2.6 σ）"


def test_an_ended_calls_alert_keeps_whose_usual_judged_it(open_wall):
    # S006's earlier call was judged against the agents' usual (A1006 had no baseline);
    # A1006 was calibrated since, and the seat's new call is judged against her own.
    ended = dict(make_alert(2, "S006", "A1006", state="closed", call="call-old"),
                 drivers=DRIVERS, baseline="population")
    mine = dict(make_alert(1, "S005", "A1005", state="closed", call="call-old5"),
                drivers=DRIVERS, baseline="agent",
                baseline_updated="2026-11-30T10:00:00+00:00")
    server = FakeServer([mine, ended], live=[dict(in_call("S006", "A1006"), baseline="agent"),
                                             dict(in_call("S005", "A1005"),
                                                  baseline="population")])
    page = open_wall(server)
    why = page.locator(".alert[data-id='2'] .a-why")
    why.filter(has_text=USUAL).wait_for(timeout=5_000)
    own = page.locator(".alert[data-id='1'] .a-why").inner_text()
    assert own.startswith("与") and "坐席群体" not in own and "平时相比：音量更大" in own
    assert page.errors == []


def test_the_seat_dialog_words_a_live_alert_by_its_stored_baseline(open_wall):
    # A seat's snapshot without a word on its baseline (a call just connected): the
    # dialog goes by the alert's own record.
    alert = dict(make_alert(3, "S006", "A1006"), drivers=DRIVERS, baseline="population")
    server = FakeServer([alert], live=[in_call("S006", "A1006", alerts=1)])
    page = open_wall(server)
    page.locator(".alert[data-id='3'] .a-why").filter(has_text=USUAL).wait_for(timeout=5_000)
    page.locator(".tile[data-seat=S006]").click()
    page.locator("#detail .detail-alerts .a-why", has_text="坐席群体平时").wait_for(
        timeout=5_000)
    assert page.errors == []
