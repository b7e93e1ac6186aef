"""The outbox: who gets which notice, written as Delivery rows inside the transaction that
makes the change (publish, edit, swap, a reminder falling due). A row is identified by what
it says (see `Delivery`), so writing the outbox twice writes nothing twice. Rows are handed
to Celery after commit (`dispatch.enqueue_on_commit`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rotation import selectors as rotation_selectors
from rotation.models import Roster, Rotation, RotationMember, Shift, SlotRole

from . import chat, dispatch
from .models import (
    ENTRY_CHANNELS,
    AnnouncedChain,
    CalendarConnection,
    Channel,
    ChatHook,
    Delivery,
    EntryTombstone,
    Kind,
    RotationFeed,
)
from .selectors import group_chains, group_key, group_sequence, shift_people, slot_groups

User = get_user_model()
Action = Delivery.Action

# Reminders are looked for this far ahead; Person.reminder_hours above it acts as this.
MAX_REMINDER_HOURS = 24 * 14
# A handoff note is still sent this long after the handoff (beat was down, roster published late).
HANDOFF_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Planned:
    """A calendar entry change for one person's slot."""

    user_id: int
    shift_id: int
    action: str
    sequence: int


@dataclass(frozen=True)
class Notice:
    """A one-off email: a reminder, handoff note, at-risk alert or swap notice."""

    user_id: int
    shift_id: int
    kind: str
    swap_request_id: int | None = None
    swap_offer_id: int | None = None


def write_notices(notices: Iterable[Notice], *, now: datetime | None = None) -> int:
    """Pending email rows for people with an address, queued after commit. A notice already
    in the outbox (same kind, person and subject) is left alone. Returns rows offered."""
    now = now or timezone.now()
    notices = list(dict.fromkeys(notices))
    if not notices:
        return 0
    with_email = set(
        User.objects.filter(pk__in={n.user_id for n in notices}, is_active=True)
        .filter(email__contains="@")
        .values_list("pk", flat=True)
    )
    rows = [
        Delivery(
            user_id=n.user_id,
            shift_id=n.shift_id,
            channel=Channel.EMAIL,
            kind=n.kind,
            swap_request_id=n.swap_request_id,
            swap_offer_id=n.swap_offer_id,
            action=Action.NOTE,
            next_attempt_at=now,
        )
        for n in notices
        if n.user_id in with_email
    ]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        scope = Q()
        for n in notices:
            scope |= Q(
                user_id=n.user_id,
                shift_id=n.shift_id,
                kind=n.kind,
                swap_request_id=n.swap_request_id,
                swap_offer_id=n.swap_offer_id,
            )
        dispatch.enqueue_on_commit(scope)
    return len(rows)


def _channels_for(user_ids: set[int], channels: Iterable[str]) -> dict[int, list[str]]:
    emails = dict(User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", "email"))
    caldav_users = set()
    if Channel.CALDAV in channels:
        caldav_users = set(
            CalendarConnection.objects.filter(user_id__in=user_ids, enabled=True).values_list(
                "user_id", flat=True
            )
        )
    out: dict[int, list[str]] = {}
    for user_id in user_ids:
        chosen = []
        if Channel.EMAIL in channels and "@" in (emails.get(user_id) or ""):
            chosen.append(Channel.EMAIL)
        if user_id in caldav_users and user_id in emails:
            chosen.append(Channel.CALDAV)
        out[user_id] = chosen
    return out


def entry_rows(planned: list[Planned], now: datetime, channels=ENTRY_CHANNELS) -> list[Delivery]:
    """The outbox rows (unsaved) for these entry changes, one per channel the person has."""
    if not planned:
        return []
    chosen = _channels_for({p.user_id for p in planned}, channels)
    return [
        Delivery(
            user_id=p.user_id,
            shift_id=p.shift_id,
            channel=channel,
            kind=Kind.ENTRY,
            sequence=p.sequence,
            action=p.action,
            next_attempt_at=now,
        )
        for p in planned
        for channel in chosen[p.user_id]
    ]


def write_entries(planned: list[Planned], now: datetime, channels=ENTRY_CHANNELS) -> None:
    rows = entry_rows(planned, now, channels)
    if not rows:
        return
    # A row that already exists (same person, shift, channel and change) is left alone:
    # writing the outbox twice sends nothing twice.
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def _tombstones(removed: list[Planned], now: datetime) -> None:
    if not removed:
        return
    EntryTombstone.objects.bulk_create(
        [
            EntryTombstone(
                user_id=p.user_id, shift_id=p.shift_id, sequence=p.sequence, removed_at=now
            )
            for p in removed
        ],
        update_conflicts=True,
        unique_fields=["user", "shift"],
        update_fields=["sequence", "removed_at"],
        batch_size=1000,
    )


def _touch_feeds(rotation_ids: set[int], now: datetime) -> None:
    existing = set(
        RotationFeed.objects.filter(rotation_id__in=rotation_ids).values_list(
            "rotation_id", flat=True
        )
    )
    RotationFeed.objects.filter(rotation_id__in=existing).update(changed_at=now)
    RotationFeed.objects.bulk_create(
        [RotationFeed(rotation_id=r, changed_at=now) for r in rotation_ids - existing],
        ignore_conflicts=True,
    )


def _roster_plan(
    roster: Roster, now: datetime, *, superseding: bool
) -> tuple[list[Planned], list[Planned], set[int]]:
    """Entry changes of publishing `roster`: each assignee gets each of their slots still
    ahead; people on shifts of the rosters it supersedes get a cancellation. `superseding`:
    the roster is not published yet, so the published rosters it will supersede count too
    (the dry run of the preview)."""
    fields = ("pk", "roster_id", "start", "end", "role", "sequence", "assignee_id", "split_from_id")
    slots = list(Shift.objects.filter(roster=roster).only(*fields))
    sums: dict[tuple, int] = defaultdict(int)
    for slot in slots:
        sums[group_key(slot)] += slot.sequence
    # Nobody needs an invitation to a shift that is already over.
    planned = [
        Planned(s.assignee_id, s.pk, Action.REQUEST, sums[group_key(s)])
        for s in slots
        if s.assignee_id and s.end > now
    ]
    old_statuses = [Roster.Status.SUPERSEDED]
    if superseding:
        old_statuses.append(Roster.Status.PUBLISHED)
    old = list(
        Shift.objects.filter(
            roster__rotation_id=roster.rotation_id,
            roster__status__in=old_statuses,
            roster__period_start__lt=roster.period_end,
            roster__period_end__gt=roster.period_start,
            end__gt=now,
        )
        .exclude(roster_id=roster.pk)
        .only(*fields)
    )
    old_sums: dict[tuple, int] = defaultdict(int)
    for slot in old:
        old_sums[group_key(slot)] += slot.sequence
    for piece in (s for s in old if s.split_from_id):
        # A piece's entries counted its partner's sequence too (notifications.selectors).
        old_sums[group_key(piece)] += sum(
            s.sequence
            for s in old
            if s.roster_id == piece.roster_id
            and s.role != piece.role
            and s.start < piece.start < s.end
        )
    # The old roster is frozen, so its entries' cancellation gets the next sequence.
    removed = [
        Planned(s.assignee_id, s.pk, Action.CANCEL, old_sums[group_key(s)] + 1)
        for s in old
        if s.assignee_id
    ]
    return planned, removed, {s.roster_id for s in old}


def queue_roster(roster: Roster, *, now: datetime | None = None) -> None:
    """Outbox for a published roster: each assignee gets each of their slots; people on
    shifts of rosters it superseded (still ahead) get a cancellation. Safe to run again."""
    now = now or timezone.now()
    if roster.status != Roster.Status.PUBLISHED:
        return
    planned, removed, old_rosters = _roster_plan(roster, now, superseding=False)
    write_entries(planned + removed, now)
    _tombstones(removed, now)
    _record_chains(
        Shift.objects.filter(roster=roster).only(
            "pk", "roster_id", "start", "end", "role", "sequence", "assignee_id", "split_from_id"
        ),
        now,
    )
    _touch_feeds({roster.rotation_id}, now)
    if notice := chat.roster_notice(roster):
        chat.write_chat([notice], now=now)
    dispatch.enqueue_on_commit(Q(shift__roster_id__in={roster.pk, *old_rosters}))


def publish_notices(*, roster: Roster, now: datetime | None = None) -> list[Delivery]:
    """The dry run of `queue_roster` for a draft: the outbox rows (unsaved) that publishing it
    now would add, computed by the same code and less the rows already in the outbox (writing
    them again would add nothing). The preview shows exactly these."""
    now = now or timezone.now()
    if roster.status != Roster.Status.DRAFT:
        return []
    planned, removed, _ = _roster_plan(roster, now, superseding=True)
    rows = entry_rows(planned + removed, now)
    existing = set(
        Delivery.objects.filter(
            kind=Kind.ENTRY, shift_id__in={r.shift_id for r in rows}
        ).values_list("user_id", "shift_id", "channel", "sequence")
    )
    fresh = [r for r in rows if (r.user_id, r.shift_id, r.channel, r.sequence) not in existing]
    return fresh + _chat_rows(roster, now)


def _chat_rows(roster: Roster, now: datetime) -> list[Delivery]:
    """The team chat message publishing posts (`chat.roster_notice`), one per enabled hook."""
    notice = chat.roster_notice(roster)
    if notice is None:
        return []
    return [
        Delivery(
            user_id=notice.user_id,
            shift_id=notice.shift_id,
            channel=Channel.CHAT,
            kind=notice.kind,
            chat_hook=hook,
            action=Delivery.Action.NOTE,
            next_attempt_at=now,
        )
        for hook in ChatHook.objects.filter(team_id=notice.team_id, enabled=True).order_by("id")
    ]


def queue_reassignments(
    changes: list[tuple[Shift, int | None]], *, now: datetime | None = None
) -> None:
    """Outbox after edits or swaps of published slots: everyone on an affected shift gets the
    update (their partner or escalation chain changed with it), removed people a cancellation."""
    now = now or timezone.now()
    ids = {shift.pk for shift, _ in changes}
    current = {
        s.pk: s
        for s in Shift.objects.filter(
            pk__in=ids, roster__status=Roster.Status.PUBLISHED
        ).select_related("roster")
    }
    if not current:
        return
    groups = slot_groups(s for s in current.values() if s.end > now)
    planned: list[Planned] = []
    slot_ids: set[int] = set()
    for key, group in groups.items():
        sequence = group_sequence(group)
        for slot in group.values():
            if group_key(slot) != key:
                continue  # a partner of a piece (partial cover): planned in its own group
            slot_ids.add(slot.pk)
            if slot.assignee_id:
                planned.append(Planned(slot.assignee_id, slot.pk, Action.REQUEST, sequence))
    removed = []
    for shift, previous_id in changes:
        fresh = current.get(shift.pk)
        if fresh is None or group_key(fresh) not in groups:
            continue  # not published, or over
        if previous_id is None or previous_id == fresh.assignee_id:
            continue
        sequence = group_sequence(groups[group_key(fresh)])
        removed.append(Planned(previous_id, fresh.pk, Action.CANCEL, sequence))
    write_entries(planned + removed, now)
    _tombstones(removed, now)
    _announce(_chain_ids(groups), now)
    _touch_feeds({s.roster.rotation_id for s in current.values()}, now)
    dispatch.enqueue_on_commit(Q(shift_id__in=slot_ids))


Groups = dict[tuple[int, datetime], dict[str, Shift]]


def _rotations_by_roster(groups: Groups) -> dict[int, Rotation]:
    """The rotation of each group's roster, with its mentor and lead (two queries)."""
    rosters = dict(
        Roster.objects.filter(pk__in={r for r, _ in groups}).values_list("pk", "rotation_id")
    )
    rotations = Rotation.objects.select_related("mentor__person", "lead__person").in_bulk(
        set(rosters.values())
    )
    return {roster_id: rotations[rotation_id] for roster_id, rotation_id in rosters.items()}


def _chain_ids(groups: Groups, rotations: dict[int, Rotation] | None = None):
    """Each group's escalation chain now, as user ids in order (planning decides who)."""
    if not groups:
        return {}
    rotations = rotations or _rotations_by_roster(groups)
    return {
        key: [c.user_id for c in chain] for key, chain in group_chains(groups, rotations).items()
    }


def _announce(chains: dict[tuple[int, datetime], list[int]], now: datetime) -> None:
    AnnouncedChain.objects.bulk_create(
        [
            AnnouncedChain(roster_id=r, start=start, contact_ids=ids, announced_at=now)
            for (r, start), ids in chains.items()
        ],
        update_conflicts=True,
        unique_fields=["roster", "start"],
        update_fields=["contact_ids", "announced_at"],
        batch_size=1000,
    )


def _record_chains(slots: Iterable[Shift], now: datetime) -> None:
    """Remember the chain the entries of these (future) shifts go out with."""
    _announce(_chain_ids(slot_groups(s for s in slots if s.end > now)), now)


@transaction.atomic
def queue_escalation_changes(
    *, user_id: int, start: datetime, end: datetime, now: datetime | None = None
) -> int:
    """After someone's availability changed in [start, end): every published shift still
    ahead whose escalation chain it changed gets a new SEQUENCE and an update to each of its
    people (once: a chain already announced is not sent again). Returns the shifts updated.
    (The on-call answer follows the leave by itself: `rotation.oncall.ANSWERS`.)"""
    now = now or timezone.now()
    rotation_ids = set(
        Rotation.objects.filter(Q(mentor_id=user_id) | Q(lead_id=user_id)).values_list(
            "pk", flat=True
        )
    ) | set(RotationMember.objects.filter(user_id=user_id).values_list("rotation_id", flat=True))
    named_in = Q(roster__rotation_id__in=rotation_ids) | Q(assignee__person__mentor_id=user_id)
    # The shifts are locked (in id order) before any chain is worked out: two people adding
    # leave at once are judged one after the other, the second seeing the first's leave, so
    # the chain announced is the real one and nothing is sent twice.
    found = list(
        Shift.objects.filter(
            named_in,
            roster__status=Roster.Status.PUBLISHED,
            start__lt=end,
            end__gt=max(start, now),
        )
        .select_for_update(of=("self",))
        .order_by("pk")
        .only("pk", "roster_id", "start", "end", "role", "sequence", "assignee_id", "split_from_id")
    )
    groups = slot_groups(found)
    if not groups:
        return 0
    rotations = _rotations_by_roster(groups)
    chains = _chain_ids(groups, rotations)
    announced = {
        (a.roster_id, a.start): a.contact_ids
        for a in AnnouncedChain.objects.filter(
            roster_id__in={r for r, _ in groups}, start__in={s for _, s in groups}
        )
    }
    changed = {key: ids for key, ids in chains.items() if ids != announced.get(key, ids)}
    changed.update(_changed_since_named(groups, rotations, chains, announced))
    if not changed:
        return 0
    bumped = []
    planned: list[Planned] = []
    for key in changed:
        group = groups[key]
        slot = group.get(SlotRole.PRIMARY) or next(iter(group.values()))
        slot.sequence += 1
        bumped.append(slot.pk)
        sequence = group_sequence(group)
        planned += [
            Planned(s.assignee_id, s.pk, Action.REQUEST, sequence)
            for s in group.values()
            if s.assignee_id and group_key(s) == key  # a piece's partner has its own group
        ]
    # A new SEQUENCE for the whole shift: the sum of its slots' sequences grows by one.
    Shift.objects.filter(pk__in=bumped).update(sequence=F("sequence") + 1)
    write_entries(planned, now)
    _announce(changed, now)
    _touch_feeds(
        set(
            Roster.objects.filter(pk__in={r for r, _ in changed}).values_list(
                "rotation_id", flat=True
            )
        ),
        now,
    )
    dispatch.enqueue_on_commit(Q(shift_id__in={p.shift_id for p in planned}))
    return len(changed)


def _changed_since_named(groups: Groups, rotations, chains, announced) -> dict:
    """Shifts published before chains were recorded went out naming the contacts as set
    (no availability): those are compared with that."""
    unrecorded = {key: group for key, group in groups.items() if key not in announced}
    out = {}
    for key, people in shift_people(unrecorded, rotations).items():
        named = [c.user_id for c in rotation_selectors.named_chain(shift=people)]
        if named != chains[key]:
            out[key] = chains[key]
    return out


@transaction.atomic
def queue_roster_by_id(roster_id: int) -> None:
    roster = Roster.objects.filter(pk=roster_id).first()
    if roster is not None:
        queue_roster(roster)


@transaction.atomic
def queue_notes(*, now: datetime | None = None) -> int:
    """Reminders due before shifts and notes for handoffs that just happened.

    One per (person, shift, kind), whatever how often this runs. Returns rows written."""
    now = now or timezone.now()
    published = Q(roster__status=Roster.Status.PUBLISHED)
    planned: list[tuple[int, int, str]] = []  # (user, shift, kind)

    upcoming = Shift.objects.filter(
        published,
        assignee__isnull=False,
        start__gt=now,
        start__lte=now + timedelta(hours=MAX_REMINDER_HOURS),
    ).select_related("assignee__person")
    for shift in upcoming:
        hours = shift.assignee.person.reminder_hours
        if hours and shift.start - timedelta(hours=min(hours, MAX_REMINDER_HOURS)) <= now:
            planned.append((shift.assignee_id, shift.pk, Kind.REMINDER))

    started = list(
        Shift.objects.filter(
            published, start__gt=now - HANDOFF_GRACE, start__lte=now
        ).select_related("roster__rotation")
    )
    chats: list[chat.ChatNotice] = []
    if started:
        previous = {
            (s.roster.rotation_id, s.role, s.end): s
            for s in Shift.objects.filter(
                published,
                roster__rotation_id__in={s.roster.rotation_id for s in started},
                end__in={s.start for s in started},
            ).select_related("roster")
        }
        for shift in started:
            before = previous.get((shift.roster.rotation_id, shift.role, shift.start))
            outgoing = before.assignee_id if before else None
            if shift.assignee_id == outgoing:
                continue  # the same person carries on: nothing changes hands
            if shift.assignee_id:
                planned.append((shift.assignee_id, shift.pk, Kind.HANDOFF_IN))
                if shift.role == SlotRole.PRIMARY:
                    chats.append(
                        chat.ChatNotice(
                            shift.roster.rotation.team_id,
                            Kind.CHAT_HANDOFF,
                            shift.pk,
                            shift.assignee_id,
                        )
                    )
            if outgoing:
                planned.append((outgoing, before.pk, Kind.HANDOFF_OUT))
    written = chat.write_chat(chats, now=now)
    if not planned:
        return written
    return written + write_notices([Notice(u, s, kind) for u, s, kind in planned], now=now)
