"""A manager reads why each person was picked in words, not in the recommender's formula."""

import re
from datetime import date, time

import pytest
import time_machine

from planning import services as planning_services
from tests.factories import build_team

pytestmark = pytest.mark.django_db

FORMULA = re.compile(r"\bL\s*=|capacity|squared deviations")


@time_machine.travel("2026-11-20 12:00Z")
def test_every_pick_on_a_drafted_roster_is_explained_without_formulas(client):
    setup = build_team(8, names=["Amara", "Ben", "Chloe", "Dev"], handoff_time=time(9))
    roster = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    client.force_login(setup.boss)

    page = client.get(f"/rosters/{roster.pk}/").content.decode()
    reasons = [s.reason for s in roster.shifts.all() if s.reason]

    assert reasons
    assert not [r["summary"] for r in reasons if FORMULA.search(r["summary"])]
    assert not [
        r["runner_up_why_not"]
        for r in reasons
        if r.get("runner_up_why_not") and FORMULA.search(r["runner_up_why_not"])
    ]
    assert "who could take it" in page
    assert not FORMULA.search(page.split("<main", 1)[-1].split("<details", 1)[0])
