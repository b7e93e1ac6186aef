"""Swap emails through the outbox: offers with Accept/Decline links, managers told near the
deadline, the requester told the outcome. Written in the swap's own transaction, sent by the
same idempotent, retried delivery task as invites."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from onehand.links import absolute, make_token
from onehand.people import display_name
from planning.swaps import rank_replacements
from rotation.models import Membership, SwapOffer, SwapRequest

from . import mail, services
from .models import Channel, Delivery
from .models import Delivery as D

User = get_user_model()
Action = Delivery.Action


def _write(rows: list[tuple[int, int, str, int]]) -> None:
    """rows: (user_id, shift_id, channel, ref) -> pending outbox rows, queued after commit."""
    now = timezone.now()
    objs = [
        Delivery(
            user_id=u, shift_id=s, channel=c, sequence=ref, action=Action.NOTE, next_attempt_at=now
        )
        for u, s, c, ref in rows
    ]
    Delivery.objects.bulk_create(objs, ignore_conflicts=True)
    scope = Q()
    for u, s, c, ref in rows:
        scope |= Q(user_id=u, shift_id=s, channel=c, sequence=ref)
    if rows:
        services._enqueue_on_commit(scope)


def offers_made(sender, offers, **kwargs) -> None:
    _write([(o.candidate_id, o.request.shift_id, Channel.SWAP_OFFER, o.pk) for o in offers])


def needs_manager(sender, request, candidates=(), **kwargs) -> None:
    managers = Membership.objects.filter(
        team_id=request.shift.roster.rotation.team_id, role=Membership.Role.MANAGER
    ).values_list("user_id", flat=True)
    _write([(m, request.shift_id, Channel.SWAP_MANAGER, request.pk) for m in managers])


def settled(sender, request, **kwargs) -> None:
    _write([(request.requester_id, request.shift_id, Channel.SWAP_RESULT, request.pk)])


awaits_approval = needs_manager


def _name(user) -> str:
    return display_name(user)


def _message(delivery: Delivery, subject: str, lines: list[str]) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.user.email],
        headers={"Message-ID": mail.message_id(delivery.pk)},
    )


def send(delivery: Delivery, now: datetime) -> str:
    """Build and send one swap email; returns the outcome status."""
    if "@" not in (delivery.user.email or ""):
        return D.Status.SKIPPED
    zone = delivery.user.person.time_zone
    if delivery.channel == Channel.SWAP_OFFER:
        offer = (
            SwapOffer.objects.filter(pk=delivery.sequence)
            .select_related("request__shift__roster__rotation", "request__requester", "trade_shift")
            .first()
        )
        if offer is None or offer.status != SwapOffer.Status.OFFERED or not offer.request.is_open:
            return D.Status.SKIPPED  # taken or withdrawn before we got to it: no stale ask
        shift = offer.request.shift
        token = make_token("swap-offer", offer.candidate_id, offer.pk)
        link = absolute(reverse("swap-offer", args=[offer.pk])) + f"?t={token}"
        lines = [
            f"{_name(offer.request.requester)} can't make their {shift.role} shift on {shift.roster.rotation.name}:",
            f"  {mail.local(shift.start, zone)} – {mail.local(shift.end, zone)}",
        ]
        if offer.trade_shift_id:
            lines.append(
                f"In exchange they would take your shift on {mail.local(offer.trade_shift.start, zone)}."
            )
        lines += [
            "",
            f"You were asked because: {offer.reason.get('summary', 'you are among the fairest picks')}.",
            "The first person to accept takes the shift.",
            "",
            f"Accept: {link}&action=accept",
            f"Decline: {link}&action=decline",
            "",
            "(Each link opens a page with a button; nothing happens until you press it.)",
        ]
        mail.send(
            _message(
                delivery,
                f"Can you take {shift.roster.rotation.name} {shift.role}, {mail.local(shift.start, zone)}?",
                lines,
            )
        )
        return D.Status.SENT
    request = (
        SwapRequest.objects.filter(pk=delivery.sequence)
        .select_related("shift__roster__rotation", "requester", "winner")
        .first()
    )
    if request is None:
        return D.Status.SKIPPED
    shift = request.shift
    rotation = shift.roster.rotation
    when = mail.local(shift.start, zone)
    if delivery.channel == Channel.SWAP_MANAGER:
        page = absolute(reverse("rotation", args=[rotation.pk]))
        if request.status == SwapRequest.Status.PENDING_APPROVAL:
            subject = f"Approve a swap: {rotation.name} {shift.role}, {when}"
            lines = [
                f"{_name(request.winner)} accepted {_name(request.requester)}'s {shift.role} shift ({when}).",
                f"Approve or reject it on the rotation page: {page}",
            ]
        elif request.status == SwapRequest.Status.OPEN:
            ranked, _ = rank_replacements(shift, now=now)
            subject = f"No taker yet: {rotation.name} {shift.role}, {when}"
            lines = [
                f"{_name(request.requester)} can't make their {shift.role} shift ({when}) and nobody has accepted yet.",
                "Fairest candidates, in order:",
            ]
            lines += [
                f"  {i}. {r.name} ({r.reason})" for i, r in enumerate(ranked[:5], start=1)
            ] or ["  nobody is eligible"]
            lines.append(f"Assign one in a click on the rotation page: {page}")
        else:
            return D.Status.SKIPPED
        mail.send(_message(delivery, subject, lines))
        return D.Status.SENT
    if request.status == SwapRequest.Status.DONE:
        subject = f"Swapped: {_name(request.winner)} takes your {rotation.name} shift, {when}"
        lines = [
            f"{_name(request.winner)} takes your {shift.role} shift on {rotation.name} ({when}).",
            "Your calendar entry is cancelled; theirs is on its way.",
        ]
    elif request.status == SwapRequest.Status.CANCELLED:
        subject = f"Swap request cancelled: {rotation.name}, {when}"
        lines = [f"Your swap request for {when} is cancelled: the shift stays yours."]
    else:
        return D.Status.SKIPPED
    mail.send(_message(delivery, subject, lines))
    return D.Status.SENT
