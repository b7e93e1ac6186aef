"""Template filters for instants stored as text (audit rows keep ISO 8601 in JSON)."""

from datetime import datetime

from django import template

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
