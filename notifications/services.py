"""Writes for notifications: the outbox, claiming and sending, the sweeper, reminders and
handoff notes, feed tokens and CalDAV connections.

Outbox rows are written inside the transaction that makes the change (the receivers in
`receivers.py` run inside `publish_roster` and reassignments); Celery is told about them only
after commit (`transaction.on_commit`), and a failure to tell it is logged, never raised: the
sweeper finds rows nobody picked up.

Sending is at most once per row except in one window. A worker first *claims* a row with a
conditional UPDATE (pending -> sending, with a lease), sends, then marks it sent. Running the
task twice, or a message redelivered after a crash, finds the row already claimed or sent and
does nothing. If the worker dies after the SMTP server accepted the message but before the
"sent" UPDATE (a few milliseconds), the row stays "sending" until its lease ends and the
sweeper sends it again: at least once, in that window only. The re-send carries the same
Message-ID, so many receivers drop it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from onehand.links import absolute, make_token
from onehand.people import display_name
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Rotation, Shift, new_token

from . import caldav_push, mail, swap_mail, tasks
from .crypto import encrypt
from .errors import Permanent, Transient
from .models import (
    ENTRY_CHANNELS,
    NOTE_CHANNELS,
    SWAP_CHANNELS,
    CalendarConnection,
    Channel,
    Delivery,
    EntryTombstone,
    RotationFeed,
)
from .selectors import (
    EntryRequest,
    entry_uid,
    group_key,
    group_sequence,
    shift_entries,
    shift_url,
    slot_groups,
)

logger = logging.getLogger(__name__)
User = get_user_model()

Status = Delivery.Status
Action = Delivery.Action

# Reminders are looked for this far ahead; Person.reminder_hours above it acts as this.
MAX_REMINDER_HOURS = 24 * 14
# A handoff note is still sent this long after the handoff (beat was down, roster published late).
HANDOFF_GRACE = timedelta(hours=1)
SWEEP_BATCH = 5000
# Delivery ids per task message: a 10,000-row publish is 200 messages, not 10,000.
ENQUEUE_BATCH = 50
# ... but a small outbox still goes out as at least this many messages (worker parallelism).
ENQUEUE_SPREAD = 8


@dataclass(frozen=True)
class Planned:
    user_id: int
    shift_id: int
    action: str
    sequence: int


# --------------------------------------------------------------------------- queueing


def batches(ids: list[int]) -> list[list[int]]:
    """Split ids into task messages of at most ENQUEUE_BATCH ids, of even sizes.

    A small outbox is spread over at least ENQUEUE_SPREAD messages (down to one id each), so
    that several worker processes share it instead of one process sending it all.
    """
    if not ids:
        return []
    count = max(math.ceil(len(ids) / ENQUEUE_BATCH), min(len(ids), ENQUEUE_SPREAD))
    size, extra = divmod(len(ids), count)
    out, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        out.append(ids[start:end])
        start = end
    return out


def enqueue(ids: Iterable[int], *, countdown: float | None = None) -> int:
    """Tell Celery about deliveries, ENQUEUE_BATCH ids per task message; never raises (the
    sweeper catches up). Returns how many ids were queued."""
    ids = list(ids)
    sent = 0
    if not ids:
        return 0
    try:
        if tasks.deliver_batch.app.conf.task_always_eager:
            for chunk in batches(ids):
                tasks.deliver_batch.apply_async((chunk,), countdown=countdown)
                sent += len(chunk)
            return sent
        # One producer (one broker connection) for the whole batch, no publish retries:
        # if the broker is down we find out at once and leave the rest to the sweeper.
        with tasks.deliver_batch.app.producer_or_acquire() as producer:
            for chunk in batches(ids):
                tasks.deliver_batch.apply_async(
                    (chunk,), countdown=countdown, retry=False, producer=producer
                )
                sent += len(chunk)
    except Exception:  # noqa: BLE001 - broker down: rows stay pending for the sweeper
        logger.warning(
            "could not queue %d of %d deliveries (broker unavailable?); the sweeper will send them",
            len(ids) - sent,
            len(ids),
            exc_info=True,
        )
    return sent


def _enqueue_on_commit(scope: Q) -> None:
    def run() -> None:
        try:
            ids = list(
                Delivery.objects.filter(scope, status=Status.PENDING).values_list("pk", flat=True)
            )
        except Exception:  # noqa: BLE001
            logger.warning(
                "could not list new deliveries; the sweeper will send them", exc_info=True
            )
            return
        enqueue(ids)

    transaction.on_commit(run)


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


def _write(planned: list[Planned], now: datetime, channels=ENTRY_CHANNELS) -> None:
    if not planned:
        return
    chosen = _channels_for({p.user_id for p in planned}, channels)
    rows = [
        Delivery(
            user_id=p.user_id,
            shift_id=p.shift_id,
            channel=channel,
            sequence=p.sequence,
            action=p.action,
            next_attempt_at=now,
        )
        for p in planned
        for channel in chosen[p.user_id]
    ]
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


def queue_roster(roster: Roster, *, now: datetime | None = None) -> None:
    """Outbox for a published roster: each assignee gets each of their slots; people on
    shifts of rosters it superseded (still ahead) get a cancellation. Safe to run again."""
    now = now or timezone.now()
    if roster.status != Roster.Status.PUBLISHED:
        return
    fields = ("pk", "roster_id", "start", "end", "role", "sequence", "assignee_id")
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
    old = list(
        Shift.objects.filter(
            roster__rotation_id=roster.rotation_id,
            roster__status=Roster.Status.SUPERSEDED,
            roster__period_start__lt=roster.period_end,
            roster__period_end__gt=roster.period_start,
            end__gt=now,
        ).only(*fields)
    )
    old_sums: dict[tuple, int] = defaultdict(int)
    for slot in old:
        old_sums[group_key(slot)] += slot.sequence
    # The old roster is frozen, so its entries' cancellation gets the next sequence.
    removed = [
        Planned(s.assignee_id, s.pk, Action.CANCEL, old_sums[group_key(s)] + 1)
        for s in old
        if s.assignee_id
    ]
    _write(planned + removed, now)
    _tombstones(removed, now)
    _touch_feeds({roster.rotation_id}, now)
    old_rosters = {s.roster_id for s in old}
    _enqueue_on_commit(Q(shift__roster_id__in={roster.pk, *old_rosters}))


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
    for group in groups.values():
        sequence = group_sequence(group)
        for slot in group.values():
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
    _write(planned + removed, now)
    _tombstones(removed, now)
    _touch_feeds({s.roster.rotation_id for s in current.values()}, now)
    _enqueue_on_commit(Q(shift_id__in=slot_ids))


@transaction.atomic
def queue_roster_by_id(roster_id: int) -> None:
    roster = Roster.objects.filter(pk=roster_id).first()
    if roster is not None:
        queue_roster(roster)


# --------------------------------------------------------------------------- sending


def backoff(attempt: int) -> float:
    return min(settings.ONEHAND_DELIVERY_RETRY_BASE * 2 ** (attempt - 1), 3600.0)


def _claim(delivery_id: int, now: datetime) -> bool:
    """pending (due) or sending-past-its-lease -> sending, atomically: one claimer wins."""
    claimable = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, lease_until__lt=now
    )
    return bool(
        Delivery.objects.filter(claimable, pk=delivery_id).update(
            status=Status.SENDING,
            lease_until=now + timedelta(seconds=settings.ONEHAND_DELIVERY_LEASE),
            attempts=F("attempts") + 1,
        )
    )


def _finish(delivery: Delivery, **fields) -> bool:
    """Record the outcome, unless another worker re-claimed the row in the meantime."""
    return bool(
        Delivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts
        ).update(lease_until=None, **fields)
    )


def _stale(delivery: Delivery) -> bool:
    """A newer change for the same entry exists, or a cancellation of something never sent."""
    if delivery.channel not in ENTRY_CHANNELS:
        return False
    same_entry = Delivery.objects.filter(
        user_id=delivery.user_id, shift_id=delivery.shift_id, channel=delivery.channel
    )
    if same_entry.filter(sequence__gt=delivery.sequence).exists():
        return True
    if delivery.action == Action.CANCEL:
        return not same_entry.filter(
            sequence__lt=delivery.sequence, status__in=[Status.SENT, Status.SENDING]
        ).exists()
    return False


def deliver(delivery_id: int, *, now: datetime | None = None) -> float | None:
    """Send one delivery if it is due and nobody else holds it.

    Returns the seconds until a retry is due after a transient failure, else None.
    """
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("user__person").get(pk=delivery_id)
    limit = settings.ONEHAND_DELIVERY_MAX_ATTEMPTS
    if delivery.attempts > limit:
        # Claimed again and again without an outcome: workers die while sending it.
        _finish(delivery, status=Status.FAILED, last_error=f"interrupted {limit} times")
        return None
    if _stale(delivery):
        _finish(delivery, status=Status.SKIPPED)
        return None
    try:
        outcome = _send(delivery, now)
    except Permanent as exc:
        logger.warning("delivery %s failed for good: %s", delivery.pk, exc)
        _finish(delivery, status=Status.FAILED, last_error=str(exc)[:300])
        return None
    except Exception as exc:  # noqa: BLE001 - Transient, or anything unexpected: retry
        if not isinstance(exc, Transient):
            logger.exception("delivery %s: unexpected error", delivery.pk)
        error = str(exc)[:300] or exc.__class__.__name__
        if delivery.attempts >= limit:
            _finish(delivery, status=Status.FAILED, last_error=error)
            return None
        delay = backoff(delivery.attempts)
        _finish(
            delivery,
            status=Status.PENDING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        return delay
    if outcome == Status.SKIPPED:
        _finish(delivery, status=Status.SKIPPED)
    else:
        _finish(delivery, status=Status.SENT, sent_at=timezone.now(), last_error="")
    return None


def deliver_batch(delivery_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, float]:
    """Send a batch of deliveries one by one over one SMTP connection.

    Each row is still claimed on its own (so running a batch twice sends nothing twice) and a
    failure of one row never stops the others: an unexpected error is logged and the row is
    left to the sweeper (still pending, or "sending" until its lease ends). Transient failures
    are re-queued after their backoff, grouped by delay. Returns {id: seconds} of those.
    """
    retries: dict[int, float] = {}
    with mail.one_connection():
        for delivery_id in delivery_ids:
            try:
                retry_in = deliver(delivery_id, now=now)
            except Exception:  # noqa: BLE001 - one bad row must not hold up the batch
                logger.exception(
                    "delivery %s: could not be processed; the sweeper will retry", delivery_id
                )
                continue
            if retry_in is not None:
                retries[delivery_id] = retry_in
    by_delay: dict[float, list[int]] = defaultdict(list)
    for delivery_id, delay in retries.items():
        by_delay[delay].append(delivery_id)
    for delay, ids in by_delay.items():
        enqueue(ids, countdown=delay)
    return retries


def _entry(delivery: Delivery, **changes):
    built = shift_entries(
        [
            EntryRequest(
                delivery.shift_id,
                delivery.user_id,
                cancelled=delivery.action == Action.CANCEL,
                sequence=delivery.sequence if delivery.channel in ENTRY_CHANNELS else None,
                **changes,
            )
        ]
    )
    if not built:
        raise Permanent("the shift or the person no longer exists")
    return built[0]


def _send(delivery: Delivery, now: datetime) -> str:
    if delivery.channel == Channel.EMAIL:
        return _send_invite(delivery, now)
    if delivery.channel == Channel.CALDAV:
        return _send_caldav(delivery, now)
    if delivery.channel == Channel.REMINDER:
        return _send_reminder(delivery, now)
    if delivery.channel in SWAP_CHANNELS:
        return swap_mail.send(delivery, now)
    return _send_handoff(delivery, now)


def _send_invite(delivery: Delivery, now: datetime) -> str:
    if "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    built = _entry(delivery)
    is_update = Delivery.objects.filter(
        user_id=delivery.user_id,
        shift_id=delivery.shift_id,
        channel=Channel.EMAIL,
        sequence__lt=delivery.sequence,
        status=Status.SENT,
    ).exists()
    message = mail.invite_message(
        built.entry, to=delivery.user.email, delivery_id=delivery.pk, is_update=is_update, now=now
    )
    mail.send(message)
    return Status.SENT


def _send_caldav(delivery: Delivery, now: datetime) -> str:
    connection = CalendarConnection.objects.filter(user_id=delivery.user_id, enabled=True).first()
    if connection is None:
        return Status.SKIPPED
    try:
        if delivery.action == Action.CANCEL:
            caldav_push.delete(connection, entry_uid(delivery.shift_id, delivery.user_id))
        else:
            caldav_push.put(connection, _entry(delivery).entry, now=now)
    except Permanent as exc:
        CalendarConnection.objects.filter(pk=connection.pk).update(last_error=str(exc)[:300])
        raise
    if connection.last_error:
        CalendarConnection.objects.filter(pk=connection.pk).update(last_error="")
    return Status.SENT


def _still_assigned(delivery: Delivery) -> Shift | None:
    return (
        Shift.objects.filter(
            pk=delivery.shift_id,
            assignee_id=delivery.user_id,
            roster__status=Roster.Status.PUBLISHED,
        )
        .select_related("roster__rotation")
        .first()
    )


def _send_reminder(delivery: Delivery, now: datetime) -> str:
    shift = _still_assigned(delivery)
    if shift is None or shift.start <= now or "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    built = _entry(delivery)
    token = make_token("handover", delivery.user_id, shift.pk)
    mail.send(
        mail.reminder_message(
            built.entry,
            to=delivery.user.email,
            viewer_zone=delivery.user.person.time_zone,
            delivery_id=delivery.pk,
            handover_url=absolute(reverse("handover", args=[shift.pk])) + f"?t={token}",
        )
    )
    return Status.SENT


def _send_handoff(delivery: Delivery, now: datetime) -> str:
    shift = _still_assigned(delivery)
    if shift is None or "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    rotation = shift.roster.rotation
    incoming = delivery.channel == Channel.HANDOFF_IN
    at = shift.start if incoming else shift.end
    other = (
        Shift.objects.filter(
            roster__rotation_id=rotation.pk,
            roster__status=Roster.Status.PUBLISHED,
            role=shift.role,
            **({"end": at} if incoming else {"start": at}),
        )
        .select_related("assignee")
        .first()
    )
    other_user = other.assignee if other is not None else None
    on_call = rotation_selectors.on_call(rotation=rotation, at=at)
    note = (
        other.handover_notes.order_by("-created_at").first()
        if (incoming and other is not None)
        else None
    )
    handover = ""
    if note is not None:
        handover = "\n".join(
            part
            for part in (
                f"Open incidents: {note.open_incidents}" if note.open_incidents else "",
                f"Notes: {note.notes}" if note.notes else "",
            )
            if part
        )
    mail.send(
        mail.handoff_message(
            incoming=incoming,
            role=shift.role,
            rotation_name=rotation.name,
            at=at,
            until=shift.end if incoming else None,
            other_name=display_name(other_user) if other_user else "",
            on_call=on_call,
            to=delivery.user.email,
            viewer_zone=delivery.user.person.time_zone,
            shift_link=shift_url(rotation.pk, at, rotation.time_zone),
            delivery_id=delivery.pk,
            handover=handover,
        )
    )
    return Status.SENT


# --------------------------------------------------------------------------- sweeper, retries


def sweep(*, now: datetime | None = None, grace: float | None = None) -> int:
    """Queue again what nobody picked up: pending rows due for a while (their message was
    lost, or the broker was down at publish) and "sending" rows past their lease (a worker
    died mid-send). Returns how many were queued."""
    now = now or timezone.now()
    grace = settings.ONEHAND_DELIVERY_SWEEP_GRACE if grace is None else grace
    due = Q(status=Status.PENDING, next_attempt_at__lte=now - timedelta(seconds=grace)) | Q(
        status=Status.SENDING, lease_until__lt=now
    )
    ids = list(
        Delivery.objects.filter(due)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not ids:
        return 0
    # Not swept again before another grace period has passed.
    Delivery.objects.filter(pk__in=ids, status=Status.PENDING).update(next_attempt_at=now)
    return enqueue(ids)


@transaction.atomic
def retry_delivery(delivery: Delivery) -> bool:
    """A manager asks to try a failed delivery again (from zero attempts)."""
    updated = Delivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if updated:
        _enqueue_on_commit(Q(pk=delivery.pk))
    return bool(updated)


@transaction.atomic
def retry_failed(roster: Roster) -> int:
    failed = Delivery.objects.filter(shift__roster=roster, status=Status.FAILED)
    ids = list(failed.values_list("pk", flat=True))
    updated = Delivery.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if updated:
        _enqueue_on_commit(Q(pk__in=ids))
    return updated


# --------------------------------------------------------------------------- reminders, handoffs


@transaction.atomic
def queue_notes(*, now: datetime | None = None) -> int:
    """Reminders due before shifts and notes for handoffs that just happened.

    One per (person, shift, kind), whatever how often this runs. Returns rows written."""
    now = now or timezone.now()
    published = Q(roster__status=Roster.Status.PUBLISHED)
    planned: list[tuple[int, int, str]] = []

    upcoming = Shift.objects.filter(
        published,
        assignee__isnull=False,
        start__gt=now,
        start__lte=now + timedelta(hours=MAX_REMINDER_HOURS),
    ).select_related("assignee__person")
    for shift in upcoming:
        hours = shift.assignee.person.reminder_hours
        if hours and shift.start - timedelta(hours=min(hours, MAX_REMINDER_HOURS)) <= now:
            planned.append((shift.assignee_id, shift.pk, Channel.REMINDER))

    started = list(
        Shift.objects.filter(
            published, start__gt=now - HANDOFF_GRACE, start__lte=now
        ).select_related("roster")
    )
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
                planned.append((shift.assignee_id, shift.pk, Channel.HANDOFF_IN))
            if outgoing:
                planned.append((outgoing, before.pk, Channel.HANDOFF_OUT))
    if not planned:
        return 0
    with_email = set(
        User.objects.filter(pk__in={p[0] for p in planned}, is_active=True)
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    rows = [
        Delivery(
            user_id=user_id,
            shift_id=shift_id,
            channel=channel,
            sequence=0,
            action=Action.NOTE,
            next_attempt_at=now,
        )
        for user_id, shift_id, channel in planned
        if user_id in with_email
    ]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    _enqueue_on_commit(
        Q(shift_id__in={r.shift_id for r in rows}, channel__in=NOTE_CHANNELS, created_at__gte=now)
    )
    return len(rows)


# --------------------------------------------------------------------------- feeds, CalDAV


@transaction.atomic
def rotate_personal_feed(user) -> str:
    person = rotation_selectors.person_of(user=user)
    person.feed_token = new_token()
    person.save(update_fields=["feed_token"])
    return person.feed_token


@transaction.atomic
def rotate_rotation_feed(rotation: Rotation) -> str:
    feed, _ = RotationFeed.objects.select_for_update().get_or_create(rotation=rotation)
    feed.token = new_token()
    feed.save(update_fields=["token"])
    return feed.token


@sensitive_variables("password")
@transaction.atomic
def connect_calendar(user, *, url: str, username: str, password: str) -> CalendarConnection:
    """Store (or replace) the person's CalDAV calendar and push their upcoming shifts to it."""
    CalendarConnection.objects.filter(user=user).delete()
    # What was pushed to a previous calendar says nothing about this one.
    Delivery.objects.filter(user=user, channel=Channel.CALDAV).delete()
    connection = CalendarConnection.objects.create(
        user=user, url=url, username=username, password_encrypted=encrypt(password)
    )
    now = timezone.now()
    upcoming = list(
        Shift.objects.filter(
            assignee=user, roster__status=Roster.Status.PUBLISHED, end__gt=now
        ).only("pk", "roster_id", "start")
    )
    groups = slot_groups(upcoming)
    _write(
        [
            Planned(user.pk, s.pk, Action.REQUEST, group_sequence(groups[group_key(s)]))
            for s in upcoming
        ],
        now,
        channels=(Channel.CALDAV,),
    )
    _enqueue_on_commit(Q(user=user, channel=Channel.CALDAV))
    return connection


@transaction.atomic
def disconnect_calendar(user) -> None:
    CalendarConnection.objects.filter(user=user).delete()
    Delivery.objects.filter(user=user, channel=Channel.CALDAV).delete()
