"""The offer page after an offer expired says what really happened next (F9)."""

from datetime import timedelta

import pytest
import time_machine

from onehand.links import make_token
from planning import swaps
from rotation.models import SwapOffer
from rotation.permissions import SYSTEM
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"


@pytest.fixture
def request_for_swap():
    with time_machine.travel(NOW):
        team = published_team(size=8, offers_at_once=1)
        shift = team["roster"].shifts.filter(role="primary").order_by("start").first()
        yield swaps.request_swap(shift, by=shift.assignee)


def _expire_open_offer(request) -> SwapOffer:
    offer = request.offers.get(status=SwapOffer.Status.OFFERED)
    swaps.sweep_deadlines(by=SYSTEM, now=offer.expires_at + timedelta(minutes=1))
    offer.refresh_from_db()
    return offer


def _page(client, offer) -> str:
    token = make_token("swap-offer", offer.candidate_id, offer.pk)
    with time_machine.travel(NOW):
        return client.get(f"/offers/{offer.pk}/?t={token}").content.decode()


def test_an_expired_offer_with_someone_next_says_the_next_person_was_asked(
    client, request_for_swap
):
    first = _expire_open_offer(request_for_swap)
    assert request_for_swap.offers.filter(status=SwapOffer.Status.OFFERED).exists()
    assert "we asked the next person" in _page(client, first)


def test_the_last_candidates_expired_offer_says_the_managers_were_told(client, request_for_swap):
    last = _expire_open_offer(request_for_swap)
    while request_for_swap.offers.filter(status=SwapOffer.Status.OFFERED).exists():
        last = _expire_open_offer(request_for_swap)
    request_for_swap.refresh_from_db()
    assert request_for_swap.managers_told_at is not None
    page = _page(client, last)
    assert "Nobody else has taken it, so the managers have been told." in page
    assert "next person" not in page
