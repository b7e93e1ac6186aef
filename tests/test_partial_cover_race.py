"""Two colleagues take the same evening at the same moment: one wins, the week splits once."""

import pytest
import time_machine

from planning import services as planning_services
from planning import swaps
from rotation import services
from rotation.models import Shift, SwapRequest
from tests.partial_support import THURSDAY_EVENING, at, published_team, week_shift
from tests.race_support import at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_two_simultaneous_accepts_of_a_part_split_the_week_once(postgres):
    team = published_team(size=12, offers_at_once=6)
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offers = list(request.offers.select_related("candidate"))[:6]
    outcomes = at_once(
        [lambda o=o: swaps.accept_offer(o, by=o.candidate) for o in offers],
        success="won",
        refused=(swaps.AlreadyTaken,),
        refused_as="taken",
    )

    assert outcomes.count("won") == 1, outcomes
    assert all(o.startswith("taken: Already taken by") for o in outcomes if o != "won")
    request.refresh_from_db()
    pieces = Shift.objects.filter(roster=team["roster"], role="primary", split_from=shift)
    assert [p.assignee_id for p in pieces.order_by("start")] == [
        request.winner_id,
        shift.assignee_id,
    ]


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_one_colleague_accepting_two_overlapping_evenings_at_once_gets_only_one(postgres):
    team = published_team(offers_at_once=8)
    primary, secondary = week_shift(team), week_shift(team, "secondary")
    first = swaps.request_swap(
        primary, part=(at("2026-12-10 18:00"), at("2026-12-10 21:00")), by=primary.assignee
    )
    second = swaps.request_swap(
        secondary, part=(at("2026-12-10 19:00"), at("2026-12-10 22:00")), by=secondary.assignee
    )
    colleague = min(
        set(first.offers.values_list("candidate_id", flat=True))
        & set(second.offers.values_list("candidate_id", flat=True))
    )
    offers = [
        r.offers.select_related("candidate").get(candidate_id=colleague) for r in (first, second)
    ]
    outcomes = at_once(
        [lambda o=o: swaps.accept_offer(o, by=o.candidate) for o in offers],
        success="won",
        refused=(swaps.SwapError,),
    )
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "won"], outcomes
    held = Shift.objects.filter(
        assignee_id=colleague, start__lt=at("2026-12-10 22:00"), end__gt=at("2026-12-10 18:00")
    )
    assert held.count() == 1


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_an_accept_and_a_republish_at_once_queue_instead_of_deadlocking(postgres):
    team = published_team()
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offer = request.offers.select_related("candidate").first()
    draft = planning_services.draft_roster(
        team["rotation"], team["roster"].period_start, team["roster"].period_end, by=team["boss"]
    )

    outcomes = at_once(
        [
            lambda: swaps.accept_offer(offer, by=offer.candidate),
            lambda: services.publish_roster(draft, by=team["boss"]),
        ],
        success="done",
        refused=(swaps.SwapError,),
    )

    assert not [o for o in outcomes if o.startswith("error")], outcomes
    request.refresh_from_db()
    assert request.status in (SwapRequest.Status.DONE, SwapRequest.Status.CANCELLED)
