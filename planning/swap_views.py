"""Pages behind the links in calendar entries and emails.

GET only shows a page (mail scanners open links); every action is a POST with CSRF. A signed
link identifies its person without a login; a logged-in user who is someone else is refused.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from incidents.selectors import shift_incidents
from onehand.errors import Invalid
from onehand.links import LinkError, read_token
from onehand.people import display_name
from rotation import selectors, services
from rotation.models import Shift, SwapOffer, SwapRequest

from . import swaps

User = get_user_model()
LINK_MAX_AGE = timedelta(days=120)


def _who(request, action: str, object_id: int):
    """The person a link speaks for, or (None, why) when it cannot be used."""
    token = request.POST.get("t") or request.GET.get("t") or ""
    if not token:
        if request.user.is_authenticated:
            return request.user, None
        return (
            None,
            "This page needs your personal link from the calendar entry or email, or a login.",
        )
    try:
        claim = read_token(token, action, LINK_MAX_AGE)
    except LinkError as exc:
        return None, str(exc)
    if claim.object_id != object_id:
        return None, "This link is for something else."
    if request.user.is_authenticated and request.user.pk != claim.user_id:
        owner = User.objects.filter(pk=claim.user_id).first()
        return None, (
            f"This link was sent to {owner.get_full_name() if owner else 'someone else'}, but you "
            "are logged in as "
            f"{display_name(request.user)}. Nothing was changed."
        )
    user = User.objects.filter(pk=claim.user_id, is_active=True).first()
    if user is None:
        return None, "This link's owner no longer has an account."
    _show_in_zone_of(request, user)
    return user, None


def _whole_number(raw: str | None, field: str) -> int | None:
    """A form's id field: empty is None; anything but a whole number in range is a 400."""
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise Invalid(f"{field} must be a whole number.", field=field) from None
    if not 0 < value < 2**63:
        raise Invalid(f"{field} is out of range.", field=field)
    return value


def _show_in_zone_of(request, user) -> None:
    """A signed-link page speaks to the link's owner: their zone, even without a session."""
    zone = getattr(getattr(user, "person", None), "time_zone", None)
    if zone:
        request.time_zone = zone
        timezone.activate(ZoneInfo(zone))


def _refuse(request, why: str, status: int = 403):
    return render(
        request,
        "rotation/link_problem.html",
        {"why": why, "login_url": f"{reverse('login')}?next={request.path}"},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def cant_make_it(request, shift_pk):
    shift = get_object_or_404(
        Shift.objects.select_related("roster__rotation__team", "assignee"), pk=shift_pk
    )
    user, why = _who(request, "cant-make-it", shift.pk)
    if user is None:
        return _refuse(request, why)
    open_request = SwapRequest.objects.filter(shift=shift, status__in=["open", "pending"]).first()
    team_id = shift.roster.rotation.team_id
    # Only the holder, the requester of the open swap and the team's managers see the page
    # (it lists the rotation's people and the offers); anyone else used to see it whenever
    # the shift had an open swap.
    party = shift.assignee_id == user.pk or (
        open_request is not None
        and (
            open_request.requester_id == user.pk or selectors.is_manager(user=user, team_id=team_id)
        )
    )
    if not party:
        if not selectors.is_member(user=user, team_id=team_id):
            raise Http404("No such shift.")
        return _refuse(
            request, "You no longer hold this shift, so there is nothing to swap.", status=410
        )
    error = None
    if request.method == "POST" and open_request is None:
        part = None
        if request.POST.get("cover") == "part":
            # Only part of the shift: the part is also the time marked unavailable.
            try:
                part = (
                    _local_time(request.POST.get("part_from"), "part_from", "start of the part"),
                    _local_time(request.POST.get("part_to"), "part_to", "end of the part"),
                )
            except Invalid as exc:
                error = str(exc)
        start = part[0] if part else _aware(request.POST.get("unavailable_from")) or shift.start
        end = part[1] if part else _aware(request.POST.get("unavailable_to")) or shift.end
        named = User.objects.filter(pk=_whole_number(request.POST.get("named"), "named")).first()
        trade = (
            Shift.objects.filter(pk=_whole_number(request.POST.get("trade"), "trade"))
            .select_related("roster")
            .first()
        )
        if error:
            pass
        elif part is None and end <= start:
            error = "The end of your unavailability must be after its start."
        else:
            try:
                open_request = swaps.request_swap(
                    shift,
                    unavailable_from=start,
                    unavailable_to=end,
                    reason=request.POST.get("reason", "").replace("\x00", "")[:300],
                    named=named,
                    trade_shift=trade,
                    part=part,
                    by=user,
                )
            except (swaps.SwapError, Invalid) as exc:
                error = str(exc)
    people = [
        p for p in selectors.rotation_people(rotation=shift.roster.rotation) if p.pk != user.pk
    ]
    return render(
        request,
        "rotation/cant_make_it.html",
        {
            "shift": shift,
            "person": user,
            "swap": open_request,
            "offers": list(open_request.offers.select_related("candidate")) if open_request else [],
            "people": people,
            "trade_options": Shift.objects.filter(
                roster__rotation=shift.roster.rotation,
                roster__status="published",
                assignee__in=people,
                start__gt=timezone.now(),
            )
            .select_related("assignee")
            .order_by("start")[:60],
            "token": request.POST.get("t") or request.GET.get("t") or "",
            "error": error,
            # A refused form comes back as it was sent: "Only part of it" stays chosen with
            # the times typed, so pressing Enter again can't ask cover for the whole shift.
            "asked_part": request.method == "POST" and request.POST.get("cover") == "part",
            "part_from": (request.POST.get("part_from") or "")[:40]
            if request.method == "POST"
            else "",
            "part_to": (request.POST.get("part_to") or "")[:40] if request.method == "POST" else "",
            "is_piece": shift.split_from_id is not None,
        },
        status=400 if error else 200,
    )


def _local_time(raw: str | None, field: str, what: str):
    """A datetime-local field in the reader's zone (named on the page), as an instant.

    A wall time the clocks skip (spring forward) or pass twice (fall back) is refused in
    words: guessing would ask cover for the wrong hour."""
    try:
        value = parse_datetime((raw or "").strip()[:40]) if raw else None
    except ValueError:
        raise Invalid(
            f"{raw.strip()[:40]} is not a real time: check the date (e.g. 30 February does not "
            f"exist) and give the {what} without a UTC offset, in your zone.",
            field=field,
        ) from None
    if value is None:
        raise Invalid(f"Give the {what} as a date and time.", field=field)
    zone = timezone.get_current_timezone()
    if timezone.is_aware(value):
        return value
    first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        skipped = first.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != value
        raise Invalid(
            f"{value:%H:%M} on {value:%a} {value.day} {value:%b %Y} "
            + ("does not exist in " if skipped else "happens twice in ")
            + f"{zone} (the clocks change); pick a time outside that hour.",
            field=field,
        )
    return first


def _aware(raw):
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


@require_http_methods(["GET", "POST"])
def offer_respond(request, offer_pk):
    offer = get_object_or_404(
        SwapOffer.objects.select_related(
            "request__shift__roster__rotation", "request__requester", "candidate", "trade_shift"
        ),
        pk=offer_pk,
    )
    user, why = _who(request, "swap-offer", offer.pk)
    if user is None:
        return _refuse(request, why)
    if user.pk != offer.candidate_id:
        return _refuse(request, "This offer was made to someone else. Nothing was changed.")
    message, status = None, 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "accept":
                swaps.accept_offer(offer, by=user)
                message = (
                    "You took that part of the shift."
                    if offer.request.is_partial
                    else "You took the shift."
                ) + " Thank you! Your calendar will update shortly."
            elif action == "decline":
                swaps.decline_offer(offer, by=user)
                message = "Declined. Thank you for answering."
                asked = offer.request.offers.filter(status=SwapOffer.Status.OFFERED)
                if asked.exclude(candidate=user).exists():
                    message += " We have asked the next person."
            else:
                message, status = "Choose Accept or Decline.", 400
        except swaps.AlreadyTaken as exc:
            message, status = str(exc), 409
        except swaps.SwapError as exc:
            message, status = str(exc), 400
        offer.refresh_from_db()
        offer.request.refresh_from_db()
    return render(
        request,
        "rotation/offer.html",
        {
            "offer": offer,
            "swap": offer.request,
            "shift": offer.request.shift,
            "message": message,
            "token": request.POST.get("t") or request.GET.get("t") or "",
            # The e-mail's Decline link opens the page with Decline as the highlighted button.
            "chosen": "decline" if request.GET.get("action") == "decline" else "accept",
        },
        status=status,
    )


@login_required
@require_POST
def cancel_swap(request, pk):
    swap = get_object_or_404(SwapRequest, pk=pk)
    if swap.requester_id != request.user.pk and not selectors.is_manager(
        user=request.user, team_id=swap.shift.roster.rotation.team_id
    ):
        return _refuse(request, "Only the person who asked (or a manager) can cancel this request.")
    try:
        swaps.cancel_request(swap, by=request.user)
    except swaps.SwapError as exc:
        return _refuse(request, str(exc), status=409)
    return redirect("home")


@login_required
@require_POST
def decide_swap(request, pk):
    """Managers: approve or reject an accepted swap, or assign a ranked candidate."""
    swap = get_object_or_404(SwapRequest.objects.select_related("shift__roster__rotation"), pk=pk)
    if not selectors.is_manager(user=request.user, team_id=swap.shift.roster.rotation.team_id):
        return _refuse(request, "Only a manager of this team can decide swaps.", status=404)
    override = request.POST.get("override") in ("1", "on", "true")
    try:
        if request.POST.get("action") in ("approve", "reject"):
            swaps.approve_swap(
                swap,
                approve=request.POST["action"] == "approve",
                override=override,
                by=request.user,
            )
        elif request.POST.get("assign"):
            candidate = get_object_or_404(User, pk=_whole_number(request.POST["assign"], "assign"))
            swaps.assign_from_request(swap, candidate, override=override, by=request.user)
    except swaps.SwapError as exc:
        return _refuse(request, str(exc), status=409)
    return redirect("rotation", pk=swap.shift.roster.rotation_id)


@require_http_methods(["GET", "POST"])
def assign_link(request, pk):
    """The managers' one click from a "No taker yet" e-mail: a page naming the candidate and
    the shift (in the manager's zone), and a button that gives the shift to them."""
    swap = get_object_or_404(
        SwapRequest.objects.select_related("shift__roster__rotation", "requester"), pk=pk
    )
    user, why = _who(request, "swap-assign", swap.pk)
    if user is None:
        return _refuse(request, why)
    if not selectors.is_manager(user=user, team_id=swap.shift.roster.rotation.team_id):
        return _refuse(request, "Only a manager of this team can assign.", status=404)
    raw = request.POST.get("candidate") or request.GET.get("candidate") or ""
    candidate = (
        User.objects.filter(pk=int(raw)).first()
        if raw.isascii() and raw.isdigit() and len(raw) < 19
        else None
    )
    team_id = swap.shift.roster.rotation.team_id
    if candidate is not None and not selectors.is_active_member(
        user_id=candidate.pk, team_id=team_id
    ):
        candidate = None  # a link never names someone outside the team
    if candidate is None:
        return _refuse(request, "This link names nobody to assign.", status=400)
    message, status = None, 200
    if request.method == "POST":
        try:
            swaps.assign_from_request(swap, candidate, by=user)
            message = (
                f"Done: {display_name(candidate)} takes the shift. Everyone concerned is told."
            )
        except swaps.SwapError as exc:
            message, status = str(exc), 409
        swap.refresh_from_db()
    return render(
        request,
        "rotation/swap_assign.html",
        {
            "swap": swap,
            "shift": swap.shift,
            "candidate": candidate,
            "message": message,
            "token": request.POST.get("t") or request.GET.get("t") or "",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def handover(request, shift_pk):
    """The outgoing person's handover note for the incoming one (link in their reminder)."""
    shift = get_object_or_404(
        Shift.objects.select_related("roster__rotation", "assignee", "window"), pk=shift_pk
    )
    user, why = _who(request, "handover", shift.pk)
    if user is None:
        return _refuse(request, why)
    if user.pk != shift.assignee_id:
        return _refuse(request, "Only the person on this shift writes its handover.")
    saved = None
    if request.method == "POST":
        saved = services.write_handover(
            shift,
            by=user,
            open_incidents=request.POST.get("open_incidents", ""),
            notes=request.POST.get("notes", ""),
        )
    incoming = (
        Shift.objects.filter(
            roster__rotation=shift.roster.rotation, role=shift.role, start=shift.end
        )
        .select_related("assignee")
        .first()
    )
    return render(
        request,
        "rotation/handover.html",
        {
            "shift": shift,
            "incoming": incoming,
            "saved": saved,
            "notes": shift.handover_notes.all()[:5],
            "incidents": shift_incidents(
                rotation_id=shift.roster.rotation_id, start=shift.start, end=shift.end
            ),
            "token": request.POST.get("t") or request.GET.get("t") or "",
        },
    )
