"""Sending one claimed outbox row, per channel and kind: calendar invites by email, CalDAV
pushes, reminders, handoff notes, at-risk alerts and swap notices (`swap_mail`).

Each sender re-reads the world first and returns SKIPPED when the notice is moot (the shift
changed hands, the offer was taken): a late worker never sends a stale ask.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from incidents.selectors import shift_incidents
from onehand.links import absolute, make_token
from onehand.people import display_name
from planning import risk
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Shift

from . import caldav_push, chat, mail, swap_mail
from .errors import Permanent
from .models import SWAP_KINDS, CalendarConnection, Channel, Delivery, Kind
from .selectors import EntryRequest, entry_uid, shift_entries, shift_url

Status = Delivery.Status
Action = Delivery.Action


def _entry(delivery: Delivery, **changes):
    built = shift_entries(
        [
            EntryRequest(
                delivery.shift_id,
                delivery.user_id,
                cancelled=delivery.action == Action.CANCEL,
                sequence=delivery.sequence,
                **changes,
            )
        ]
    )
    if not built:
        raise Permanent("the shift or the person no longer exists")
    return built[0]


def send(delivery: Delivery, now: datetime) -> str:
    """Send one claimed row by its channel and kind; returns SENT or SKIPPED (moot now).

    Raises Permanent (give up) or anything else (retry later)."""
    if delivery.channel == Channel.CHAT:
        return chat.send(delivery, now)
    if delivery.kind == Kind.ENTRY:
        if delivery.channel == Channel.CALDAV:
            return _send_caldav(delivery, now)
        return _send_invite(delivery, now)
    if "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    if delivery.kind == Kind.REMINDER:
        return _send_reminder(delivery, now)
    if delivery.kind in (Kind.HANDOFF_IN, Kind.HANDOFF_OUT):
        return _send_handoff(delivery, now)
    if delivery.kind == Kind.AT_RISK:
        return _send_at_risk(delivery, now)
    if delivery.kind in SWAP_KINDS:
        return swap_mail.send(delivery, now)
    raise Permanent(f"no sender for {delivery.kind}")


def _send_invite(delivery: Delivery, now: datetime) -> str:
    if "@" not in (delivery.user.email or ""):
        return Status.SKIPPED
    built = _entry(delivery)
    is_update = Delivery.objects.filter(
        user_id=delivery.user_id,
        shift_id=delivery.shift_id,
        channel=Channel.EMAIL,
        kind=Kind.ENTRY,
        sequence__lt=delivery.sequence,
        status=Status.SENT,
    ).exists()
    message = mail.invite_message(
        built.entry,
        to=delivery.user.email,
        delivery_id=delivery.pk,
        is_update=is_update,
        now=now,
        viewer_zone=delivery.user.person.time_zone,
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
        f"{rotation.name} {shift.role}, {mail.local(shift.start, zone)} – "
        f"{mail.local_named(shift.end, zone)}, held by {holder}, may go uncovered:",
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
