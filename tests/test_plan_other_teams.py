"""A person in two teams: each team's manager sees how busy they are, never the other team's
project names (found by an outside red team on the plan's level in words)."""

from datetime import date, time

import pytest
import time_machine
from django.test import Client

from availability import services as availability_services
from availability.selectors import OTHER_TEAMS_PROJECT
from rotation.models import Membership
from tests.factories import TeamFactory, build_team, manager

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-20 12:00Z", tick=False)
def test_another_teams_project_counts_on_the_plan_but_is_not_named():
    a = build_team(2, pattern="daily", handoff_time=time(9))
    shared = a.people[0]
    team_b = TeamFactory()
    boss_b = manager(team_b)
    Membership.objects.create(team=team_b, user=shared, role=Membership.Role.ENGINEER)
    availability_services.set_allocation(
        by=boss_b, user=shared, team=team_b, period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1), percent=70, project="Project Nightingale",
    )  # fmt: skip
    client = Client()
    client.force_login(a.boss)

    page = client.get(f"/rotations/{a.rotation.pk}/plan/?month=2026-12")

    row = next(r for r in page.context["rows"] if r.user_id == shared.pk)
    assert row.utilisation > 0.5  # the hours count
    body = page.content.decode()
    assert "Nightingale" not in body and OTHER_TEAMS_PROJECT in body.replace("&#x27;", "'")
