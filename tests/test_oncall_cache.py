"""'Who is on call now' is cached; every change that alters the answer clears it."""

import pytest
import time_machine
from rest_framework.test import APIClient

from planning import services as planning_services
from rotation import oncall
from rotation.models import Person
from tests.factories import DutyRequirementFactory, engineer, verified
from tests.swap_support import published_team

# Committed writes, as in production: a test's own uncommitted writes bypass the cache.
pytestmark = pytest.mark.django_db(transaction=True)
NOW = "2026-12-09 12:00Z"


@pytest.fixture
def on_call(django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        team = published_team(size=4)
        api = APIClient()
        api.force_authenticate(team["boss"])

        def ask():
            response = api.get(f"/api/rotations/{team['rotation'].pk}/oncall/")
            assert response.status_code == 200
            return response.json()

        ask()  # now cached

        def change():
            return django_capture_on_commit_callbacks(execute=True)

        yield team, ask, change


def test_a_new_phone_number_shows_at_once(on_call):
    team, ask, change = on_call
    person = Person.objects.get(user_id=ask()["primary"]["user_id"])
    with change():
        person.phone = "+44 20 7946 0000"
        person.save()
    assert ask()["primary"]["phone"] == "+44 20 7946 0000"


def test_a_new_lead_shows_at_once(on_call):
    team, ask, change = on_call
    newcomer = engineer(team["team"], first_name="Nadia")
    rotation = team["rotation"]
    with change():
        rotation.lead = newcomer
        rotation.save()
    assert newcomer.pk in [c["user_id"] for c in ask()["escalation"]]


def test_a_reassigned_slot_shows_at_once(on_call):
    team, ask, change = on_call
    shift = team["roster"].shifts.get(role="primary", start__lte=NOW, end__gt=NOW)
    taken = set(
        team["roster"].shifts.filter(start=shift.start).values_list("assignee_id", flat=True)
    )
    other = next(p for p in team["people"] if p.pk not in taken)
    with change():
        planning_services.assign_slot(shift, other, by=team["boss"], override=True)
    assert ask()["primary"]["user_id"] == other.pk


def test_a_renamed_person_shows_at_once(on_call):
    team, ask, change = on_call
    user = next(p for p in team["people"] if p.pk == ask()["primary"]["user_id"])
    with change():
        user.first_name, user.last_name = "Renamed", "Person"
        user.save()
    assert ask()["primary"]["name"] == "Renamed Person"


def test_without_a_change_the_answer_comes_from_the_cache(on_call, django_assert_max_num_queries):
    team, ask, change = on_call
    with django_assert_max_num_queries(3):  # authentication and the rotation, not the shifts
        ask()


def other_person_than_the_primary(team, shift):
    taken = set(
        team["roster"].shifts.filter(start=shift.start).values_list("assignee_id", flat=True)
    )
    return next(p for p in team["people"] if p.pk not in taken)


@pytest.mark.parametrize("roster_loaded", [True, False])
def test_a_shift_edited_in_the_admin_shows_at_once(on_call, roster_loaded):
    """The admin (or a shell) saves the row itself, outside the services' events."""
    team, ask, change = on_call
    shift = team["roster"].shifts.get(role="primary", start__lte=NOW, end__gt=NOW)
    if roster_loaded:
        shift = type(shift).objects.select_related("roster").get(pk=shift.pk)
    other = other_person_than_the_primary(team, shift)
    with change():
        shift.assignee = other
        shift.save()
    assert ask()["primary"]["user_id"] == other.pk


def test_a_shift_deleted_in_the_admin_shows_at_once(on_call):
    team, ask, change = on_call
    shift = team["roster"].shifts.get(role="primary", start__lte=NOW, end__gt=NOW)
    with change():
        shift.delete()
    assert ask()["primary"] is None


def test_a_duty_requirement_or_a_qualification_forgets_the_answers(on_call):
    """The escalation chain falls back to the rotation's experienced people, whom duty
    requirements and qualifications decide: a change to either is a change to the answer."""
    team, ask, change = on_call
    before = oncall.answers_stamp()
    with change():
        requirement = DutyRequirementFactory(rotation=team["rotation"])
    after_requirement = oncall.answers_stamp()
    with change():
        verified(team["people"][0], requirement)
    assert len({before, after_requirement, oncall.answers_stamp()}) == 3
