"""Someone leaves a team (or a manager removes them): their upcoming shifts are not left with
a person nobody in the team can swap with, and no draft ranks them again."""

from datetime import date

import pytest
import time_machine
from rest_framework.test import APIClient

from onehand.dates import local_words
from onehand.errors import RuleBroken
from onehand.people import display_name
from planning import services as planning_services
from rotation import services
from rotation.models import Membership, Roster, RotationMember
from tests.factories import manager
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-12-09 12:00Z"


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def membership_of(team, user) -> Membership:
    return Membership.objects.get(team=team["team"], user=user)


def holder_of_an_upcoming_shift(team):
    return team["roster"].shifts.filter(start__gt=NOW).order_by("start").first().assignee


@time_machine.travel(NOW, tick=False)
def test_a_manager_cannot_remove_someone_who_still_holds_upcoming_shifts():
    team = published_team(size=4)
    dev = holder_of_an_upcoming_shift(team)

    answer = api_as(team["boss"]).delete(f"/api/memberships/{membership_of(team, dev).pk}/")

    assert answer.status_code == 409
    assert "reassign them or ask for cover first" in str(answer.json())
    first = team["roster"].shifts.filter(assignee=dev, end__gt=NOW).order_by("start").first()
    assert local_words(first.start, team["boss"].person.time_zone) in str(answer.json())
    assert Membership.objects.filter(team=team["team"], user=dev).exists()


@time_machine.travel(NOW, tick=False)
def test_someone_leaving_with_upcoming_shifts_is_told_to_hand_them_over():
    team = published_team(size=4)
    dev = holder_of_an_upcoming_shift(team)

    answer = api_as(dev).delete(f"/api/memberships/{membership_of(team, dev).pk}/")

    assert answer.status_code == 409
    assert str(answer.json()).count("You hold") == 1


@time_machine.travel(NOW, tick=False)
def test_once_their_shifts_are_reassigned_they_leave_the_team_and_its_rotations():
    team = published_team(size=4)
    dev = holder_of_an_upcoming_shift(team)
    for shift in team["roster"].shifts.filter(assignee=dev, end__gt=NOW):
        taken = set(
            team["roster"]
            .shifts.filter(start__lt=shift.end, end__gt=shift.start)
            .values_list("assignee_id", flat=True)
        )
        other = next(p for p in team["people"] if p.pk not in taken | {dev.pk})
        planning_services.assign_slot(shift, other, by=team["boss"], override=True)

    answer = api_as(team["boss"]).delete(f"/api/memberships/{membership_of(team, dev).pk}/")

    assert answer.status_code == 204, answer.content
    assert not Membership.objects.filter(team=team["team"], user=dev).exists()
    assert not RotationMember.objects.filter(rotation=team["rotation"], user=dev).exists()


@time_machine.travel(NOW, tick=False)
def test_the_last_manager_cannot_leave_the_team_without_a_manager():
    team = published_team(size=4)

    answer = api_as(team["boss"]).delete(
        f"/api/memberships/{membership_of(team, team['boss']).pk}/"
    )

    assert answer.status_code == 409
    assert "last manager" in str(answer.json())
    assert Membership.objects.filter(team=team["team"], user=team["boss"]).exists()


@time_machine.travel(NOW, tick=False)
def test_a_manager_can_leave_when_another_manager_stays():
    team = published_team(size=4)
    second = manager(team["team"], first_name="Noor")

    answer = api_as(second).delete(f"/api/memberships/{membership_of(team, second).pk}/")

    assert answer.status_code == 204


@time_machine.travel(NOW, tick=False)
def test_a_draft_giving_slots_to_someone_who_left_is_not_published():
    """Red-team finding: someone whose shifts were only in a draft could leave, and publishing
    the draft then gave published shifts to a person outside the team."""
    team, draft, _ = a_draft_naming_someone_who_left()

    with pytest.raises(RuleBroken, match="no longer in the team"):
        services.publish_roster(draft, by=team["boss"])

    assert Roster.objects.get(pk=draft.pk).status == Roster.Status.DRAFT


@time_machine.travel(NOW, tick=False)
def test_the_publish_preview_names_who_left_but_holds_slots_of_the_draft(client):
    team, draft, leaver = a_draft_naming_someone_who_left()
    client.force_login(team["boss"])

    page = client.get(f"/rosters/{draft.pk}/preview/").content.decode()

    assert "people who left the team hold slots" in page
    assert display_name(leaver) in page


def a_draft_naming_someone_who_left():
    """January is published; a second draft of it is made; then someone named in the draft
    (and, after a reassignment, nowhere in the published January) leaves the team."""
    team = published_team(size=4, period=(date(2027, 1, 1), date(2027, 2, 1)))
    january = team["roster"]
    draft = planning_services.draft_roster(
        team["rotation"], january.period_start, january.period_end, by=team["boss"]
    )
    leaver = draft.shifts.exclude(assignee=None).first().assignee
    leaver_has_no_published_shifts(team, leaver)
    assert (
        api_as(leaver).delete(f"/api/memberships/{membership_of(team, leaver).pk}/").status_code
        == 204
    )
    return team, draft, leaver


def leaver_has_no_published_shifts(team, leaver):
    """Only the draft names them: the published January goes to the others."""
    others = [p for p in team["people"] if p.pk != leaver.pk]
    for number, shift in enumerate(team["roster"].shifts.filter(assignee=leaver)):
        taken = set(
            team["roster"]
            .shifts.filter(start__lt=shift.end, end__gt=shift.start)
            .values_list("assignee_id", flat=True)
        )
        other = next(p for p in others[number:] + others if p.pk not in taken)
        planning_services.assign_slot(shift, other, by=team["boss"], override=True)
