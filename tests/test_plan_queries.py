"""The planning calendar, roster and slot editor pages cost the same number of queries for 5
or 50 people."""

from datetime import date, time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services as planning_services
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db


def _team_of(size):
    team = TeamFactory()
    boss = manager(team)
    people = [engineer(team) for _ in range(size)]
    rotation = RotationFactory(team=team, pattern="daily", handoff_time=time(9), lead=boss)
    join_rotation(rotation, *people)
    return boss, rotation


def _december_draft_of(size):
    boss, rotation = _team_of(size)
    return boss, planning_services.draft_roster(
        rotation, date(2026, 12, 1), date(2027, 1, 1), by=boss
    )


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@time_machine.travel("2026-11-20 12:00Z")
def test_plan_page_queries_do_not_grow_with_the_team(client):
    counts = []
    for size in (5, 50):
        boss, rotation = _team_of(size)
        client.force_login(boss)
        counts.append(_queries(client, f"/rotations/{rotation.pk}/plan/?month=2026-12"))
    assert counts[0] == counts[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_roster_page_queries_do_not_grow_with_the_team(client):
    counts = []
    for size in (5, 50):
        boss, roster = _december_draft_of(size)
        client.force_login(boss)
        counts.append(_queries(client, f"/rosters/{roster.pk}/"))
    assert counts[0] == counts[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_slot_editor_queries_do_not_grow_with_the_team(client):
    counts = []
    for size in (5, 50):
        boss, roster = _december_draft_of(size)
        slot = roster.shifts.filter(role="primary").order_by("start")[1]
        client.force_login(boss)
        counts.append(_queries(client, f"/slots/{slot.pk}/"))
    assert counts[0] == counts[1]
