"""Shift boundaries from a pattern, a period and a time zone. Pure: no ORM, no clock.

Boundaries are computed in the rotation's own zone, so a weekly 09:00 Europe/London
handoff stays at 09:00 local across DST and the shift spanning the change is an hour
shorter or longer in UTC. A handoff time that does not exist locally (inside a DST gap)
moves forward by the gap, the way clocks do; an ambiguous one (DST overlap) takes the
first occurrence.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from onehand.dates import month_bounds  # noqa: F401 - re-exported

WEEKLY = "weekly"
DAILY = "daily"


@dataclass(frozen=True)
class ShiftWindow:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time, resolving DST gaps and overlaps."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0)
    # A wall time in a gap does not round-trip: fold=0 then gives the pre-transition offset,
    # which lands *after* the gap in UTC, i.e. the clock moved forward. That is what we want.
    return first.astimezone(UTC)


def handoff_days(pattern: str, handoff_weekday: int, first: date, last: date) -> list[date]:
    """Local dates in [first, last) on which a shift starts."""
    if pattern == DAILY:
        step, day = 1, first
    elif pattern == WEEKLY:
        step, day = 7, first + timedelta(days=(handoff_weekday - first.weekday()) % 7)
    else:
        raise ValueError(f"unknown shift pattern {pattern!r}")
    days = []
    while day < last:
        days.append(day)
        day += timedelta(days=step)
    return days


def shift_windows(
    *,
    pattern: str,
    handoff_weekday: int,
    handoff_time: time,
    time_zone: str,
    period_start: date,
    period_end: date,
) -> list[ShiftWindow]:
    """Shifts that start on a local handoff day in [period_start, period_end).

    Each shift ends at the next handoff (one day or one week later, local time), so the
    last one may end after period_end: a roster owns the shifts that *start* in its period.
    """
    tz = ZoneInfo(time_zone)
    step = timedelta(days=1 if pattern == DAILY else 7)
    return [
        ShiftWindow(local_to_utc(day, handoff_time, tz), local_to_utc(day + step, handoff_time, tz))
        for day in handoff_days(pattern, handoff_weekday, period_start, period_end)
    ]
