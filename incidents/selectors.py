"""Reads for incidents: the active hook of a token, incidents in scope, interruption load."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import QuerySet

from onehand.errors import NotFound
from rotation.models import Person, Rotation
from rotation.selectors import rotations_for

from .models import HookToken, Incident, IncidentSettings
from .services import hash_token
from .weights import Profile, Weights, classify, parse_work_days


def active_hook(token: str) -> HookToken:
    """The active hook of a plaintext token; unknown and revoked tokens are both 404."""
    hook = (
        HookToken.objects.select_related("rotation__team", "rotation__mentor", "rotation__lead")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if hook is None:
        raise NotFound("No such webhook.")
    return hook


def hook_tokens(*, rotation_id: int) -> QuerySet[HookToken]:
    return HookToken.objects.filter(rotation_id=rotation_id).select_related("created_by")


def hook_tokens_for(user) -> QuerySet[HookToken]:
    return HookToken.objects.filter(rotation__in=rotations_for(user=user)).select_related(
        "rotation"
    )


def incidents_for(user) -> QuerySet[Incident]:
    """Incidents of the rotations of the user's teams."""
    return Incident.objects.filter(rotation__in=rotations_for(user=user)).select_related(
        "rotation", "attributed_to", "escalated_to"
    )


def rotation_incidents(*, rotation_id: int, start: datetime, end: datetime) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(rotation_id=rotation_id, started_at__gte=start, started_at__lt=end)
        .select_related("attributed_to__person", "escalated_to__person")
        .order_by("-started_at", "-id")
    )


MAX_HANDOVER_INCIDENTS = 20


def shift_incidents(*, rotation_id: int, start: datetime, end: datetime) -> list[Incident]:
    """The incidents that started during a shift, oldest first (at most
    MAX_HANDOVER_INCIDENTS, the latest ones): what the handover lists automatically."""
    latest = list(
        rotation_incidents(rotation_id=rotation_id, start=start, end=end)[:MAX_HANDOVER_INCIDENTS]
    )
    return latest[::-1]


def incident_settings(*, rotation_id: int) -> IncidentSettings:
    """The rotation's settings, or the defaults (unsaved) when none were set."""
    found = IncidentSettings.objects.filter(rotation_id=rotation_id).first()
    return found or IncidentSettings(rotation_id=rotation_id)


def weights_of(row: IncidentSettings) -> Weights:
    return Weights(
        hours_per_page=float(row.weight_hours_per_page),
        off_hours=float(row.off_hours_multiplier),
        night=float(row.night_multiplier),
        weekend=float(row.weekend_multiplier),
    )


def profile_of(person: Person | None) -> Profile:
    if person is None:
        return Profile()
    return Profile(
        time_zone=person.time_zone,
        work_start=person.work_start,
        work_end=person.work_end,
        work_days=parse_work_days(person.work_days),
        country=person.country,
    )


@dataclass
class InterruptionLoad:
    """One person's pages in a window, and what they weigh in hours of on-call."""

    user_id: int
    pages: int = 0
    off_hours_pages: int = 0
    night_pages: int = 0
    weekend_pages: int = 0
    holiday_pages: int = 0
    escalations: int = 0
    weighted_pages: float = 0.0
    # What the recommender adds to scheduled hours: weighted pages × hours per page.
    hours_equivalent: float = 0.0
    nights: set[date] = field(default_factory=set, repr=False)

    @property
    def nights_interrupted(self) -> int:
        return len(self.nights)


def interruption_load(
    *, rotation_id: int, start: datetime, end: datetime
) -> dict[int, InterruptionLoad]:
    """Pages per person of incidents that started in [start, end), weighted in their own zone.

    The primary at the start is paged; a recorded escalation pages that person too (counted
    once if it is the primary). Keys are user ids; `hours_equivalent` is ready to add to
    past on-call hours.
    """
    weights = weights_of(incident_settings(rotation_id=rotation_id))
    loads: dict[int, InterruptionLoad] = {}
    persons: dict[int, Profile] = {}
    paged: dict[int, list[datetime]] = defaultdict(list)
    for incident in rotation_incidents(rotation_id=rotation_id, start=start, end=end):
        targets = {incident.attributed_to_id, incident.escalated_to_id} - {None}
        for user_id in targets:
            paged[user_id].append(incident.started_at)
            if user_id == incident.escalated_to_id and user_id != incident.attributed_to_id:
                loads.setdefault(user_id, InterruptionLoad(user_id=user_id)).escalations += 1
    for person in Person.objects.filter(user_id__in=list(paged)):
        persons[person.user_id] = profile_of(person)
    for user_id, instants in paged.items():
        load = loads.setdefault(user_id, InterruptionLoad(user_id=user_id))
        profile = persons.get(user_id, Profile())
        for at in instants:
            page = classify(at, profile)
            load.pages += 1
            load.off_hours_pages += page.off_hours
            load.night_pages += page.night
            load.weekend_pages += page.weekend
            load.holiday_pages += page.holiday
            if page.night_of is not None:
                load.nights.add(page.night_of)
            load.weighted_pages += page.weight(weights)
        load.weighted_pages = round(load.weighted_pages, 3)
        load.hours_equivalent = round(load.weighted_pages * weights.hours_per_page, 3)
    return loads


def rotation_of(user, rotation_id: int) -> Rotation:
    rotation = rotations_for(user=user).filter(pk=rotation_id).first()
    if rotation is None:
        raise NotFound("No such rotation.")
    return rotation
