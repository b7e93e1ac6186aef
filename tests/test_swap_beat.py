"""Swaps that nobody answers, through a real worker and a real beat (1 s intervals): offers
expire, the next people are asked, then the managers are told; each e-mail exactly once."""

import time
from collections import Counter
from datetime import timedelta

import pytest

from notifications.models import Delivery, Kind
from planning import swaps
from rotation.models import SwapOffer
from tests.notifications_support import FAST_HASHERS
from tests.services import eventually
from tests.swap_support import published_team

pytestmark = [pytest.mark.worker, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def subjects(sink) -> Counter:
    with sink.lock:
        return Counter((m["To"], m["Subject"]) for m in sink.messages)


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


def test_an_unanswered_swap_asks_the_next_people_then_tells_the_managers_once(
    celery_worker, celery_beat, smtp_server
):
    team = published_team(size=6, offers_at_once=1, swap_deadline_hours=0)
    team["rotation"].swap_answer_time = timedelta(seconds=2)
    team["rotation"].save()
    shift = first_primary(team)
    eligible = [r.user_id for r in swaps.rank_replacements(shift)[0]]
    assert len(eligible) >= 2

    request = swaps.request_swap(shift, by=shift.assignee)

    def managers_told():
        return Delivery.objects.filter(
            swap_request=request, kind=Kind.SWAP_NO_TAKER, status="sent"
        ).exists()

    assert eventually(managers_told, timeout=60), "the managers were never told"
    offers = list(request.offers.select_related("candidate").order_by("rank"))
    assert [o.candidate_id for o in offers] == eligible  # each asked in turn, fairest first
    assert {o.status for o in offers} == {SwapOffer.Status.EXPIRED}
    time.sleep(3)  # a few more beat ticks change nothing
    sent = subjects(smtp_server)
    asks = [k for k in sent if k[1].startswith("Can you take")]
    assert sorted(to for to, _ in asks) == sorted(o.candidate.email for o in offers)
    no_taker = [k for k in sent if k[1].startswith("No taker yet")]
    assert [to for to, _ in no_taker] == [team["boss"].email]
    assert all(count == 1 for count in sent.values()), sent


def test_a_decline_asks_the_next_person_at_once(celery_worker, smtp_server):
    team = published_team(size=8, offers_at_once=1)
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    first = request.offers.select_related("candidate").get()
    swaps.decline_offer(first, by=first.candidate)
    second = request.offers.select_related("candidate").get(status="offered")
    assert second.rank == 2

    def asked(user):
        return lambda: any(
            to == user.email and s.startswith("Can you take") for to, s in subjects(smtp_server)
        )

    assert eventually(asked(second.candidate), timeout=30)
