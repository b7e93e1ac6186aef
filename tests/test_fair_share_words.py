"""Fair share in plain words: the plan says why a level, not a formula; the draft form says
the values a blank field stands for; the largest load always names someone on the roster."""

from datetime import date, time

import pytest
import time_machine

from availability import services as availability_services
from planning import changes
from planning import services as planning_services
from tests.factories import build_team

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-20 12:00Z")
def test_a_busy_persons_level_names_their_project_in_a_sentence(client):
    setup = build_team(3, names=["Amara", "Ben", "Chloe"], pattern="weekly", handoff_time=time(9))
    availability_services.set_allocation(
        by=setup.boss,
        user=setup.people[0],
        team=setup.team,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=70,
        project="Ledger migration",
    )
    client.force_login(setup.boss)

    page = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert "busy: 70% allocated to Ledger migration" in page
    assert "L = (" not in page


@time_machine.travel("2026-11-20 12:00Z")
def test_each_level_shows_the_figures_behind_it_on_demand(client):
    setup = build_team(2, pattern="weekly", handoff_time=time(9))
    client.force_login(setup.boss)

    page = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert '<dl class="behind">' in page
    assert "Share of a fair share" in page and "Utilisation" in page


@time_machine.travel("2026-11-20 12:00Z")
def test_the_draft_form_says_the_default_values(client):
    setup = build_team(2, pattern="weekly", handoff_time=time(9), weekend_weight=2)
    client.force_login(setup.boss)

    page = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert "Blank: 2× (this rotation&#x27;s setting)" in page
    assert "Blank: 180 days" in page
    assert "default: the rotation" not in page


@time_machine.travel("2026-11-20 12:00Z")
def test_fair_shares_are_100_percent_when_load_follows_capacity():
    summary = {
        "people": {
            "1": {"draft_load": 20.0, "capacity": 1.0},
            "2": {"draft_load": 10.0, "capacity": 0.5},
        }
    }

    assert changes.fair_shares(summary) == {1: 100, 2: 100}


def test_the_largest_load_from_history_says_so():
    summary = {
        "people": {
            "1": {"name": "Amara", "projected": 90.0, "draft_load": 0.0, "capacity": 1.0},
            "2": {"name": "Ben", "projected": 40.0, "draft_load": 30.0, "capacity": 1.0},
        }
    }

    assert changes.largest_load(summary).startswith("From history: Amara has no shift")


@time_machine.travel("2026-11-20 12:00Z")
def test_the_largest_load_of_a_draft_names_someone_on_it():
    setup = build_team(3, pattern="weekly", handoff_time=time(9))
    roster = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    on_roster = {
        s.assignee.get_full_name() for s in roster.shifts.select_related("assignee") if s.assignee
    }

    text = changes.largest_load(roster.summary)

    assert text.startswith("From history") or any(text.startswith(n) for n in on_roster)
