"""The team's cap on anyone's share of a period (issue 16), for a manager's manual pick.

Share = the hours of primary and secondary slots a person holds in a roster / the roster's
hours (each shift's hours once, whatever its number of slots). Shadow slots are training and
do not count. The recommender applies the same rule while drafting (Settings.max_share).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rotation.models import SlotRole

# slack so float sums of shift hours never refuse an exact fit
SLACK = 1e-6


@dataclass(frozen=True)
class Held:
    role: str
    start: datetime
    end: datetime
    assignee_id: int | None


def period_words(start: date, end: date) -> str:
    """'December 2026' for a calendar month, else '7 Dec – 3 Jan 2027' (end exclusive)."""
    last = end - timedelta(days=1)
    if start.day == 1 and end.day == 1 and (start.year, start.month) == (last.year, last.month):
        return f"{start:%B %Y}"
    return f"{start.day} {start:%b} – {last.day} {last:%b %Y}"


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def period_hours(slots: Iterable[Held]) -> float:
    spans: dict[datetime, tuple[datetime, datetime]] = {}
    for s in slots:
        if s.role == SlotRole.SHADOW:
            continue
        a, b = spans.get(s.start, (s.start, s.end))
        spans[s.start] = (min(a, s.start), max(b, s.end))
    return sum(_hours(a, b) for a, b in spans.values())


def share_after_pick(*, slots: list[Held], pick: Held, person_id: int) -> float:
    """The person's share of the roster's hours if they also held `pick` (0..1)."""
    total = period_hours([*slots, pick])
    if total <= 0 or pick.role == SlotRole.SHADOW:
        return 0.0
    held = sum(
        _hours(s.start, s.end)
        for s in slots
        if s.assignee_id == person_id and s.role != SlotRole.SHADOW and s != pick
    )
    return (held + _hours(pick.start, pick.end)) / total


def cap_problem(
    *,
    slots: list[Held],
    pick: Held,
    person_id: int,
    cap_percent: int,
    period: tuple[date, date],
) -> str | None:
    """'would be on call 38% of December 2026; the team's cap is 30%', or None."""
    if cap_percent >= 100 or pick.role == SlotRole.SHADOW:
        return None
    share = share_after_pick(slots=slots, pick=pick, person_id=person_id)
    if share <= cap_percent / 100 + SLACK:
        return None
    pct = 100 * share
    shown = f"{pct:.0f}" if round(pct) > cap_percent else f"{pct:.1f}"
    return f"would be on call {shown}% of {period_words(*period)}; the team's cap is {cap_percent}%"
