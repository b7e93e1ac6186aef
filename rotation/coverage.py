"""Follow-the-sun coverage: daily windows defined in each region's local time. Pure.

Windows are defined where the people live ("EMEA 08:00-16:00 Europe/London"), so against UTC
they move when a region changes its clocks, and two regions' windows can then overlap or leave
a gap. The rule Onehand applies: **each window runs until the next window starts** (in UTC
order). A gap is therefore covered by the earlier window staying on a little longer, and an
overlap is resolved by handing over early to the next region. Every minute is covered by
exactly one window by construction; `check_coverage` reports where the rule had to act.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .shifts import ShiftWindow, local_to_utc


@dataclass(frozen=True)
class WindowDef:
    key: str  # stable id, e.g. the CoverageWindow pk as a string
    label: str  # "EMEA"
    time_zone: str
    start: time
    end: time  # may be <= start: the window runs past local midnight


@dataclass(frozen=True)
class RegionShift:
    window: WindowDef
    start: datetime  # UTC
    end: datetime  # UTC
    defined_end: datetime  # where the window would end by its own definition


@dataclass(frozen=True)
class Deviation:
    kind: str  # "gap" | "overlap"
    start: datetime  # UTC
    end: datetime
    before: str  # label of the window ending
    after: str  # label of the window starting
    rule: str

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _defined(window: WindowDef, local_day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(window.time_zone)
    start = local_to_utc(local_day, window.start, tz)
    end_day = local_day if window.end > window.start else local_day + timedelta(days=1)
    return start, local_to_utc(end_day, window.end, tz)


def region_shifts(windows: list[WindowDef], first: date, last: date) -> list[RegionShift]:
    """Window shifts starting in [first 00:00 UTC, last 00:00 UTC), each lasting to the next."""
    lo = datetime.combine(first, time(0), tzinfo=UTC)
    hi = datetime.combine(last, time(0), tzinfo=UTC)
    starts: list[tuple[datetime, datetime, WindowDef]] = []
    day = first - timedelta(days=2)
    while day <= last + timedelta(days=2):
        for w in windows:
            s, e = _defined(w, day)
            starts.append((s, e, w))
        day += timedelta(days=1)
    starts.sort(key=lambda item: (item[0], item[2].key))
    # Two windows starting at the same instant cannot both hold it: the later-defined loses.
    unique = []
    for item in starts:
        if unique and unique[-1][0] == item[0]:
            continue
        unique.append(item)
    out = []
    for (s, e, w), (next_start, _, _) in zip(unique, unique[1:]):
        if lo <= s < hi:
            out.append(RegionShift(window=w, start=s, end=next_start, defined_end=e))
    return out


def check_coverage(windows: list[WindowDef], first: date, last: date) -> list[Deviation]:
    """Where the windows' own definitions leave a gap or overlap, and how the rule covers it."""
    deviations = []
    shifts = region_shifts(windows, first, last)
    for shift, following in zip(shifts, shifts[1:]):
        if shift.defined_end < following.start:
            deviations.append(
                Deviation(
                    "gap",
                    shift.defined_end,
                    following.start,
                    shift.window.label,
                    following.window.label,
                    f"{shift.window.label} stays on call until {following.window.label} starts",
                )
            )
        elif shift.defined_end > following.start:
            deviations.append(
                Deviation(
                    "overlap",
                    following.start,
                    shift.defined_end,
                    shift.window.label,
                    following.window.label,
                    f"{shift.window.label} hands over to {following.window.label} early",
                )
            )
    return deviations


def as_windows(shifts: list[RegionShift]) -> list[ShiftWindow]:
    return [ShiftWindow(s.start, s.end) for s in shifts]


def outside_working_hours(
    time_zone: str,
    work_start: time,
    work_end: time,
    work_days: set[int],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime]]:
    """The complement of someone's working hours within [start, end), as UTC intervals."""
    tz = ZoneInfo(time_zone)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    working = []
    while day <= last:
        if day.weekday() in work_days:
            working.append((local_to_utc(day, work_start, tz), local_to_utc(day, work_end, tz)))
        day += timedelta(days=1)
    out, cursor = [], start
    for s, e in working:
        if e <= cursor or s >= end:
            continue
        if s > cursor:
            out.append((cursor, min(s, end)))
        cursor = max(cursor, e)
    if cursor < end:
        out.append((cursor, end))
    return out
