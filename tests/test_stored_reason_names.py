"""A draft's stored reasons keep who they mean by id: after a rename the roster page names
people as they are called now."""

from datetime import date, time

import pytest
import time_machine
from django.contrib.auth import get_user_model

from planning import services as planning_services
from tests.factories import build_team

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-20 12:00Z")
def test_a_renamed_runner_up_shows_by_their_new_name_on_the_roster(client):
    setup = build_team(8, names=["Amara", "Ben", "Chloe", "Dev"], handoff_time=time(9))
    roster = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    slot = next(s for s in roster.shifts.order_by("start") if (s.reason or {}).get("runner_up_id"))
    runner_up = get_user_model().objects.get(pk=slot.reason["runner_up_id"])
    old_name = slot.reason["runner_up_name"]
    get_user_model().objects.filter(pk=runner_up.pk).update(first_name="Renamed")
    client.force_login(setup.boss)

    page = client.get(f"/rosters/{roster.pk}/").content.decode()

    assert f"Runner-up: Renamed {runner_up.last_name}" in page
    assert f"Runner-up: {old_name}" not in page
