"""A manager saves a rotation on the page or through the API: one service, one rule, one message."""

import pytest
from rest_framework.test import APIClient

from rotation.models import Rotation
from tests.factories import TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db

ONE_REGION_MESSAGE = "A follow-the-sun rotation needs at least two regions' windows."


@pytest.fixture
def team_and_boss():
    team = TeamFactory()
    return team, manager(team)


def _page_form(team, **overrides):
    form = {
        "name": "Sun",
        "description": "",
        "time_zone": "UTC",
        "pattern": "follow_the_sun",
        "handoff_weekday": "0",
        "handoff_time": "09:00",
        "has_secondary": "",
        "weekend_weight": "1.5",
        "holiday_weight": "2.0",
        "history_half_life_days": "180",
        "min_rest_hours": "12",
        "offers_at_once": "3",
        "swap_deadline_hours": "24",
        "swap_answer_time": "24:00:00",
        "windows-TOTAL_FORMS": "1",
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
        "windows-0-label": "EMEA",
        "windows-0-time_zone": "Europe/London",
        "windows-0-start": "08:00",
        "windows-0-end": "16:00",
    }
    form.update(overrides)
    return form


def test_the_page_refuses_a_follow_the_sun_rotation_with_one_region(client, team_and_boss):
    team, boss = team_and_boss
    client.force_login(boss)
    response = client.post(f"/teams/{team.slug}/rotations/new/", _page_form(team))
    assert response.status_code == 400
    assert ONE_REGION_MESSAGE in response.content.decode().replace("&#x27;", "'")
    assert not Rotation.objects.filter(team=team).exists()


def _post_rotation(user, team, windows):
    api = APIClient()
    api.force_authenticate(user)
    body = {"team": team.pk, "name": "Sun", "pattern": "follow_the_sun", "windows": windows}
    return api.post("/api/rotations/", body, format="json")


def _window(label, zone, start, end):
    return {"label": label, "time_zone": zone, "start": start, "end": end}


def test_the_api_refuses_the_same_rotation_with_the_same_message(team_and_boss):
    team, boss = team_and_boss
    response = _post_rotation(boss, team, [_window("EMEA", "Europe/London", "08:00", "16:00")])
    assert response.status_code == 400
    assert response.json()["windows"] == [ONE_REGION_MESSAGE]
    assert not Rotation.objects.filter(team=team).exists()


def test_the_api_refuses_windows_that_leave_a_gap_in_the_day(team_and_boss):
    team, boss = team_and_boss
    windows = [
        _window("EMEA", "Europe/London", "08:00", "12:00"),
        _window("AMER", "America/New_York", "11:00", "15:00"),
    ]
    response = _post_rotation(boss, team, windows)
    assert response.status_code == 400
    assert "must cover the day" in response.json()["windows"][0]


def test_the_api_saves_three_regions_that_cover_the_day(team_and_boss):
    team, boss = team_and_boss
    windows = [
        _window("APAC", "Australia/Sydney", "10:00", "18:00"),
        _window("EMEA", "Europe/London", "08:00", "16:00"),
        _window("AMER", "America/New_York", "11:00", "19:00"),
    ]
    response = _post_rotation(boss, team, windows)
    assert response.status_code == 201, response.json()
    rotation = Rotation.objects.get(pk=response.json()["id"])
    assert sorted(rotation.windows.values_list("label", flat=True)) == ["AMER", "APAC", "EMEA"]
    assert len(response.json()["windows"]) == 3


def test_an_engineer_cannot_create_a_rotation_through_the_api(team_and_boss):
    team, _ = team_and_boss
    api = APIClient()
    api.force_authenticate(engineer(team))
    response = api.post("/api/rotations/", {"team": team.pk, "name": "Mine"}, format="json")
    assert response.status_code == 403
