"""Writes for the rotation app. Each public function is one transaction."""

from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .events import roster_published
from .models import Heartbeat, Person, Roster, Rotation, Shift
from .shifts import shift_windows

User = get_user_model()


def ensure_person(user, **fields) -> Person:
    person, created = Person.objects.get_or_create(user=user, defaults=fields)
    if not created and fields:
        for key, value in fields.items():
            setattr(person, key, value)
        person.full_clean(exclude=["user", "mentor"])
        person.save()
    return person


def rotation_windows(rotation: Rotation, period_start: date, period_end: date):
    return shift_windows(
        pattern=rotation.pattern,
        handoff_weekday=rotation.handoff_weekday,
        handoff_time=rotation.handoff_time,
        time_zone=rotation.time_zone,
        period_start=period_start,
        period_end=period_end,
    )


@transaction.atomic
def create_roster(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    created_by=None,
    assignments: dict[tuple[datetime, str], int | None] | None = None,
) -> Roster:
    """A draft roster with one empty (or given) slot per role per shift of the period."""
    roster = Roster.objects.create(
        rotation=rotation, period_start=period_start, period_end=period_end, created_by=created_by
    )
    assignments = assignments or {}
    Shift.objects.bulk_create(
        Shift(
            roster=roster,
            role=role,
            start=window.start,
            end=window.end,
            assignee_id=assignments.get((window.start, role)),
        )
        for window in rotation_windows(rotation, period_start, period_end)
        for role in rotation.slot_roles
    )
    return roster


@transaction.atomic
def publish_roster(roster: Roster, *, by=None) -> Roster:
    """Publish a draft once; earlier published rosters of the same period are superseded.

    The row lock makes a double click or a second tab publish once: the second caller
    waits, then sees the roster already published and returns it unchanged.
    """
    roster = Roster.objects.select_for_update().get(pk=roster.pk)
    if roster.status != Roster.Status.DRAFT:
        return roster
    Roster.objects.filter(
        rotation_id=roster.rotation_id,
        status=Roster.Status.PUBLISHED,
        period_start__lt=roster.period_end,
        period_end__gt=roster.period_start,
    ).update(status=Roster.Status.SUPERSEDED)
    roster.status = Roster.Status.PUBLISHED
    roster.published_at = timezone.now()
    roster.published_by = by
    roster.save(update_fields=["status", "published_at", "published_by"])
    roster_published.send(sender=Roster, roster=roster)
    return roster


def beat_heartbeat(now: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": now or timezone.now()})
