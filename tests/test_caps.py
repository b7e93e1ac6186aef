"""The team's cap: nobody is on call more than a set share of a period (default 30%)."""

from datetime import date, time

import pytest
import time_machine
from django.db import IntegrityError, transaction

from planning import services as planning_services
from rotation import services
from rotation.models import AuditEntry, Team
from tests.factories import build_team

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def december_roster(setup):
    """An empty December draft: four weekly shifts from Monday 7 December, primary + secondary."""
    return services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)


def amara_holds_one_december_shift(*, cap: int):
    """A team of eight with the cap at `cap`%; Amara holds the first of December's weekly
    primary shifts. Returns (setup, roster, amara, a later primary shift of December)."""
    setup = build_team(8, names=["Amara"], handoff_time=time(9))
    services.set_team_settings(setup.team, by=setup.boss, max_oncall_share=cap)
    amara = setup.people[0]
    roster = december_roster(setup)
    first, _, second = roster.shifts.filter(role="primary").order_by("start")[:3]
    planning_services.assign_slot(first, amara, by=setup.boss)
    return setup, roster, amara, second


def test_a_new_team_caps_anyone_at_30_percent():
    assert Team._meta.get_field("max_oncall_share").default == 30


@time_machine.travel("2026-11-20 12:00Z")
def test_a_manual_pick_above_the_cap_is_refused_with_the_share_and_the_cap():
    setup, roster, amara, second = amara_holds_one_december_shift(cap=30)

    with pytest.raises(planning_services.AssignmentRefused) as refused:
        planning_services.assign_slot(second, amara, by=setup.boss)

    # 2 of its 4 weekly shifts (from Monday 7 December): 50% of December's roster.
    assert str(refused.value) == (
        "Amara Eng0 would be on call 50% of December 2026; the team's cap is 30%."
    )


@time_machine.travel("2026-11-20 12:00Z")
def test_a_pick_within_the_cap_is_fine():
    setup, roster, amara, second = amara_holds_one_december_shift(cap=50)

    planning_services.assign_slot(second, amara, by=setup.boss)

    assert roster.shifts.filter(assignee=amara).count() == 2


@time_machine.travel("2026-11-20 12:00Z")
def test_a_manager_may_override_the_cap_and_the_override_is_recorded():
    setup, _, amara, second = amara_holds_one_december_shift(cap=30)

    shift = planning_services.assign_slot(second, amara, by=setup.boss, override=True)

    assert shift.overridden
    assert "the team's cap is 30%" in shift.reason["override"]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_slot_editor_shows_the_cap_refusal(client):
    setup, _, amara, second = amara_holds_one_december_shift(cap=30)
    client.force_login(setup.boss)

    response = client.post(
        f"/slots/{second.pk}/assign/", {"assignee": amara.pk}, headers={"HX-Request": "true"}
    )

    assert "would be on call 50% of December 2026; the team&#x27;s cap is 30%" in (
        response.content.decode()
    )


def test_a_manager_sets_the_cap_on_the_team_page(client):
    setup = build_team(2)
    client.force_login(setup.boss)

    page = client.get(f"/teams/{setup.team.slug}/").content.decode()
    response = client.post(f"/teams/{setup.team.slug}/settings/", {"max_oncall_share": "45"})

    assert "Largest share of a period one person may be on call" in page
    assert response.status_code == 302
    setup.team.refresh_from_db()
    assert setup.team.max_oncall_share == 45
    assert AuditEntry.objects.filter(team=setup.team, summary__contains="45%").exists()


def test_an_engineer_cannot_change_the_cap(client):
    setup = build_team(2)
    client.force_login(setup.people[0])

    response = client.post(f"/teams/{setup.team.slug}/settings/", {"max_oncall_share": "90"})

    assert response.status_code == 404
    setup.team.refresh_from_db()
    assert setup.team.max_oncall_share == 100


def test_the_database_refuses_a_cap_outside_1_to_100():
    setup = build_team(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.filter(pk=setup.team.pk).update(max_oncall_share=0)
