"""Nobody reads or changes someone else's availability, qualifications or calendars.

A teammate and an outsider (a manager of another team) try every page and endpoint; a
manager of the team may read and verify, but still not edit someone's availability.
"""

from datetime import UTC, date, datetime

import pytest
from rest_framework.test import APIClient

from availability import services
from availability.models import AvailabilityEntry, CalendarSource, Qualification
from tests.factories import (
    DutyRequirementFactory,
    RotationFactory,
    TeamFactory,
    engineer,
    join_rotation,
    manager,
)

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def world():
    team = TeamFactory(slug="payments")
    boss = manager(team)
    amara, ben = engineer(team), engineer(team)
    rotation = RotationFactory(team=team)
    join_rotation(rotation, amara, ben)
    requirement = DutyRequirementFactory(rotation=rotation)
    entry = services.mark(
        utc(2026, 12, 1), utc(2026, 12, 3), "unavailable", reason="Private", by=amara
    ).entry
    claim = services.claim_qualification(
        requirement, obtained_on=date(2026, 1, 1), evidence="cert", by=amara
    )
    source = CalendarSource.objects.create(
        user=amara, name="Work", kind="url", url="https://c.example/secret.ics"
    )
    allocation = services.set_allocation(
        by=boss,
        user=amara,
        team=team,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=40,
    )
    lock = services.lock_availability(team, date(2027, 3, 1), date(2027, 4, 1), by=boss)
    outsider = manager(TeamFactory())
    return {
        "team": team,
        "boss": boss,
        "amara": amara,
        "ben": ben,
        "outsider": outsider,
        "requirement": requirement,
        "entry": entry,
        "claim": claim,
        "source": source,
        "allocation": allocation,
        "lock": lock,
        "rotation": rotation,
    }


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


PRIVATE_DETAILS = [
    "/api/availability/{entry.pk}/",
    "/api/qualifications/{claim.pk}/",
    "/api/calendar-sources/{source.pk}/",
    "/api/allocations/{allocation.pk}/",
]


@pytest.mark.parametrize("who", ["ben", "outsider"])
@pytest.mark.parametrize("path", PRIVATE_DETAILS)
def test_others_cannot_read_amaras_rows(world, who, path):
    assert api(world[who]).get(path.format(**world)).status_code == 404


@pytest.mark.parametrize("who", ["ben", "outsider"])
@pytest.mark.parametrize("path", PRIVATE_DETAILS)
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_others_cannot_change_amaras_rows(world, who, path, method):
    response = getattr(api(world[who]), method)(
        path.format(**world),
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-09T00:00:00Z"},
        format="json",
    )
    assert response.status_code in (403, 404, 405)
    assert AvailabilityEntry.objects.filter(pk=world["entry"].pk, end=utc(2026, 12, 3)).exists()
    assert Qualification.objects.filter(pk=world["claim"].pk).exists()
    assert CalendarSource.objects.filter(pk=world["source"].pk).exists()


@pytest.mark.parametrize("who", ["ben", "outsider"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/qualifications/{claim.pk}/verify/",
        "/api/qualifications/{claim.pk}/reject/",
        "/api/calendar-sources/{source.pk}/refresh/",
    ],
)
def test_others_cannot_act_on_amaras_rows(world, who, path):
    assert api(world[who]).post(path.format(**world), {}, format="json").status_code == 404
    assert Qualification.objects.get(pk=world["claim"].pk).status == "claimed"


@pytest.mark.parametrize("who", ["ben", "outsider"])
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/availability/", "entry"),
        ("/api/qualifications/", "claim"),
        ("/api/calendar-sources/", "source"),
        ("/api/allocations/", "allocation"),
    ],
)
def test_lists_leave_amaras_rows_out(world, who, path, key):
    response = api(world[who]).get(path)
    assert response.status_code == 200
    assert world[key].pk not in {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("who", ["ben", "outsider"])
def test_utilisation_leaves_amara_out(world, who):
    body = api(world[who]).get("/api/utilisation/").json()
    assert [row["user"] for row in body] == [world[who].pk]
    assert (
        api(world["outsider"]).get(f"/api/utilisation/?team={world['team'].pk}").status_code == 404
    )


def test_the_outsider_sees_nothing_of_the_team(world):
    client = api(world["outsider"])
    assert client.get(f"/api/requirements/{world['requirement'].pk}/").status_code == 404
    assert client.get(f"/api/availability-locks/{world['lock'].pk}/").status_code == 404
    assert world["requirement"].pk not in {
        r["id"] for r in client.get("/api/requirements/").json()["results"]
    }
    assert client.delete(f"/api/availability-locks/{world['lock'].pk}/").status_code == 404
    response = client.post(
        "/api/requirements/",
        {"rotation": world["rotation"].pk, "name": "Sneaky", "kind": "other", "roles": ["primary"]},
        format="json",
    )
    assert response.status_code == 403
    response = client.post(
        "/api/availability-locks/",
        {"team": world["team"].pk, "period_start": "2027-05-01", "period_end": "2027-06-01"},
        format="json",
    )
    assert response.status_code == 403
    response = client.post(
        "/api/qualifications/",
        {"requirement": world["requirement"].pk, "obtained_on": "2026-01-01", "evidence": "x"},
        format="json",
    )
    assert response.status_code == 403


def test_new_rows_always_belong_to_the_caller(world):
    client = api(world["ben"])
    response = client.post(
        "/api/availability/",
        {
            "user": world["amara"].pk,
            "start": "2026-12-10T00:00:00Z",
            "end": "2026-12-11T00:00:00Z",
            "kind": "unavailable",
        },
        format="json",
    )
    assert response.status_code == 201
    assert AvailabilityEntry.objects.get(pk=response.json()["id"]).user == world["ben"]
    response = client.post(
        "/api/qualifications/",
        {
            "requirement": world["requirement"].pk,
            "user": world["amara"].pk,
            "obtained_on": "2026-01-01",
            "evidence": "mine",
        },
        format="json",
    )
    assert response.status_code == 201
    assert Qualification.objects.get(pk=response.json()["id"]).user == world["ben"]
    response = client.post(
        "/api/allocations/",
        {
            "user": world["amara"].pk,
            "team": world["team"].pk,
            "period_start": "2026-12-01",
            "period_end": "2027-01-01",
            "percent": 0,
        },
        format="json",
    )
    assert response.status_code == 403


def test_an_engineer_cannot_verify_their_own_claim(world):
    response = api(world["amara"]).post(
        f"/api/qualifications/{world['claim'].pk}/verify/", {}, format="json"
    )
    assert response.status_code == 403


def test_the_manager_reads_and_verifies_but_does_not_edit_availability(world):
    client = api(world["boss"])
    assert client.get(f"/api/availability/{world['entry'].pk}/").json()["reason"] == "Private"
    assert (
        client.patch(
            f"/api/availability/{world['entry'].pk}/", {"reason": "changed"}, format="json"
        ).status_code
        == 403
    )
    assert client.get(f"/api/calendar-sources/{world['source'].pk}/").status_code == 404
    response = client.post(
        f"/api/qualifications/{world['claim'].pk}/verify/", {"note": "ok"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "verified"


@pytest.mark.parametrize("who", ["ben", "outsider"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/availability/entries/{entry.pk}/delete/"),
        ("post", "/qualifications/{claim.pk}/withdraw/"),
        ("post", "/qualifications/{claim.pk}/review/"),
        ("get", "/availability/calendars/{source.pk}/"),
        ("post", "/availability/calendars/{source.pk}/refresh/"),
        ("post", "/availability/calendars/{source.pk}/remove/"),
        ("get", "/teams/payments/readiness/"),
    ],
)
def test_others_cannot_use_pages_on_amaras_rows(client, world, who, method, path):
    client.force_login(world[who])
    response = getattr(client, method)(path.format(**world), {"decision": "verify"})
    assert response.status_code == 404
    assert AvailabilityEntry.objects.filter(pk=world["entry"].pk).exists()
    assert Qualification.objects.get(pk=world["claim"].pk).status == "claimed"
    assert CalendarSource.objects.filter(pk=world["source"].pk).exists()


@pytest.mark.parametrize("who", ["ben", "outsider"])
def test_others_pages_never_show_amaras_availability(client, world, who):
    client.force_login(world[who])
    html = client.get("/availability/?month=2026-12").content.decode()
    assert "Private" not in html
    assert client.get(f"/requirements/{world['requirement'].pk}/claim/").status_code == (
        200 if who == "ben" else 404
    )


def test_only_managers_set_allocation_through_the_page(client, world):
    client.force_login(world["ben"])
    response = client.post(
        "/teams/payments/readiness/allocation/",
        {"user": world["amara"].pk, "month": "2026-12", "percent": 0},
    )
    assert response.status_code == 403
    client.force_login(world["outsider"])
    assert (
        client.post(
            "/teams/payments/readiness/allocation/",
            {"user": world["amara"].pk, "month": "2026-12", "percent": 0},
        ).status_code
        == 404
    )
