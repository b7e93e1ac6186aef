from datetime import date

import pytest
import time_machine

from rotation import services
from rotation.permissions import SYSTEM
from tests.factories import RotationFactory, TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db


def test_login_is_required_for_home(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@time_machine.travel("2026-12-10 12:00Z")
def test_rotation_page_shows_the_month_in_the_viewers_zone(client):
    team = TeamFactory()
    boss = manager(team)
    viewer = engineer(team, time_zone="America/New_York", first_name="Viv")
    rotation = RotationFactory(team=team, time_zone="Europe/London")
    roster = services.create_roster(rotation, date(2026, 12, 1), date(2027, 1, 1), by=SYSTEM)
    roster.shifts.filter(role="primary").update(assignee=viewer)
    services.publish_roster(roster, by=boss)
    client.force_login(viewer)
    response = client.get(f"/rotations/{rotation.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "America/New_York" in html
    # The 09:00 London handoff is 04:00 in New York.
    assert "from 04:00" in html


def test_rotation_page_query_count_does_not_grow_with_the_roster(
    client, django_assert_max_num_queries
):
    team = TeamFactory()
    boss = manager(team)
    rotation = RotationFactory(team=team, pattern="daily")
    people = [engineer(team) for _ in range(6)]
    roster = services.create_roster(rotation, date(2026, 12, 1), date(2027, 1, 1), by=SYSTEM)
    for i, shift in enumerate(roster.shifts.order_by("start", "role")):
        shift.assignee = people[i % 6]
        shift.save()
    services.publish_roster(roster, by=boss)
    client.force_login(boss)
    with django_assert_max_num_queries(12):
        assert client.get(f"/rotations/{rotation.pk}/?month=2026-12").status_code == 200
