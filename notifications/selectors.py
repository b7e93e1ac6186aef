"""Reads for notifications: Shift rows -> entries.ShiftEntry, feeds, failed deliveries.

`shift_entries` turns any number of (shift, person) pairs into calendar entries with a
constant number of queries (four), whatever the number of shifts.

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
from django.db.models import Count, F, Max, Min, Q, QuerySet, Subquery, Sum

from onehand.links import absolute, make_token
from onehand.people import display_name
from planning import escalation
from rotation import selectors as rotation_selectors
from rotation.models import Person, Roster, Rotation, Shift, SlotRole

from . import entries
from .models import (
    CalendarConnection,
    Channel,
    Delivery,
    EntryTombstone,
    FeedStamp,
    RotationFeed,
)

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
    return display_name(user)


def _contact(user, role: str = "") -> entries.Contact:
    person = getattr(user, "person", None)
    return entries.Contact(
        name=_name(user), email=email_of(user), phone=person.phone if person else "", role=role
    )


def group_key(shift: Shift) -> tuple[int, datetime]:
    return (shift.roster_id, shift.start)


def _group_slots(shifts: Iterable[Shift], queryset: QuerySet[Shift]):
    shifts = list(shifts)
    keys = {group_key(s) for s in shifts}
    if not keys:
        return {}
    # Exactly the groups asked for (not every slot between the first and last start: a
    # personal feed of one person's 900 shifts in a 10,000-slot roster reads 1,800 rows,
    # not 10,000).
    slots = queryset.filter(
        roster_id__in={roster_id for roster_id, _ in keys},
        start__in={start for _, start in keys},
    )
    groups: dict[tuple[int, datetime], dict[str, Shift]] = defaultdict(dict)
    for slot in slots:
        if group_key(slot) in keys:
            groups[group_key(slot)][slot.role] = slot
    _add_partners_of_pieces(groups, [s for s in shifts if s.split_from_id], queryset)
    return groups


def _add_partners_of_pieces(groups, pieces: list[Shift], queryset: QuerySet[Shift]) -> None:
    """A piece of a split shift (partial cover) starts when no other slot does: its partner
    is whoever holds the other role when the piece starts. One more query, only when pieces
    are asked for."""
    if not pieces:
        return
    first = min(p.start for p in pieces)
    last = max(p.start for p in pieces)
    around = list(
        queryset.filter(
            roster_id__in={p.roster_id for p in pieces}, start__lte=last, end__gt=first
        ).order_by("start")
    )
    for piece in pieces:
        group = groups[group_key(piece)]
        for slot in around:
            if (
                slot.roster_id == piece.roster_id
                and slot.role not in group
                and slot.start <= piece.start < slot.end
            ):
                group[slot.role] = slot


def slot_groups(shifts: Iterable[Shift]) -> dict[tuple[int, datetime], dict[str, Shift]]:
    """All slots of the shifts' groups (same roster and start), in one query."""
    return _group_slots(shifts, Shift.objects.select_related("assignee__person__mentor__person"))


def group_sequence(group: dict[str, Shift]) -> int:
    return sum(slot.sequence for slot in group.values())


class _Builder:
    """Per-call memo of what many entries share (contacts, escalation chains, month links),
    so building 900 entries does not redo the same work 900 times."""

    def __init__(self):
        self.contacts: dict[tuple[int, str], entries.Contact] = {}
        self.chains: dict[tuple, tuple[entries.Contact, ...]] = {}
        self.months: dict[tuple[int, str, datetime], str] = {}
        self.domain = site_domain()

    def contact(self, user, role: str) -> entries.Contact:
        key = (user.pk, role)
        found = self.contacts.get(key)
        if found is None:
            found = self.contacts[key] = _contact(user, role)
        return found

    def chain(self, chain: list[rotation_selectors.Contact] | None, user_id: int):
        """The shift's chain as entries show it to `user_id` (who never escalates to
        themselves)."""
        key = (tuple(c.user_id for c in chain or ()), user_id)
        found = self.chains.get(key)
        if found is None:
            found = self.chains[key] = tuple(
                entries.Contact(name=c.name, email=c.email or "", phone=c.phone, role=c.role)
                for c in chain or ()
                if c.user_id != user_id
            )
        return found

    def shift_url(self, rotation: Rotation, start: datetime) -> str:
        key = (rotation.pk, rotation.time_zone, start)
        found = self.months.get(key)
        if found is None:
            found = self.months[key] = shift_url(rotation.pk, start, rotation.time_zone)
        return found

    def uid(self, shift_id: int, user_id: int | None) -> str:
        if user_id is None:
            return f"shift-{shift_id}@{self.domain}"
        return f"shift-{shift_id}-person-{user_id}@{self.domain}"


def shift_people(
    groups: dict[tuple[int, datetime], dict[str, Shift]], rotations: dict[int, Rotation]
) -> dict[tuple[int, datetime], rotation_selectors.ShiftPeople]:
    """Each group's time and people, as its escalation chain is chosen. `rotations`: by
    roster id, with mentor and lead (and their person) loaded; assignees come with
    `person.mentor.person`."""
    out = {}
    for key, group in groups.items():
        if not group:
            continue
        first = next(iter(group.values()))
        primary_slot = group.get(SlotRole.PRIMARY)
        secondary_slot = group.get(SlotRole.SECONDARY)
        out[key] = rotation_selectors.ShiftPeople(
            rotations[key[0]],
            first.start,
            first.end,
            primary_slot.assignee if primary_slot else None,
            secondary_slot.assignee if secondary_slot else None,
        )
    return out


def group_chains(
    groups: dict[tuple[int, datetime], dict[str, Shift]], rotations: dict[int, Rotation]
) -> dict[tuple[int, datetime], list[rotation_selectors.Contact]]:
    """Each shift group's escalation chain (planning.escalation decides who it names)."""
    people = shift_people(groups, rotations)
    chains = escalation.escalation_chains(shifts=list(people.values()))
    return dict(zip(people, chains, strict=True))


def shift_entries(requests: Sequence[EntryRequest]) -> list[BuiltEntry]:
    """Build the entries asked for, in order, with four queries in all: the shifts (with
    their roster, rotation and team), the slots of their groups, every person involved
    (attendees, assignees, mentors, leads) once each, and the escalation contacts' time away
    (more only when a chain falls back to experienced people: planning/escalation.py)."""
    if not requests:
        return []
    shifts = {
        s.pk: s
        for s in rotation_selectors.with_whole_span(
            queryset=Shift.objects.filter(pk__in={r.shift_id for r in requests})
        )
        .select_related("roster__rotation__team", *(["window"] if _SHIFT_HAS_WINDOW else []))
        # JSON nobody reads here.
        .defer("reason", "roster__summary")
    }
    groups = _group_slots(
        shifts.values(),
        Shift.objects.only("pk", "roster_id", "start", "end", "role", "sequence", "assignee_id"),
    )
    rotations = {s.roster.rotation_id: s.roster.rotation for s in shifts.values()}
    user_ids = {r.user_id for r in requests}
    user_ids |= {
        slot.assignee_id
        for group in groups.values()
        for slot in group.values()
        if slot.assignee_id is not None
    }
    user_ids |= {r.mentor_id for r in rotations.values() if r.mentor_id is not None}
    user_ids |= {r.lead_id for r in rotations.values() if r.lead_id is not None}
    users = {
        u.pk: u
        for u in User.objects.filter(pk__in=user_ids).select_related("person__mentor__person")
    }
    for shift in shifts.values():
        # Attach the people loaded above, so escalation_chain reads no more rows.
        rotation = shift.roster.rotation
        if rotation.mentor_id in users:
            rotation.mentor = users[rotation.mentor_id]
        if rotation.lead_id in users:
            rotation.lead = users[rotation.lead_id]
    for group in groups.values():
        for slot in group.values():
            if slot.assignee_id in users:
                slot.assignee = users[slot.assignee_id]

    chains = group_chains(groups, {s.roster_id: s.roster.rotation for s in shifts.values()})
    organizer = organizer_email()
    memo = _Builder()
    built: list[BuiltEntry] = []
    for request in requests:
        shift = shifts.get(request.shift_id)
        user = users.get(request.user_id)
        if shift is None or user is None:
            continue
        rotation: Rotation = shift.roster.rotation
        group = groups.get(group_key(shift), {})
        partner_slot = group.get(_PARTNER_ROLE[shift.role])
        partner = partner_slot.assignee if partner_slot else None
        sequence = request.sequence if request.sequence is not None else group_sequence(group)
        entry = entries.ShiftEntry(
            uid=memo.uid(shift.pk, None if request.team_view else user.pk),
            sequence=sequence,
            rotation_name=rotation.name,
            team_name=rotation.team.name,
            role=shift.role,
            start=shift.start,
            end=shift.end,
            time_zone=rotation.time_zone,
            attendee=memo.contact(user, shift.role),
            partner=memo.contact(partner, _PARTNER_ROLE[shift.role])
            if partner is not None and partner.pk != user.pk
            else None,
            escalation=memo.chain(chains.get(group_key(shift)), user.pk),
            organizer_email=organizer,
            shift_url=memo.shift_url(rotation, shift.start),
            cant_make_it_url="" if request.team_view else cant_make_it_url(user.pk, shift.pk),
            runbook_url=rotation.runbook_url,
            cancelled=request.cancelled,
            team_view=request.team_view,
            window_label=_window_label(shift),
            part_of=rotation_selectors.whole_span_of(shift=shift),
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


def _feed_stamp() -> Subquery:
    """The feed stamp (`feed_stamp`), read with the token: None while the row is missing."""
    return Subquery(FeedStamp.objects.order_by().values("value")[:1])


def person_by_feed_token(token: str):
    """The feed's owner with their profile and the feed stamp (`feed_stamp`), in one query."""
    return (
        User.objects.filter(person__feed_token=token, is_active=True)
        .select_related("person")
        .annotate(feed_stamp=_feed_stamp())
        .first()
    )


def feed_by_token(token: str) -> RotationFeed | None:
    """A team feed with its rotation and team (and `changed_at`) and the feed stamp, in one
    query."""
    return (
        RotationFeed.objects.filter(token=token)
        .select_related("rotation__team")
        .annotate(feed_stamp=_feed_stamp())
        .first()
    )


def rotation_by_feed_token(token: str) -> Rotation | None:
    feed = feed_by_token(token)
    return feed.rotation if feed else None


def rotation_feed(rotation: Rotation) -> RotationFeed:
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    return feed


def _personal_live(user, shifts_after: datetime) -> QuerySet[Shift]:
    return Shift.objects.filter(
        assignee=user, roster__status=Roster.Status.PUBLISHED, end__gt=shifts_after
    )


def _personal_gone(user, removed_after: datetime) -> list[tuple]:
    """(shift_id, sequence, removed_at, roster_id, start) of the person's removed entries."""
    return list(
        EntryTombstone.objects.filter(user=user, removed_at__gte=removed_after)
        .exclude(shift__assignee=user, shift__roster__status=Roster.Status.PUBLISHED)
        .order_by("shift__start")
        .values_list("shift_id", "sequence", "removed_at", "shift__roster_id", "shift__start")
    )


def _team_live(rotation: Rotation, shifts_after: datetime) -> QuerySet[Shift]:
    return Shift.objects.filter(
        roster__rotation=rotation,
        roster__status=Roster.Status.PUBLISHED,
        assignee__isnull=False,
        end__gt=shifts_after,
    )


_TEAM_LIVE_SLOT = Q(shift__roster__status=Roster.Status.PUBLISHED, shift__assignee__isnull=False)
_PERSON_TEXT = ("first_name", "last_name", "username", "email", "person__phone")


def _team_gone(rotation: Rotation, removed_after: datetime) -> list[tuple]:
    """Per shift no longer held by anyone, its latest removal: (shift_id, user_id, sequence,
    removed_at, roster_id, start, <that person's name, email and phone>)."""
    latest: dict[int, tuple] = {}
    for row in (
        EntryTombstone.objects.filter(
            shift__roster__rotation=rotation, removed_at__gte=removed_after
        )
        .exclude(_TEAM_LIVE_SLOT)
        .values_list(
            "shift_id",
            "user_id",
            "sequence",
            "removed_at",
            "shift__roster_id",
            "shift__start",
            *(f"user__{field}" for field in _PERSON_TEXT),
        )
    ):
        if row[0] not in latest or row[2] > latest[row[0]][2]:
            latest[row[0]] = row
    return [latest[shift_id] for shift_id in sorted(latest)]


def personal_feed_requests(
    user, now: datetime, gone: list[tuple] | None = None
) -> list[EntryRequest]:
    shifts_after, removed_after = feed_window(now)
    live = list(
        _personal_live(user, shifts_after).order_by("start", "role").values_list("pk", flat=True)
    )
    if gone is None:
        gone = _personal_gone(user, removed_after)
    return [EntryRequest(shift_id, user.pk) for shift_id in live] + [
        EntryRequest(shift_id, user.pk, cancelled=True, sequence=seq, stamp=at)
        for shift_id, seq, at, *_ in gone
    ]


def team_feed_requests(
    rotation: Rotation, now: datetime, gone: list[tuple] | None = None
) -> list[EntryRequest]:
    shifts_after, removed_after = feed_window(now)
    live = _team_live(rotation, shifts_after).order_by("start", "role")
    requests = [
        EntryRequest(pk, assignee_id, team_view=True)
        for pk, assignee_id in live.values_list("pk", "assignee_id")
    ]
    if gone is None:
        gone = _team_gone(rotation, removed_after)
    requests += [
        EntryRequest(shift_id, user_id, cancelled=True, sequence=seq, team_view=True, stamp=at)
        for shift_id, user_id, seq, at, *_ in gone
    ]
    return requests


# What an entry says, apart from the shift itself: its roster (status, publish time), rotation
# and team, the slot's role, window and holder; the people it names are read separately.
_CONTENT_COLUMNS = (
    "roster_id",
    "roster__status",
    "roster__published_at",
    "roster__created_at",
    "roster__rotation_id",
    "roster__rotation__name",
    "roster__rotation__time_zone",
    "roster__rotation__runbook_url",
    "roster__rotation__team__name",
    "roster__rotation__mentor_id",
    "roster__rotation__lead_id",
    "role",
    "assignee_id",
    *(["window__label"] if _SHIFT_HAS_WINDOW else []),
)


def _content_rows(slots: Q, shifts_after: datetime, more_people: set[int]) -> list:
    """Two queries: one GROUP BY over every slot whose group appears in a feed (per distinct
    roster, rotation, role, holder, ...: what those say, and how many slots, which ids and
    which sequences), then everyone those slots name (holders, their mentors, the rotations'
    mentors and leads, and `more_people`) with their name, address, phone and mentor.

    Any change an entry can show changes a row: a publish or supersede (ids, roster status),
    an edit or swap (sequences only grow), a new name, address, phone or mentor, a renamed
    rotation or team, and shifts leaving the window (counts)."""
    groups = (
        Shift.objects.filter(slots)
        .order_by()
        .values(*_CONTENT_COLUMNS)
        .annotate(
            slots=Count("pk"),
            ids=Sum("pk"),
            sequences=Sum("sequence"),
            weighted=Sum(F("pk") * (F("sequence") + 1)),
            top=Max("sequence"),
            first=Min("start"),
            last=Max("end"),
            live=Count("pk", filter=Q(end__gt=shifts_after)),
        )
        .values_list(
            *_CONTENT_COLUMNS,
            "slots",
            "ids",
            "sequences",
            "weighted",
            "top",
            "first",
            "last",
            "live",
        )
    )
    groups = sorted(groups, key=repr)
    column = {name: n for n, name in enumerate(_CONTENT_COLUMNS)}
    ids = set(more_people)
    for name in ("assignee_id", "roster__rotation__mentor_id", "roster__rotation__lead_id"):
        ids |= {row[column[name]] for row in groups}
    ids.discard(None)
    people = sorted(
        User.objects.filter(
            Q(pk__in=ids) | Q(pk__in=Person.objects.filter(user_id__in=ids).values("mentor_id"))
        )
        .order_by()
        .values_list("pk", *_PERSON_TEXT, "person__mentor_id"),
        key=repr,
    )
    return [groups, people]


def _groups_of(keys: set[tuple[int, datetime]]) -> Q:
    """The slots of these groups (roster, start): a superset at most (every pairing)."""
    if not keys:
        return Q(pk__in=[])
    return Q(roster_id__in={roster for roster, _ in keys}, start__in={start for _, start in keys})


def personal_feed_state(user, now: datetime) -> tuple[list, list[tuple]]:
    """(what the ETag hashes, the removed entries) for a personal feed, in three small
    queries (removed entries, groups, people), whatever the number of shifts."""
    shifts_after, removed_after = feed_window(now)
    gone = _personal_gone(user, removed_after)
    # The groups of the person's shifts: slots sharing a roster and a start with one of
    # them. A superset (any roster of theirs, any of their starts, whatever the roster's
    # status) keeps this an index lookup; it only adds rows that change the ETag more often.
    mine = Shift.objects.filter(assignee=user, end__gt=shifts_after)
    slots = Q(roster_id__in=mine.values("roster_id"), start__in=mine.values("start")) | _groups_of(
        {(row[3], row[4]) for row in gone}
    )
    # The person's own name, address and phone come with "people" (the feed's name and every
    # ATTENDEE, removed entries included).
    return [gone, _content_rows(slots, shifts_after, {user.pk})], gone


def team_feed_state(feed: RotationFeed, now: datetime) -> tuple[list, list[tuple]]:
    """(what the ETag hashes, the removed entries) for a team feed, in three small queries."""
    rotation = feed.rotation
    shifts_after, removed_after = feed_window(now)
    gone = _team_gone(rotation, removed_after)
    slots = Q(
        roster__rotation=rotation,
        roster__status=Roster.Status.PUBLISHED,
        end__gt=shifts_after,
    ) | _groups_of({(row[4], row[5]) for row in gone})
    return [
        feed.changed_at,
        gone,
        _content_rows(slots, shifts_after, {row[1] for row in gone}),
    ], gone


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


def failed_chat_messages(*, team_id: int, limit: int = 20) -> QuerySet[Delivery]:
    """The team's chat messages that gave up, newest first (the failed list of the chat)."""
    return (
        Delivery.objects.filter(chat_hook__team_id=team_id, status=Delivery.Status.FAILED)
        .select_related("chat_hook", "shift__roster__rotation")
        .order_by("-id")[:limit]
    )


@dataclass(frozen=True)
class NoticeLine:
    """One calendar notice a publish would send: who, what kind, which shift, which channels."""

    name: str
    what: str  # "invite" | "update" | "cancel" | "chat" (a message to a team chat hook)
    role: str
    start: datetime
    end: datetime
    channels: tuple[str, ...]


def notice_lines(*, rows: Sequence) -> list[NoticeLine]:
    """Outbox rows (saved or not) in words, one line per person and shift, by time then name.

    A cancellation removes an entry; a request with sequence 0 is a first invitation, a later
    sequence an update of an entry the person already has."""
    shifts = Shift.objects.select_related("assignee").in_bulk({r.shift_id for r in rows})
    users = {s.assignee_id: s.assignee for s in shifts.values() if s.assignee_id}
    missing = {r.user_id for r in rows} - set(users)
    if missing:
        users |= User.objects.in_bulk(missing)
    channels: dict[tuple, list[str]] = defaultdict(list)
    lines = []
    for r in rows:
        if r.channel == Channel.CHAT:
            # One line per hook: the message about the published roster, from its first shift.
            shift = shifts[r.shift_id]
            hook = r.chat_hook
            lines.append(
                NoticeLine(
                    f"Team chat {hook.label or hook.url_hint}",
                    "chat",
                    "roster published",
                    shift.start,
                    shift.end,
                    (r.get_channel_display(),),
                )
            )
            continue
        channels[(r.user_id, r.shift_id, r.action, r.sequence)].append(r.get_channel_display())
    for (user_id, shift_id, action, sequence), via in channels.items():
        shift = shifts[shift_id]
        what = "cancel" if action == "cancel" else ("update" if sequence else "invite")
        lines.append(
            NoticeLine(
                display_name(users.get(user_id)),
                what,
                shift.get_role_display(),
                shift.start,
                shift.end,
                tuple(via),
            )
        )
    return sorted(lines, key=lambda n: (n.start, n.name.lower(), n.what))
