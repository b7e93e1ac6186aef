"""The REST API: who is on call (what an alerting tool asks), scoping and the schema."""

from datetime import date, time

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from rotation import services
from rotation.models import Person
from rotation.permissions import SYSTEM
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def london_week():
    """A weekly 09:00 Europe/London rotation over the March 2026 clock change, published."""
    team = TeamFactory()
    lead = manager(team, username="lead", first_name="Lena")
    mentor = engineer(team, username="mentor")
    alice = engineer(team, username="alice", time_zone="Europe/London")
    bob = engineer(team, username="bob", time_zone="America/New_York")
    Person.objects.filter(user=alice).update(mentor=mentor, phone="+44 1")
    rotation = RotationFactory(
        team=team, time_zone="Europe/London", handoff_time=time(9), lead=lead
    )
    join_rotation(rotation, alice, bob)
    roster = services.create_roster(rotation, date(2026, 3, 23), date(2026, 4, 6), by=SYSTEM)
    first, second = sorted({s.start for s in roster.shifts.all()})
    for shift in roster.shifts.all():
        if shift.start == first:
            shift.assignee = alice if shift.role == "primary" else bob
        else:
            shift.assignee = bob if shift.role == "primary" else alice
        shift.save()
    services.publish_roster(roster, by=lead)
    return {
        "team": team,
        "rotation": rotation,
        "alice": alice,
        "bob": bob,
        "mentor": mentor,
        "lead": lead,
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_oncall_before_the_clock_change_is_the_first_week(london_week):
    response = client_for(london_week["bob"]).get(
        f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": "2026-03-30T08:30:00Z"}
    )
    assert response.status_code == 200
    body = response.json()
    # 08:30 UTC on 30 March is 09:30 BST: the handoff (09:00 BST = 08:00 UTC) has happened.
    assert body["primary"]["email"] == london_week["bob"].email
    assert body["secondary"]["email"] == london_week["alice"].email


def test_oncall_in_the_hour_before_handoff_after_the_change(london_week):
    response = client_for(london_week["bob"]).get(
        f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": "2026-03-30T07:59:59Z"}
    )
    body = response.json()
    # 07:59 UTC is 08:59 BST: still the first week's primary, though it would be 09:59 in GMT.
    assert body["primary"]["email"] == london_week["alice"].email
    assert body["shift_end"] == "2026-03-30T08:00:00Z"


def test_oncall_escalation_chain_is_secondary_then_mentor_then_lead(london_week):
    body = (
        client_for(london_week["alice"])
        .get(f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": "2026-03-25T12:00:00Z"})
        .json()
    )
    assert [c["role"] for c in body["escalation"]] == ["secondary", "mentor", "lead"]
    assert [c["user_id"] for c in body["escalation"]] == [
        london_week["bob"].pk,
        london_week["mentor"].pk,
        london_week["lead"].pk,
    ]
    assert body["primary"]["phone"] == "+44 1"


def test_oncall_contacts_carry_their_own_local_time(london_week):
    body = (
        client_for(london_week["alice"])
        .get(f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": "2026-03-25T12:00:00Z"})
        .json()
    )
    assert body["secondary"]["time_zone"] == "America/New_York"
    assert body["secondary"]["local_time"] == "2026-03-25T08:00:00-04:00"


def test_oncall_with_nobody_scheduled_answers_empty(london_week):
    body = (
        client_for(london_week["alice"])
        .get(f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": "2027-01-01T00:00:00Z"})
        .json()
    )
    assert body["primary"] is None and body["escalation"][-1]["role"] == "lead"


@pytest.mark.parametrize("value", ["yesterday", "2026-03-30T08:30:00"])
def test_oncall_rejects_a_bad_or_naive_instant(london_week, value):
    response = client_for(london_week["alice"]).get(
        f"/api/rotations/{london_week['rotation'].pk}/oncall/", {"at": value}
    )
    assert response.status_code == 400
    assert "at" in response.json()


def test_an_alerting_tool_can_use_a_token(london_week):
    token = Token.objects.create(user=london_week["lead"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(f"/api/rotations/{london_week['rotation'].pk}/oncall/")
    assert response.status_code == 200


def test_anonymous_callers_are_refused(london_week):
    response = APIClient().get(f"/api/rotations/{london_week['rotation'].pk}/oncall/")
    assert response.status_code in (401, 403)


def test_an_engineer_cannot_change_the_rotation(london_week):
    response = client_for(london_week["alice"]).patch(
        f"/api/rotations/{london_week['rotation'].pk}/", {"name": "Mine now"}, format="json"
    )
    assert response.status_code == 403


def test_a_manager_changes_their_rotation(london_week):
    response = client_for(london_week["lead"]).patch(
        f"/api/rotations/{london_week['rotation'].pk}/", {"name": "Payments"}, format="json"
    )
    assert response.status_code == 200


def test_a_rotation_with_an_unknown_time_zone_is_refused(london_week):
    response = client_for(london_week["lead"]).patch(
        f"/api/rotations/{london_week['rotation'].pk}/",
        {"time_zone": "Mars/Olympus"},
        format="json",
    )
    assert response.status_code == 400
    assert "time_zone" in response.json()


def test_creating_a_team_makes_you_its_manager(settings):
    settings.ONEHAND_SELF_SERVICE_TEAMS = True
    user = engineer(TeamFactory())
    response = client_for(user).post("/api/teams/", {"name": "SRE", "slug": "sre"}, format="json")
    assert response.status_code == 201
    rotation = client_for(user).post(
        "/api/rotations/", {"team": response.json()["id"], "name": "Pager"}, format="json"
    )
    assert rotation.status_code == 201


def test_schema_is_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/rotations/{id}/oncall/" in schema["paths"]


def test_schema_validates_against_the_openapi_spec(client):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    validate_schema(SchemaGenerator().get_schema(request=None, public=True))


def test_api_docs_page_serves_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()


def test_who_is_on_call_now_follows_a_direct_write_despite_the_cache(london_week):
    import time_machine
    from django.utils import timezone as tz

    from rotation.models import Shift

    rotation = london_week["rotation"]
    with time_machine.travel("2026-03-25 12:00Z", tick=False):
        client = client_for(london_week["lead"])
        before = client.get(f"/api/rotations/{rotation.pk}/oncall/").json()
        assert before["primary"]["email"] == london_week["alice"].email
        shift = Shift.objects.get(
            roster__rotation=rotation, role="primary", start__lte=tz.now(), end__gt=tz.now()
        )
        shift.assignee = london_week["mentor"]
        shift.save()
        # Seen at once: a transaction's own uncommitted write is never answered from the
        # cache, and its commit renews the answers' generation (tests/test_oncall_fast_path.py).
        after = client.get(f"/api/rotations/{rotation.pk}/oncall/").json()
    assert after["primary"]["email"] == london_week["mentor"].email
