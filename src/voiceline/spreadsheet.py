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
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
