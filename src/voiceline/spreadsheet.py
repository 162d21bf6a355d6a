"""CSV that is safe to open in a spreadsheet.

Every CSV Voiceline writes may be opened in Excel or WPS by someone at the hotline, and
some cells hold text that came from outside: call ids and paths from a metadata file,
reviewers' notes, user names, token labels, the audit log's details. A spreadsheet runs
a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) as a
formula ("CSV injection", OWASP), so such a text cell is written with a leading
apostrophe, which spreadsheets show as text and hide. Numbers, and text that reads as a
number ("-38.5"), are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: What a CSV that is not UTF-8 is read as: GB18030, which holds GBK and GB2312, the
#: encodings Excel and WPS save "CSV" in on Chinese Windows.
FALLBACK_ENCODING = "gb18030"
#: Largest CSV :func:`csv_rows` reads (it holds the file in memory): a million calls'
#: metadata is ~100 MB.
MAX_CSV_BYTES = 256 * 1024 * 1024


def csv_rows(path: str | Path, on_fallback: Callable[[str], Any] | None = None
             ) -> csv.DictReader:
    """A ``csv.DictReader`` over a CSV file a person may have saved from a spreadsheet:
    UTF-8 (with or without a byte-order mark) or, failing that,
    :data:`FALLBACK_ENCODING`, which is then told to ``on_fallback`` in words. Raises
    ``UnicodeDecodeError`` (UTF-8's) when it is neither, ``csv.Error`` when it is larger
    than :data:`MAX_CSV_BYTES` or its header names a column twice (a reader would take
    one of the two silently), and ``OSError`` when it cannot be read."""
    size = Path(path).stat().st_size
    if size > MAX_CSV_BYTES:
        raise csv.Error(f"{size / 2**20:,.0f} MB is more than the {MAX_CSV_BYTES // 2**20} MB "
                        "read at once; split the file")
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as not_utf8:
        try:
            text = data.decode(FALLBACK_ENCODING)
        except UnicodeDecodeError:
            raise not_utf8 from None
        if on_fallback is not None:
            on_fallback(f"{path}: not UTF-8; read as {FALLBACK_ENCODING.upper()} (GBK), as a "
                        "spreadsheet saves CSV on Chinese Windows")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    names = [name.strip() for name in reader.fieldnames or [] if name.strip()]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise csv.Error(f"the header names {', '.join(twice)} more than once; keep one column "
                        "of each")
    return reader


def safe_cell(value: Any) -> Any:
    """``value``, with an apostrophe before text a spreadsheet would run as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose text cells go through :func:`safe_cell`."""

    def __init__(self, fh: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose text cells go through :func:`safe_cell`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: safe_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
