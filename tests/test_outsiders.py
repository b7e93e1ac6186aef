"""An outsider (not in the team) gets 403 or 404 on every team endpoint."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from rotation import services
from rotation.permissions import SYSTEM
from tests.factories import RotationFactory, TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_objects():
    team = TeamFactory()
    boss = manager(team)
    member = engineer(team)
    rotation = RotationFactory(team=team)
    roster = services.create_roster(rotation, date(2026, 12, 1), date(2027, 1, 1), by=SYSTEM)
    services.publish_roster(roster, by=boss)
    shift = roster.shifts.first()
    membership = member.memberships.get()
    return {
        "team": team,
        "rotation": rotation,
        "roster": roster,
        "shift": shift,
        "membership": membership,
        "manager": boss,
    }


def outsider_client():
    other_team = TeamFactory()
    outsider = manager(other_team)  # a manager, but of another team
    client = APIClient()
    client.force_authenticate(outsider)
    return client


DETAIL = [
    ("team", "/api/teams/{team.pk}/"),
    ("membership", "/api/memberships/{membership.pk}/"),
    ("rotation", "/api/rotations/{rotation.pk}/"),
    ("rotation", "/api/rotations/{rotation.pk}/oncall/"),
    ("roster", "/api/rosters/{roster.pk}/"),
    ("shift", "/api/shifts/{shift.pk}/"),
]


@pytest.mark.parametrize("path", [p for _, p in DETAIL])
def test_outsider_cannot_read_team_objects(team_objects, path):
    response = outsider_client().get(path.format(**team_objects))
    assert response.status_code in (403, 404)


@pytest.mark.parametrize(
    "path",
    ["/api/teams/{team.pk}/", "/api/memberships/{membership.pk}/", "/api/rotations/{rotation.pk}/"],
)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_outsider_cannot_change_team_objects(team_objects, path, method):
    response = getattr(outsider_client(), method)(path.format(**team_objects), {}, format="json")
    assert response.status_code in (403, 404)


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("team", "/api/teams/"),
        ("membership", "/api/memberships/"),
        ("rotation", "/api/rotations/"),
        ("roster", "/api/rosters/"),
        ("shift", "/api/shifts/"),
    ],
)
def test_outsider_lists_leave_the_team_out(team_objects, kind, path):
    response = outsider_client().get(path)
    assert response.status_code == 200
    assert team_objects[kind].pk not in {row["id"] for row in response.json()["results"]}


def test_outsider_cannot_add_a_rotation_to_the_team(team_objects):
    response = outsider_client().post(
        "/api/rotations/", {"team": team_objects["team"].pk, "name": "Sneaky"}, format="json"
    )
    assert response.status_code == 403


def test_outsider_cannot_add_themselves_to_the_team(team_objects):
    client = outsider_client()
    me = client.handler._force_user
    response = client.post(
        "/api/memberships/",
        {"team": team_objects["team"].pk, "user": me.pk, "role": "manager"},
        format="json",
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/teams/{team.slug}/", "/rotations/{rotation.pk}/"])
def test_outsider_cannot_open_team_pages(client, team_objects, path):
    other = engineer(TeamFactory())
    client.force_login(other)
    assert client.get(path.format(**team_objects)).status_code == 404
