"""Partial cover on the pages: 'only part of it' on the can't-make-it page (times in the
reader's zone, named), the offer page names the part, and every page touched costs the same
queries for 5 or 50 people."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onehand.links import make_token
from planning import swaps
from rotation.models import Person, SwapRequest
from tests.partial_support import MARCH_2027, THURSDAY_EVENING, at, published_team, week_shift

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"


def cant_make_it_link(shift):
    token = make_token("cant-make-it", shift.assignee_id, shift.pk)
    return f"/shifts/{shift.pk}/cant-make-it/?t={token}", token


def offer_link(offer):
    token = make_token("swap-offer", offer.candidate_id, offer.pk)
    return f"/offers/{offer.pk}/?t={token}", token


@time_machine.travel(NOW)
def test_the_page_offers_only_part_of_it_with_times_in_the_readers_zone(client):
    shift = week_shift(published_team())
    Person.objects.filter(user=shift.assignee).update(time_zone="America/New_York")
    page = client.get(cant_make_it_link(shift)[0]).content.decode()
    assert "Only part of it" in page
    assert 'name="part_from"' in page and "Part from <small>(America/New_York)" in page
    assert 'value="2026-12-07T04:00"' in page  # 09:00 UTC is 04:00 in New York


@time_machine.travel(NOW)
def test_asking_for_an_evening_from_the_page_opens_a_part_request(client):
    shift = week_shift(published_team())
    url, token = cant_make_it_link(shift)
    response = client.post(
        url,
        {
            "t": token,
            "cover": "part",
            "part_from": "2026-12-10T18:00",
            "part_to": "2026-12-10T23:00",
        },
    )
    assert response.status_code == 200
    request = SwapRequest.objects.get(shift=shift)
    assert (request.part_start, request.part_end) == THURSDAY_EVENING
    assert "Cover asked for only part of the shift" in response.content.decode()


@time_machine.travel(NOW)
def test_a_part_outside_the_shift_is_refused_on_the_page_in_words(client):
    shift = week_shift(published_team())
    url, token = cant_make_it_link(shift)
    response = client.post(
        url,
        {
            "t": token,
            "cover": "part",
            "part_from": "2026-12-15T18:00",
            "part_to": "2026-12-15T23:00",
        },
    )
    assert response.status_code == 400
    assert "must lie inside the shift" in response.content.decode()
    assert not SwapRequest.objects.exists()


@time_machine.travel("2027-02-20 12:00Z")
def test_an_hour_the_clocks_skip_is_refused_in_words(client):
    team = published_team(period=MARCH_2027)
    shift = team["roster"].shifts.get(role="primary", start=at("2027-03-22 09:00"))
    Person.objects.filter(user=shift.assignee).update(time_zone="Europe/London")
    url, token = cant_make_it_link(shift)
    response = client.post(
        url,
        {
            "t": token,
            "cover": "part",
            "part_from": "2027-03-28T01:30",
            "part_to": "2027-03-28T09:00",
        },
    )
    assert response.status_code == 400
    assert "01:30 on Sun 28 Mar 2027 does not exist in Europe/London" in response.content.decode()


@time_machine.travel(NOW)
def test_the_offer_page_names_the_part_not_the_week(client):
    shift = week_shift(published_team())
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offer = request.offers.first()
    page = client.get(offer_link(offer)[0]).content.decode()
    assert "can't make part of their" in page
    assert "Thu 10 Dec 2026, 18:00" in page and "Thu 10 Dec, 23:00" in page


@time_machine.travel(NOW)
def test_accepting_a_part_from_the_offer_page_says_so(client):
    shift = week_shift(published_team())
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offer = request.offers.first()
    url, token = offer_link(offer)
    response = client.post(url, {"t": token, "action": "accept"})
    assert "You took that part of the shift." in response.content.decode()


# ------------------------------------------------------------------ flat query counts


def queries(client, url, user=None):
    if user is not None:
        client.force_login(user)
    client.get(url)  # the first request may fill caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def split_team(size):
    """A week split by partial cover, and a part of the next week still asked for (the
    rotation allows back-to-back shifts so that five people leave someone to ask)."""
    team = published_team(size, no_back_to_back=False)
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offer = request.offers.select_related("candidate").order_by("rank").first()
    swaps.accept_offer(offer, by=offer.candidate)
    second = team["roster"].shifts.get(role="primary", start=at("2026-12-14 09:00"))
    open_request = swaps.request_swap(
        second, part=(at("2026-12-17 18:00"), at("2026-12-17 23:00")), by=second.assignee
    )
    asked = open_request.offers.first()
    assert asked is not None
    return team, shift, offer.candidate, second, asked


PAGES = {
    "requester's home": lambda t, shift, colleague, second, offer: ("/", shift.assignee),
    "colleague's home": lambda t, shift, colleague, second, offer: ("/", colleague),
    "can't make it (part asked)": lambda t, shift, colleague, second, offer: (
        cant_make_it_link(second)[0],
        None,
    ),
    "offer of a part": lambda t, shift, colleague, second, offer: (offer_link(offer)[0], None),
    "colleague's feed": lambda t, shift, colleague, second, offer: (
        f"/calendar/{colleague.person.feed_token}.ics",
        None,
    ),
    "rotation page": lambda t, shift, colleague, second, offer: (
        f"/rotations/{t['rotation'].pk}/",
        t["boss"],
    ),
    "roster": lambda t, shift, colleague, second, offer: (
        f"/rosters/{t['roster'].pk}/",
        t["boss"],
    ),
}


@pytest.mark.parametrize("page", PAGES)
@time_machine.travel(NOW, tick=False)
def test_a_page_with_split_shifts_costs_the_same_queries_for_5_or_50_people(client, page):
    counts = []
    for size in (5, 50):
        client.logout()
        url, user = PAGES[page](*split_team(size))
        counts.append(queries(client, url, user))
    assert counts[0] == counts[1], counts
