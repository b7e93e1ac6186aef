"""Half-open time intervals [start, end): merge, cut, intersect, working hours.

Pure: no ORM, no clock. Availability, imports and utilisation all reduce to these few
operations, so they are tested once here rather than re-derived in each caller.
"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from onehand.dates import local_day_bounds

Interval = tuple[datetime, datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined; empty ones dropped."""
    if isinstance(intervals, list | tuple) and len(intervals) < 2:
        # Most people have one span or none: nothing to sort or join (a team's worth of calls).
        return [(start, end) for start, end in intervals if start < end]
    merged: list[list[datetime]] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s, start), min(e, end)) for s, e in intervals if s < end and e > start]


def subtract(intervals: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """What is left of `intervals` once every cut is removed (order kept, not merged)."""
    cuts = merge(cuts)
    left: list[Interval] = []
    for start, end in intervals:
        pieces = [(start, end)]
        for cut_start, cut_end in cuts:
            if cut_start >= end:
                break
            next_pieces = []
            for s, e in pieces:
                if cut_end <= s or cut_start >= e:
                    next_pieces.append((s, e))
                    continue
                if s < cut_start:
                    next_pieces.append((s, cut_start))
                if cut_end < e:
                    next_pieces.append((cut_end, e))
            pieces = next_pieces
        left.extend(pieces)
    return left


def _end(interval: Interval) -> datetime:
    return interval[1]


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Overlap of two interval sets (each merged first)."""
    return intersect_merged(merge(a), b)


def intersect_merged(a: list[Interval] | tuple[Interval, ...], b: Iterable[Interval]):
    """`intersect` where `a` is merged already (someone's working hours, computed once per
    working pattern): only `b` is merged, so a team's worth of calls does not re-sort `a`."""
    b = merge(b)
    out: list[Interval] = []
    # Working hours ending before the first span starts overlap nothing: skip them at once.
    i = bisect_right(a, b[0][0], key=_end) if b else 0
    j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def seconds(intervals: Iterable[Interval]) -> float:
    return sum((e - s).total_seconds() for s, e in intervals)


def covers(intervals: Iterable[Interval], start: datetime, end: datetime) -> bool:
    """Whether the (merged) intervals cover all of [start, end)."""
    return seconds(clip(merge(intervals), start, end)) >= (end - start).total_seconds()


def local_days(first: date, last: date, tz: ZoneInfo) -> Interval:
    """Local days first..last (inclusive) as one UTC interval."""
    return local_day_bounds(first, tz)[0], local_day_bounds(last, tz)[1]


def working_intervals(
    start: datetime,
    end: datetime,
    *,
    time_zone: str,
    work_start: time,
    work_end: time,
    work_days: Iterable[int],
) -> list[Interval]:
    """Someone's working hours inside [start, end), in UTC.

    Hours are local wall-clock times on the person's working weekdays; a day that ends
    before it starts (a night worker, 22:00–06:00) runs into the next morning.
    """
    return list(
        _working_intervals(start, end, time_zone, work_start, work_end, frozenset(work_days))
    )


@lru_cache(maxsize=256)
def _working_intervals(
    start: datetime,
    end: datetime,
    time_zone: str,
    work_start: time,
    work_end: time,
    days: frozenset[int],
) -> tuple[Interval, ...]:
    """Computed once per distinct working pattern: a team mostly shares a few."""
    tz = ZoneInfo(time_zone)
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    out: list[Interval] = []
    day = first
    while day <= last:
        if day.weekday() in days:
            begin = datetime.combine(day, work_start, tzinfo=tz).astimezone(UTC)
            finish_day = day if work_end > work_start else day + timedelta(days=1)
            finish = datetime.combine(finish_day, work_end, tzinfo=tz).astimezone(UTC)
            out.append((begin, finish))
        day += timedelta(days=1)
    return tuple(clip(merge(out), start, end))


def parse_work_days(raw: str) -> set[int]:
    days = set()
    for part in (raw or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) <= 6:
            days.add(int(part))
    return days
