"""Twenty people accept the same swap at the same moment: exactly one wins, on PostgreSQL."""

import pytest
import time_machine

from planning import swaps
from rotation.models import Shift, SwapOffer, SwapRequest
from tests.race_support import at_once
from tests.swap_support import published_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_twenty_simultaneous_accepts_make_exactly_one_winner(postgres):
    team = published_team(size=30, offers_at_once=20)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").last()
    request = swaps.request_swap(shift, by=shift.assignee)
    offers = list(request.offers.select_related("candidate"))
    assert len(offers) >= 20
    offers = offers[:20]
    outcomes = at_once(
        [lambda o=o: swaps.accept_offer(o, by=o.candidate) for o in offers],
        success="won",
        refused=(swaps.AlreadyTaken,),
        refused_as="taken",
    )

    assert outcomes.count("won") == 1, outcomes
    assert all(o.startswith("taken: Already taken by") for o in outcomes if o != "won"), outcomes
    request.refresh_from_db()
    assert request.status == "done"
    assert SwapOffer.objects.filter(request=request, status="accepted").count() == 1
    assert Shift.objects.get(pk=shift.pk).assignee_id == request.winner_id
    assert SwapRequest.objects.get(pk=request.pk).winner_id == request.winner_id


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_the_winner_double_clicking_accept_is_told_it_worked_both_times(postgres):
    team = published_team(size=10)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").last()
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.select_related("candidate").first()
    clicks = 2

    outcomes = at_once(
        [lambda: swaps.accept_offer(offer, by=offer.candidate)] * clicks, success="won"
    )

    assert outcomes == ["won", "won"], outcomes
    assert Shift.objects.get(pk=shift.pk).assignee_id == offer.candidate_id
