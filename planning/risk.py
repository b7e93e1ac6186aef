"""The at-risk watch: published shifts starting soon that may go uncovered.

A shift is at risk when it starts within the horizon (settings.ONEHAND_AT_RISK_HOURS,
default 72 h) and nobody holds it, its holder is now unavailable for part of it, or it has an
open swap request. Reasons are in words, in the reader's zone ("Amara is away 8–12 Dec").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from availability.selectors import unavailability_by_person
from onehand.people import display_name
from rotation.models import Membership, Roster, Rotation, Shift, SwapOffer, SwapRequest


@dataclass
class AtRisk:
    shift: Shift
    reasons: list[str] = field(default_factory=list)


def horizon() -> timedelta:
    return timedelta(hours=settings.ONEHAND_AT_RISK_HOURS)


def span_words(start: datetime, end: datetime, zone: str) -> str:
    """'8–12 Dec', '8 Dec 09:00–13:00', '30 Nov–2 Dec' in the reader's zone."""
    tz = ZoneInfo(zone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    whole_days = a.hour == a.minute == 0 and b.hour == b.minute == 0
    if whole_days:
        last = b - timedelta(days=1)
        if last.date() == a.date():
            return f"{a.day} {a:%b}"
        if (a.year, a.month) == (last.year, last.month):
            return f"{a.day}–{last.day} {a:%b}"
        return f"{a.day} {a:%b}–{last.day} {last:%b}"
    if a.date() == b.date():
        return f"{a.day} {a:%b} {a:%H:%M}–{b:%H:%M}"
    return f"{a.day} {a:%b} {a:%H:%M}–{b.day} {b:%b} {b:%H:%M}"


def away_words(name: str, spans: list[tuple[datetime, datetime]], zone: str) -> str:
    """'Amara is away 8–12 Dec' (every span, in the reader's zone)."""
    return f"{name} is away " + ", ".join(span_words(a, b, zone) for a, b in spans)


def at_risk_shifts(rotation_ids, *, zone: str = "UTC", now: datetime | None = None) -> list[AtRisk]:
    """Shifts of these rotations at risk within the horizon, soonest first."""
    now = now or timezone.now()
    shifts = list(
        Shift.objects.filter(
            roster__rotation_id__in=list(rotation_ids),
            roster__status=Roster.Status.PUBLISHED,
            start__gt=now,
            start__lte=now + horizon(),
        )
        .select_related("assignee", "roster__rotation")
        .order_by("start", "role")
    )
    if not shifts:
        return []
    holders = {s.assignee_id for s in shifts if s.assignee_id}
    away = unavailability_by_person(
        user_ids=holders, start=now, end=now + horizon() + timedelta(days=31)
    )
    swaps = {
        r.shift_id: r
        for r in SwapRequest.objects.filter(
            shift__in=shifts,
            status__in=[SwapRequest.Status.OPEN, SwapRequest.Status.PENDING_APPROVAL],
        )
    }
    asked: dict[int, int] = {}
    for request_id in SwapOffer.objects.filter(
        request__in=swaps.values(), status=SwapOffer.Status.OFFERED
    ).values_list("request_id", flat=True):
        asked[request_id] = asked.get(request_id, 0) + 1
    out = []
    for shift in shifts:
        risk = AtRisk(shift)
        if shift.assignee_id is None:
            risk.reasons.append("nobody is assigned")
        else:
            spans = away.get(shift.assignee_id, [])
            clash = [(a, b) for a, b in spans if a < shift.end and b > shift.start]
            if clash:
                risk.reasons.append(away_words(display_name(shift.assignee), clash, zone))
        request = swaps.get(shift.pk)
        if request is not None:
            if request.status == SwapRequest.Status.PENDING_APPROVAL:
                risk.reasons.append("a swap waits for a manager's approval")
            else:
                n = asked.get(request.pk, 0)
                risk.reasons.append(
                    f"swap open, no taker yet ({n} {'person' if n == 1 else 'people'} asked)"
                )
        if risk.reasons:
            out.append(risk)
    return out


def managed_rotation_ids(user) -> list[int]:
    """Rotations of the teams this user manages."""
    teams = Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values("team_id")
    return list(Rotation.objects.filter(team_id__in=teams).values_list("pk", flat=True))


def managers_of(rotation_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            role=Membership.Role.MANAGER, team__rotations__pk=rotation_id
        ).values_list("user_id", flat=True)
    )
