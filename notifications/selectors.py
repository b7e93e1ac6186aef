"""Reads for notifications: Shift rows -> entries.ShiftEntry, feeds, failed deliveries.

`shift_entries` turns any number of (shift, person) pairs into calendar entries with a
constant number of queries (three), whatever the number of shifts.

An entry's SEQUENCE is the *group sequence*: the sum of `Shift.sequence` over the slots of
the same shift (same roster and start). Every slot's sequence only grows, so the sum grows
whenever any slot of the shift changes; that matters because each person's entry names the
partner and the escalation chain, so a new secondary is an update for the primary's entry too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from onehand.links import absolute, make_token
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Rotation, Shift, SlotRole

from . import entries
from .models import CalendarConnection, Delivery, EntryTombstone, RotationFeed

User = get_user_model()

CANT_MAKE_IT = "cant-make-it"
# Follow-the-sun rotations label their coverage windows ("EMEA 08:00-16:00").
_SHIFT_HAS_WINDOW = any(field.name == "window" for field in Shift._meta.get_fields())
_PARTNER_ROLE = {"primary": "secondary", "secondary": "primary", "shadow": "primary"}


@dataclass(frozen=True)
class EntryRequest:
    """Which entry to build: one person's view of one slot (or the team's view of it)."""

    shift_id: int
    user_id: int
    cancelled: bool = False
    sequence: int | None = None  # None: the shift's current group sequence
    team_view: bool = False
    stamp: datetime | None = None  # when it last changed; None: the roster's publish time


@dataclass(frozen=True)
class BuiltEntry:
    entry: entries.ShiftEntry
    stamp: datetime  # DTSTAMP for feeds (stable, so feed bodies are stable between changes)
    shift: Shift


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "onehand"


def entry_uid(shift_id: int, user_id: int | None = None) -> str:
    if user_id is None:
        return f"shift-{shift_id}@{site_domain()}"
    return f"shift-{shift_id}-person-{user_id}@{site_domain()}"


def organizer_email() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "onehand@localhost"


def cant_make_it_url(user_id: int, shift_id: int) -> str:
    token = make_token(CANT_MAKE_IT, user_id, shift_id)
    return absolute(f"/shifts/{shift_id}/cant-make-it/?t={token}")


def shift_url(rotation_id: int, start: datetime, time_zone: str) -> str:
    month = start.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m")
    return absolute(f"/rotations/{rotation_id}/?month={month}")


def email_of(user) -> str:
    """A usable address; people without one get a reserved, undeliverable placeholder."""
    email = (user.email or "").strip()
    return email if "@" in email else f"user-{user.pk}@onehand.invalid"


def _window_label(shift: Shift) -> str:
    window = getattr(shift, "window", None) if _SHIFT_HAS_WINDOW else None
    return getattr(window, "label", "") or ""


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _contact(user, role: str = "") -> entries.Contact:
    person = getattr(user, "person", None)
    return entries.Contact(
        name=_name(user), email=email_of(user), phone=person.phone if person else "", role=role
    )


def group_key(shift: Shift) -> tuple[int, datetime]:
    return (shift.roster_id, shift.start)


def slot_groups(shifts: Iterable[Shift]) -> dict[tuple[int, datetime], dict[str, Shift]]:
    """All slots of the shifts' groups (same roster and start), in one query."""
    shifts = list(shifts)
    if not shifts:
        return {}
    keys = {group_key(s) for s in shifts}
    starts = [start for _, start in keys]
    slots = Shift.objects.filter(
        roster_id__in={roster_id for roster_id, _ in keys},
        start__gte=min(starts),
        start__lte=max(starts),
    ).select_related("assignee__person__mentor__person")
    groups: dict[tuple[int, datetime], dict[str, Shift]] = defaultdict(dict)
    for slot in slots:
        if group_key(slot) in keys:
            groups[group_key(slot)][slot.role] = slot
    return groups


def group_sequence(group: dict[str, Shift]) -> int:
    return sum(slot.sequence for slot in group.values())


def shift_entries(requests: Sequence[EntryRequest]) -> list[BuiltEntry]:
    """Build the entries asked for, in order, with three queries in all."""
    if not requests:
        return []
    shifts = {
        s.pk: s
        for s in Shift.objects.filter(pk__in={r.shift_id for r in requests}).select_related(
            "roster__rotation__team",
            "roster__rotation__mentor__person",
            "roster__rotation__lead__person",
            *(["window"] if _SHIFT_HAS_WINDOW else []),
        )
    }
    groups = slot_groups(shifts.values())
    users = {
        u.pk: u
        for u in User.objects.filter(pk__in={r.user_id for r in requests}).select_related("person")
    }
    organizer = organizer_email()
    built: list[BuiltEntry] = []
    for request in requests:
        shift = shifts.get(request.shift_id)
        user = users.get(request.user_id)
        if shift is None or user is None:
            continue
        rotation: Rotation = shift.roster.rotation
        group = groups.get(group_key(shift), {})
        primary_slot = group.get(SlotRole.PRIMARY)
        secondary_slot = group.get(SlotRole.SECONDARY)
        primary = primary_slot.assignee if primary_slot else None
        secondary = secondary_slot.assignee if secondary_slot else None
        partner_slot = group.get(_PARTNER_ROLE[shift.role])
        partner = partner_slot.assignee if partner_slot else None
        chain = [
            entries.Contact(name=c.name, email=c.email or "", phone=c.phone, role=c.role)
            for c in rotation_selectors.escalation_chain(rotation, primary, secondary)
            if c.user_id != user.pk
        ]
        sequence = request.sequence if request.sequence is not None else group_sequence(group)
        entry = entries.ShiftEntry(
            uid=entry_uid(shift.pk, None if request.team_view else user.pk),
            sequence=sequence,
            rotation_name=rotation.name,
            team_name=rotation.team.name,
            role=shift.role,
            start=shift.start,
            end=shift.end,
            time_zone=rotation.time_zone,
            attendee=_contact(user, shift.role),
            partner=_contact(partner, _PARTNER_ROLE[shift.role])
            if partner is not None and partner.pk != user.pk
            else None,
            escalation=tuple(chain),
            organizer_email=organizer,
            shift_url=shift_url(rotation.pk, shift.start, rotation.time_zone),
            cant_make_it_url="" if request.team_view else cant_make_it_url(user.pk, shift.pk),
            runbook_url=rotation.runbook_url,
            cancelled=request.cancelled,
            team_view=request.team_view,
            window_label=_window_label(shift),
        )
        stamp = request.stamp or shift.roster.published_at or shift.roster.created_at
        built.append(BuiltEntry(entry=entry, stamp=stamp, shift=shift))
    return built


# --------------------------------------------------------------------------- feeds


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """(shifts ending after, tombstones removed after) for feeds."""
    return (
        now - timedelta(days=settings.ONEHAND_FEED_PAST_DAYS),
        now - timedelta(days=settings.ONEHAND_FEED_CANCELLED_DAYS),
    )


def person_by_feed_token(token: str):
    return (
        User.objects.filter(person__feed_token=token, is_active=True)
        .select_related("person")
        .first()
    )


def rotation_by_feed_token(token: str) -> Rotation | None:
    feed = RotationFeed.objects.filter(token=token).select_related("rotation__team").first()
    return feed.rotation if feed else None


def rotation_feed(rotation: Rotation) -> RotationFeed:
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    return feed


def personal_feed_requests(user, now: datetime) -> list[EntryRequest]:
    shifts_after, removed_after = feed_window(now)
    live = list(
        Shift.objects.filter(
            assignee=user, roster__status=Roster.Status.PUBLISHED, end__gt=shifts_after
        )
        .order_by("start", "role")
        .values_list("pk", flat=True)
    )
    gone = (
        EntryTombstone.objects.filter(user=user, removed_at__gte=removed_after)
        .exclude(shift__assignee=user, shift__roster__status=Roster.Status.PUBLISHED)
        .order_by("shift__start")
        .values_list("shift_id", "sequence", "removed_at")
    )
    return [EntryRequest(shift_id, user.pk) for shift_id in live] + [
        EntryRequest(shift_id, user.pk, cancelled=True, sequence=seq, stamp=at)
        for shift_id, seq, at in gone
    ]


def team_feed_requests(rotation: Rotation, now: datetime) -> list[EntryRequest]:
    shifts_after, removed_after = feed_window(now)
    live = Shift.objects.filter(
        roster__rotation=rotation,
        roster__status=Roster.Status.PUBLISHED,
        assignee__isnull=False,
        end__gt=shifts_after,
    ).order_by("start", "role")
    requests = [
        EntryRequest(s.pk, s.assignee_id, team_view=True) for s in live.only("pk", "assignee_id")
    ]
    live_slot = Q(shift__roster__status=Roster.Status.PUBLISHED, shift__assignee__isnull=False)
    latest: dict[int, tuple[int, int, datetime]] = {}
    for shift_id, user_id, seq, at in (
        EntryTombstone.objects.filter(
            shift__roster__rotation=rotation, removed_at__gte=removed_after
        )
        .exclude(live_slot)
        .values_list("shift_id", "user_id", "sequence", "removed_at")
    ):
        if shift_id not in latest or seq > latest[shift_id][1]:
            latest[shift_id] = (user_id, seq, at)
    requests += [
        EntryRequest(shift_id, user_id, cancelled=True, sequence=seq, team_view=True, stamp=at)
        for shift_id, (user_id, seq, at) in sorted(latest.items())
    ]
    return requests


def personal_feed_changed_at(user) -> datetime | None:
    """When anything in the person's feed last changed (for Last-Modified)."""
    stamps = [
        RotationFeed.objects.filter(rotation__rosters__shifts__assignee=user)
        .order_by("-changed_at")
        .values_list("changed_at", flat=True)
        .first(),
        EntryTombstone.objects.filter(user=user)
        .order_by("-removed_at")
        .values_list("removed_at", flat=True)
        .first(),
    ]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


def team_feed_changed_at(rotation: Rotation) -> datetime | None:
    return (
        RotationFeed.objects.filter(rotation=rotation).values_list("changed_at", flat=True).first()
    )


# --------------------------------------------------------------------------- deliveries


def failed_deliveries(roster: Roster) -> QuerySet[Delivery]:
    """Deliveries about the roster's shifts that gave up: shown to managers with a retry."""
    return (
        Delivery.objects.filter(shift__roster=roster, status=Delivery.Status.FAILED)
        .select_related("user", "shift")
        .order_by("shift__start", "shift__role", "user__username")
    )


def delivery_for_retry(delivery_id: int) -> Delivery | None:
    return Delivery.objects.filter(pk=delivery_id).select_related("shift__roster__rotation").first()


def recent_deliveries(limit: int = 200) -> QuerySet[Delivery]:
    return Delivery.objects.select_related("user", "shift__roster__rotation").order_by("-id")[
        :limit
    ]


def calendar_connection(user) -> CalendarConnection | None:
    return CalendarConnection.objects.filter(user=user).first()
