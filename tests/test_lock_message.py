"""After a draft locks a month, only people who hold a shift then are told to swap."""

from datetime import date, time

import pytest
import time_machine

from availability import services
from planning import services as planning_services
from tests.factories import build_team

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-20 12:00Z")
def test_someone_with_a_shift_in_the_locked_month_is_told_to_swap():
    setup = build_team(2, pattern="weekly", handoff_time=time(9))
    planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    services.lock_availability(setup.team, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss)

    engineer = setup.people[0]

    with pytest.raises(services.AvailabilityLocked, match="Changes now need a swap"):
        services.toggle_days(date(2026, 12, 8), date(2026, 12, 8), "unavailable", by=engineer)


@time_machine.travel("2026-11-20 12:00Z")
def test_someone_with_no_shift_in_the_locked_month_is_not_told_to_swap():
    setup = build_team(1, pattern="weekly", handoff_time=time(9))
    services.lock_availability(setup.team, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss)

    engineer = setup.people[0]

    with pytest.raises(services.AvailabilityLocked) as refused:
        services.toggle_days(date(2026, 12, 8), date(2026, 12, 8), "unavailable", by=engineer)

    assert "need a swap" not in str(refused.value)
    assert "You have no shift then" in str(refused.value)
    assert "1–31 Dec 2026" in str(refused.value)


@time_machine.travel("2026-11-20 12:00Z")
def test_the_roster_header_names_the_last_day_of_its_month(client):
    setup = build_team(2, pattern="weekly", handoff_time=time(9))
    roster = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    client.force_login(setup.boss)

    page = client.get(f"/rosters/{roster.pk}/").content.decode()

    assert "1–31 Dec 2026" in page
    assert "1 Jan" not in page.split("</h1>")[0]
