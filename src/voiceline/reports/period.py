"""The period a report covers: whole local days, ``first_day`` to ``last_day`` inclusive.

Dates are the agent's local calendar days in a time zone (``tz``; ``None`` = this
machine's local time), so that "night" (22:00–06:00) and "hour of day" mean the hours
on the agent's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        return getattr(self.tz, "key", None) or local_tz_name()

    def to_dict(self) -> dict:
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
                "days": self.days, "start_s": self.start_s, "end_s": self.end_s,
                "tz": self.tz_name}


def local_tz_name() -> str:
    return datetime.now().astimezone().tzname() or "local"


def day_start_s(day: date, tz: tzinfo | None) -> float:
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def local(t_s: float, tz: tzinfo | None) -> datetime:
    """The local wall-clock time of a unix time."""
    return datetime.fromtimestamp(t_s, tz)


def parse_tz(name: str | None) -> tzinfo | None:
    """An IANA time zone (``"Asia/Shanghai"``), or ``None`` for the local one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America", a folder
        raise PeriodError(f"unknown time zone {name!r}; use an IANA name such as "
                          "Asia/Shanghai or Europe/London") from None


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
