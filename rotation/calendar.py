"""Month grids in a viewer's time zone. Pure: no ORM."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from onehand.dates import local_day_bounds, parse_month  # noqa: F401 - re-exported for views
from onehand.people import display_name

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
                        name=display_name(user, nobody="Uncovered"),
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
