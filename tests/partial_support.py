"""Partial cover test data: a weekly London shift and an evening inside it."""

from datetime import UTC, date, datetime

from tests.swap_support import published_team


def at(text: str) -> datetime:
    """'2026-12-03 18:00' as a UTC instant (London is on UTC in December)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def week_shift(team, role: str = "primary"):
    """The first December week's slot (Mon 7 Dec 09:00 – Mon 14 Dec 09:00 London)."""
    return team["roster"].shifts.filter(role=role).order_by("start").first()


# A weekly London roster whose week of 22 March has the spring clock change and Good Friday.
MARCH_2027 = (date(2027, 3, 1), date(2027, 4, 1))
THURSDAY_EVENING = (at("2026-12-10 18:00"), at("2026-12-10 23:00"))

__all__ = ["MARCH_2027", "THURSDAY_EVENING", "at", "published_team", "week_shift"]
