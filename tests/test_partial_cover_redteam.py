"""Partial cover, as an outside red team broke it: one person on two slots at once, requests
outliving a re-publish, impossible times, late accepts and a Wednesday nobody could take."""

import pytest
import time_machine
from django.core import mail as outbox_mail
from rest_framework.test import APIClient

from availability import services as availability
from notifications import dispatch
from onehand.errors import Invalid, RuleBroken
from planning import services as planning_services
from planning import swaps
from rotation import services
from rotation.models import Roster, Shift, SwapOffer, SwapRequest
from tests.partial_support import at, published_team, week_shift

pytestmark = pytest.mark.django_db
NOW = "2026-11-25 12:00Z"
PRIMARY_EVENING = (at("2026-12-10 18:00"), at("2026-12-10 21:00"))
SECONDARY_EVENING = (at("2026-12-10 19:00"), at("2026-12-10 22:00"))


def two_overlapping_requests(team):
    """The week's primary asks cover for 18–21, its secondary for 19–22 on Thursday: someone
    asked for both must not end up holding both."""
    primary, secondary = week_shift(team), week_shift(team, "secondary")
    first = swaps.request_swap(primary, part=PRIMARY_EVENING, by=primary.assignee)
    second = swaps.request_swap(secondary, part=SECONDARY_EVENING, by=secondary.assignee)
    asked_for_both = {o.candidate_id: o for o in first.offers.all()}.keys() & {
        o.candidate_id for o in second.offers.all()
    }
    assert asked_for_both, "the story needs a colleague asked for both evenings"
    colleague = sorted(asked_for_both)[0]
    return (
        first.offers.select_related("candidate").get(candidate_id=colleague),
        second.offers.select_related("candidate").get(candidate_id=colleague),
    )


def holders_at(team, when):
    return set(
        Shift.objects.filter(
            roster__rotation=team["rotation"],
            roster__status=Roster.Status.PUBLISHED,
            start__lte=when,
            end__gt=when,
        ).values_list("role", "assignee_id")
    )


def evening_asked(team):
    """The week's primary asks cover for Thursday evening; returns the shift, the request and
    the first colleague's offer."""
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=PRIMARY_EVENING, by=shift.assignee)
    return shift, request, request.offers.select_related("candidate").first()


@time_machine.travel(NOW)
def test_taking_one_evening_withdraws_the_colleagues_offer_for_the_overlapping_one():
    team = published_team(offers_at_once=8)
    first, second = two_overlapping_requests(team)
    swaps.accept_offer(first, by=first.candidate)
    second.refresh_from_db()
    assert second.status == SwapOffer.Status.WITHDRAWN


@time_machine.travel(NOW)
def test_a_colleague_cannot_take_primary_and_secondary_of_the_same_evening():
    team = published_team(offers_at_once=8)
    first, second = two_overlapping_requests(team)
    swaps.accept_offer(first, by=first.candidate)
    with pytest.raises(swaps.SwapError, match="another shift at that time"):
        swaps.accept_offer(second, by=second.candidate)
    roles = {
        role for role, who in holders_at(team, at("2026-12-10 19:30")) if who == first.candidate_id
    }
    assert roles == {"primary"}


@time_machine.travel(NOW)
def test_a_manager_cannot_assign_the_overlapping_evening_to_who_holds_the_other():
    team = published_team(offers_at_once=8)
    first, second = two_overlapping_requests(team)
    swaps.accept_offer(first, by=first.candidate)
    with pytest.raises(RuleBroken, match="on another shift"):
        swaps.assign_from_request(second.request, first.candidate, by=team["boss"])
    assert SwapRequest.objects.get(pk=second.request_id).status == SwapRequest.Status.OPEN


# ------------------------------------------------------------------ a re-publish closes requests


def publish_again(team):
    draft = planning_services.draft_roster(
        team["rotation"], team["roster"].period_start, team["roster"].period_end, by=team["boss"]
    )
    return services.publish_roster(draft, by=team["boss"])


@time_machine.travel(NOW)
def test_publishing_the_month_again_closes_an_open_part_request_with_the_reason():
    team = published_team()
    shift, request, _ = evening_asked(team)
    publish_again(team)
    request.refresh_from_db()
    assert (request.status, request.closed_reason) == ("cancelled", "republished")
    assert not request.offers.filter(status=SwapOffer.Status.OFFERED).exists()


@time_machine.travel(NOW)
def test_an_offer_on_a_replaced_roster_cannot_be_accepted():
    team = published_team()
    shift, request, offer = evening_asked(team)
    # As if the request had survived the re-publish (a request from before this fix).
    Roster.objects.filter(pk=shift.roster_id).update(status=Roster.Status.SUPERSEDED)
    with pytest.raises(swaps.SwapError, match="published again"):
        swaps.accept_offer(offer, by=offer.candidate)
    assert Shift.objects.get(pk=shift.pk).end == shift.end


@time_machine.travel(NOW)
def test_a_manager_cannot_assign_a_request_on_a_replaced_roster():
    team = published_team()
    shift, request, offer = evening_asked(team)
    Roster.objects.filter(pk=shift.roster_id).update(status=Roster.Status.SUPERSEDED)
    with pytest.raises(swaps.SwapError, match="published again"):
        swaps.assign_from_request(request, offer.candidate, by=team["boss"])


# ------------------------------------------------------------------ impossible times are 400s


def ask_by_api(team, start, end):
    shift = week_shift(team)
    api = APIClient()
    api.force_authenticate(shift.assignee)
    return api.post(
        "/api/swaps/", {"shift": shift.pk, "part_start": start, "part_end": end}, format="json"
    )


@pytest.mark.parametrize(
    "start",
    ["2026-02-30T18:00:00+00:00", "2026-12-10T18:00:00+24:00", "2026-12-10T18:00:00+99:00"],
)
@time_machine.travel(NOW)
def test_an_impossible_part_time_in_the_api_is_refused_in_words(start):
    answer = ask_by_api(published_team(), start, "2026-12-10T23:00:00+00:00")
    assert answer.status_code == 400
    assert "not a real time" in str(answer.json())


@pytest.mark.parametrize("part_from", ["2026-02-30T10:00", "2026-12-10T18:00+24:00"])
@time_machine.travel(NOW)
def test_an_impossible_part_time_on_the_page_is_refused_in_words(client, part_from):
    team = published_team()
    shift = week_shift(team)
    client.force_login(shift.assignee)
    page = client.post(
        f"/shifts/{shift.pk}/cant-make-it/",
        {"cover": "part", "part_from": part_from, "part_to": "2026-12-10T23:00"},
    )
    assert page.status_code == 400
    assert "not a real time" in page.content.decode()


@time_machine.travel(NOW)
def test_a_refused_part_keeps_only_part_of_it_chosen_with_the_times_typed(client):
    team = published_team()
    shift = week_shift(team)
    client.force_login(shift.assignee)
    page = client.post(
        f"/shifts/{shift.pk}/cant-make-it/",
        {"cover": "part", "part_from": "2026-12-10T23:00", "part_to": "2026-12-10T18:00"},
    ).content.decode()
    assert 'value="part" id="cover-part" checked' in page
    assert 'value="whole" checked' not in page
    assert 'value="2026-12-10T23:00"' in page and 'value="2026-12-10T18:00"' in page
    assert not SwapRequest.objects.filter(shift=shift).exists()


# ------------------------------------------------------------------ a Wednesday part


@time_machine.travel(NOW)
def test_a_colleague_holding_the_next_week_is_offered_a_wednesday_part():
    team = published_team()
    shift = Shift.objects.get(roster=team["roster"], role="primary", start=at("2026-12-14 09:00"))
    next_week = Shift.objects.get(
        roster=team["roster"], role="primary", start=at("2026-12-21 09:00")
    )
    ranked, blocked = swaps.rank_replacements(
        shift, part=(at("2026-12-16 08:00"), at("2026-12-16 13:00"))
    )
    assert next_week.assignee_id in {r.user_id for r in ranked}, blocked.get(next_week.assignee_id)


@time_machine.travel(NOW)
def test_the_whole_week_is_still_back_to_back_with_the_next():
    team = published_team()
    shift = Shift.objects.get(roster=team["roster"], role="primary", start=at("2026-12-14 09:00"))
    next_week = Shift.objects.get(
        roster=team["roster"], role="primary", start=at("2026-12-21 09:00")
    )
    _, blocked = swaps.rank_replacements(shift)
    assert "back-to-back" in blocked[next_week.assignee_id]


# ------------------------------------------------------------------ repeats and late accepts


@time_machine.travel(NOW)
def test_the_same_part_asked_twice_by_api_returns_the_one_request():
    team = published_team()
    first = ask_by_api(team, "2026-12-10T18:00:00+00:00", "2026-12-10T21:00:00+00:00")
    again = ask_by_api(team, "2026-12-10T18:00:00+00:00", "2026-12-10T21:00:00+00:00")
    assert again.status_code in (200, 201), again.json()
    assert again.json()["id"] == first.json()["id"]


@time_machine.travel(NOW)
def test_a_whole_shift_request_while_a_part_is_open_is_refused_by_the_services_words():
    team = published_team()
    ask_by_api(team, "2026-12-10T18:00:00+00:00", "2026-12-10T21:00:00+00:00")
    shift = week_shift(team)
    api = APIClient()
    api.force_authenticate(shift.assignee)
    answer = api.post("/api/swaps/", {"shift": shift.pk}, format="json")
    assert answer.status_code == 409
    assert "already asked cover for part of this shift" in str(answer.json())


@pytest.mark.parametrize("part", [PRIMARY_EVENING, None])
def test_an_offer_past_its_expiry_cannot_be_accepted(part):
    with time_machine.travel(NOW):
        team = published_team()
        shift = week_shift(team)
        request = swaps.request_swap(shift, part=part, by=shift.assignee)
        offer = request.offers.select_related("candidate").first()
    with time_machine.travel(offer.expires_at):
        with pytest.raises(swaps.SwapError, match="expired"):
            swaps.accept_offer(offer, by=offer.candidate)
    assert SwapRequest.objects.get(pk=request.pk).status == SwapRequest.Status.OPEN


# ------------------------------------------------------------------ wording


def sent_mail() -> list:
    outbox_mail.outbox.clear()
    dispatch.sweep(grace=0)
    return list(outbox_mail.outbox)


@time_machine.travel(NOW)
def test_no_longer_needed_for_a_part_says_part_of_and_the_parts_time():
    team = published_team(offers_at_once=2)
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=PRIMARY_EVENING, by=shift.assignee)
    first, second = request.offers.select_related("candidate").order_by("rank")[:2]
    swaps.accept_offer(first, by=first.candidate)
    closed = [m for m in sent_mail() if m.to == [second.candidate.email]]
    assert [m.subject for m in closed] == [
        f"No longer needed: part of {team['rotation'].name} primary, Thu 10 Dec 2026 18:00 UTC"
    ]
    assert "take part of" in closed[0].body


@time_machine.travel(NOW)
def test_the_requester_hears_their_request_closed_because_the_month_was_published_again():
    team = published_team()
    shift = week_shift(team)
    swaps.request_swap(shift, part=PRIMARY_EVENING, by=shift.assignee)
    publish_again(team)
    told = [m for m in sent_mail() if m.to == [shift.assignee.email]]
    assert any("published again" in m.body for m in told), [m.subject for m in told]


@time_machine.travel(NOW)
def test_the_cant_make_it_page_of_a_piece_says_it_is_part_of_a_shift(client):
    team = published_team()
    shift, request, offer = evening_asked(team)
    swaps.accept_offer(offer, by=offer.candidate)
    piece = Shift.objects.get(split_from=shift, assignee=offer.candidate)
    client.force_login(offer.candidate)
    page = client.get(f"/shifts/{piece.pk}/cant-make-it/").content.decode()
    assert "part of a longer shift" in page


@time_machine.travel(NOW)
def test_a_colleague_marked_away_after_the_offer_cannot_accept_the_part():
    team = published_team()
    shift, request, offer = evening_asked(team)
    availability.mark(
        *PRIMARY_EVENING, "unavailable", reason="Dentist", enforce_lock=False, by=offer.candidate
    )
    with pytest.raises(swaps.SwapError, match="can't take it any more"):
        swaps.accept_offer(offer, by=offer.candidate)
    assert Shift.objects.get(pk=shift.pk).end == shift.end


@time_machine.travel(NOW)
def test_an_offer_closed_by_a_republish_says_the_roster_was_published_again():
    team = published_team()
    shift, request, offer = evening_asked(team)
    publish_again(team)
    with pytest.raises(swaps.SwapError, match="published again"):
        swaps.accept_offer(offer, by=offer.candidate)


@time_machine.travel(NOW)
def test_a_part_that_starts_and_ends_at_once_asks_for_its_end():
    team = published_team()
    shift = week_shift(team)
    with pytest.raises(Invalid, match="same time"):
        swaps.request_swap(shift, part=(PRIMARY_EVENING[0], PRIMARY_EVENING[0]), by=shift.assignee)


@time_machine.travel(NOW)
@pytest.mark.parametrize("who", ["²", "①", "¹²"])
def test_an_assign_link_naming_someone_in_other_digits_names_nobody(client, who):
    team = published_team()
    shift, request, _ = evening_asked(team)
    client.force_login(team["boss"])

    response = client.get(f"/swaps/{request.pk}/assign/", {"candidate": who})

    assert response.status_code < 500


@time_machine.travel(NOW)
def test_a_manager_cannot_assign_a_part_to_the_person_who_asked_for_cover():
    team = published_team()
    shift, request, _ = evening_asked(team)

    with pytest.raises(swaps.SwapError, match="asked for this cover"):
        swaps.assign_from_request(request, shift.assignee, by=team["boss"], override=True)

    assert Shift.objects.get(pk=shift.pk).end == shift.end
