"""'I can't make it': fair offers, first accept wins, declines move on, managers step in."""

import pytest
import time_machine

from availability.models import AvailabilityEntry
from onehand.errors import Invalid, RuleBroken
from planning import swaps
from rotation.models import AuditEntry, Shift, SwapOffer, SwapRequest
from tests.factories import TeamFactory, engineer
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


@time_machine.travel(NOW)
def test_a_swap_request_marks_the_person_unavailable_and_asks_three_fair_candidates():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, reason="Dentist", by=shift.assignee)
    assert AvailabilityEntry.objects.filter(
        user=shift.assignee, start__lte=shift.start, end__gte=shift.end
    ).exists()
    offers = list(request.offers.all())
    assert len(offers) == 3
    assert shift.assignee_id not in {o.candidate_id for o in offers}
    assert [o.rank for o in offers] == [1, 2, 3]
    assert all(o.reason["summary"] for o in offers)


@time_machine.travel(NOW)
def test_candidates_are_asked_least_loaded_first():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    loads = [o.reason["projected"] for o in request.offers.order_by("rank")]
    assert loads == sorted(loads)


@time_machine.travel(NOW)
def test_nobody_on_the_same_shift_is_asked():
    team = published_team()
    shift = first_primary(team)
    partner = team["roster"].shifts.get(start=shift.start, role="secondary").assignee_id
    request = swaps.request_swap(shift, by=shift.assignee)
    assert partner not in set(request.offers.values_list("candidate_id", flat=True))


@time_machine.travel(NOW)
def test_first_accept_wins_and_the_others_are_told_who_took_it():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    first, second, _ = request.offers.select_related("candidate").all()
    swaps.accept_offer(first, by=first.candidate)
    shift.refresh_from_db()
    assert shift.assignee_id == first.candidate_id and shift.sequence == 1
    with pytest.raises(
        swaps.AlreadyTaken, match=f"Already taken by {first.candidate.get_full_name()}"
    ):
        swaps.accept_offer(second, by=second.candidate)
    assert SwapOffer.objects.filter(request=request, status="withdrawn").count() == 2


@time_machine.travel(NOW)
def test_the_swap_is_in_the_audit_log():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.first()
    swaps.accept_offer(offer, by=offer.candidate)
    assert AuditEntry.objects.filter(action="swap", roster=team["roster"]).count() == 2


@time_machine.travel(NOW)
def test_when_everyone_asked_declines_the_next_candidates_are_asked():
    team = published_team(size=12)
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    for offer in list(request.offers.all()):
        swaps.decline_offer(offer, by=offer.candidate)
    assert request.offers.filter(status="offered").count() >= 1
    assert request.offers.filter(status="declined").count() == 3


@time_machine.travel(NOW)
def test_when_nobody_is_left_the_managers_are_told(django_capture_on_commit_callbacks):
    from rotation.events import swap_needs_manager

    told = []
    swap_needs_manager.connect(
        lambda sender, request, candidates, **kw: told.append(request.pk),
        weak=False,
        dispatch_uid="t",
    )
    try:
        team = published_team(size=6)
        shift = first_primary(team)
        request = swaps.request_swap(shift, by=shift.assignee)
        for offer in list(request.offers.all()):
            swaps.decline_offer(offer, by=offer.candidate)
        assert told == [request.pk]
    finally:
        swap_needs_manager.disconnect(dispatch_uid="t")


@time_machine.travel(NOW)
def test_a_request_can_be_cancelled_while_open():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    swaps.cancel_request(request, by=shift.assignee)
    offer = request.offers.first()
    with pytest.raises(swaps.AlreadyTaken, match="cancelled"):
        swaps.accept_offer(offer, by=offer.candidate)


@time_machine.travel(NOW)
def test_asking_twice_opens_one_request():
    team = published_team()
    shift = first_primary(team)
    first = swaps.request_swap(shift, by=shift.assignee)
    second = swaps.request_swap(shift, by=shift.assignee)
    assert first.pk == second.pk and SwapRequest.objects.count() == 1


@time_machine.travel(NOW)
def test_with_approval_on_an_accepted_swap_waits_for_a_manager():
    team = published_team(swaps_need_approval=True)
    shift = first_primary(team)
    holder = shift.assignee_id
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.first()
    request = swaps.accept_offer(offer, by=offer.candidate)
    assert request.status == "pending"
    assert Shift.objects.get(pk=shift.pk).assignee_id == holder
    swaps.approve_swap(request, approve=True, by=team["boss"])
    assert Shift.objects.get(pk=shift.pk).assignee_id == offer.candidate_id


@time_machine.travel(NOW)
def test_a_manager_assigns_a_ranked_candidate_in_one_click():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    ranked, _ = swaps.rank_replacements(shift)
    chosen = next(p for p in team["people"] if p.pk == ranked[-1].user_id)
    swaps.assign_from_request(request, chosen, by=team["boss"])
    assert Shift.objects.get(pk=shift.pk).assignee_id == chosen.pk


@time_machine.travel(NOW)
def test_a_trade_swaps_both_shifts():
    team = published_team()
    shift = first_primary(team)
    mine = shift.assignee
    theirs = (
        team["roster"]
        .shifts.filter(role="primary")
        .exclude(assignee=mine)
        .exclude(start=shift.start)
        .order_by("-start")
        .first()
    )
    other = theirs.assignee
    if Shift.objects.filter(roster=team["roster"], start=shift.start, assignee=other).exists():
        pytest.skip("the other person already works the first shift")
    request = swaps.request_swap(shift, named=other, trade_shift=theirs, by=mine)
    swaps.accept_offer(request.offers.get(), by=other)
    assert Shift.objects.get(pk=shift.pk).assignee_id == other.pk
    assert Shift.objects.get(pk=theirs.pk).assignee_id == mine.pk


@time_machine.travel(NOW)
def test_the_swapped_shift_counts_as_load_for_whoever_worked_it():
    from planning.inputs import candidates_for, recommender_settings

    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.first()
    swaps.accept_offer(offer, by=offer.candidate)
    rotation = team["rotation"]
    with time_machine.travel("2027-01-10 12:00Z"):
        from django.utils import timezone

        people = {
            c.person_id: c
            for c in candidates_for(
                rotation,
                shift.start,
                shift.end,
                now=timezone.now(),
                settings=recommender_settings(rotation),
            )
        }
    assert people[offer.candidate_id].last_shift_end is not None


@time_machine.travel(NOW)
def test_the_api_requests_accepts_and_refuses_a_second_accept():
    from rest_framework.test import APIClient

    team = published_team()
    shift = first_primary(team)
    api = APIClient()
    api.force_authenticate(shift.assignee)
    created = api.post("/api/swaps/", {"shift": shift.pk, "reason": "Flu"}, format="json")
    assert created.status_code == 201, created.content
    first, second = created.json()["offers"][:2]
    for offer, expected in ((first, 200), (second, 409)):
        client = APIClient()
        client.force_authenticate(next(p for p in team["people"] if p.pk == offer["candidate"]))
        response = client.post(f"/api/offers/{offer['id']}/accept/")
        assert response.status_code == expected, response.content
    assert Shift.objects.get(pk=shift.pk).assignee_id == first["candidate"]


@time_machine.travel(NOW)
def test_the_api_will_not_let_you_swap_someone_elses_shift():
    from rest_framework.test import APIClient

    team = published_team()
    shift = first_primary(team)
    other = next(p for p in team["people"] if p.pk != shift.assignee_id)
    api = APIClient()
    api.force_authenticate(other)
    response = api.post("/api/swaps/", {"shift": shift.pk}, format="json")
    assert response.status_code == 409
    assert SwapRequest.objects.count() == 0


@time_machine.travel(NOW)
def test_offers_go_out_by_email_with_accept_and_decline_links(
    mailoutbox, django_capture_on_commit_callbacks
):
    team = published_team()
    shift = first_primary(team)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = swaps.request_swap(shift, by=shift.assignee)
    offers = {m.to[0]: m for m in mailoutbox if m.subject.startswith("Can you take")}
    assert set(offers) == {o.candidate.email for o in request.offers.select_related("candidate")}
    body = next(iter(offers.values())).body
    assert "&action=accept" in body and "&action=decline" in body


@time_machine.travel(NOW)
def test_the_requester_hears_who_took_the_shift(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        team = published_team()
    shift = first_primary(team)
    with django_capture_on_commit_callbacks(execute=True):
        request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.select_related("candidate").first()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        swaps.accept_offer(offer, by=offer.candidate)
    subjects = {(m.to[0], m.subject.split(":")[0]) for m in mailoutbox}
    assert (shift.assignee.email, "Swapped") in subjects
    assert (shift.assignee.email, "Cancelled") in subjects  # CANCEL of the old entry
    assert (offer.candidate.email, "Invitation") in subjects  # REQUEST to the new holder


@time_machine.travel(NOW)
def test_a_manager_cannot_give_a_swap_to_someone_outside_the_team():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    stranger = engineer(TeamFactory())
    with pytest.raises(Invalid):
        swaps.assign_from_request(request, stranger, override=True, by=team["boss"])
    assert Shift.objects.get(pk=shift.pk).assignee_id == request.requester_id


@time_machine.travel(NOW)
def test_giving_a_swap_to_a_team_member_outside_the_rotation_needs_a_recorded_override():
    team = published_team()
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    newcomer = engineer(team["team"])  # in the team, not in the rotation
    with pytest.raises(RuleBroken):
        swaps.assign_from_request(request, newcomer, by=team["boss"])
    swaps.assign_from_request(request, newcomer, override=True, by=team["boss"])
    moved = Shift.objects.get(pk=shift.pk)
    assert moved.assignee_id == newcomer.pk and moved.overridden
    assert AuditEntry.objects.filter(action="override", roster=team["roster"]).exists()


@time_machine.travel(NOW)
def test_approving_a_swap_checks_the_slot_rules_again():
    team = published_team(swaps_need_approval=True)
    shift = first_primary(team)
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.first()
    swaps.accept_offer(offer, by=offer.candidate)
    team["rotation"].rotation_members.filter(user=offer.candidate).delete()  # left meanwhile
    with pytest.raises(RuleBroken):
        swaps.approve_swap(request, approve=True, by=team["boss"])
    assert Shift.objects.get(pk=shift.pk).assignee_id == request.requester_id


def test_the_swap_decision_page_refuses_a_stranger_with_an_explanation(client):
    with time_machine.travel(NOW):
        team = published_team()
        shift = first_primary(team)
        request = swaps.request_swap(shift, by=shift.assignee)
        stranger = engineer(TeamFactory())
        client.force_login(team["boss"])
        response = client.post(f"/swaps/{request.pk}/decide/", {"assign": stranger.pk})
        assert response.status_code == 400
        assert b"not an active member" in response.content
        assert client.post(f"/swaps/{request.pk}/decide/", {"assign": "abc"}).status_code == 400
