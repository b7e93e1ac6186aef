"""Links from invites and emails: GET changes nothing; tampered, foreign, replayed or expired
links change nothing and say why."""

from datetime import timedelta

import pytest
import time_machine

from onehand.links import make_token
from planning import swaps
from rotation.models import Shift, SwapRequest
from tests.factories import engineer
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"


@pytest.fixture
def team():
    with time_machine.travel(NOW):
        yield published_team()


def shift_link(shift):
    token = make_token("cant-make-it", shift.assignee_id, shift.pk)
    return f"/shifts/{shift.pk}/cant-make-it/?t={token}"


@time_machine.travel(NOW)
def test_opening_the_cant_make_it_link_changes_nothing(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    response = client.get(shift_link(shift))
    assert response.status_code == 200
    assert b"Find a replacement" in response.content
    assert SwapRequest.objects.count() == 0


@time_machine.travel(NOW)
def test_posting_from_the_link_without_logging_in_opens_a_request(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    url = shift_link(shift)
    token = url.split("t=")[1]
    response = client.post(url, {"t": token, "reason": "Wedding"})
    assert response.status_code == 200
    assert SwapRequest.objects.filter(shift=shift, requester=shift.assignee).exists()


@time_machine.travel(NOW)
def test_a_tampered_link_is_refused(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    response = client.get(shift_link(shift)[:-3] + "abc")
    assert response.status_code == 403
    assert b"not valid" in response.content


@time_machine.travel(NOW)
def test_a_link_for_another_shift_is_refused(client, team):
    a, b = team["roster"].shifts.filter(role="primary")[:2]
    token = make_token("cant-make-it", a.assignee_id, a.pk)
    response = client.get(f"/shifts/{b.pk}/cant-make-it/?t={token}")
    assert response.status_code == 403


@time_machine.travel(NOW)
def test_someone_elses_link_while_logged_in_is_refused(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    client.force_login(engineer(team["team"]))
    response = client.post(shift_link(shift), {"t": shift_link(shift).split("t=")[1]})
    assert response.status_code == 403
    assert b"logged in as" in response.content
    assert SwapRequest.objects.count() == 0


def test_an_expired_link_is_refused(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    with time_machine.travel("2026-06-01 12:00Z"):
        url = shift_link(shift)
    with time_machine.travel(NOW):
        response = client.get(url)
    assert response.status_code == 403
    assert b"expired" in response.content


@time_machine.travel(NOW)
def test_a_link_for_a_shift_you_no_longer_hold_says_so(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    url = shift_link(shift)
    busy = set(
        team["roster"].shifts.filter(start=shift.start).values_list("assignee_id", flat=True)
    )
    other = next(p for p in team["people"] if p.pk not in busy)
    Shift.objects.filter(pk=shift.pk).update(assignee=other)
    assert client.get(url).status_code == 410


def _offer_link(offer):
    return f"/offers/{offer.pk}/?t={make_token('swap-offer', offer.candidate_id, offer.pk)}"


@time_machine.travel(NOW)
def test_opening_an_accept_link_changes_nothing(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
    response = client.get(_offer_link(offer) + "&action=accept")
    assert response.status_code == 200
    offer.refresh_from_db()
    assert offer.status == "offered"


@time_machine.travel(NOW)
def test_accepting_from_the_email_link_takes_the_shift(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
    url = _offer_link(offer)
    response = client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    assert response.status_code == 200
    shift.refresh_from_db()
    assert shift.assignee_id == offer.candidate_id


@time_machine.travel(NOW)
def test_a_replayed_accept_changes_nothing_more(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
    url = _offer_link(offer)
    client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    shift.refresh_from_db()
    sequence = shift.sequence
    again = client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    shift.refresh_from_db()
    assert again.status_code == 200 and shift.sequence == sequence


@time_machine.travel(NOW)
def test_a_late_accept_is_told_who_took_it(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    first, second = swaps.request_swap(shift, by=shift.assignee).offers.all()[:2]
    swaps.accept_offer(first, by=first.candidate)
    url = _offer_link(second)
    response = client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    assert response.status_code == 409
    assert b"Already taken by" in response.content


@time_machine.travel(NOW)
def test_an_accept_link_used_by_another_logged_in_user_is_refused(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
    client.force_login(shift.assignee)
    url = _offer_link(offer)
    response = client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    assert response.status_code == 403
    offer.refresh_from_db()
    assert offer.status == "offered"


@time_machine.travel(NOW)
def test_an_offer_token_cannot_act_on_another_offer(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    first, second = swaps.request_swap(shift, by=shift.assignee).offers.all()[:2]
    token = make_token("swap-offer", first.candidate_id, first.pk)
    response = client.post(f"/offers/{second.pk}/", {"t": token, "action": "accept"})
    assert response.status_code == 403


@time_machine.travel(NOW)
def test_a_cant_make_it_token_is_not_an_offer_token(client, team):
    shift = team["roster"].shifts.filter(role="primary").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
    token = make_token("cant-make-it", offer.candidate_id, offer.pk)
    response = client.post(f"/offers/{offer.pk}/", {"t": token, "action": "accept"})
    assert response.status_code == 403


def test_links_after_the_shift_started_cannot_accept(client, team):
    with time_machine.travel(NOW):
        shift = team["roster"].shifts.filter(role="primary").first()
        offer = swaps.request_swap(shift, by=shift.assignee).offers.first()
        url = _offer_link(offer)
    with time_machine.travel(shift.start + timedelta(hours=1)):
        response = client.post(url, {"t": url.split("t=")[1], "action": "accept"})
    assert response.status_code == 400
    assert b"already started" in response.content
