"""Sending one claimed outbox row, per channel and kind: calendar invites by email, CalDAV
pushes, reminders, handoff notes, at-risk alerts and swap notices (`swap_mail`).

Each sender re-reads the world first and returns SKIPPED when the notice is moot (the shift
changed hands, the offer was taken): a late worker never sends a stale ask.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.urls import reverse

from incidents.selectors import shift_incidents
from onehand.links import absolute, make_token
from onehand.people import display_name
from planning import risk
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Shift

from . import caldav_push, chat, entries, mail, swap_mail
from .errors import Permanent
from .models import SWAP_KINDS, CalendarConnection, Channel, Delivery, Kind
from .selectors import BuiltEntry, EntryRequest, entry_uid, shift_entries, shift_url

Status = Delivery.Status
Action = Delivery.Action


class Prepared:
    """What a chunk of claimed rows needs, loaded at once: their entries (one
    `shift_entries` call: three queries) and the history of those entries in the outbox (one
    query), so sending 50 invites costs the queries of one. Outcomes are `record`ed as the
    chunk goes, so later rows see the earlier ones as the database would."""

    def __init__(self, deliveries: list[Delivery]):
        self.deliveries = {d.pk: d for d in deliveries}
        self.entries: dict[int, BuiltEntry] = {}
        # (user, shift, channel) -> {delivery id: (sequence, status)} for entry rows.
        self.history: dict[tuple[int, int, str], dict[int, tuple[int, str]]] = {}

    def _same_entry(self, delivery: Delivery) -> dict[int, tuple[int, str]]:
        return self.history.get((delivery.user_id, delivery.shift_id, delivery.channel), {})

    def stale(self, delivery: Delivery) -> bool:
        """A newer change for the same entry exists, or a cancellation of something never
        sent."""
        if delivery.kind != Kind.ENTRY:
            return False
        others = [v for pk, v in self._same_entry(delivery).items() if pk != delivery.pk]
        if any(sequence > delivery.sequence for sequence, _ in others):
            return True
        if delivery.action == Action.CANCEL:
            return not any(
                sequence < delivery.sequence and status in (Status.SENT, Status.SENDING)
                for sequence, status in others
            )
        return False

    def is_update(self, delivery: Delivery) -> bool:
        """An earlier version of this entry went out to this person."""
        return any(
            sequence < delivery.sequence and status == Status.SENT
            for pk, (sequence, status) in self._same_entry(delivery).items()
            if pk != delivery.pk
        )

    def record(self, delivery: Delivery, status: str) -> None:
        same = self._same_entry(delivery)
        if delivery.pk in same:
            same[delivery.pk] = (same[delivery.pk][0], status)

    def entry(self, delivery: Delivery) -> BuiltEntry:
        built = self.entries.get(delivery.pk)
        if built is None:
            built = _entry(delivery)
        return built


def _request(delivery: Delivery) -> EntryRequest:
    return EntryRequest(
        delivery.shift_id,
        delivery.user_id,
        cancelled=delivery.action == Action.CANCEL,
        sequence=delivery.sequence,
    )


def _entry(delivery: Delivery) -> BuiltEntry:
    built = shift_entries([_request(delivery)])
    if not built:
        raise Permanent("the shift or the person no longer exists")
    return built[0]


def _needs_entry(delivery: Delivery) -> bool:
    if delivery.kind == Kind.REMINDER:
        return "@" in (delivery.user.email or "")
    if delivery.kind != Kind.ENTRY:
        return False
    if delivery.channel == Channel.CALDAV:
        return delivery.action != Action.CANCEL
    return "@" in (delivery.user.email or "")


def prepare(deliveries: list[Delivery]) -> Prepared:
    """Load at once what sending these claimed rows (with their user and person) needs: one
    query for the outbox history of their entries, three for the entries themselves."""
    prepared = Prepared(deliveries)
    entry_rows = [d for d in deliveries if d.kind == Kind.ENTRY]
    if entry_rows:
        claimed = {d.pk for d in deliveries}
        pairs = Q()
        for user_id, shift_id in {(d.user_id, d.shift_id) for d in entry_rows}:
            pairs |= Q(user_id=user_id, shift_id=shift_id)
        for pk, user_id, shift_id, channel, sequence, status in Delivery.objects.filter(
            pairs, kind=Kind.ENTRY
        ).values_list("pk", "user_id", "shift_id", "channel", "sequence", "status"):
            if pk in claimed:
                status = Status.PENDING  # ours, not sent yet (record() follows it)
            prepared.history.setdefault((user_id, shift_id, channel), {})[pk] = (
                sequence,
                status,
            )
    wanted = [d for d in deliveries if _needs_entry(d) and not prepared.stale(d)]
    if wanted:
        built = shift_entries([_request(d) for d in wanted])
        # In order, leaving out only rows whose shift or person no longer exists.
        position = 0
        for delivery in wanted:
            if position < len(built) and built[position].entry.uid == entry_uid(
                delivery.shift_id, delivery.user_id
            ):
                prepared.entries[delivery.pk] = built[position]
                position += 1
    return prepared


def send(delivery: Delivery, now: datetime, *, prepared: Prepared | None = None) -> str:
    """Send one claimed row by its channel and kind; returns SENT or SKIPPED (moot now).
    ``prepared`` holds what its chunk loaded at once (see `prepare`).

    Raises Permanent (give up) or anything else (retry later)."""
    if delivery.channel == Channel.CHAT:
        return chat.send(delivery, now)
    prepared = prepared or prepare([delivery])
    if delivery.kind == Kind.ENTRY:
        if delivery.channel == Channel.CALDAV:
            return _send_caldav(delivery, now, prepared)
        return _send_invite(delivery, now, prepared)
    if "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    if delivery.kind == Kind.REMINDER:
        return _send_reminder(delivery, now, prepared)
    if delivery.kind in (Kind.HANDOFF_IN, Kind.HANDOFF_OUT):
        return _send_handoff(delivery, now)
    if delivery.kind == Kind.AT_RISK:
        return _send_at_risk(delivery, now)
    if delivery.kind in SWAP_KINDS:
        return swap_mail.send(delivery, now)
    raise Permanent(f"no sender for {delivery.kind}")


def _send_invite(delivery: Delivery, now: datetime, prepared: Prepared) -> str:
    if "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    built = prepared.entry(delivery)
    message = mail.invite_mail(
        built.entry,
        to=delivery.user.email,
        delivery_id=delivery.pk,
        is_update=prepared.is_update(delivery),
        now=now,
        viewer_zone=delivery.user.person.time_zone,
    )
    mail.send(message)
    return Status.SENT


def _send_caldav(delivery: Delivery, now: datetime, prepared: Prepared) -> str:
    connection = CalendarConnection.objects.filter(user_id=delivery.user_id, enabled=True).first()
    if connection is None:
        return Status.SKIPPED
    try:
        if delivery.action == Action.CANCEL:
            caldav_push.delete(connection, entry_uid(delivery.shift_id, delivery.user_id))
        else:
            caldav_push.put(connection, prepared.entry(delivery).entry, now=now)
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


def _send_reminder(delivery: Delivery, now: datetime, prepared: Prepared) -> str:
    shift = _still_assigned(delivery)
    if shift is None or shift.start <= now or "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    built = prepared.entry(delivery)
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
    incoming = delivery.kind == Kind.HANDOFF_IN
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
    incidents = []
    if incoming and other is not None:
        zone = delivery.user.person.time_zone
        incidents = [
            f"{mail.local(i.started_at, zone)}: {i.title}"
            + (f" ({i.severity})" if i.severity else "")
            + (f", resolved {mail.local(i.resolved_at, zone)}" if i.resolved_at else ", still open")
            for i in shift_incidents(rotation_id=rotation.pk, start=other.start, end=other.end)
        ]
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
            incidents=incidents,
        )
    )
    return Status.SENT


def _send_at_risk(delivery: Delivery, now: datetime) -> str:
    """A manager hears once that a shift may go uncovered; moot if it no longer is."""
    zone = delivery.user.person.time_zone
    shift = Shift.objects.select_related("roster__rotation").get(pk=delivery.shift_id)
    rotation = shift.roster.rotation
    found = [
        r for r in risk.at_risk_shifts([rotation.pk], zone=zone, now=now) if r.shift.pk == shift.pk
    ]
    if not found:
        return Status.SKIPPED
    holder = display_name(found[0].shift.assignee) if found[0].shift.assignee_id else "nobody"
    page = absolute(reverse("roster", args=[shift.roster_id]))
    lines = [
        f"{rotation.name} {shift.role}, {entries.span(shift.start, shift.end, zone)}, "
        f"held by {holder}, may go uncovered:",
        *[f"  - {reason}" for reason in found[0].reasons],
        "",
        f"Roster: {page}",
    ]
    mail.send(
        mail.plain_message(
            subject=f"At risk: {rotation.name} {shift.role}, {mail.local(shift.start, zone)}",
            lines=lines,
            to=delivery.user.email,
            delivery_id=delivery.pk,
        )
    )
    return Status.SENT
