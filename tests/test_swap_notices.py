"""Everyone concerned by a swap hears about it exactly once, with a notice of the right kind;
swaps never stall: unanswered offers expire, the next people are asked, managers are told."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import dispatch
from notifications.models import Delivery, Kind
from planning import swaps
from rotation.models import SwapOffer, SwapRequest
from rotation.permissions import SYSTEM
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


def notices(**filters) -> Counter:
    """(username, kind) -> how many rows the outbox holds."""
    rows = Delivery.objects.exclude(kind=Kind.ENTRY).filter(**filters)
    return Counter((d.user.username, d.kind) for d in rows.select_related("user"))


def send_all() -> list:
    mail.outbox.clear()
    dispatch.sweep(grace=0)
    return list(mail.outbox)


def mails_to(messages, user) -> list[str]:
    return [m.subject for m in messages if m.to == [user.email]]


@time_machine.travel(NOW)
def test_a_decline_asks_the_next_person_at_once():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    first = request.offers.order_by("rank").first()
    swaps.decline_offer(first, by=first.candidate)
    open_offers = request.offers.filter(status=SwapOffer.Status.OFFERED)
    assert open_offers.count() == 3
    assert open_offers.order_by("-rank").first().rank == 4


@time_machine.travel(NOW)
def test_when_a_swap_is_taken_everyone_concerned_gets_one_notice_of_their_own():
    team = published_team()
    shift = first_primary(team)
    requester = shift.assignee
    partner = team["roster"].shifts.get(start=shift.start, role="secondary").assignee
    request = swaps.request_swap(shift, by=requester)
    winner_offer, *others = request.offers.select_related("candidate").order_by("rank")
    swaps.accept_offer(winner_offer, by=winner_offer.candidate)
    winner = winner_offer.candidate
    expected = {
        (requester.username, Kind.SWAP_DONE): 1,
        (winner.username, Kind.SWAP_WON): 1,
        (partner.username, Kind.SWAP_PARTNER): 1,
        (team["boss"].username, Kind.SWAP_SUMMARY): 1,
        **{(o.candidate.username, Kind.SWAP_OFFER_CLOSED): 1 for o in others},
    }
    told = notices(swap_request=request)
    assert {k: v for k, v in told.items() if k[1] != Kind.SWAP_OFFER} == expected
    sent = send_all()
    closed = mails_to(sent, others[0].candidate)
    assert closed == [
        f"No longer needed: {shift.roster.rotation.name} primary, Mon 7 Dec 2026 09:00 UTC"
    ]
    body = next(m.body for m in sent if m.to == [others[0].candidate.email])
    assert f"{winner.get_full_name()} took it first" in body


@time_machine.travel(NOW)
def test_the_no_taker_mail_and_the_approval_mail_both_reach_the_manager():
    team = published_team(swaps_need_approval=True, offers_at_once=1)
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    SwapRequest.objects.filter(pk=request.pk).update(deadline=timezone.now())
    swaps.sweep_deadlines(by=SYSTEM)  # the shift is close and nobody took it yet
    subjects = mails_to(send_all(), team["boss"])
    offer = request.offers.get(status="offered")
    swaps.accept_offer(offer, by=offer.candidate)  # ... then someone does: it needs approval
    subjects += mails_to(send_all(), team["boss"])
    assert [s.split(":")[0] for s in subjects] == ["No taker yet", "Approve a swap"]


@time_machine.travel(NOW)
def test_candidates_of_a_cancelled_request_are_told_and_the_requester_gets_a_confirmation():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    candidates = [o.candidate for o in request.offers.select_related("candidate")]
    swaps.cancel_request(request, by=shift.assignee)
    told = notices(swap_request=request)
    assert told[(shift.assignee.username, Kind.SWAP_CANCELLED)] == 1
    for candidate in candidates:
        assert told[(candidate.username, Kind.SWAP_OFFER_CLOSED)] == 1
    sent = send_all()
    body = next(m.body for m in sent if m.to == [candidates[0].email])
    assert "cancelled the request: they can make it after all" in body


def test_unanswered_offers_expire_the_next_people_are_asked_then_the_managers_are_told():
    with time_machine.travel(NOW, tick=False) as clock:
        team = published_team(size=6, offers_at_once=1)
        rotation = team["rotation"]
        rotation.swap_answer_time = timedelta(hours=6)
        rotation.swap_deadline_hours = 0
        rotation.save()
        shift = first_primary(team)
        request = swaps.request_swap(shift, by=shift.assignee)
        eligible = len(swaps.rank_replacements(shift)[0])
        assert request.offers.get().expires_at == timezone.now() + timedelta(hours=6)
        for _ in range(eligible + 2):
            clock.shift(timedelta(hours=6, minutes=1))
            swaps.sweep_deadlines(by=SYSTEM)
        statuses = list(request.offers.values_list("status", flat=True))
        assert statuses == ["expired"] * eligible
        assert notices(swap_request=request) == Counter(
            {
                **{
                    (u, Kind.SWAP_OFFER): 1
                    for u in request.offers.values_list("candidate__username", flat=True)
                },
                (team["boss"].username, Kind.SWAP_NO_TAKER): 1,
            }
        )


def test_a_request_nobody_covered_before_the_shift_becomes_an_alert():
    with time_machine.travel(NOW, tick=False) as clock:
        team = published_team()
        shift = first_primary(team)
        request = swaps.request_swap(shift, by=shift.assignee)
        asked = list(request.offers.values_list("candidate__username", flat=True))
        clock.move_to(shift.start + timedelta(minutes=1))
        swaps.sweep_deadlines(by=SYSTEM)
        request.refresh_from_db()
        assert request.status == SwapRequest.Status.EXPIRED
        told = notices(swap_request=request)
        assert told[(team["boss"].username, Kind.SWAP_UNCOVERED)] == 1
        assert told[(shift.assignee.username, Kind.SWAP_UNCOVERED)] == 1
        assert all(told[(u, Kind.SWAP_OFFER_CLOSED)] == 1 for u in asked)
        sent = send_all()
        assert any(s.startswith("Not covered:") for s in mails_to(sent, team["boss"]))


@time_machine.travel(NOW)
def test_the_same_notice_is_never_written_twice_but_two_kinds_never_collide():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    row = dict(
        user=team["boss"],
        shift=shift,
        channel="email",
        swap_request=request,
        action="note",
        next_attempt_at=timezone.now(),
    )
    Delivery.objects.create(kind=Kind.SWAP_NO_TAKER, **row)
    Delivery.objects.create(kind=Kind.SWAP_APPROVAL, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(kind=Kind.SWAP_NO_TAKER, **row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(kind=Kind.SWAP_NO_TAKER, sequence=3, **row)  # entries only


@time_machine.travel(NOW)
def test_the_offer_email_gives_the_deadline_in_the_readers_zone_and_names_it():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.select_related("candidate__person").first()
    offer.candidate.person.time_zone = "Asia/Kolkata"
    offer.candidate.person.save()
    sent = send_all()
    body = next(m.body for m in sent if m.to == [offer.candidate.email])
    assert "Please answer by Thu 26 Nov 2026 17:30 IST (Asia/Kolkata)" in body
    assert "Mon 7 Dec 2026 14:30 – " in body


@time_machine.travel(NOW)
def test_the_manager_assigns_a_ranked_candidate_in_one_click_from_the_no_taker_email(client):
    team = published_team(offers_at_once=1)
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    SwapRequest.objects.filter(pk=request.pk).update(deadline=timezone.now())
    swaps.sweep_deadlines(by=SYSTEM)
    (no_taker,) = [m for m in send_all() if m.subject.startswith("No taker yet")]
    lines = no_taker.body.splitlines()
    links = [line.split("Assign: ", 1)[1] for line in lines if "Assign: " in line]
    first_link = links[1]  # the second fairest, not the one still asked
    path = first_link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{path}")  # no session: the signed link speaks for the manager
    assert page.status_code == 200
    candidate = page.context["candidate"]
    client.post(f"/{path.split('?')[0]}", {"t": page.context["token"], "candidate": candidate.pk})
    shift.refresh_from_db()
    assert shift.assignee == candidate
    assert notices(swap_request=request)[(team["boss"].username, Kind.SWAP_SUMMARY)] == 1
    asked = request.offers.select_related("candidate").get(status="withdrawn")
    body = next(m.body for m in send_all() if m.to == [asked.candidate.email])
    assert f"a manager gave it to {candidate.get_full_name()}" in body  # the one still asked


@time_machine.travel(NOW)
def test_a_swap_still_awaiting_approval_when_the_shift_starts_becomes_an_alert():
    with time_machine.travel(NOW, tick=False) as clock:
        team = published_team(swaps_need_approval=True, offers_at_once=1)
        shift = first_primary(team)
        request = swaps.request_swap(shift, by=shift.assignee)
        offer = request.offers.get(status="offered")
        swaps.accept_offer(offer, by=offer.candidate)  # taken, but nobody approves it
        clock.move_to(shift.start + timedelta(minutes=1))
        swaps.sweep_deadlines(by=SYSTEM)
        request.refresh_from_db()
        assert request.status == SwapRequest.Status.EXPIRED
        told = notices(swap_request=request)
        assert told[(team["boss"].username, Kind.SWAP_UNCOVERED)] == 1
        assert told[(shift.assignee.username, Kind.SWAP_UNCOVERED)] == 1
