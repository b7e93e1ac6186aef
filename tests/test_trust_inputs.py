"""Bad values get a 400 naming the field, never a 500; ranges have a documented maximum."""

import threading
from datetime import date

import pytest
from django.db import connection
from rest_framework.test import APIClient

from planning import services as planning_services
from rotation import services
from rotation.models import Roster
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    team = TeamFactory()
    boss = manager(team)
    people = [engineer(team) for _ in range(4)]
    rotation = RotationFactory(team=team, lead=boss)
    join_rotation(rotation, *people)
    api = APIClient()
    api.force_authenticate(boss)
    return {"team": team, "boss": boss, "rotation": rotation, "api": api}


def test_utilisation_over_a_longer_span_than_400_days_is_refused_naming_the_field(team):
    response = team["api"].get("/api/utilisation/?start=0001-01-02&end=9999-12-30")
    assert response.status_code == 400 and ("start" in response.json() or "end" in response.json())
    response = team["api"].get("/api/utilisation/?start=2030-01-01&end=2031-03-01")
    assert response.status_code == 400 and "400 days" in str(response.json()["end"])


@pytest.mark.parametrize("limit", ["99999999999999999999999", "-1", "1001"])
def test_a_limit_out_of_range_is_a_400(team, limit):
    response = team["api"].get(f"/api/shifts/?limit={limit}")
    assert response.status_code == 400 and "limit" in response.json()


def test_an_offset_beyond_64_bits_is_a_400(team):
    assert team["api"].get("/api/shifts/?offset=99999999999999999999").status_code == 400


def test_availability_without_kind_is_a_400_naming_kind(team):
    response = team["api"].post(
        "/api/availability/",
        {"start": "2031-01-01T00:00:00Z", "end": "2031-01-02T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and "kind" in response.json()


@pytest.mark.parametrize("at", ["2031-01-01T00:00:00+22:00", "9999-12-31T23:59:59-23:59"])
def test_on_call_at_an_impossible_offset_is_a_400(team, at):
    response = team["api"].get(f"/api/rotations/{team['rotation'].pk}/oncall/", {"at": at})
    assert response.status_code == 400 and "at" in response.json()


@pytest.mark.parametrize("month", ["9999-12", "0001-01"])
def test_pages_with_a_month_out_of_range_answer(client, team, month):
    client.force_login(team["boss"])
    rotation = team["rotation"]
    for path in (f"/rotations/{rotation.pk}/", f"/rotations/{rotation.pk}/plan/", "/availability/"):
        assert client.get(path, {"month": month}).status_code < 500, path


@pytest.mark.django_db(transaction=True)
def test_two_drafts_of_one_month_published_at_once_do_not_deadlock(postgres):
    team = TeamFactory()
    boss = manager(team)
    people = [engineer(team) for _ in range(4)]
    rotation = RotationFactory(team=team, lead=boss)
    join_rotation(rotation, *people)
    month = (date(2031, 5, 1), date(2031, 6, 1))
    old = planning_services.draft_roster(rotation, *month, by=boss)
    services.publish_roster(old, by=boss)
    drafts = [planning_services.draft_roster(rotation, *month, by=boss) for _ in range(2)]
    errors = []
    barrier = threading.Barrier(2)

    def publish(roster):
        try:
            barrier.wait()
            services.publish_roster(roster, by=boss)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    published = Roster.objects.filter(rotation=rotation, status="published")
    assert published.count() == 1 and published.get().pk in {d.pk for d in drafts}
