"""Checks and conversions for values entering the store, each with a clear message.

Every public store method validates its arguments with these before it opens a write
transaction, so that bad input raises :class:`~voiceline.store.errors.InvalidInputError`
and leaves the database untouched.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
import unicodedata
from collections.abc import Iterable

from voiceline.store.errors import InvalidInputError

MAX_TEXT_CHARS = 200
MAX_LIMIT = 10_000
#: SQLite's largest INTEGER: no row id or offset can be larger.
MAX_INTEGER = 2**63 - 1


def storable(value: str) -> str:
    """``value`` with what UTF-8 cannot encode (lone surrogates a JSON ``\\ud800`` gives)
    escaped, so that the store, the logs and JSON answers take it."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def text(value: object, what: str, *, optional: bool = False,
         max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """A non-empty, stripped string; ``None`` only when ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidInputError(f"{what} is {len(value)} characters long; at most "
                                f"{max_chars} are allowed")
    return value


def identifier(value: object, what: str, *, optional: bool = False,
               max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """A :func:`text` that names something (a seat, an agent, a call): no control or
    format characters. A newline in an id would forge lines in the log, a NUL cut them,
    and a zero-width or direction mark would make an id pass for another on the wall."""
    value = text(value, what, optional=optional, max_chars=max_chars)
    if value is None:
        return None
    bad = next((c for c in value if unicodedata.category(c) in _NOT_IN_IDS), None)
    if bad is not None:
        raise InvalidInputError(f"{what} {storable(value)[:60]!r} holds the "
                                f"{_NOT_IN_IDS[unicodedata.category(bad)]} U+{ord(bad):04X}; "
                                "ids are printable text")
    return value


#: What an id may not hold, by Unicode category, as the refusal names it. A lone
#: surrogate (a JSON ``"\ud800"``) is half of a character, not a control character.
_NOT_IN_IDS = {"Cc": "control character", "Cf": "format character",
               "Cs": "lone surrogate (half of a character)"}


#: Longest note a reviewer or supervisor may write (a verdict's, an alert's resolution).
MAX_NOTE_CHARS = 4000
#: Characters no note may hold: C0 controls but tab and line breaks, DEL, C1 controls,
#: and the direction overrides and isolates that make text read other than it is stored.
_NOT_IN_NOTES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def note(value: object, what: str, *, max_chars: int = MAX_NOTE_CHARS) -> str | None:
    """A person's free text (lines allowed), or ``None`` when empty. Terminal escapes
    and NULs are refused: a note is exported to spreadsheets and printed by
    ``qa-export``, where ESC sequences once reached the reader's terminal."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    value = text(value, what, max_chars=max_chars)
    bad = _NOT_IN_NOTES.search(value)
    if bad is not None:
        raise InvalidInputError(f"{what} holds the control character "
                                f"U+{ord(bad.group()):04X}; write plain text")
    return value


def choice(value: object, what: str, allowed: Iterable[str], *,
           optional: bool = False) -> str | None:
    """One of ``allowed``; ``None`` only when ``optional``."""
    allowed = tuple(allowed)
    if value is None and optional:
        return None
    if value not in allowed:
        raise InvalidInputError(f"unknown {what} {value!r}; expected one of "
                                f"{', '.join(allowed)}")
    return value


def finite(value: object, what: str) -> float:
    """A finite real number as ``float`` (rejects NaN, infinities, bools and strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInputError(f"{what} must be finite, got {value}")
    return value


def time_s(value: object, what: str = "time") -> float:
    """A unix time in seconds; ``None`` means now (``time.time()``)."""
    return time.time() if value is None else finite(value, what)


def optional_time_s(value: object, what: str) -> float | None:
    """A unix time in seconds, or ``None`` to mean no bound."""
    return None if value is None else finite(value, what)


#: 2200-01-01 UTC: later (or before 1970) a "time" is a unit mistake, e.g. milliseconds.
LATEST_TIME_S = 7_258_118_400.0


def recording_time_s(value: object, what: str) -> float | None:
    """When a recording was made, unix seconds from 1970 to 2200, or ``None``: a time
    in milliseconds (year 56972) was stored, and every later export failed on it."""
    value = optional_time_s(value, what)
    if value is not None and not 0.0 <= value < LATEST_TIME_S:
        raise InvalidInputError(f"{what} {value:g} is not a time between 1970 and 2200 "
                                "(unix seconds, or ISO 8601; milliseconds?)")
    return value


def integer(value: object, what: str, *, minimum: int = 1) -> int:
    """An integer from ``minimum`` to :data:`MAX_INTEGER` (ids, offsets; rejects bools,
    floats and numeric strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidInputError(f"{what} must be an integer of at least {minimum}, "
                                f"got {_shown(value)}")
    if value > MAX_INTEGER:
        raise InvalidInputError(f"{what} must be at most {MAX_INTEGER} (the largest "
                                f"integer the store holds), got {_shown(value)}")
    return int(value)


def _shown(value: object, max_chars: int = 80) -> str:
    """``repr(value)``, cut short: a message never repeats a whole oversized input."""
    try:
        shown = repr(value)
    except (ValueError, RecursionError):  # more digits than Python prints, or too deep
        return f"a {type(value).__name__} too large to show"
    return shown if len(shown) <= max_chars else shown[:max_chars] + "..."


def limit(value: object) -> int:
    """A row limit between 1 and :data:`MAX_LIMIT`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= value <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer from 1 to {MAX_LIMIT}, "
                                f"got {_shown(value)}")
    return int(value)


def _plain(value: object) -> object:
    """JSON fallback for numpy scalars and arrays (``.item()`` / ``.tolist()``)."""
    for method in ("item", "tolist"):
        if hasattr(value, method):
            return getattr(value, method)()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: object, what: str) -> str:
    """Strict JSON text (no NaN); numpy scalars become plain numbers."""
    try:
        return json.dumps(value, default=_plain, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{what} cannot be stored as JSON: {error}") from None


def json_object(value: object, what: str) -> str:
    """A JSON object (``None`` → ``{}``) as text."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a dict (a JSON object), got "
                                f"{type(value).__name__}")
    return to_json(value, what)


def json_list_of_objects(value: object, what: str) -> str:
    """A JSON list whose items are all objects, as text."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
        raise InvalidInputError(f"{what} must be a list of dicts, e.g. "
                                f"[{{'feature': 'loudness_mean_sone', 'z': 2.6}}], got {value!r}")
    return to_json(list(value), what)
