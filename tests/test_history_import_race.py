"""A manager's browser (or script) sends the same history import several times at once: exactly
one is written, the others are refused as duplicates, on PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest

from onehand.errors import Invalid
from planning.tool_history import import_tool_history
from rotation.history import import_history
from rotation.models import Shift
from tests.factories import build_team
from tests.race_support import at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def weekly_csv(setup, weeks: int) -> str:
    """An export from another tool: one primary week each, in turn, from January."""
    lines = ["User,Email,Start Date,End Date"]
    for week in range(weeks):
        who = setup.people[week % len(setup.people)]
        start = datetime(2026, 1, 5, 9) + timedelta(weeks=week)
        end = start + timedelta(weeks=1)
        lines.append(f"{who.first_name},{who.email},{start:%Y-%m-%d %H:%M},{end:%Y-%m-%d %H:%M}")
    return "\n".join(lines) + "\n"


def test_four_identical_tool_imports_at_once_write_the_shifts_once(postgres):
    setup = build_team(4, name="Payments API", time_zone="UTC")
    data = weekly_csv(setup, 36).encode()
    outcomes = at_once(
        [lambda: import_tool_history(setup.rotation, data, by=setup.boss, now=NOW)] * 4,
        success="written",
        refused=(Invalid,),
    )
    assert outcomes.count("written") == 1, outcomes
    assert all("already has a primary shift" in o for o in outcomes if o != "written"), outcomes
    assert Shift.objects.filter(roster__rotation=setup.rotation).count() == 36


def test_four_identical_csv_history_imports_at_once_write_the_shifts_once(postgres):
    setup = build_team(4, name="Payments API", time_zone="UTC")
    lines = ["email,rotation,role,start,end"]
    for day in range(1, 29):
        who = setup.people[day % 4].email
        lines.append(
            f"{who},Payments API,primary,2026-02-{day:02d}T09:00:00+00:00,"
            f"2026-02-{day:02d}T21:00:00+00:00"
        )
    data = ("\n".join(lines) + "\n").encode()
    outcomes = at_once(
        [lambda: import_history(setup.team, data, by=setup.boss)] * 4,
        success="written",
        refused=(Invalid,),
    )
    assert outcomes.count("written") == 1, outcomes
    assert all("already has a primary shift" in o for o in outcomes if o != "written"), outcomes
    assert Shift.objects.filter(roster__rotation=setup.rotation).count() == 28
