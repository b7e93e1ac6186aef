"""When a page hurts: working hours, night, weekend, holiday. A pure core (no ORM, no clock).

Every rule is read in the paged person's own zone: night is 22:00-07:00 local, working hours
and days are the person's own, holidays are their country's public holidays.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

NIGHT_START = time(22, 0)
NIGHT_END = time(7, 0)


@dataclass(frozen=True)
class Profile:
    """What the weighting needs to know about a person."""

    time_zone: str = "UTC"
    work_start: time = time(9, 0)
    work_end: time = time(17, 0)
    work_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    country: str = ""


@dataclass(frozen=True)
class Weights:
    hours_per_page: float = 1.0
    off_hours: float = 1.5
    night: float = 3.0
    weekend: float = 1.5


@dataclass(frozen=True)
class Page:
    """One page, classified in the paged person's zone."""

    off_hours: bool
    night: bool
    weekend: bool
    holiday: bool
    # The evening date of the night it interrupted (a 02:00 page on the 5th: the 4th).
    night_of: date | None

    def weight(self, weights: Weights) -> float:
        """Page-equivalents: 1 in working hours, more outside them, most at night."""
        factor = 1.0
        if self.night:
            factor = weights.night
        elif self.off_hours:
            factor = weights.off_hours
        if self.weekend or self.holiday:
            factor *= weights.weekend
        return factor


def parse_work_days(raw: str) -> frozenset[int]:
    days = set()
    for part in (raw or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) <= 6:
            days.add(int(part))
    return frozenset(days)


@lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    try:
        return frozenset(holiday_calendars.country_holidays(country, years=[year]).keys())
    except NotImplementedError:
        return frozenset()


def _within(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # a span past midnight


def classify(at: datetime, profile: Profile) -> Page:
    """Classify a page at the aware instant `at` for the person described by `profile`."""
    local = at.astimezone(ZoneInfo(profile.time_zone))
    moment = local.time().replace(tzinfo=None)
    day = local.date()
    holiday = day in public_holidays(profile.country, day.year)
    weekend = day.weekday() >= 5
    working_day = day.weekday() in profile.work_days and not holiday
    in_hours = working_day and _within(moment, profile.work_start, profile.work_end)
    night = _within(moment, NIGHT_START, NIGHT_END)
    night_of = None
    if night:
        night_of = day if moment >= NIGHT_START else day - timedelta(days=1)
    return Page(
        off_hours=not in_hours,
        night=night,
        weekend=weekend,
        holiday=holiday,
        night_of=night_of,
    )
