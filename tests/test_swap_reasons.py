"""Why someone is asked to take a shift, in the plain words of the plan page: their place and
their share of a fair share, never the recommender's formula."""

import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import dispatch
from notifications.models import Delivery, Kind
from planning import swaps
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"
FORMULA = re.compile(r"L=|capacity|projected load")


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


@time_machine.travel(NOW)
def test_each_replacement_is_told_their_place_and_share_of_a_fair_share():
    team = published_team()
    ranked, _ = swaps.rank_replacements(first_primary(team))

    assert re.fullmatch(
        rf"#1 of {len(ranked)} who could take it; with this shift they would carry \d+% of a "
        r"fair share \(the lightest load is asked first\)",
        ranked[0].reason,
    )
    assert not any(FORMULA.search(r.reason) for r in ranked)


@time_machine.travel(NOW)
def test_the_managers_no_taker_mail_ranks_candidates_in_plain_words():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    Delivery.objects.create(
        kind=Kind.SWAP_NO_TAKER,
        user=team["boss"],
        shift=shift,
        channel="email",
        swap_request=request,
        action="note",
        next_attempt_at=timezone.now(),
    )
    mail.outbox.clear()

    dispatch.sweep(grace=0)

    body = next(m.body for m in mail.outbox if m.to == [team["boss"].email])
    assert "% of a fair share" in body
    assert not FORMULA.search(body)


@time_machine.travel(NOW)
def test_the_offer_page_says_why_you_in_plain_words(client):
    team = published_team()
    shift = first_primary(team)
    offer = swaps.request_swap(shift, by=shift.assignee).offers.order_by("rank").first()
    client.force_login(offer.candidate)

    page = client.get(f"/offers/{offer.pk}/").content.decode()

    assert "Why you: #1 of" in page and "% of a fair share" in page
    assert not FORMULA.search(page)
