"""Pages count toward fairness: someone woken at night last month is picked less this month."""

from datetime import date, time, timedelta

import pytest
import time_machine

from incidents import services as incidents
from onehand.people import display_name
from planning import services as planning
from rotation import services
from tests.factories import build_team

pytestmark = pytest.mark.django_db
OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


@pytest.fixture
def paged_team():
    """Two people who shared October's daily shifts equally; Amara took six night pages."""
    setup = build_team(
        2,
        names=["Amara", "Dev"],
        pattern="daily",
        time_zone="Europe/London",
        handoff_time=time(9),
        has_secondary=False,
    )
    amara, dev = setup.people
    roster = services.create_roster(setup.rotation, *OCTOBER, by=setup.boss)
    for number, shift in enumerate(roster.shifts.order_by("start")):
        shift.assignee = amara if number % 2 == 0 else dev
        shift.save(update_fields=["assignee"])
    services.publish_roster(roster, by=setup.boss)
    for number, shift in enumerate(roster.shifts.filter(assignee=amara).order_by("start")[:6]):
        # 18 hours into a 09:00 shift is 03:00 the next night in London.
        incidents.record_incident(
            setup.rotation,
            by=setup.boss,
            title=f"Disk full {number}",
            started_at=shift.start + timedelta(hours=18),
        )
    return setup


@time_machine.travel("2026-11-20 12:00Z")
def test_the_person_with_night_pages_gets_fewer_shifts(paged_team):
    amara, dev = paged_team.people
    roster = planning.draft_roster(paged_team.rotation, *DECEMBER, by=paged_team.boss)
    amara_shifts = roster.shifts.filter(assignee=amara).count()
    dev_shifts = roster.shifts.filter(assignee=dev).count()
    assert amara_shifts < dev_shifts


@time_machine.travel("2026-11-20 12:00Z")
def test_the_draft_says_in_words_that_pages_weigh(paged_team):
    amara, _ = paged_team.people
    roster = planning.draft_roster(paged_team.rotation, *DECEMBER, by=paged_team.boss)
    explanation = roster.summary["people"][str(amara.pk)]["explanation"]
    assert "6 pages while on call" in explanation
    assert "at night" in explanation
    assert f"so {display_name(amara)} is picked less" in explanation
