"""Every CSV Voiceline writes is safe to open in a spreadsheet (voiceline.spreadsheet)."""

from __future__ import annotations

import csv
import io

from test_server_support import add_users
from voiceline.cli import main
from voiceline.spreadsheet import SafeDictWriter, SafeWriter, safe_cell
from voiceline.store import Store


def test_text_a_spreadsheet_would_run_is_written_as_text_and_numbers_as_they_are():
    assert [safe_cell(v) for v in ("=1+1", "+86 21 12345", "-cmd", "@SUM(A1)", "\tx",
                                   "-38.5", "+3", "1e5", "plain", "", 7, -2.5, None)] == \
        ["'=1+1", "'+86 21 12345", "'-cmd", "'@SUM(A1)", "'\tx", "-38.5", "+3", "1e5",
         "plain", "", 7, -2.5, None]
    out = io.StringIO()
    SafeWriter(out).writerows([["=HYPERLINK(\"x\")", -1.0]])
    SafeDictWriter(out, fieldnames=["a"]).writerows([{"a": "@x"}])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=HYPERLINK(\"x\")", "-1.0"],
                                                             ["'@x"]]


def test_the_audit_log_and_the_token_list_print_outside_text_as_text(tmp_path, capsys):
    add_users(tmp_path)
    with Store(tmp_path / "voiceline.db") as store:
        store.audit("admin", "issue_ingest_token", "=cmd|' /C calc'!A0", {"label": "x"})
    assert main(["user", "token", "--ingest", "=HYPERLINK(\"http://evil\")",
                 "--data", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["audit", "--data", str(tmp_path), "--limit", "5"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert "'=cmd|' /C calc'!A0" in [r[4] for r in rows]
    assert main(["user", "tokens", "--data", str(tmp_path)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert "'=HYPERLINK(\"http://evil\")" in [r[1] for r in rows]
