"""The availability month grid in a person's zone. Pure: no ORM, no clock."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rotation.calendar import grid_bounds

from . import intervals as iv

UNAVAILABLE = "unavailable"
PREFERRED = "preferred"


@dataclass
class DayCell:
    day: date
    in_month: bool
    is_today: bool
    unavailable: str = ""  # "full", "partial" or ""
    preferred: str = ""
    from_calendar: bool = False
    locked: bool = False
    reasons: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """One word for styling and for the accessible name."""
        if self.unavailable == "full":
            return "unavailable"
        if self.preferred == "full" and not self.unavailable:
            return "preferred"
        if self.unavailable or self.preferred:
            return "partial"
        return "free"

    @property
    def label(self) -> str:
        parts = {
            "unavailable": "Unavailable",
            "preferred": "Preferred",
            "free": "Available",
        }
        if self.state == "partial":
            bits = []
            if self.unavailable:
                bits.append(
                    f"unavailable {'all day' if self.unavailable == 'full' else 'part of the day'}"
                )
            if self.preferred:
                bits.append(
                    f"preferred {'all day' if self.preferred == 'full' else 'part of the day'}"
                )
            text = ", ".join(bits).capitalize()
        else:
            text = parts[self.state]
        if self.from_calendar:
            text += " (from your calendar)"
        if self.locked:
            text += ", locked"
        return text

    @property
    def pressed(self) -> bool:
        return self.state in ("unavailable", "preferred")


def _coverage(spans: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> str:
    covered = iv.seconds(iv.clip(spans, start, end))
    if covered <= 0:
        return ""
    return "full" if covered >= (end - start).total_seconds() else "partial"


def month_cells(
    month: date,
    time_zone: str,
    entries,
    today: date,
    locked: list[tuple[datetime, datetime]] = (),
) -> list[list[DayCell]]:
    """Weeks (Monday first) of local days with how much of each is marked.

    `entries` are objects with start, end (aware), kind, source and reason.
    """
    tz = ZoneInfo(time_zone)
    unavailable = iv.merge((e.start, e.end) for e in entries if e.kind == UNAVAILABLE)
    preferred = iv.merge((e.start, e.end) for e in entries if e.kind == PREFERRED)
    imported = iv.merge((e.start, e.end) for e in entries if e.source == "calendar")
    grid_start, grid_end = grid_bounds(month)
    weeks: list[list[DayCell]] = []
    day = grid_start
    while day < grid_end:
        start, end = iv.local_day_bounds(day, tz)
        reasons = tuple(
            dict.fromkeys(e.reason for e in entries if e.reason and e.start < end and e.end > start)
        )
        cell = DayCell(
            day=day,
            in_month=day.month == month.month,
            is_today=day == today,
            unavailable=_coverage(unavailable, start, end),
            preferred=_coverage(preferred, start, end),
            from_calendar=bool(iv.clip(imported, start, end)),
            locked=any(s < end and e > start for s, e in locked),
            reasons=reasons,
        )
        if day.weekday() == 0:
            weeks.append([])
        weeks[-1].append(cell)
        day += timedelta(days=1)
    return weeks
