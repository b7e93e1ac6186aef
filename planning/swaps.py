"""'I can't make it': swap requests, fair replacement offers, first accept wins.

The race between two accepts is settled by the database: the request row is claimed with a
conditional UPDATE (status open -> taken) that only one transaction can win, and a partial
unique index allows one accepted offer per request.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from availability import services as availability
from onehand.errors import Conflict, Invalid, RuleBroken
from onehand.people import display_name
from rotation.events import (
    shifts_reassigned,
    swap_awaits_approval,
    swap_needs_manager,
    swap_offers_closed,
    swap_offers_made,
    swap_rejected,
    swap_settled,
    swap_uncovered,
)
from rotation.models import AuditEntry, Roster, Rotation, Shift, SwapOffer, SwapRequest
from rotation.permissions import Actor, require_manager
from rotation.selectors import is_active_member, is_manager
from rotation.services import audit

from . import inputs
from . import recommender as rec
from .services import NOT_A_MEMBER, check_slot

User = get_user_model()


NOT_IN_ROTATION = "That person is not in this rotation."


class SwapError(Conflict):
    """A swap action that cannot happen; the message says why, for the person who tried."""


class AlreadyTaken(SwapError):
    code = "already_taken"


@dataclass(frozen=True)
class RankedCandidate:
    user_id: int
    name: str
    projected: float
    reason: str


def rank_replacements(
    shift: Shift,
    *,
    now: datetime | None = None,
    exclude: frozenset[int] = frozenset(),
    part: tuple[datetime, datetime] | None = None,
) -> tuple[list[RankedCandidate], dict[int, str]]:
    """Everyone who could take `shift` (or only `part` of it) under every hard rule, least
    loaded first. A part is judged on its own times: someone away on Monday can still take
    Tuesday evening.

    Returns the ranked list and, for the rest, why they cannot.
    """
    now = now or timezone.now()
    rules = inputs.slot_rules(shift=shift, now=now, part=part)
    settings, target = rules.settings, rules.target
    slots = [s for s in rules.slots if s.key in rules.current]  # the slots someone holds
    current = rules.current
    ranked, blocked = [], {}
    for c in rules.candidates:
        if c.person_id == shift.assignee_id or c.person_id in exclude:
            continue
        why_not = rules.problem(c)
        if why_not:
            blocked[c.person_id] = why_not
            continue
        load = sum(
            rec.slot_weighted_hours(s, c, settings)
            for s in slots
            if current.get(s.key) == c.person_id
        )
        projected = (
            c.past_load + load + rec.slot_weighted_hours(target, c, settings)
        ) / rec.capacity(c, settings)
        ranked.append((projected, -(c.last_shift_end.timestamp() if c.last_shift_end else 0), c))
    ranked.sort(key=lambda item: (item[0], item[1], item[2].person_id))
    fair = _fair_load(ranked, settings)
    out = []
    for position, (projected, _, c) in enumerate(ranked, start=1):
        out.append(
            RankedCandidate(
                user_id=c.person_id,
                name=c.name,
                projected=projected,
                reason=_rank_in_words(
                    position=position,
                    of=len(ranked),
                    share=round(100 * projected / fair) if fair else None,
                ),
            )
        )
    return out, blocked


def _fair_load(ranked, settings: rec.Settings) -> float:
    """The load per unit of capacity that would be everyone's fair share (100%) among the
    people who could take the shift, each counted with it: fair shares follow capacity."""
    capacities = [rec.capacity(c, settings) for _, _, c in ranked]
    total = sum(capacities)
    return sum(p * cap for (p, _, _), cap in zip(ranked, capacities)) / total if total else 0.0


def _rank_in_words(*, position: int, of: int, share: int | None) -> str:
    """'#1 of 4 who could take it; with this shift they would carry 85% of a fair share
    (the lightest load is asked first)': the plan page's words, not the formula."""
    if share is None:
        return f"#{position} of {of} who could take it; nobody has any load yet"
    return (
        f"#{position} of {of} who could take it; with this shift they would carry {share}% "
        "of a fair share (the lightest load is asked first)"
    )


def offer_expiry(shift: Shift, now: datetime, start: datetime | None = None) -> datetime:
    """When an offer made now stops waiting for an answer: the rotation's answer time, and
    never after the shift (or the part asked for) starts."""
    return min(now + shift.roster.rotation.swap_answer_time, start or shift.start)


def _part_of(request: SwapRequest) -> tuple[datetime, datetime] | None:
    return (request.part_start, request.part_end) if request.is_partial else None


MIN_PART = timedelta(minutes=30)


def _check_part(
    shift: Shift, part: tuple[datetime, datetime] | None, *, now: datetime
) -> tuple[datetime, datetime] | None:
    """The part of `shift` someone asks cover for, or None for the whole shift.

    A part lies inside the shift (it may touch either end), on whole minutes, at least
    MIN_PART long and not yet begun. A "part" equal to the whole shift is the whole shift."""
    if part is None:
        return None
    start, end = part
    if start is None or end is None:
        raise Invalid("Give both the start and the end of the part you can't make.", field="part")
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("Give the part's times with their time zone.", field="part")
    if start.second or start.microsecond or end.second or end.microsecond:
        raise Invalid("The part's times must be on whole minutes.", field="part")
    if end == start:
        raise Invalid("The part starts and ends at the same time: give its end.", field="part")
    if end < start:
        raise Invalid("The part ends before it starts: swap the two times.", field="part")
    if end - start < MIN_PART:
        raise Invalid("The part must be at least 30 minutes long.", field="part")
    if start < shift.start or end > shift.end:
        raise Invalid(
            "The part must lie inside the shift "
            f"({shift.start:%Y-%m-%d %H:%M} – {shift.end:%Y-%m-%d %H:%M} UTC).",
            field="part",
        )
    if start <= now:
        raise Invalid("The part has already begun; ask cover for a later part.", field="part")
    if (start, end) == (shift.start, shift.end):
        return None
    return start.astimezone(UTC), end.astimezone(UTC)


def _ask(
    request: SwapRequest,
    ranked: list[RankedCandidate],
    how_many: int,
    *,
    trade_shift: Shift | None = None,
    now: datetime | None = None,
) -> list[SwapOffer]:
    now = now or timezone.now()
    asked = set(request.offers.values_list("candidate_id", flat=True))
    start_rank = request.offers.count()
    fresh = [r for r in ranked if r.user_id not in asked][: max(how_many, 0)]
    expires_at = offer_expiry(request.shift, now, request.part_start)
    offers = [
        SwapOffer.objects.create(
            request=request,
            candidate_id=r.user_id,
            rank=start_rank + i + 1,
            reason={"summary": r.reason, "projected": r.projected},
            trade_shift=trade_shift,
            expires_at=expires_at,
        )
        for i, r in enumerate(fresh)
    ]
    if offers:
        swap_offers_made.send(sender=SwapOffer, offers=offers)
    return offers


@transaction.atomic
def request_swap(
    shift: Shift,
    *,
    by: Actor,
    unavailable_from: datetime | None = None,
    unavailable_to: datetime | None = None,
    reason: str = "",
    named: "User | None" = None,
    trade_shift: Shift | None = None,
    part: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> SwapRequest:
    """Record the person's unavailability and ask the fairest replacements.

    `part` (start, end) asks cover for only that part of the shift (partial cover); the
    shift is split when someone takes it (see `_split`)."""
    user = by
    now = now or timezone.now()
    shift = Shift.objects.select_for_update().select_related("roster__rotation").get(pk=shift.pk)
    if shift.assignee_id != user.pk:
        raise SwapError("You no longer hold this shift, so there is nothing to swap.")
    if shift.roster.status != Roster.Status.PUBLISHED:
        raise SwapError("This shift is not on a published roster any more.")
    if shift.end <= now:
        raise SwapError("This shift is already over.")
    part = _check_part(shift, part, now=now)
    existing = SwapRequest.objects.filter(shift=shift, status__in=["open", "pending"]).first()
    if existing is not None:
        if _part_of(existing) != part:
            raise SwapError(
                "You already asked cover for "
                + ("part of this shift" if existing.is_partial else "this shift")
                + "; cancel that request first to ask for a different part."
            )
        return existing  # a double submit or a second tab: one request
    if part is not None and trade_shift is not None:
        raise SwapError("A trade swaps whole shifts; ask cover for the part instead.")
    rotation = shift.roster.rotation
    cover_start, cover_end = part or (shift.start, shift.end)
    availability.mark(
        unavailable_from or cover_start,
        unavailable_to or cover_end,
        "unavailable",
        reason=(reason or "Can't make an on-call shift")[:200],
        enforce_lock=False,
        by=user,
    )
    deadline = max(now, shift.start - timedelta(hours=rotation.swap_deadline_hours))
    if part is not None:
        deadline = max(now, part[0] - timedelta(hours=rotation.swap_deadline_hours))
    request = SwapRequest.objects.create(
        shift=shift,
        requester=user,
        reason=reason[:300],
        deadline=deadline,
        part_start=part[0] if part else None,
        part_end=part[1] if part else None,
    )
    audit(
        shift.roster,
        rotation,
        by,
        AuditEntry.Action.SWAP,
        f"{display_name(user)} can't make "
        + ("part of " if part else "")
        + f"{shift.get_role_display()}; asking for a swap",
        before={"shift": shift.pk, "assignee": user.pk},
        # The instant, not text: pages show it in the reader's zone.
        after={
            "request": request.pk,
            "shift_start": shift.start.isoformat(),
            **(
                {"part_start": part[0].isoformat(), "part_end": part[1].isoformat()} if part else {}
            ),
        },
    )
    if trade_shift is not None and named is None:
        raise SwapError("A trade needs the person whose shift you would take.")
    if named is not None and not is_active_member(user_id=named.pk, team_id=rotation.team_id):
        # Named nowhere: whoever a user id belongs to outside the team stays unknown.
        raise Invalid(NOT_IN_ROTATION, field="named")
    if named is not None:
        ranked, blocked = rank_replacements(shift, now=now, part=part)
        match = next((r for r in ranked if r.user_id == named.pk), None)
        if match is None:
            raise SwapError(
                f"{display_name(named)} can't take this shift: "
                f"{blocked.get(named.pk, 'not in this rotation')}."
            )
        if trade_shift is not None and (
            trade_shift.assignee_id != named.pk or trade_shift.roster.rotation_id != rotation.pk
        ):
            raise SwapError(f"That shift is not {display_name(named)}'s in this rotation.")
        _ask(request, [match], 1, trade_shift=trade_shift, now=now)
    else:
        _top_up(request, now=now)
    return request


def _top_up(request: SwapRequest, *, now: datetime) -> list[SwapOffer]:
    """Keep the rotation's number of offers open: ask the next fairest people not asked yet.
    When nobody is left to ask and no offer is open, the managers are told (once)."""
    rotation = request.shift.roster.rotation
    open_offers = request.offers.filter(status=SwapOffer.Status.OFFERED).count()
    offers: list[SwapOffer] = []
    if open_offers < rotation.offers_at_once and request.cover_start > now:
        ranked, _ = rank_replacements(request.shift, now=now, part=_part_of(request))
        offers = _ask(request, ranked, rotation.offers_at_once - open_offers, now=now)
    if not offers and not open_offers:
        _tell_managers(request, now=now)
    return offers


def _close_offers(request: SwapRequest, *, reason: str, now: datetime, keep=None) -> None:
    """Withdraw every open offer of a request and tell their holders why."""
    open_offers = request.offers.filter(status=SwapOffer.Status.OFFERED)
    if keep is not None:
        open_offers = open_offers.exclude(pk=keep.pk)
    closed = list(open_offers.select_for_update())
    if not closed:
        return
    SwapOffer.objects.filter(pk__in=[o.pk for o in closed]).update(
        status=SwapOffer.Status.WITHDRAWN, decided_at=now
    )
    swap_offers_closed.send(sender=SwapOffer, request=request, offers=closed, reason=reason)


def _cover_overlaps(start: datetime, end: datetime) -> Q:
    """Requests whose cover (the part, or the whole shift) overlaps start–end."""
    return Q(part_start__isnull=False, part_start__lt=end, part_end__gt=start) | Q(
        part_start__isnull=True, shift__start__lt=end, shift__end__gt=start
    )


def _in_zone(when: datetime, by) -> str:
    """A time in the reader's zone, named (UTC for the system)."""
    zone = getattr(getattr(by, "person", None), "time_zone", None) or "UTC"
    value = when.astimezone(ZoneInfo(zone))
    return f"{value:%a %d %b %Y %H:%M} {value.tzname()} ({zone})"


def _require_still_live(request: SwapRequest) -> None:
    """A request on a roster that was published again is moot: its shift is history."""
    status = Roster.objects.values_list("status", flat=True).get(pk=request.shift.roster_id)
    if status != Roster.Status.PUBLISHED:
        raise SwapError(
            "The roster was published again since this request, so this shift is no longer "
            "current; nothing was swapped. See the rotation page for the shifts as they are now."
        )


def _claim_time(request: SwapRequest, candidate, *, by, offer: SwapOffer | None = None) -> None:
    """Refuse unless `candidate` is still free for the cover: they may have taken an
    overlapping shift or part (in any rotation) since they were asked.

    Two accepts by the same person queue on their user row (taken after the request row,
    the order every swap path uses), so the second sees the first's shift and is refused;
    their overlapping shifts are locked too, so no other edit moves them meanwhile."""
    User.objects.select_for_update().filter(pk=candidate.pk).first()
    start, end = request.cover_start, request.cover_end
    clash = (
        Shift.objects.select_for_update(of=("self",))
        .select_related("roster__rotation")
        .filter(
            assignee_id=candidate.pk,
            roster__status=Roster.Status.PUBLISHED,
            start__lt=end,
            end__gt=start,
        )
        .exclude(pk=request.shift_id)
        .exclude(pk=offer.trade_shift_id if offer and offer.trade_shift_id else None)
        .order_by("start")
    )
    clashes = list(clash)
    if clashes:
        first = clashes[0]
        who = (
            "You now hold"
            if getattr(by, "pk", None) == candidate.pk
            else (f"{display_name(candidate)} now holds")
        )
        raise SwapError(
            f"{who} the {first.get_role_display().lower()} of {first.roster.rotation.name} "
            f"from {_in_zone(first.start, by)} to {_in_zone(first.end, by)}, which overlaps "
            "this cover; nobody can be on two shifts at once. Nothing was swapped."
        )


def _still_eligible(request: SwapRequest, candidate, *, now: datetime) -> str | None:
    """The hard rule (rest, availability, another shift…) `candidate` would now break by
    taking the request's cover, judged on the part's own times for a part; None if none."""
    rules = inputs.slot_rules(shift=request.shift, now=now, part=_part_of(request))
    found = rules.people.get(candidate.pk)
    if found is None:
        rotation = request.shift.roster.rotation
        return f"{display_name(candidate)} is no longer in the {rotation.name} rotation"
    return rules.problem(found)


def _withdraw_overlapping_offers(winner_id: int, request: SwapRequest, *, now: datetime) -> None:
    """The winner's other open offers for the same time are moot: withdraw them (they are
    told); the sweeper asks the next fairest person for those requests."""
    moot = list(
        SwapOffer.objects.select_related("request__shift")
        .filter(
            candidate_id=winner_id,
            status=SwapOffer.Status.OFFERED,
            request__status=SwapRequest.Status.OPEN,
        )
        .exclude(request_id=request.pk)
        .filter(
            request__in=SwapRequest.objects.filter(
                _cover_overlaps(request.cover_start, request.cover_end)
            )
        )
    )
    if not moot:
        return
    SwapOffer.objects.filter(pk__in=[o.pk for o in moot]).update(
        status=SwapOffer.Status.WITHDRAWN, decided_at=now
    )
    for o in moot:
        swap_offers_closed.send(sender=SwapOffer, request=o.request, offers=[o], reason="overlap")


def _apply(request: SwapRequest, offer: SwapOffer, *, by, now: datetime) -> Shift:
    """Move the slot (and the traded slot) to their new holders, versioned and audited."""
    shift = (
        Shift.objects.select_for_update()
        .select_related("roster__rotation")
        .get(pk=request.shift_id)
    )
    if shift.assignee_id != request.requester_id:
        raise SwapError("The shift changed hands meanwhile; nothing was swapped.")
    if request.is_partial:
        return _split(request, offer, shift, by=by)
    changes = [(shift, shift.assignee_id)]
    shift.assignee_id = offer.candidate_id
    shift.sequence += 1
    shift.reason = {
        "summary": f"Swapped in for {display_name(request.requester)}",
        "swap": request.pk,
        "manual": True,
    }
    moved = [shift]
    if offer.trade_shift_id:
        traded = Shift.objects.select_for_update().get(pk=offer.trade_shift_id)
        if traded.assignee_id != offer.candidate_id:
            raise SwapError("The traded shift changed hands meanwhile; nothing was swapped.")
        changes.append((traded, traded.assignee_id))
        traded.assignee_id = request.requester_id
        traded.sequence += 1
        traded.reason = {
            "summary": f"Traded with {display_name(offer.candidate)}",
            "swap": request.pk,
            "manual": True,
        }
        moved.append(traded)
    try:
        with transaction.atomic():
            for s in moved:
                s.save(update_fields=["assignee", "sequence", "reason"])
    except IntegrityError:
        raise SwapError(
            f"{display_name(offer.candidate)} already holds another slot of that shift."
        ) from None
    Roster.objects.filter(pk__in={s.roster_id for s in moved}).update(version=F("version") + 1)
    rotation = shift.roster.rotation
    audit(
        shift.roster,
        rotation,
        by,
        AuditEntry.Action.SWAP,
        f"{shift.get_role_display()}: {display_name(request.requester)} → "
        f"{display_name(offer.candidate)}" + (" (trade)" if offer.trade_shift_id else ""),
        before={"shift": shift.pk, "assignee": request.requester_id},
        after={
            "shift": shift.pk,
            "assignee": offer.candidate_id,
            "offer": offer.pk,
            "trade": offer.trade_shift_id,
            "shift_start": shift.start.isoformat(),
        },
    )
    shifts_reassigned.send(sender=Shift, changes=changes)
    return shift


def _split(request: SwapRequest, offer: SwapOffer, shift: Shift, *, by) -> Shift:
    """Partial cover taken: split the slot into pieces with their own holders.

    The rule: the existing row keeps its start (and so its UID, its place among the slots of
    its shift and its partner found by start) and becomes the FIRST piece; new rows are made
    for the later pieces. So when the part is at the start of the shift the existing row
    becomes the covered part (the colleague's; the requester gets a cancellation of it and a
    new entry for the rest), otherwise it is shortened and stays the requester's (an update
    with SEQUENCE+1). Every piece has its own start, so the unique (roster, start, role) and
    (roster, start, assignee) rules hold as before. Returns the covered piece."""
    part_start, part_end = request.part_start, request.part_end
    if not (shift.start <= part_start and part_end <= shift.end):
        raise SwapError("The shift's times changed meanwhile; nothing was swapped.")
    requester, colleague = request.requester_id, offer.candidate_id
    whole = shift.split_from_id or shift.pk
    whole_end = shift.end
    covering = {
        "summary": f"Covering part of the shift for {display_name(request.requester)}",
        "swap": request.pk,
        "manual": True,
    }
    later: list[tuple[datetime, datetime, int]] = []
    changes: list[tuple[Shift, int | None]] = [(shift, shift.assignee_id)]
    if part_start == shift.start:
        shift.assignee_id = colleague
        shift.reason = covering
        covered = shift
    else:
        shift.reason = {
            **shift.reason,
            "summary": f"Until {display_name(offer.candidate)} covers part of it",
            "swap": request.pk,
        }
        later.append((part_start, part_end, colleague))
        covered = None
    if part_end < whole_end:
        later.append((part_end, whole_end, requester))
    shift.end = later[0][0] if later else part_end
    shift.sequence += 1
    try:
        with transaction.atomic():
            shift.save(update_fields=["assignee", "end", "sequence", "reason"])
            for start, end, holder in later:
                piece = Shift.objects.create(
                    roster_id=shift.roster_id,
                    role=shift.role,
                    start=start,
                    end=end,
                    assignee_id=holder,
                    window_id=shift.window_id,
                    split_from_id=whole,
                    reason=covering
                    if holder == colleague
                    else {"summary": "The rest after the cover", "swap": request.pk},
                )
                changes.append((piece, None))
                if holder == colleague:
                    covered = piece
    except IntegrityError:
        raise SwapError(
            f"{display_name(offer.candidate)} already holds another slot starting then."
        ) from None
    Roster.objects.filter(pk=shift.roster_id).update(version=F("version") + 1)
    rotation = shift.roster.rotation
    audit(
        shift.roster,
        rotation,
        by,
        AuditEntry.Action.SWAP,
        f"{shift.get_role_display()}, part: {display_name(request.requester)} → "
        f"{display_name(offer.candidate)}",
        before={"shift": shift.pk, "assignee": requester, "end": whole_end.isoformat()},
        after={
            "shift": covered.pk,
            "assignee": colleague,
            "offer": offer.pk,
            "part_start": part_start.isoformat(),
            "part_end": part_end.isoformat(),
            "pieces": [s.pk for s, _ in changes],
        },
    )
    shifts_reassigned.send(sender=Shift, changes=changes)
    return covered


@transaction.atomic
def accept_offer(offer: SwapOffer, *, by: Actor, now: datetime | None = None) -> SwapRequest:
    """First accept wins; everyone after gets 'already taken by X'."""
    user = by
    now = now or timezone.now()
    offer = SwapOffer.objects.select_related("request__shift__roster__rotation", "candidate").get(
        pk=offer.pk
    )
    if offer.candidate_id != user.pk:
        raise SwapError("This offer was made to someone else.")
    request = offer.request
    if offer.status == SwapOffer.Status.ACCEPTED or request.winner_id == user.pk:
        return request  # a double click on the same accept
    if offer.status == SwapOffer.Status.DECLINED:
        raise SwapError("You declined this offer already.")
    if request.status == SwapRequest.Status.OPEN and offer.status == SwapOffer.Status.WITHDRAWN:
        raise SwapError(
            "This offer was withdrawn: you now hold another shift at that time, and nobody "
            "can be on two shifts at once."
        )
    if not request.is_open or offer.status == SwapOffer.Status.WITHDRAWN:
        raise AlreadyTaken(_taken_message(request))
    if request.cover_start <= now:
        raise SwapError(
            ("This part of the shift" if request.is_partial else "This shift")
            + " has already started; ask your manager."
        )
    if offer.expires_at is not None and offer.expires_at <= now:
        # Refused, not expired here: a refusal writes nothing (this transaction is rolled
        # back), so the sweeper expires it and asks the next fairest person on its next run.
        raise SwapError(
            f"This offer expired at {_in_zone(offer.expires_at, user)}, so it can't be "
            "accepted any more; the next person is being asked."
        )
    rotation = request.shift.roster.rotation
    _lock_rotation_of(request)
    # The conditional UPDATE is the lock: exactly one concurrent accept sees a row to change.
    next_status = (
        SwapRequest.Status.PENDING_APPROVAL
        if rotation.swaps_need_approval
        else SwapRequest.Status.DONE
    )
    won = SwapRequest.objects.filter(
        pk=request.pk, status=SwapRequest.Status.OPEN, winner__isnull=True
    ).update(status=next_status, winner=user, decided_at=now)
    if not won:
        request.refresh_from_db()
        if request.winner_id == user.pk:
            # Our own first click won while this one waited on the row: the same answer.
            return request
        raise AlreadyTaken(_taken_message(request))
    _require_still_live(request)
    _claim_time(request, offer.candidate, by=user, offer=offer)
    if problem := _still_eligible(request, offer.candidate, now=now):
        # Things changed since the offer (they were marked away, took a shift next to it):
        # the same rules that ranked them are asked again, now, under the locks.
        raise SwapError(f"You can't take it any more: {problem}. Nothing was swapped.")
    SwapOffer.objects.filter(pk=offer.pk).update(status=SwapOffer.Status.ACCEPTED, decided_at=now)
    request.refresh_from_db()
    _close_offers(request, reason="taken", now=now)
    _withdraw_overlapping_offers(user.pk, request, now=now)
    offer.refresh_from_db()
    if next_status == SwapRequest.Status.DONE:
        _apply(request, offer, by=user, now=now)
        swap_settled.send(sender=SwapRequest, request=request)
    else:
        swap_awaits_approval.send(sender=SwapRequest, request=request)
    return request


def _taken_message(request: SwapRequest) -> str:
    if (
        request.status in (SwapRequest.Status.DONE, SwapRequest.Status.PENDING_APPROVAL)
        and request.winner_id
    ):
        return f"Already taken by {display_name(request.winner)}. Thank you for offering."
    if request.status == SwapRequest.Status.CANCELLED and request.closed_reason == "republished":
        return (
            "The request was closed: the roster was published again, so check your calendar "
            "for the shift as it is now."
        )
    if request.status == SwapRequest.Status.CANCELLED:
        return "The request was cancelled: they can make it after all."
    return "This request is closed."


@transaction.atomic
def decline_offer(offer: SwapOffer, *, by: Actor, now: datetime | None = None) -> SwapOffer:
    """Declining asks the next fairest person at once (the rotation keeps its number of
    offers open); with nobody left to ask, the managers are told."""
    user = by
    now = now or timezone.now()
    # The request first, then the offer: the same order as an accept, so they never deadlock.
    SwapRequest.objects.select_for_update().filter(
        pk=SwapOffer.objects.filter(pk=offer.pk).values("request_id")[:1]
    ).first()
    offer = (
        SwapOffer.objects.select_for_update()
        .select_related("request__shift__roster__rotation")
        .get(pk=offer.pk)
    )
    if offer.candidate_id != user.pk:
        raise SwapError("This offer was made to someone else.")
    request = offer.request
    if offer.status == SwapOffer.Status.DECLINED:
        return offer
    if not request.is_open or offer.status != SwapOffer.Status.OFFERED:
        raise AlreadyTaken(_taken_message(request))
    offer.status = SwapOffer.Status.DECLINED
    offer.decided_at = now
    offer.save(update_fields=["status", "decided_at"])
    _top_up(request, now=now)
    return offer


@transaction.atomic
def cancel_request(request: SwapRequest, *, by: Actor, now: datetime | None = None) -> SwapRequest:
    user = by
    now = now or timezone.now()
    request = SwapRequest.objects.select_for_update().get(pk=request.pk)
    if request.requester_id != user.pk and not is_manager(
        user=user, team_id=request.shift.roster.rotation.team_id
    ):
        raise SwapError("Only the person who asked (or a manager) can cancel this request.")
    if request.status != SwapRequest.Status.OPEN:
        raise SwapError("This request is no longer open.")
    request.status = SwapRequest.Status.CANCELLED
    request.decided_at = now
    request.save(update_fields=["status", "decided_at"])
    _close_offers(request, reason="cancelled", now=now)
    swap_settled.send(sender=SwapRequest, request=request)
    return request


def _slot_rule(request: SwapRequest, candidate, *, override: bool, by) -> str | None:
    """The slot editor's rules for a swap decision: the candidate must be an active member of
    the team (no override crosses that), and an eligible member of the rotation per
    `check_slot` unless the manager explicitly overrides, which is then recorded."""
    rotation = request.shift.roster.rotation
    if not is_active_member(user_id=candidate.pk, team_id=rotation.team_id):
        raise Invalid(NOT_A_MEMBER, field="assign")
    if request.is_partial:
        rules = inputs.slot_rules(shift=request.shift, now=timezone.now(), part=_part_of(request))
        found = next((c for c in rules.candidates if c.person_id == candidate.pk), None)
        problem = (
            rules.problem(found)
            if found is not None
            else f"{display_name(candidate)} is not a member of the {rotation.name} rotation."
        )
    else:
        problem = check_slot(request.shift, candidate)
    if problem and not override:
        raise RuleBroken(problem + " Tick override to give them the shift anyway.")
    if problem:
        audit(
            request.shift.roster,
            rotation,
            by,
            AuditEntry.Action.OVERRIDE,
            f"Swap given to {display_name(candidate)} with override: {problem}",
            after={"shift": request.shift_id, "assignee": candidate.pk, "override": problem},
        )
    return problem


def _mark_override(shift: Shift, problem: str | None) -> None:
    if problem:
        shift = Shift.objects.get(pk=shift.pk)
        shift.overridden = True
        shift.reason = {**shift.reason, "override": problem}
        shift.save(update_fields=["overridden", "reason"])


def _lock_rotation_of(request: SwapRequest) -> None:
    """Take the rotation's row first, as publishing does: an accept, approval or assignment
    and a re-publish of the month then queue behind each other instead of deadlocking (the
    accept held the request and wanted the roster; the publish held the roster and wanted the
    request -- red-team finding). FOR NO KEY UPDATE: rows that merely reference the rotation
    are not held up."""
    rotation_id = (
        SwapRequest.objects.filter(pk=request.pk)
        .values_list("shift__roster__rotation_id", flat=True)
        .first()
    )
    Rotation.objects.select_for_update(no_key=True).filter(pk=rotation_id).first()


def _locked_for_manager(request: SwapRequest, by: Actor, refusal: str) -> SwapRequest:
    """The request, locked for this transaction, once `by` is known to manage its team."""
    _lock_rotation_of(request)
    request = (
        SwapRequest.objects.select_for_update()
        .select_related("shift__roster__rotation")
        .get(pk=request.pk)
    )
    require_manager(by, request.shift.roster.rotation.team_id, refusal)
    return request


@transaction.atomic
def approve_swap(
    request: SwapRequest,
    *,
    by: Actor,
    approve: bool,
    override: bool = False,
    now: datetime | None = None,
) -> SwapRequest:
    manager = by
    now = now or timezone.now()
    request = _locked_for_manager(request, by, "Only a manager of this team can approve swaps.")
    if request.status != SwapRequest.Status.PENDING_APPROVAL:
        raise SwapError("This swap is not waiting for approval.")
    offer = request.offers.get(status=SwapOffer.Status.ACCEPTED)
    if approve:
        _require_still_live(request)
        # The rules are checked when the shift moves: things may have changed since the offer.
        problem = _slot_rule(request, offer.candidate, override=override, by=manager)
        _claim_time(request, offer.candidate, by=manager, offer=offer)
        request.status = SwapRequest.Status.DONE
        request.save(update_fields=["status"])
        _mark_override(_apply(request, offer, by=manager, now=now), problem)
    else:
        offer.status = SwapOffer.Status.DECLINED
        offer.save(update_fields=["status"])
        request.status = SwapRequest.Status.OPEN
        request.winner = None
        request.save(update_fields=["status", "winner"])
        swap_rejected.send(sender=SwapRequest, request=request, offer=offer)
        _top_up(request, now=now)
        return request
    swap_settled.send(sender=SwapRequest, request=request)
    return request


@transaction.atomic
def assign_from_request(
    request: SwapRequest,
    candidate,
    *,
    by: Actor,
    override: bool = False,
    now: datetime | None = None,
) -> SwapRequest:
    """The managers' one click near the deadline: give the shift to a ranked candidate.

    The same rules as the slot editor: an eligible member of the rotation, or an explicit
    override that is recorded on the shift and in the audit log."""
    manager = by
    now = now or timezone.now()
    request = _locked_for_manager(request, by, "Only a manager of this team can assign.")
    if request.status != SwapRequest.Status.OPEN:
        raise AlreadyTaken(_taken_message(request))
    _require_still_live(request)
    if candidate.pk == request.requester_id:
        # Even with an override: "covering" someone with themselves splits the shift into
        # pieces they all still hold and tells everyone a swap happened.
        raise SwapError(
            f"{display_name(candidate)} asked for this cover; choose someone else, or cancel "
            "the request if they can make it after all."
        )
    problem = _slot_rule(request, candidate, override=override, by=manager)
    _claim_time(request, candidate, by=manager)
    offer, _ = SwapOffer.objects.get_or_create(
        request=request,
        candidate=candidate,
        defaults={
            "rank": request.offers.count() + 1,
            "reason": {"summary": "Assigned by a manager"},
        },
    )
    _close_offers(request, reason="assigned", now=now, keep=offer)
    offer.status = SwapOffer.Status.ACCEPTED
    offer.decided_at = now
    offer.reason = {**offer.reason, "assigned_by": manager.pk}
    offer.save(update_fields=["status", "decided_at", "reason"])
    request.status = SwapRequest.Status.DONE
    request.winner = candidate
    request.decided_at = now
    request.save(update_fields=["status", "winner", "decided_at"])
    _mark_override(_apply(request, offer, by=manager, now=now), problem)
    _withdraw_overlapping_offers(candidate.pk, request, now=now)
    swap_settled.send(sender=SwapRequest, request=request)
    return request


def _tell_managers(request: SwapRequest, *, now: datetime) -> None:
    if request.managers_told_at:
        return
    ranked, _ = rank_replacements(request.shift, now=now, part=_part_of(request))
    request.managers_told_at = now
    request.save(update_fields=["managers_told_at"])
    swap_needs_manager.send(sender=SwapRequest, request=request, candidates=ranked)


def sweep_deadlines(*, by: Actor, now: datetime | None = None) -> dict[str, int]:
    """Beat: move every open swap along so that none stalls.

    1. Requests whose shift has started with nobody found expire; their open offers are
       withdrawn (holders told) and the managers and the requester get an alert.
    2. Offers nobody answered in time expire.
    3. Every open request is topped up to the rotation's number of open offers (the next
       fairest people are asked); with nobody left to ask, or once the shift is within the
       rotation's deadline, the managers are told (once) with the ranked list.

    Returns counts by step. `by` is SYSTEM for the beat task.
    """
    now = now or timezone.now()
    counts = {"uncovered": 0, "offers_expired": 0, "asked": 0, "managers_told": 0}
    # A swap still waiting for a manager's approval when the shift starts is as uncovered
    # as one nobody took: the requester still holds it, so both are alerts, never silence.
    unsettled = (SwapRequest.Status.OPEN, SwapRequest.Status.PENDING_APPROVAL)
    started = SwapRequest.objects.filter(
        Q(part_start__isnull=True, shift__start__lte=now) | Q(part_start__lte=now),
        status__in=unsettled,
    )
    for request_id in started.values_list("pk", flat=True):
        with transaction.atomic():
            request = (
                SwapRequest.objects.select_for_update()
                .select_related("shift__roster__rotation")
                .filter(pk=request_id, status__in=unsettled)
                .first()
            )
            if request is None:
                continue
            request.status = SwapRequest.Status.EXPIRED
            request.decided_at = now
            request.save(update_fields=["status", "decided_at"])
            _close_offers(request, reason="expired", now=now)
            swap_uncovered.send(sender=SwapRequest, request=request)
            counts["uncovered"] += 1
    counts["offers_expired"] = SwapOffer.objects.filter(
        status=SwapOffer.Status.OFFERED,
        request__status=SwapRequest.Status.OPEN,
        expires_at__lte=now,
    ).update(status=SwapOffer.Status.EXPIRED, decided_at=now)
    open_ids = SwapRequest.objects.filter(status=SwapRequest.Status.OPEN).values_list(
        "pk", flat=True
    )
    for request_id in list(open_ids):
        with transaction.atomic():
            request = (
                SwapRequest.objects.select_for_update()
                .select_related("shift__roster__rotation")
                .filter(pk=request_id, status=SwapRequest.Status.OPEN)
                .first()
            )
            if request is None:
                continue
            told = request.managers_told_at
            counts["asked"] += len(_top_up(request, now=now))
            if request.deadline <= now:
                _tell_managers(request, now=now)
            if told is None and request.managers_told_at is not None:
                counts["managers_told"] += 1
    return counts
