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


def test_csv_saved_by_a_chinese_spreadsheet_is_read_in_its_own_encoding(tmp_path, capsys):
    """Excel and WPS on Chinese Windows save "CSV" in GBK; UTF-8 with or without a BOM
    reads as it is, and bytes that are neither still refuse clearly (below)."""
    import pytest

    from voiceline import spreadsheet
    from voiceline.qa_cli import read_metadata
    from voiceline.score_cli import read_manifest

    text = "call_id,path,agent_id,坐席姓名\r\nC1,通话一.wav,A1001,王芳\r\n"
    for name, data, said in (("gbk.csv", text.encode("gbk"), True),
                             ("bom.csv", b"\xef\xbb\xbf" + text.encode(), False),
                             ("plain.csv", text.encode(), False)):
        path = tmp_path / name
        path.write_bytes(data)
        (row,) = read_metadata(path).rows.values()
        assert row["call_id"] == "C1" and row["坐席姓名"] == "王芳", name
        assert ("read as GB18030" in capsys.readouterr().err) == said, name
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("path,agent\n录音/一.wav,A1\n".encode("gb18030"))
    (row,) = read_manifest(manifest)
    assert row["file"] == tmp_path / "录音" / "一.wav" and row["agent"] == "A1"
    seats = tmp_path / "seats.csv"
    seats.write_bytes("seat_id,team,label\nS001,东区,一号席\n".encode("gbk"))
    assert main(["directory", "import", str(seats), "--data", str(tmp_path / "data")]) == 0
    capsys.readouterr()
    assert main(["directory", "list", "--data", str(tmp_path / "data")]) == 0
    assert "S001,东区,一号席," in capsys.readouterr().out.splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"path,agent\n\xff.wav,A1\n")  # 0xff starts no character in either
    with pytest.raises(UnicodeDecodeError):
        spreadsheet.csv_rows(bad)


def test_a_row_with_more_cells_than_the_header_is_named_and_the_others_go_on(tmp_path):
    """An unquoted comma in a path splits it into two cells: that row is refused with the
    reason (it used to be read as the shorter path, the extra cell dropped), the rest run."""
    from voiceline.qa_cli import read_metadata
    from voiceline.score_cli import read_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text("path,agent\nday 1,call 2.wav,A1\nok.wav,A2\n", encoding="utf-8")
    bad, good = read_manifest(manifest)
    assert "more cells than the header has columns" in bad["error"] and None not in bad
    assert "error" not in good and good["agent"] == "A2"
    metadata = tmp_path / "calls.csv"
    metadata.write_text("call_id,path,agent_id\nC1,a.wav,A1,extra\nC2,b.wav,A2\n",
                        encoding="utf-8")
    read = read_metadata(metadata)
    assert [row["call_id"] for row in read.rows.values()] == ["C2"]
    assert "line 2: more cells than the header has columns" in read.problems["line 2"]
