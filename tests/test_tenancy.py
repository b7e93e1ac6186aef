"""Tenancy: a team someone made and filled with other people shows them nothing of those
people until each accepts the invitation.

Mallory is an engineer. Self-service teams are switched on (the worst case: with the default
only staff create teams). She creates a team, becomes its manager and adds Amara, an engineer
of another team with private availability, a phone number and shifts. From that position she
opens every URL of the site; none shows anything of Amara's. Once Amara accepts, the team sees
what members share.
"""

from datetime import UTC, datetime

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from availability import services as availability
from rotation.models import Membership, Person
from tests.factories import RotationFactory, TeamFactory, UserFactory, engineer, join_rotation
from tests.test_permission_matrix import (
    PATTERNS,
    PUBLIC_TOKEN,
    _path,
    build_world,
    rule_for,
)

pytestmark = pytest.mark.django_db

AMARA_SECRETS = ("amara@example.com", "+44 7700 900123", "Private: hospital", "Amara")


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def amara_elsewhere():
    """Amara, with her contact details and a private reason, in a team Mallory is not in."""
    users, objects = build_world()
    amara = users["engineer"]
    amara.first_name = "Amara"
    amara.save()
    Person.objects.filter(user=amara).update(phone="+44 7700 900123")
    availability.mark(
        datetime(2030, 10, 8, tzinfo=UTC),
        datetime(2030, 10, 9, tzinfo=UTC),
        "unavailable",
        reason="Private: hospital",
        by=amara,
    )
    return amara, users, objects


@pytest.fixture
def mallory(settings):
    settings.ONEHAND_SELF_SERVICE_TEAMS = True
    return engineer(TeamFactory(), username="mallory", first_name="Mallory")


def mallory_team_with(mallory, *invited):
    client = api_as(mallory)
    response = client.post("/api/teams/", {"name": "Mine", "slug": "mine"}, format="json")
    assert response.status_code == 201
    team_id = response.json()["id"]
    for user in invited:
        invited_row = client.post(
            "/api/memberships/", {"team": team_id, "user": user.pk}, format="json"
        )
        assert invited_row.status_code == 201, invited_row.content
        assert invited_row.json()["status"] == "invited"
        assert invited_row.json()["user_detail"] is None
    return team_id


def test_only_staff_create_teams_by_default(settings):
    settings.ONEHAND_SELF_SERVICE_TEAMS = False
    someone = UserFactory()
    assert api_as(someone).post("/api/teams/", {"name": "X", "slug": "x"}).status_code == 403
    someone.is_staff = True
    someone.save()
    assert api_as(someone).post("/api/teams/", {"name": "X", "slug": "x"}).status_code == 201


def test_adding_someone_to_a_team_only_invites_them(amara_elsewhere, mallory):
    amara, _, _ = amara_elsewhere
    team_id = mallory_team_with(mallory, amara)
    membership = Membership.objects.get(team_id=team_id, user=amara)
    assert membership.status == Membership.Status.INVITED
    assert membership.invited_by == mallory


def test_a_self_made_team_sees_nothing_of_an_invited_person_on_any_url(amara_elsewhere, mallory):
    amara, users, objects = amara_elsewhere
    team_id = mallory_team_with(mallory, amara)
    RotationFactory(team_id=team_id, name="Mine")
    client = APIClient()
    client.force_login(mallory)
    leaks = []
    for route, name, keywords, is_api in PATTERNS:
        rule = rule_for(name, is_api)
        if rule.get == PUBLIC_TOKEN:
            continue  # the feed token is the credential (Mallory holds none of Amara's)
        path = _path(route, name, keywords, rule, objects)
        for suffix in ("", f"?user={amara.pk}", f"?team={team_id}"):
            with transaction.atomic():
                response = client.get(path + suffix)
                transaction.set_rollback(True)
            body = response.content.decode(errors="replace")
            found = [s for s in AMARA_SECRETS if s in body]
            if found:
                leaks.append(f"GET {path}{suffix} ({response.status_code}) shows {found}")
    assert not leaks, "\n".join(leaks)


def test_an_invited_person_cannot_be_scheduled_or_named_a_contact(amara_elsewhere, mallory):
    amara, _, _ = amara_elsewhere
    team_id = mallory_team_with(mallory, amara)
    client = api_as(mallory)
    response = client.post(
        "/api/rotations/", {"team": team_id, "name": "Mine", "lead": amara.pk}, format="json"
    )
    assert response.status_code == 400 and "lead" in response.json()
    rotation = RotationFactory(team_id=team_id)
    join_rotation(rotation, amara)
    draft = client.post(f"/api/rotations/{rotation.pk}/draft/", {"month": "2030-12"})
    shift = client.get(f"/api/shifts/?roster={draft.json()['id']}").json()["results"][0]
    response = client.post(
        f"/api/shifts/{shift['id']}/assign/",
        {"assignee": amara.pk, "override": True},
        format="json",
    )
    assert response.status_code == 400 and "assignee" in response.json()


def test_a_membership_cannot_be_moved_to_another_person(amara_elsewhere, mallory):
    amara, _, _ = amara_elsewhere
    team_id = mallory_team_with(mallory)
    mine = Membership.objects.get(team_id=team_id, user=mallory)
    api_as(mallory).patch(f"/api/memberships/{mine.pk}/", {"user": amara.pk}, format="json")
    assert not Membership.objects.filter(team_id=team_id, user=amara).exists()


def test_once_accepted_the_team_sees_what_members_share(amara_elsewhere, mallory):
    amara, _, _ = amara_elsewhere
    team_id = mallory_team_with(mallory, amara)
    invitation = Membership.objects.get(team_id=team_id, user=amara)
    assert api_as(mallory).post(f"/api/memberships/{invitation.pk}/accept/").status_code in (
        403,
        404,
    )
    accepted = api_as(amara).post(f"/api/memberships/{invitation.pk}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "active"
    rows = api_as(mallory).get(f"/api/availability/?user={amara.pk}").json()["results"]
    assert any(row["reason"] == "Private: hospital" for row in rows)


def test_the_invited_person_accepts_on_the_home_page(client, amara_elsewhere, mallory):
    amara, _, _ = amara_elsewhere
    team_id = mallory_team_with(mallory, amara)
    invitation = Membership.objects.get(team_id=team_id, user=amara)
    client.force_login(mallory)
    assert client.post(f"/invitations/{invitation.pk}/accept/").status_code == 404
    client.force_login(amara)
    assert "Invitations" in client.get("/").content.decode()
    assert client.post(f"/invitations/{invitation.pk}/accept/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Membership.Status.ACTIVE


def test_membership_share_of_full_time_out_of_range_is_a_400(mallory):
    team_id = mallory_team_with(mallory)
    someone = UserFactory()
    for fte in ("0", "5", "-1", "abc"):
        response = api_as(mallory).post(
            "/api/memberships/", {"team": team_id, "user": someone.pk, "fte": fte}, format="json"
        )
        assert response.status_code == 400 and "fte" in response.json(), fte
