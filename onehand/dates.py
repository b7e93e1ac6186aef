"""Calendar arithmetic shared by every layer: months, local days, bounds. Pure: no ORM, no clock.

Months are represented by their first day. Years outside `FIRST_YEAR`..`LAST_YEAR` are refused,
so a `?month=9999-12` cannot overflow the arithmetic that follows.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIRST_YEAR = 1970
LAST_YEAR = 2200
# The longest period any range parameter (utilisation, reports) may span.
MAX_RANGE_DAYS = 400
# Real UTC offsets run from -12:00 to +14:00; anything beyond is a typo or an attack.
MAX_OFFSET = timedelta(hours=14)
# What to say when a month parameter that must be given is not a usable month.
MONTH_PROBLEM = f"Give the month as YYYY-MM: a real month in the years {FIRST_YEAR}–{LAST_YEAR}."


def instant_problem(value: datetime) -> str | None:
    """Why an aware instant cannot be used (offset or year out of range), or None."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        return "The UTC offset must be between -14:00 and +14:00."
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        return f"Years run from {FIRST_YEAR} to {LAST_YEAR}."
    return None


def span_problem(start: datetime, end: datetime) -> str | None:
    """Why [start, end) is not a usable range, or None."""
    if end <= start:
        return "The end must be after the start."
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        return f"The period may span at most {MAX_RANGE_DAYS} days."
    return None


MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{1,2})", re.ASCII)


def parse_month_or_none(raw: str | None) -> date | None:
    """'2026-12' -> 2026-12-01; None for anything else, including years out of range."""
    # ASCII digits only, nothing around them: int() would also take "２０２７" and "02\n"
    match = MONTH_PATTERN.fullmatch(raw or "")
    if match is None:
        return None
    try:
        year, month = int(match[1]), int(match[2])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            return None
        return date(year, month, 1)
    except ValueError:
        return None


def parse_day_or_none(raw: str | None) -> date | None:
    """'2026-12-08' -> that date; None for anything else (30 February, year 9999, junk)."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def parse_month(raw: str | None, today: date) -> date:
    """'2026-12' -> 2026-12-01; anything else -> the month of `today`."""
    return parse_month_or_none(raw) or today.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def previous_month(day: date) -> date:
    """The first day of the month before `day`'s."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_bounds(any_day: date) -> tuple[date, date]:
    """[first day of the month, first day of the next month)."""
    first = any_day.replace(day=1)
    return first, next_month(first)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar day in UTC: 23 or 25 hours long on DST change days."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def month_span(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar month in UTC."""
    first, following = month_bounds(month)
    return local_day_bounds(first, tz)[0], local_day_bounds(following, tz)[0]


def period_in_words(start: date, end_exclusive: date) -> str:
    """A period stored with an exclusive end, named by its first and last day, so that
    1 Dec - 1 Jan reads "1–31 Dec 2026" and never as if 1 January were included."""
    last = end_exclusive - timedelta(days=1) if end_exclusive > start else start
    if last == start:
        return f"{start.day} {start:%b %Y}"
    if (start.year, start.month) == (last.year, last.month):
        return f"{start.day}–{last.day} {last:%b %Y}"
    if start.year == last.year:
        return f"{start.day} {start:%b} – {last.day} {last:%b %Y}"
    return f"{start.day} {start:%b %Y} – {last.day} {last:%b %Y}"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_words(dt: datetime, zone: str) -> str:
    """Every time a message (subject or body) gives: 'Mon 2 Mar 2026 14:30 IST (Asia/Kolkata)',
    in the reader's zone, named, independent of the process locale. The abbreviation alone is
    ambiguous (IST is India's, Ireland's summer and Israel's), so the zone is always named;
    the abbreviation stays because it tells summer from winter time."""
    value = dt.astimezone(ZoneInfo(zone))
    text = (
        f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year} "
        f"{value:%H:%M} {value.tzname()}"
    )
    return text if zone in ("UTC", "Etc/UTC") else f"{text} ({zone})"
