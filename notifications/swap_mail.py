"""Swap notices: who is told what when a swap moves (receivers of the swap events, writing
outbox rows in the swap's own transaction), and the e-mails themselves (rendered when sent,
from the state at that moment, in the reader's time zone with the zone named).

Each kind of notice has its own identity in the outbox (see `Delivery`): one offer e-mail per
offer, one "offer closed" per offer, one of each other kind per person and request.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.urls import reverse

from onehand.links import absolute, make_token
from onehand.people import display_name
from planning.swaps import rank_replacements
from rotation.models import Membership, Roster, Shift, SwapOffer, SwapRequest

from . import chat, entries, mail, outbox
from .models import Delivery, Kind

User = get_user_model()
Status = Delivery.Status

CLOSED_BECAUSE = {
    "taken": "{winner} took it first. Thank you for offering.",
    "assigned": "a manager gave it to {winner}. Thank you for offering.",
    "cancelled": "{requester} cancelled the request: they can make it after all.",
    "expired": "the shift has started, so the request is closed.",
    "republished": "the roster was published again, so the request is closed.",
    "overlap": "you now hold another shift at that time.",
}


def _managers(request: SwapRequest) -> list[int]:
    return list(
        Membership.objects.filter(
            team_id=request.shift.roster.rotation.team_id, role=Membership.Role.MANAGER
        ).values_list("user_id", flat=True)
    )


def _partners(request: SwapRequest) -> list[int]:
    """Whoever holds another slot during the time covered (their on-call partner changed):
    the same shift's other slots, or for partial cover those overlapping the part."""
    shift = request.shift
    return list(
        Shift.objects.filter(
            roster__rotation_id=shift.roster.rotation_id,
            roster__status=Roster.Status.PUBLISHED,
            start__lt=request.cover_end,
            end__gt=request.cover_start,
            assignee__isnull=False,
        )
        .exclude(role=shift.role)
        .exclude(assignee_id__in=[request.requester_id, request.winner_id])
        .values_list("assignee_id", flat=True)
    )


def _part(request: SwapRequest) -> str:
    """'part of ' for partial cover: the words before 'your shift', 'their shift'."""
    return "part of " if request.is_partial else ""


def _to(request: SwapRequest, kind: str, user_ids) -> list[outbox.Notice]:
    return [outbox.Notice(u, request.shift_id, kind, swap_request_id=request.pk) for u in user_ids]


# --------------------------------------------------------------------------- who is told


def offers_made(sender, offers, **kwargs) -> None:
    offers = list(offers)
    outbox.write_notices(
        outbox.Notice(o.candidate_id, o.request.shift_id, Kind.SWAP_OFFER, o.request_id, o.pk)
        for o in offers
    )
    # The team's chat hears once per request (not per wave of offers).
    chat.write_chat(
        chat.ChatNotice(
            o.request.shift.roster.rotation.team_id,
            Kind.CHAT_SWAP,
            o.request.shift_id,
            o.request.requester_id,
            swap_request_id=o.request_id,
        )
        for o in offers
    )


def offers_closed(sender, request, offers, reason="", **kwargs) -> None:
    outbox.write_notices(
        outbox.Notice(o.candidate_id, request.shift_id, Kind.SWAP_OFFER_CLOSED, request.pk, o.pk)
        for o in offers
    )


def needs_manager(sender, request, candidates=(), **kwargs) -> None:
    outbox.write_notices(_to(request, Kind.SWAP_NO_TAKER, _managers(request)))


def awaits_approval(sender, request, **kwargs) -> None:
    outbox.write_notices(_to(request, Kind.SWAP_APPROVAL, _managers(request)))


def rejected(sender, request, offer, **kwargs) -> None:
    outbox.write_notices(_to(request, Kind.SWAP_REJECTED, [offer.candidate_id]))


def uncovered(sender, request, **kwargs) -> None:
    outbox.write_notices(
        _to(request, Kind.SWAP_UNCOVERED, [*_managers(request), request.requester_id])
    )


def settled(sender, request, **kwargs) -> None:
    if request.status == SwapRequest.Status.DONE:
        outbox.write_notices(
            [
                *_to(request, Kind.SWAP_DONE, [request.requester_id]),
                *_to(request, Kind.SWAP_WON, [request.winner_id]),
                *_to(request, Kind.SWAP_PARTNER, _partners(request)),
                *_to(request, Kind.SWAP_SUMMARY, _managers(request)),
            ]
        )
    elif request.status == SwapRequest.Status.CANCELLED:
        outbox.write_notices(_to(request, Kind.SWAP_CANCELLED, [request.requester_id]))


# --------------------------------------------------------------------------- what they read


def _message(delivery: Delivery, subject: str, lines: list[str]) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.user.email],
        headers={"Message-ID": mail.message_id(delivery.pk)},
    )


def _offer_mail(delivery: Delivery, offer: SwapOffer, zone: str) -> EmailMessage | None:
    request = offer.request
    if offer.status != SwapOffer.Status.OFFERED or request.status != SwapRequest.Status.OPEN:
        return None  # taken or withdrawn before we got to it: no stale ask
    shift = request.shift
    rotation = shift.roster.rotation
    token = make_token("swap-offer", offer.candidate_id, offer.pk)
    link = absolute(reverse("swap-offer", args=[offer.pk])) + f"?t={token}"
    lines = [
        f"{display_name(request.requester)} can't make {_part(request)}their {shift.role} "
        f"shift on {rotation.name}:",
        f"  {entries.span(request.cover_start, request.cover_end, zone)}",
    ]
    if request.is_partial:
        lines.append(
            "You would take only this part; they keep the rest of the shift "
            f"({entries.span(shift.start, shift.end, zone)})."
        )
    if offer.trade_shift_id:
        lines.append(
            "In exchange they would take your shift on "
            f"{mail.local(offer.trade_shift.start, zone)}."
        )
    why = offer.reason.get("summary", "you are among the fairest picks")
    lines += ["", f"You were asked because: {why}.", "The first person to accept takes the shift."]
    if offer.expires_at:
        lines.append(
            f"Please answer by {mail.local(offer.expires_at, zone)}; "
            "after that we ask the next person."
        )
    lines += [
        "",
        f"Accept: {link}&action=accept",
        f"Decline: {link}&action=decline",
        "",
        "(Each link opens a page with a button; nothing happens until you press it.)",
    ]
    subject = (
        f"Can you take {_part(request)}{rotation.name} {shift.role}, "
        f"{mail.local(request.cover_start, zone)}?"
    )
    return _message(delivery, subject, lines)


def _closed_mail(delivery: Delivery, offer: SwapOffer, zone: str) -> EmailMessage | None:
    request = offer.request
    if offer.status != SwapOffer.Status.WITHDRAWN:
        return None
    shift = request.shift
    when = mail.local(request.cover_start, zone)
    reason = {
        SwapRequest.Status.DONE: "taken",
        SwapRequest.Status.PENDING_APPROVAL: "taken",
        SwapRequest.Status.CANCELLED: "cancelled",
        SwapRequest.Status.EXPIRED: "expired",
    }.get(request.status, "taken")
    winning = request.offers.filter(status=SwapOffer.Status.ACCEPTED).first()
    if reason == "taken" and winning is not None and winning.reason.get("assigned_by"):
        reason = "assigned"
    if request.closed_reason == "republished":
        reason = "republished"
    elif request.status == SwapRequest.Status.OPEN:
        reason = "overlap"  # the request goes on; this holder took another shift then
    why = CLOSED_BECAUSE[reason].format(
        winner=display_name(request.winner), requester=display_name(request.requester)
    )
    rotation = shift.roster.rotation
    part = _part(request)
    if request.is_partial:
        when = entries.span(request.cover_start, request.cover_end, zone)
    return _message(
        delivery,
        f"No longer needed: {part}{rotation.name} {shift.role}, "
        f"{mail.local(request.cover_start, zone)}",
        [
            f"You were asked to take {part}{display_name(request.requester)}'s {shift.role} "
            f"shift on {rotation.name} ({when}).",
            f"You don't need to answer any more: {why}",
        ],
    )


def _ranked_lines(delivery: Delivery, request: SwapRequest, now: datetime) -> list[str]:
    """The fairest candidates, each with a one-click assign link for this manager."""
    part = (request.part_start, request.part_end) if request.is_partial else None
    ranked, _ = rank_replacements(request.shift, now=now, part=part)
    token = make_token("swap-assign", delivery.user_id, request.pk)
    page = absolute(reverse("swap-assign", args=[request.pk])) + f"?t={token}"
    lines = []
    for i, r in enumerate(ranked[:5], start=1):
        lines += [f"  {i}. {r.name} ({r.reason})", f"     Assign: {page}&candidate={r.user_id}"]
    return lines or ["  nobody is eligible"]


def _request_mail(delivery: Delivery, request: SwapRequest, zone: str, now: datetime):
    shift = request.shift
    rotation = shift.roster.rotation
    when = (
        entries.span(request.cover_start, request.cover_end, zone)
        if request.is_partial
        else mail.local(shift.start, zone)
    )
    page = absolute(reverse("rotation", args=[rotation.pk]))
    head = f"{_part(request)}{rotation.name} {shift.role}, {mail.local(request.cover_start, zone)}"
    part = _part(request)
    requester, winner = display_name(request.requester), display_name(request.winner)
    kind, status = delivery.kind, request.status
    done = status == SwapRequest.Status.DONE
    if kind == Kind.SWAP_NO_TAKER:
        if status != SwapRequest.Status.OPEN:
            return None
        lines = [
            f"{requester} can't make {part}their {shift.role} shift ({when}) and nobody has "
            "accepted yet.",
            "Fairest candidates, in order (each link opens a page with an Assign button):",
            *_ranked_lines(delivery, request, now),
            f"Or see every open request on the rotation page: {page}",
        ]
        return _message(delivery, f"No taker yet: {head}", lines)
    if kind == Kind.SWAP_APPROVAL:
        if status != SwapRequest.Status.PENDING_APPROVAL:
            return None
        lines = [
            f"{winner} accepted {requester}'s {shift.role} shift ({when}).",
            f"Approve or reject it on the rotation page: {page}",
        ]
        return _message(delivery, f"Approve a swap: {head}", lines)
    if kind == Kind.SWAP_UNCOVERED:
        lines = [
            f"Nobody took {requester}'s {shift.role} shift on {rotation.name} ({when}) before "
            "it started. The request is closed and the shift is still theirs.",
            "Please make sure someone covers it.",
            f"Rotation: {page}",
        ]
        return _message(delivery, f"Not covered: {head}", lines)
    if kind == Kind.SWAP_DONE and done:
        lines = [
            f"{winner} takes {part}your {shift.role} shift on {rotation.name} ({when}).",
            "Your calendar entry is updated: the rest of the shift stays yours."
            if request.is_partial
            else "Your calendar entry is cancelled; theirs is on its way.",
        ]
        return _message(delivery, f"Swapped: {winner} takes your {head}", lines)
    if kind == Kind.SWAP_WON and done:
        lines = [
            f"You take {part}{requester}'s {shift.role} shift on {rotation.name} ({when}). "
            "Thank you!",
            "The calendar entry is on its way.",
        ]
        return _message(delivery, f"Your shift now: {head}", lines)
    if kind == Kind.SWAP_PARTNER and done:
        lines = [
            f"On your shift of {rotation.name} ({when}), {winner} now takes {shift.role} "
            f"instead of {requester}" + (" for that part." if request.is_partial else "."),
        ]
        return _message(delivery, f"New partner on {rotation.name}: {winner}", lines)
    if kind == Kind.SWAP_SUMMARY and done:
        lines = [
            f"{winner} takes {part}{requester}'s {shift.role} shift on {rotation.name} ({when}).",
            f"Rotation: {page}",
        ]
        return _message(delivery, f"Swap done: {head}", lines)
    if kind == Kind.SWAP_CANCELLED and status == SwapRequest.Status.CANCELLED:
        if request.closed_reason == "republished":
            lines = [
                f"Your swap request for {when} is closed: the {rotation.name} roster was "
                "published again. Check your shifts on the new roster and ask again if you "
                f"still can't make one: {page}",
            ]
            return _message(delivery, f"Swap request closed: {head}", lines)
        lines = [f"Your swap request for {when} is cancelled: the shift stays yours."]
        return _message(delivery, f"Swap request cancelled: {head}", lines)
    if kind == Kind.SWAP_REJECTED:
        lines = [
            f"A manager did not approve your taking {requester}'s {shift.role} shift ({when}).",
            "Nothing changes for you; thank you for offering.",
        ]
        return _message(delivery, f"Swap not approved: {head}", lines)
    return None


def send(delivery: Delivery, now: datetime) -> str:
    """Build and send one swap notice from the state now; SKIPPED when it is moot."""
    zone = delivery.user.person.time_zone
    if delivery.swap_offer_id:
        offer = (
            SwapOffer.objects.filter(pk=delivery.swap_offer_id)
            .select_related(
                "request__shift__roster__rotation",
                "request__requester",
                "request__winner",
                "trade_shift",
            )
            .first()
        )
        if offer is None:
            return Status.SKIPPED
        build = _offer_mail if delivery.kind == Kind.SWAP_OFFER else _closed_mail
        message = build(delivery, offer, zone)
    else:
        request = (
            SwapRequest.objects.filter(pk=delivery.swap_request_id)
            .select_related("shift__roster__rotation", "requester", "winner")
            .first()
        )
        message = _request_mail(delivery, request, zone, now) if request else None
    if message is None:
        return Status.SKIPPED
    mail.send(message)
    return Status.SENT
