"""Month grids in a viewer's time zone. Pure: no ORM."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .shifts import month_bounds


@dataclass
class DayEntry:
    role: str
    name: str
    user_id: int | None
    starts_at: datetime | None  # local, when the slot starts during this day
    ends_at: datetime | None  # local, when the slot ends during this day
    label: str = ""  # follow-the-sun region
    left: float = 0.0  # percent of the day where the slot starts (for the 24-hour band)
    width: float = 100.0


@dataclass
class Day:
    day: date
    in_month: bool
    is_today: bool
    entries: list[DayEntry] = field(default_factory=list)


def parse_month(raw: str | None, today: date) -> date:
    """'2026-12' -> 2026-12-01; anything else -> this month."""
    if raw:
        try:
            year, month = (int(part) for part in raw.split("-", 1))
            return date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def grid_bounds(month: date) -> tuple[date, date]:
    first, nxt = month_bounds(month)
    grid_start = first - timedelta(days=first.weekday())
    last = nxt - timedelta(days=1)
    grid_end = last + timedelta(days=7 - last.weekday())
    return grid_start, grid_end


def month_grid(month: date, tz_name: str, slots, today: date) -> list[list[Day]]:
    """Weeks (Monday first) of days; each day lists who holds which slot during it.

    `slots` are objects with role, start, end (aware) and assignee (a user or None).
    """
    tz = ZoneInfo(tz_name)
    grid_start, grid_end = grid_bounds(month)
    slots = sorted(slots, key=lambda s: (s.start, s.role))
    weeks: list[list[Day]] = []
    day = grid_start
    while day < grid_end:
        start, end = local_day_bounds(day, tz)
        cell = Day(day=day, in_month=day.month == month.month, is_today=day == today)
        for slot in slots:
            if slot.start < end and slot.end > start:
                user = slot.assignee
                day_seconds = (end - start).total_seconds()
                a, b = max(slot.start, start), min(slot.end, end)
                window = getattr(slot, "window", None)
                cell.entries.append(
                    DayEntry(
                        role=slot.role,
                        name=(user.get_full_name() or user.get_username()) if user else "Uncovered",
                        user_id=user.pk if user else None,
                        starts_at=slot.start.astimezone(tz) if slot.start > start else None,
                        ends_at=slot.end.astimezone(tz) if slot.end < end else None,
                        label=window.label if window is not None else "",
                        left=round((a - start).total_seconds() / day_seconds * 100, 2),
                        width=round((b - a).total_seconds() / day_seconds * 100, 2),
                    )
                )
        if day.weekday() == 0:
            weeks.append([])
        weeks[-1].append(cell)
        day += timedelta(days=1)
    return weeks
