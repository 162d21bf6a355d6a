"""``voiceline report``: the file it writes, the audit entry, and clear refusals (exit 2)."""

from __future__ import annotations

import pytest

from test_report_support import FIRST, LAST, seed
from test_server_support import add_users
from voiceline.cli import main
from voiceline.store import Store


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("report-cli")
    add_users(data)
    seed(data)
    return data


def run(*argv):
    return main(["report", *argv])


def test_the_report_is_one_self_contained_html_file(data_dir, tmp_path, capsys):
    out = tmp_path / "a1001.html"
    assert run("--agent", "A1001", "--from", FIRST, "--to", LAST, "--data", str(data_dir),
               "--tz", "Asia/Shanghai", "--lang", "en", "--out", str(out)) == 0
    html = out.read_text(encoding="utf-8")
    assert out.stat().st_mode & 0o007 == 0  # an agent's report: not for others to read
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert "Voice self-assessment: A1001" in html and 'data-field="calls">5<' in html
    assert "2026-11-16 to 2026-11-22 (7 days)" in html
    assert "call c2 at 0:02" in html and "live call c5 at 1:05 (not recorded)" in html
    err = capsys.readouterr().err
    assert f"5 calls, 2 flagged moments -> {out}" in err
    with Store(data_dir / "voiceline.db") as store:
        entry = store.list_audit(action="view_report", limit=1)[0]
    assert entry["object"] == "agent:A1001" and entry["user"].startswith("cli:")
    assert entry["detail"]["format"] == "html-file" and entry["detail"]["from"] == FIRST


def test_a_console_address_links_each_recorded_moment_to_that_point(data_dir, tmp_path):
    out = tmp_path / "linked.html"
    assert run("--agent", "A1001", "--from", FIRST, "--to", LAST, "--data", str(data_dir),
               "--tz", "Asia/Shanghai", "--console-url", "https://vl.example:8000/",
               "--out", str(out)) == 0
    html = out.read_text(encoding="utf-8")
    assert 'href="https://vl.example:8000/report.html?agent=A1001&amp;call=c2&amp;t=2.0"' in html
    assert "通话 c2 第 0:02" in html


@pytest.mark.parametrize("argv, message", [
    (["--agent", "A9999"], "unknown agent 'A9999'"),
    (["--agent", "A1001", "--from", "2026-13-01"], "--from '2026-13-01' is not a date; write "
                                                   "it as YYYY-MM-DD"),
    (["--agent", "A1001", "--from", "2026-11-22", "--to", "2026-11-16"],
     "--to must be on or after --from"),
    (["--agent", "A1001", "--tz", "Nowhere/Land"], "unknown time zone 'Nowhere/Land'"),
    (["--agent", "A1001", "--tz", "Factory"], "unknown time zone 'Factory'"),  # no place
    (["--agent", "A1001", "--console-url", "vl.example"], "must start with http"),
])
def test_bad_requests_exit_2_with_one_clear_line(data_dir, tmp_path, capsys, argv, message):
    out = tmp_path / "r.html"
    assert run(*argv, "--data", str(data_dir), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("voiceline report: error: ") and message in err
    assert err.count("\n") == 1 and not out.exists()


def test_the_report_never_writes_over_the_store_or_a_baseline(tmp_path, capsys):
    # found by an outside audit: --out DATA/voiceline.db replaced the store with the
    # report's HTML, and every later command failed on "file is not a database"
    data = tmp_path / "data"
    data.mkdir()
    add_users(data)
    seed(data)
    (data / "baselines").mkdir(exist_ok=True)
    (data / "baselines" / "A1001.json").write_text("{}")
    before = (data / "voiceline.db").read_bytes()
    for target in (data / "voiceline.db", data / "voiceline.db-wal",
                   data / "baselines" / "A1001.json", data / "baselines" / "new.html"):
        assert run("--agent", "A1001", "--data", str(data), "--out", str(target)) == 2
        assert "will not write" in capsys.readouterr().err
    assert (data / "voiceline.db").read_bytes() == before
    assert (data / "baselines" / "A1001.json").read_text() == "{}"
    assert run("--agent", "A1001", "--data", str(data), "--out", str(data / "r.html"),
               "--from", FIRST, "--to", LAST) == 0  # beside the store is fine


def test_a_period_ending_on_the_first_day_starts_there(data_dir, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert run("--agent", "A1001", "--data", str(data_dir), "--to", "1970-01-01", "--out",
               str(out)) == 0
    assert "1970-01-01 to 1970-01-01" in capsys.readouterr().err  # not from 1969-12-26


def test_a_missing_store_or_output_directory_is_named(tmp_path, data_dir, capsys):
    assert run("--agent", "A1001", "--data", str(tmp_path / "none"), "--out",
               str(tmp_path / "r.html")) == 2
    assert f"no store at {tmp_path / 'none' / 'voiceline.db'}" in capsys.readouterr().err
    assert run("--agent", "A1001", "--data", str(data_dir), "--out",
               str(tmp_path / "no" / "r.html")) == 2
    assert "does not exist" in capsys.readouterr().err
