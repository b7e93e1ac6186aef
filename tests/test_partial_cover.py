"""Partial cover: 'I can't make Thursday evening' without giving up the week."""

import pytest
import time_machine
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from availability import services as availability
from planning import swaps
from rotation import backup
from rotation.models import AuditEntry, Shift, SwapOffer, Team
from rotation.permissions import SYSTEM
from tests.partial_support import THURSDAY_EVENING, at, published_team, week_shift

pytestmark = pytest.mark.django_db
User = get_user_model()
NOW = "2026-11-25 12:00Z"


def ask_for_the_evening(team, part=THURSDAY_EVENING):
    shift = week_shift(team)
    return shift, swaps.request_swap(shift, part=part, reason="Concert", by=shift.assignee)


def take(request):
    offer = request.offers.select_related("candidate").order_by("rank").first()
    swaps.accept_offer(offer, by=offer.candidate)
    return offer.candidate


def pieces(shift):
    """The slot's pieces in time order: (start, end, assignee id)."""
    rows = Shift.objects.filter(roster_id=shift.roster_id, role=shift.role)
    rows = rows.filter(start__lt=at("2026-12-14 09:00"), end__gt=at("2026-12-07 09:00"))
    return [(s.start, s.end, s.assignee_id) for s in rows.order_by("start")]


@time_machine.travel(NOW)
def test_asking_cover_for_an_evening_marks_only_the_evening_unavailable():
    team = published_team()
    shift, request = ask_for_the_evening(team)
    assert (request.part_start, request.part_end) == THURSDAY_EVENING
    away = availability.AvailabilityEntry.objects.get(user=shift.assignee)
    assert (away.start, away.end) == THURSDAY_EVENING
    assert request.offers.count() == 3


@time_machine.travel(NOW)
def test_taking_an_evening_splits_the_week_into_three_pieces():
    team = published_team()
    shift, request = ask_for_the_evening(team)
    requester = shift.assignee_id
    colleague = take(request)
    assert pieces(shift) == [
        (at("2026-12-07 09:00"), at("2026-12-10 18:00"), requester),
        (at("2026-12-10 18:00"), at("2026-12-10 23:00"), colleague.pk),
        (at("2026-12-10 23:00"), at("2026-12-14 09:00"), requester),
    ]


@time_machine.travel(NOW)
def test_the_original_row_keeps_its_start_and_gets_a_higher_sequence():
    team = published_team()
    shift, request = ask_for_the_evening(team)
    take(request)
    original = Shift.objects.get(pk=shift.pk)
    assert original.start == shift.start and original.sequence == shift.sequence + 1
    assert set(Shift.objects.filter(split_from=original).values_list("sequence", flat=True)) == {0}


@time_machine.travel(NOW)
def test_a_part_at_the_start_of_the_shift_gives_the_original_row_to_the_colleague():
    team = published_team()
    shift, request = ask_for_the_evening(
        team, part=(at("2026-12-07 09:00"), at("2026-12-07 17:00"))
    )
    colleague = take(request)
    assert pieces(shift) == [
        (at("2026-12-07 09:00"), at("2026-12-07 17:00"), colleague.pk),
        (at("2026-12-07 17:00"), at("2026-12-14 09:00"), shift.assignee_id),
    ]
    assert Shift.objects.get(pk=shift.pk).assignee_id == colleague.pk


@time_machine.travel(NOW)
def test_a_part_at_the_end_of_the_shift_makes_two_pieces():
    team = published_team()
    shift, request = ask_for_the_evening(
        team, part=(at("2026-12-13 09:00"), at("2026-12-14 09:00"))
    )
    colleague = take(request)
    assert pieces(shift) == [
        (at("2026-12-07 09:00"), at("2026-12-13 09:00"), shift.assignee_id),
        (at("2026-12-13 09:00"), at("2026-12-14 09:00"), colleague.pk),
    ]


@time_machine.travel(NOW)
def test_a_second_accept_of_a_part_is_told_who_took_it():
    team = published_team()
    _, request = ask_for_the_evening(team)
    first, second, _ = request.offers.select_related("candidate").order_by("rank")
    swaps.accept_offer(first, by=first.candidate)
    with pytest.raises(swaps.AlreadyTaken, match="Already taken by"):
        swaps.accept_offer(second, by=second.candidate)


@time_machine.travel(NOW)
def test_declining_a_part_asks_the_next_fairest_person():
    team = published_team()
    _, request = ask_for_the_evening(team)
    first = request.offers.select_related("candidate").order_by("rank").first()
    swaps.decline_offer(first, by=first.candidate)
    assert request.offers.filter(status=SwapOffer.Status.OFFERED).count() == 3
    assert request.offers.count() == 4


@time_machine.travel(NOW)
def test_an_offer_for_a_part_expires_before_the_part_begins_not_the_week():
    team = published_team()
    _, request = ask_for_the_evening(team)
    assert all(o.expires_at <= THURSDAY_EVENING[0] for o in request.offers.all())


@time_machine.travel(NOW)
def test_a_colleague_away_on_monday_only_is_still_asked_for_thursday_evening():
    team = published_team()
    shift = week_shift(team)
    free, _ = swaps.rank_replacements(shift)
    away = free[0].user_id
    availability.mark(
        at("2026-12-07 09:00"),
        at("2026-12-08 09:00"),
        "unavailable",
        enforce_lock=False,
        by=Shift.assignee.field.related_model.objects.get(pk=away),
    )
    _, blocked = swaps.rank_replacements(shift)
    assert away in blocked
    part, _ = swaps.rank_replacements(shift, part=THURSDAY_EVENING)
    assert away in {c.user_id for c in part}


@time_machine.travel(NOW)
def test_a_colleague_away_on_thursday_evening_is_not_asked():
    team = published_team()
    shift = week_shift(team)
    free, _ = swaps.rank_replacements(shift, part=THURSDAY_EVENING)
    away = next(p for p in team["people"] if p.pk == free[0].user_id)
    availability.mark(
        at("2026-12-10 17:00"), at("2026-12-10 20:00"), "unavailable", enforce_lock=False, by=away
    )
    ranked, blocked = swaps.rank_replacements(shift, part=THURSDAY_EVENING)
    assert away.pk not in {c.user_id for c in ranked}


@time_machine.travel(NOW)
def test_the_split_is_in_the_audit_log_with_the_part():
    team = published_team()
    _, request = ask_for_the_evening(team)
    take(request)
    entry = AuditEntry.objects.filter(action="swap", summary__contains="part").last()
    assert entry.after["part_start"] == THURSDAY_EVENING[0].isoformat()


@time_machine.travel(NOW)
def test_cancelling_a_part_request_leaves_the_week_whole():
    team = published_team()
    shift, request = ask_for_the_evening(team)
    swaps.cancel_request(request, by=shift.assignee)
    assert pieces(shift) == [(shift.start, shift.end, shift.assignee_id)]


@time_machine.travel(NOW)
def test_asking_again_for_a_different_part_is_refused_while_one_is_open():
    team = published_team()
    shift, _ = ask_for_the_evening(team)
    with pytest.raises(swaps.SwapError, match="cancel that request first"):
        swaps.request_swap(
            shift, part=(at("2026-12-11 18:00"), at("2026-12-11 23:00")), by=shift.assignee
        )


@time_machine.travel(NOW)
def test_a_manager_approves_a_part_and_the_week_splits():
    team = published_team(swaps_need_approval=True)
    shift, request = ask_for_the_evening(team)
    colleague = take(request)
    assert len(pieces(shift)) == 1
    swaps.approve_swap(request, approve=True, by=team["boss"])
    assert [p[2] for p in pieces(shift)] == [shift.assignee_id, colleague.pk, shift.assignee_id]


@time_machine.travel(NOW)
def test_nobody_taking_the_part_by_its_start_expires_the_request():
    team = published_team()
    _, request = ask_for_the_evening(team)
    with time_machine.travel("2026-12-10 18:01Z"):
        swaps.sweep_deadlines(by=team["boss"])
    request.refresh_from_db()
    assert request.status == "expired"


@time_machine.travel(NOW)
def test_a_part_request_stays_open_while_the_week_is_under_way():
    team = published_team()
    _, request = ask_for_the_evening(team)
    with time_machine.travel("2026-12-08 12:00Z"):
        swaps.sweep_deadlines(by=team["boss"])
    request.refresh_from_db()
    assert request.status == "open"


# ------------------------------------------------------------------ the API refuses in words


def ask_by_api(team, start: str, end: str):
    shift = week_shift(team)
    api = APIClient()
    api.force_authenticate(shift.assignee)
    return api.post(
        "/api/swaps/",
        {"shift": shift.pk, "part_start": start, "part_end": end},
        format="json",
    )


@time_machine.travel(NOW)
def test_the_api_takes_a_part_with_offsets():
    team = published_team()
    answer = ask_by_api(team, "2026-12-10T18:00:00+00:00", "2026-12-10T23:00:00+00:00")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["part_start"] == "2026-12-10T18:00:00Z"


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2026-12-14T18:00:00Z", "2026-12-14T23:00:00Z", "inside the shift"),
        ("2026-12-10T23:00:00Z", "2026-12-10T18:00:00Z", "ends before it starts"),
        ("2026-12-10T18:00:00Z", "2026-12-10T18:20:00Z", "at least 30 minutes"),
        ("2026-12-10T18:00:30Z", "2026-12-10T23:00:00Z", "whole minutes"),
        ("2026-12-10T18:00:00", "2026-12-10T23:00:00", "UTC offset"),
    ],
)
@time_machine.travel(NOW)
def test_a_bad_part_is_refused_in_words(start, end, words):
    team = published_team()
    answer = ask_by_api(team, start, end)
    assert answer.status_code == 400
    assert words in str(answer.json())


def test_a_part_already_begun_is_refused_in_words():
    with time_machine.travel(NOW):
        team = published_team()
    with time_machine.travel("2026-12-10 19:00Z"):
        answer = ask_by_api(team, "2026-12-10T18:00:00Z", "2026-12-10T23:00:00Z")
    assert answer.status_code == 400
    assert "already begun" in str(answer.json())


@time_machine.travel(NOW)
def test_a_part_with_only_one_end_is_refused_in_words():
    team = published_team()
    shift = week_shift(team)
    api = APIClient()
    api.force_authenticate(shift.assignee)
    answer = api.post(
        "/api/swaps/", {"shift": shift.pk, "part_start": "2026-12-10T18:00:00Z"}, format="json"
    )
    assert answer.status_code == 400
    assert "both the start and the end" in str(answer.json())


@time_machine.travel(NOW)
def test_a_split_week_survives_a_team_backup_and_restore():
    team = published_team()
    shift, request = ask_for_the_evening(team)
    take(request)
    first = backup.export_team(team["team"])
    Team.objects.get(pk=team["team"].pk).delete()
    User.objects.filter(username__in=[u["username"] for u in first["users"]]).delete()
    backup.import_team(first, by=SYSTEM)
    again = backup.export_team(Team.objects.get(slug=first["team"]["slug"]))
    assert again["tables"]["shifts"] == first["tables"]["shifts"]
    assert sum(1 for row in again["tables"]["shifts"] if row["split_from"]) == 2
