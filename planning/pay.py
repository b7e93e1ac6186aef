"""On-call pay: what each person earned per month from the hours they actually held.

The hours are those of published (and imported) rosters as they stand now, so a swap moves the
pay with the shift. Each hour is read on the holder's own calendar: the month, the weekend and
the public holidays are those of their time zone and country, and an hour is an hour of real
time (a night across the autumn clock change holds one hour more). A public holiday on a
weekend pays the holiday rate. Incidents pay per incident attributed to the person, in the
month (their zone) the incident started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from incidents.models import Incident
from onehand.dates import next_month
from onehand.errors import Invalid, NotFound
from onehand.people import display_name
from rotation import selectors as rotation_selectors
from rotation.models import Membership, SlotRole, Team
from rotation.permissions import Actor, acting_user, require_manager

from .inputs import public_holidays, worked_shifts
from .models import PayRates

# A report covers at most a year of months: enough for an annual export, bounded in cost.
MAX_MONTHS = 12
CENT = Decimal("0.01")
# Every zone's month lies within these margins of the same month in UTC.
ZONE_MARGIN = timedelta(hours=14)


@dataclass(frozen=True)
class HeldHours:
    """Seconds held, by the kind of day they fell on (the holder's calendar)."""

    weekday: int = 0
    weekend: int = 0
    holiday: int = 0

    def __add__(self, other: HeldHours) -> HeldHours:
        return HeldHours(
            self.weekday + other.weekday,
            self.weekend + other.weekend,
            self.holiday + other.holiday,
        )


@dataclass(frozen=True)
class PayLine:
    person_id: int
    name: str
    month: date  # the first day of the month, on the person's own calendar
    weekday_hours: Decimal
    weekend_hours: Decimal
    holiday_hours: Decimal
    incidents: int
    amount: Decimal
    currency: str
    provisional: bool  # the month has not ended yet, or has shifts still to come

    @property
    def hours(self) -> Decimal:
        return self.weekday_hours + self.weekend_hours + self.holiday_hours


def held_hours(
    start: datetime, end: datetime, *, time_zone: str, holidays: frozenset[date]
) -> HeldHours:
    """Split [start, end) at the holder's local midnights and sort each piece by its day."""
    tz = ZoneInfo(time_zone)
    weekday = weekend = holiday = 0
    cursor = start
    while cursor < end:
        local_day = cursor.astimezone(tz).date()
        midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=tz)
        piece_end = min(end, midnight.astimezone(UTC))
        seconds = int((piece_end - cursor).total_seconds())
        if local_day in holidays:
            holiday += seconds
        elif local_day.weekday() >= 5:
            weekend += seconds
        else:
            weekday += seconds
        cursor = piece_end
    return HeldHours(weekday, weekend, holiday)


def price(hours: HeldHours, incidents: int, rates: PayRates) -> Decimal:
    """The amount for a month, rounded to the cent once (not per shift)."""
    total = (
        Decimal(hours.weekday) * rates.weekday_hour
        + Decimal(hours.weekend) * rates.weekend_hour
        + Decimal(hours.holiday) * rates.holiday_hour
    ) / Decimal(3600) + incidents * rates.per_incident
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / Decimal(3600)).quantize(CENT, rounding=ROUND_HALF_UP)


def rates_for(*, team: Team) -> PayRates:
    """The team's rates, or unsaved zero rates when a manager has not set any."""
    return PayRates.objects.filter(team=team).first() or PayRates(team=team)


def month_range(first: date, last: date) -> list[date]:
    if last < first:
        raise Invalid("The last month comes before the first.", field="to")
    months = [first]
    while months[-1] < last:
        months.append(next_month(months[-1]))
        if len(months) > MAX_MONTHS:
            raise Invalid(f"A pay report covers at most {MAX_MONTHS} months.", field="to")
    return months


def pay_report(
    *,
    team: Team,
    viewer: AbstractBaseUser,
    first_month: date,
    last_month: date,
    now: datetime,
) -> list[PayLine]:
    """Pay per person per month. A manager sees everybody; anyone else only their own lines."""
    if not viewer.is_authenticated or not rotation_selectors.is_member(
        user=viewer, team_id=team.pk
    ):
        raise NotFound("No such team, or you are not in it.")
    months = month_range(first_month, last_month)
    sees_all = rotation_selectors.is_manager(user=viewer, team_id=team.pk)
    rates = rates_for(team=team)

    members = Membership.objects.filter(team=team, status=Membership.Status.ACTIVE)
    if not sees_all:
        members = members.filter(user=viewer)
    people = {m.user_id: m.user for m in members.select_related("user__person")}

    utc_start = datetime.combine(months[0], time(0), tzinfo=UTC) - ZONE_MARGIN
    utc_end = datetime.combine(next_month(months[-1]), time(0), tzinfo=UTC) + ZONE_MARGIN
    roles = [SlotRole.PRIMARY, SlotRole.SECONDARY]
    if rates.pay_shadow:
        roles.append(SlotRole.SHADOW)
    # The record of who held what (a superseded roster only where nothing replaced it).
    shifts = (
        worked_shifts()
        .filter(
            roster__rotation__team=team,
            role__in=roles,
            assignee_id__in=people,
            start__lt=utc_end,
            end__gt=utc_start,
        )
        .values_list("assignee_id", "start", "end")
    )
    incidents = Incident.objects.filter(
        rotation__team=team,
        attributed_to_id__in=people,
        started_at__gte=utc_start,
        started_at__lt=utc_end,
    ).values_list("attributed_to_id", "started_at")

    held: dict[tuple[int, date], HeldHours] = {}
    pending: set[tuple[int, date]] = set()
    windows = {
        uid: _month_windows(months, ZoneInfo(u.person.time_zone)) for uid, u in people.items()
    }
    for uid, start, end in shifts:
        person = people[uid].person
        for month, (window_start, window_end) in windows[uid].items():
            a, b = max(start, window_start), min(end, window_end)
            if a >= b:
                continue
            days = public_holidays(person.country, a.year - 1, b.year + 1)
            key = (uid, month)
            held[key] = held.get(key, HeldHours()) + held_hours(
                a, b, time_zone=person.time_zone, holidays=days
            )
            if b > now:
                pending.add(key)
    pages: dict[tuple[int, date], int] = {}
    for uid, started in incidents:
        for month, (window_start, window_end) in windows[uid].items():
            if window_start <= started < window_end:
                pages[(uid, month)] = pages.get((uid, month), 0) + 1

    lines = []
    for uid, user in sorted(people.items(), key=lambda item: display_name(item[1]).lower()):
        for month, (_, window_end) in windows[uid].items():
            hours = held.get((uid, month), HeldHours())
            count = pages.get((uid, month), 0)
            lines.append(
                PayLine(
                    person_id=uid,
                    name=display_name(user),
                    month=month,
                    weekday_hours=_hours(hours.weekday),
                    weekend_hours=_hours(hours.weekend),
                    holiday_hours=_hours(hours.holiday),
                    incidents=count,
                    amount=price(hours, count, rates),
                    currency=rates.currency,
                    provisional=window_end > now or (uid, month) in pending,
                )
            )
    return lines


def _month_windows(months: list[date], tz: ZoneInfo) -> dict[date, tuple[datetime, datetime]]:
    """Each month as [local midnight of the 1st, local midnight of the next 1st), in UTC."""
    return {
        month: (
            datetime.combine(month, time(0), tzinfo=tz).astimezone(UTC),
            datetime.combine(next_month(month), time(0), tzinfo=tz).astimezone(UTC),
        )
        for month in months
    }


@transaction.atomic
def set_pay_rates(
    *,
    team: Team,
    by: Actor,
    currency: str,
    weekday_hour: Decimal,
    weekend_hour: Decimal,
    holiday_hour: Decimal,
    per_incident: Decimal,
    pay_shadow: bool = False,
) -> PayRates:
    """A manager sets the team's on-call pay rates."""
    require_manager(by, team.pk, "Only a manager of this team can set its pay rates.")
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise Invalid("Give the currency as a three-letter code, such as EUR.", field="currency")
    values = {
        "weekday_hour": weekday_hour,
        "weekend_hour": weekend_hour,
        "holiday_hour": holiday_hour,
        "per_incident": per_incident,
    }
    for field, value in values.items():
        if value is None or value < 0 or value >= Decimal("1000000"):
            raise Invalid("A rate is a number from 0 to 999999.99.", field=field)
    rates, _ = PayRates.objects.select_for_update().get_or_create(team=team)
    for field, value in values.items():
        setattr(rates, field, Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))
    rates.currency = code
    rates.pay_shadow = bool(pay_shadow)
    rates.updated_by = acting_user(by)
    rates.save()
    return rates
