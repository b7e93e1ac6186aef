"""Template filters for instants stored as text (audit rows keep ISO 8601 in JSON)."""

from datetime import datetime

from django import template

from onehand.dates import period_in_words

register = template.Library()


@register.filter
def instant(value) -> datetime | None:
    """An ISO 8601 instant as an aware datetime, so `|date` shows it in the reader's zone."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@register.filter
def period(roster) -> str:
    """A roster's (or lock's) period by its first and last day: "1–31 Dec 2026"."""
    return period_in_words(roster.period_start, roster.period_end)
