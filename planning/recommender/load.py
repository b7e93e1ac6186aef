"""Weighted hours, capacity, past load (history) and fairness metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from .types import DEFAULT_SETTINGS, Candidate, FairnessMetrics, PastShift, Settings, Slot


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def _next_local_midnight(cur: datetime, tz: ZoneInfo) -> tuple[date, datetime]:
    local = cur.astimezone(tz)
    day = local.date()
    nxt = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    nxt_utc = nxt.astimezone(UTC)
    if nxt_utc <= cur:  # midnight repeated by a fall-back transition
        nxt_utc = nxt.replace(fold=1).astimezone(UTC)
        if nxt_utc <= cur:
            nxt_utc = cur + timedelta(hours=1)
    return day, nxt_utc


@lru_cache(maxsize=65536)
def weighted_hours(
    start: datetime,
    end: datetime,
    time_zone: str,
    holidays: frozenset[date],
    weekend_weight: float,
    holiday_weight: float,
) -> float:
    if end <= start:
        return 0.0
    tz = zone(time_zone)
    total = 0.0
    cur = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while cur < end:
        day, nxt = _next_local_midnight(cur, tz)
        piece_end = min(nxt, end)
        hours = (piece_end - cur).total_seconds() / 3600.0
        if day in holidays:
            weight = holiday_weight
        elif day.weekday() >= 5:
            weight = weekend_weight
        else:
            weight = 1.0
        total += hours * weight
        cur = piece_end
    return total


def slot_weighted_hours(
    slot_or_interval, candidate: Candidate, settings: Settings = DEFAULT_SETTINGS
) -> float:
    """Weighted hours of a slot (or ``(start, end)`` / anything with ``.start``/``.end``)
    for ``candidate``, in the candidate's time zone and holiday calendar.

    A :class:`Slot` with role ``"shadow"`` is multiplied by ``settings.shadow_weight``.
    """
    if isinstance(slot_or_interval, tuple):
        start, end = slot_or_interval
        role = None
    else:
        start, end = slot_or_interval.start, slot_or_interval.end
        role = getattr(slot_or_interval, "role", None)
    require_aware(start, "start")
    require_aware(end, "end")
    hours = weighted_hours(
        start,
        end,
        candidate.time_zone,
        frozenset(candidate.holidays),
        float(settings.weekend_weight),
        float(settings.holiday_weight),
    )
    if role == "shadow" and isinstance(slot_or_interval, Slot):
        hours *= settings.shadow_weight
    return hours


def capacity(candidate: Candidate, settings: Settings = DEFAULT_SETTINGS) -> float:
    """``fte * (1 - utilisation)``, floored at ``settings.capacity_floor``."""
    raw = float(candidate.fte) * (1.0 - float(candidate.utilisation))
    return max(float(settings.capacity_floor), raw)


def past_load(
    history: Iterable[PastShift],
    *,
    as_of: datetime,
    half_life_days: float = 180.0,
    weekend_weight: float = 1.5,
    holiday_weight: float = 2.0,
    time_zone: str = "UTC",
    holidays: frozenset[date] = frozenset(),
    member_since: datetime | None = None,
    team_average_rate: float | None = None,
    window_days: float = 365.0,
    shadow_weight: float = 0.0,
) -> float:
    """Decayed weighted hours of a person's past shifts, as of ``as_of``.

    * Only the part of each shift inside the look-back window
      ``[as_of - window_days, as_of]`` counts.
    * Each shift's weighted hours are multiplied by
      ``0.5 ** (age_days / half_life_days)`` where the age is measured from the
      (clipped) end of the shift, so a shift that ended one half-life ago counts
      half.
    * Newcomers: if ``member_since`` is inside the window and
      ``team_average_rate`` (team average *weighted hours per day*) is given,
      the person is credited the load they would have had at that rate over the
      missing part of the window, decayed the same way
      (``rate * integral of 0.5 ** (age / half_life)`` over the missing days).
    """
    require_aware(as_of, "as_of")
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    window_start = as_of - timedelta(days=window_days)
    total = 0.0
    for shift in history:
        require_aware(shift.start, "PastShift.start")
        require_aware(shift.end, "PastShift.end")
        start = max(shift.start, window_start)
        end = min(shift.end, as_of)
        if end <= start:
            continue
        hours = weighted_hours(
            start, end, time_zone, frozenset(holidays), float(weekend_weight), float(holiday_weight)
        )
        if shift.role == "shadow":
            hours *= shadow_weight
        age_days = (as_of - end).total_seconds() / 86400.0
        total += hours * 0.5 ** (age_days / half_life_days)
    if member_since is not None and team_average_rate:
        require_aware(member_since, "member_since")
        missing_end = min(member_since, as_of)
        if missing_end > window_start:
            h = float(half_life_days)
            age_near = (as_of - missing_end).total_seconds() / 86400.0
            age_far = (as_of - window_start).total_seconds() / 86400.0
            integral = h / math.log(2.0) * (2.0 ** (-age_near / h) - 2.0 ** (-age_far / h))
            total += float(team_average_rate) * integral
    return total


def fairness_metrics(loads: Mapping[int, float]) -> FairnessMetrics:
    """Spread (max-min), population stdev, Gini, mean, max and min of the loads."""
    x = np.array(sorted(float(v) for v in loads.values()), dtype=float)
    if x.size == 0:
        return FairnessMetrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    n = x.size
    total = float(x.sum())
    gini = 0.0
    if total > 0:
        ranks = np.arange(1, n + 1)
        gini = float(2.0 * (ranks * x).sum() / (n * total) - (n + 1.0) / n)
    return FairnessMetrics(
        count=n,
        mean=float(x.mean()),
        max=float(x[-1]),
        min=float(x[0]),
        spread=float(x[-1] - x[0]),
        stdev=float(x.std()),
        gini=max(0.0, gini),
    )
