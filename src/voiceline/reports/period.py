"""The period a report covers: whole local days, ``first_day`` to ``last_day`` inclusive.

Dates are the agent's local calendar days in a time zone (``tz``; ``None`` = this
machine's local time), so that "night" (22:00–06:00) and "hour of day" mean the hours
on the agent's clock.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

#: The default period: the last seven days, today included.
DEFAULT_DAYS = 7
#: The longest period one report covers.
MAX_DAYS = 400


class PeriodError(ValueError):
    """A date or time zone the user gave is malformed or the range is impossible."""


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    tz: tzinfo | None = None

    @property
    def start_s(self) -> float:
        """Local midnight starting ``first_day``, unix s (inclusive)."""
        return day_start_s(self.first_day, self.tz)

    @property
    def end_s(self) -> float:
        """Local midnight after ``last_day``, unix s (exclusive)."""
        return day_start_s(self.last_day + timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def tz_name(self) -> str:
        """The zone's IANA name; "local" for this machine's zone when it has none we know
        (never an abbreviation: CST is China's, the US's and Cuba's)."""
        return zone_key(self.tz) or "local"

    @property
    def utc_offsets(self) -> tuple[str, ...]:
        """The zone's UTC offsets over the period, in the order they apply:
        ``("UTC+08:00",)``, or two across a change to or from summer time."""
        moments = [day_start_s(self.first_day + timedelta(days=k), self.tz)
                   for k in range(self.days)] + [self.end_s - 1]
        offsets = (datetime.fromtimestamp(t_s, UTC).astimezone(self.tz).utcoffset()
                   for t_s in moments)
        return tuple(dict.fromkeys(utc_offset_text(offset) for offset in offsets))

    def to_dict(self) -> dict:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
                "days": self.days, "start_s": self.start_s, "end_s": self.end_s,
                "tz": self.tz_name, "utc_offsets": list(self.utc_offsets)}


def utc_offset_text(offset: timedelta) -> str:
    """``"UTC+08:00"``; with seconds when it has them (Liberia kept −00:44:30 until 1972)."""
    total_s = round(offset.total_seconds())
    hours, rest_s = divmod(abs(total_s), 3600)
    minutes, seconds = divmod(rest_s, 60)
    return (f"UTC{'-' if total_s < 0 else '+'}{hours:02d}:{minutes:02d}"
            + (f":{seconds:02d}" if seconds else ""))


#: Names in the zone database that are no place: "Factory" (local time unknown, shown as
#: "-00"), "localtime" (whatever the machine is set to), "posixrules" (a template for TZ
#: strings). :func:`zoneinfo.available_timezones` already leaves out the ``right/``
#: copies (their clocks count leap seconds, 27 s off unix time) and ``posix/`` ones.
NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA time zones a report takes (listed once: reading them takes about 50 ms)."""
    return frozenset(available_timezones()) - NOT_PLACES


def zone_key(tz: tzinfo | None) -> str | None:
    """The IANA name of ``tz`` (``None``: this machine's zone), ``None`` when it has none."""
    return local_tz_key() if tz is None else getattr(tz, "key", None)


def local_tz_key() -> str | None:
    """This machine's time zone by its IANA name, or ``None`` when it cannot be told.

    The name comes from ``TZ`` when it is set (as the C library reads it), else from the
    zone file ``/etc/localtime`` links to, else ``/etc/timezone``; it counts only when it
    is a place whose offset now is the machine's (``TZ=CST-8`` or a stale
    ``/etc/timezone`` names none).
    """
    tz_env = os.environ.get("TZ")
    if tz_env is not None:
        candidates = [_zone_of(tz_env.removeprefix(":"))]
    else:
        candidates = [_zone_of("/etc/localtime")]
        with contextlib.suppress(OSError, UnicodeDecodeError):
            with open("/etc/timezone", encoding="utf-8") as file:
                candidates.append(file.read().strip())
    now = datetime.now().astimezone()
    for name in filter(None, candidates):
        with contextlib.suppress(PeriodError):
            if now.astimezone(parse_tz(name)).utcoffset() == now.utcoffset():
                return name
    return None


def _zone_of(name_or_path: str) -> str:
    """``Asia/Shanghai`` of ``/usr/share/zoneinfo/Asia/Shanghai`` or of a link to it."""
    if name_or_path.startswith("/"):
        name_or_path = os.path.realpath(name_or_path).rpartition("/zoneinfo/")[2]
    return name_or_path.removeprefix("posix/")


def day_start_s(day: date, tz: tzinfo | None) -> float:
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def local(t_s: float, tz: tzinfo | None) -> datetime:
    """The local wall-clock time of a unix time."""
    return datetime.fromtimestamp(t_s, tz)


def parse_tz(name: str | None) -> tzinfo | None:
    """An IANA time zone (``"Asia/Shanghai"``), or ``None`` for the local one.

    Only a place is one: "Factory" and "localtime" load as zones but say no time.
    """
    if not name:
        return None
    if name in zone_names():
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):  # a bad file
            return ZoneInfo(name)
    raise PeriodError(f"unknown time zone {name!r}; use an IANA name such as "
                      "Asia/Shanghai or Europe/London")


#: Days a period may name: the unix clock's, to the end of 2199 (recorded times are
#: refused past 2200 too). 9999-12-30 was once allowed: a weekly breakdown of a period
#: near it stepped past the calendar's last day (500, OverflowError).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)


def parse_day(text: str, what: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise PeriodError(f"{what} {text!r} is not a date; write it as YYYY-MM-DD, "
                          "e.g. 2026-11-20") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodError(f"{what} {text!r} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


def make_period(first: str | None = None, last: str | None = None, *,
                tz: tzinfo | None = None, now_s: float | None = None) -> Period:
    """The period from two optional ``YYYY-MM-DD`` dates (both inclusive).

    Without ``last`` the period ends today; without ``first`` it starts
    :data:`DEFAULT_DAYS` − 1 days before ``last``.
    """
    today = local(datetime.now().timestamp() if now_s is None else now_s, tz).date()
    last_day = parse_day(last, "--to") if last else today
    # the default start never reaches before the first day (--to 1970-01-01 once
    # reported from 1969-12-26)
    first_day = parse_day(first, "--from") if first else max(
        last_day - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
    if last_day < first_day:
        raise PeriodError(f"the period ends ({last_day}) before it starts ({first_day}); "
                          "--to must be on or after --from")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise PeriodError(f"a report covers at most {MAX_DAYS} days; "
                          f"{first_day} to {last_day} is longer")
    return Period(first_day, last_day, tz)
