"""Time zone helpers shared by models, forms and views."""

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def validate_time_zone(value: str) -> None:
    if value not in set(zone_names()):
        raise ValidationError(
            f"{value!r} is not a known IANA time zone (for example Europe/London)."
        )


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
