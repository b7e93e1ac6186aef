"""What an independent red-team found at the trust boundary, each pinned by a test."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from incidents import services as incidents
from planning import services as planning
from rotation import services
from rotation.models import Shift
from tests.factories import TeamFactory, build_team, engineer

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


@pytest.fixture
def published():
    setup = build_team(4, has_secondary=True)
    roster = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)
    people = setup.people
    for number, shift in enumerate(roster.shifts.order_by("start", "role")):
        shift.assignee = people[(number // 2 + number % 2) % len(people)]
        shift.save(update_fields=["assignee"])
    services.publish_roster(roster, by=setup.boss)
    return setup, roster


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("path", ["/api/teams/", "/api/availability/", "/api/swaps/"])
@pytest.mark.parametrize("shape", ["object", "array"])
def test_deeply_nested_json_is_a_400_not_a_500(published, path, shape):
    setup, _ = published
    body = '{"a":' * 5000 + "1" + "}" * 5000 if shape == "object" else "[" * 100000 + "]" * 100000
    response = api_for(setup.boss).post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_a_deeply_nested_incident_webhook_body_is_a_400(client, published):
    setup, _ = published
    issued = incidents.create_hook_token(setup.rotation, by=setup.boss)
    body = '{"a":' * 5000 + "1" + "}" * 5000
    response = client.post(
        f"/hooks/incidents/{issued.token}/", body, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query", ["/api/availability/?kind=%00", "/api/qualifications/?status=%00", "/?month=%00"]
)
def test_a_nul_byte_in_a_query_parameter_is_a_400(client, published, query):
    setup, _ = published
    client.force_login(setup.boss)
    response = client.get(query)
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["2026-02-30", "9999-12-31", "0001-01-01", "junk"])
@pytest.mark.parametrize("page", ["incidents", "report"])
def test_odd_dates_on_the_report_and_incidents_pages_fall_back(client, published, page, value):
    setup, _ = published
    client.force_login(setup.boss)
    response = client.get(f"/rotations/{setup.rotation.pk}/{page}/?from={value}&to={value}")
    assert response.status_code == 200


def test_one_person_in_both_slots_of_a_shift_is_refused_even_with_override(published):
    setup, roster = published
    primary = roster.shifts.filter(role="primary").order_by("start").first()
    secondary = roster.shifts.get(start=primary.start, role="secondary")
    response = api_for(setup.boss).post(
        f"/api/shifts/{secondary.pk}/assign/",
        {"assignee": primary.assignee_id, "override": True},
        format="json",
    )
    assert response.status_code == 409
    assert "already holds another slot of this shift" in response.json()["detail"]
    assert Shift.objects.get(pk=secondary.pk).assignee_id != primary.assignee_id


def test_assigning_a_stranger_never_says_who_they_are(published):
    setup, roster = published
    stranger = engineer(TeamFactory(), first_name="Zebulon", last_name="Secret")
    slot = roster.shifts.order_by("start").first()
    response = api_for(setup.boss).post(
        f"/api/shifts/{slot.pk}/assign/",
        {"assignee": stranger.pk, "override": True},
        format="json",
    )
    assert response.status_code == 400
    assert "Zebulon" not in response.content.decode()


def test_naming_a_stranger_on_a_swap_never_says_who_they_are(published):
    setup, roster = published
    stranger = engineer(TeamFactory(), first_name="Zebulon", last_name="Secret")
    shift = roster.shifts.order_by("start").first()
    response = api_for(shift.assignee).post(
        "/api/swaps/", {"shift": shift.pk, "named": stranger.pk}, format="json"
    )
    assert response.status_code == 400
    assert "Zebulon" not in response.content.decode()


def test_naming_an_unknown_id_answers_like_a_stranger(published):
    setup, roster = published
    shift = roster.shifts.order_by("start").first()
    response = api_for(shift.assignee).post(
        "/api/swaps/", {"shift": shift.pk, "named": 987654}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["named"] == ["That person is not in this rotation."]


def test_a_trade_for_another_teams_shift_is_refused_not_dropped(published):
    setup, roster = published
    other, other_roster = build_team(2), None
    other_roster = services.create_roster(other.rotation, *DECEMBER, by=other.boss)
    foreign = other_roster.shifts.first()
    shift = roster.shifts.order_by("start").first()
    colleague = next(p for p in setup.people if p.pk != shift.assignee_id)
    response = api_for(shift.assignee).post(
        "/api/swaps/",
        {"shift": shift.pk, "named": colleague.pk, "trade_shift": foreign.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "trade_shift" in response.json()
    assert planning  # the planning services are what the API calls
