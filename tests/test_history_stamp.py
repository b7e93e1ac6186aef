"""What the plan and the load report work out from a rotation's history (past load, experience,
pages, members and their profiles, the drafts table, the report's figures) is kept under the
history stamp, which time away does not renew: the plan's first view after someone marks time
away ranks the team from kept history. Every write that feeds the kept history is seen on the
next view; another team's write changes nothing of this team's."""

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F

from availability import services as availability_services
from availability.models import AvailabilityEntry, DutyRequirement, ProjectAllocation, Qualification
from incidents import services as incidents
from incidents.models import Incident
from planning import plan_stamp
from rotation.models import Person, Roster, Rotation, RotationMember, Shift
from tests.factories import DutyRequirementFactory, build_team, daily_roster, verified
from tests.plan_support import plan_url

NOW = "2026-11-20 12:00Z"
AWAY = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC))


@pytest.fixture
def remembering(settings):
    settings.ONEHAND_PLAN_REMEMBER = True
    # The plan's own rows, read through the page's context, not whole pages served as bytes.
    settings.ONEHAND_PAGE_REMEMBER = False


def report_url(setup) -> str:
    return f"/rotations/{setup.rotation.pk}/report/"


def rows_by_person(client, setup) -> dict:
    response = client.get(plan_url(setup))
    assert response.status_code == 200
    return {row.user_id: row for row in response.context["rows"]}


def imported_october(setup) -> Roster:
    return daily_roster(setup, date(2026, 10, 1), date(2026, 11, 1), Roster.Status.IMPORTED)


def viewed_after_time_away(client, setup) -> dict:
    """The plan as first seen after someone else marks time away: the team's history is the
    one kept from the view before."""
    rows_by_person(client, setup)
    availability_services.mark(*AWAY, "unavailable", by=setup.boss)
    return rows_by_person(client, setup)


@time_machine.travel(NOW, tick=False)
def test_time_away_renews_the_plan_stamp_but_not_the_history_stamp(transactional_db, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    plan, history = plan_stamp.PLAN.current(), plan_stamp.HISTORY.current()

    availability_services.mark(*AWAY, "unavailable", by=setup.people[0])

    assert plan_stamp.PLAN.current() != plan
    assert plan_stamp.HISTORY.current() == history


@pytest.mark.parametrize(
    "model",
    [Shift, Roster, Rotation, RotationMember, Person, Incident, Qualification, DutyRequirement],
)
def test_a_write_to_what_history_is_made_of_renews_the_history_stamp(db, model):
    assert model._meta.db_table in plan_stamp.HISTORY.watched_tables()
    assert "auth_user" in plan_stamp.HISTORY.watched_tables()


@pytest.mark.parametrize("model", [AvailabilityEntry, ProjectAllocation])
def test_time_away_preferences_and_allocations_leave_the_history_stamp(db, model):
    assert model._meta.db_table not in plan_stamp.HISTORY.watched_tables()
    assert model._meta.db_table in plan_stamp.PLAN.watched_tables()


@time_machine.travel(NOW, tick=False)
def test_a_month_of_imported_history_shows_in_the_plans_past_load_at_once(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    before = viewed_after_time_away(client, setup)[amara.pk]

    imported_october(setup)

    after = rows_by_person(client, setup)[amara.pk]
    assert after.level.past_load > before.level.past_load
    assert after.experience.primary > before.experience.primary


@time_machine.travel(NOW, tick=False)
def test_an_incident_shows_in_the_plans_experience_at_once(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    # An incident is attributed to the primary of a published shift.
    daily_roster(setup, date(2026, 10, 1), date(2026, 11, 1), Roster.Status.PUBLISHED)
    client.force_login(setup.boss)
    before = viewed_after_time_away(client, setup)
    handled = {uid: row.experience.incidents for uid, row in before.items()}

    incidents.record_incident(
        setup.rotation,
        by=setup.boss,
        title="Checkout errors",
        started_at=datetime(2026, 10, 3, 14, tzinfo=UTC),
    )

    after = rows_by_person(client, setup)
    assert sum(row.experience.incidents for row in after.values()) == sum(handled.values()) + 1


@time_machine.travel(NOW, tick=False)
def test_a_new_time_zone_and_name_show_in_the_plan_at_once(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    viewed_after_time_away(client, setup)

    Person.objects.filter(user=amara).update(time_zone="Asia/Tokyo")
    amara.first_name = "Zanele"
    amara.save()

    row = rows_by_person(client, setup)[amara.pk]
    assert row.time_zone == "Asia/Tokyo"
    assert row.name.startswith("Zanele")


@time_machine.travel(NOW, tick=False)
def test_a_new_half_life_changes_the_plans_past_load_at_once(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    imported_october(setup)
    amara = setup.people[0]
    client.force_login(setup.boss)
    before = viewed_after_time_away(client, setup)[amara.pk]

    Rotation.objects.filter(pk=setup.rotation.pk).update(history_half_life_days=7)

    after = rows_by_person(client, setup)[amara.pk]
    assert after.level.past_load < before.level.past_load


@time_machine.travel(NOW, tick=False)
def test_the_load_report_shows_imported_history_at_once(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    client.get(report_url(setup))
    availability_services.mark(*AWAY, "unavailable", by=setup.boss)
    before = sum(row.hours for row in client.get(report_url(setup)).context["rows"])

    imported_october(setup)

    after = sum(row.hours for row in client.get(report_url(setup)).context["rows"])
    assert after == before + 31 * 2 * 24


@time_machine.travel(NOW, tick=False)
def test_a_verified_qualification_shows_in_the_reports_bus_factor_at_once(
    transactional_db, client, remembering
):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    imported_october(setup)
    DutyRequirementFactory(rotation=setup.rotation, gates_primary=True)
    client.force_login(setup.boss)
    before = client.get(report_url(setup)).context["bus_factor"]
    assert before[-1][1] == 0  # experienced, but nobody holds the training primary needs

    verified(setup.people[0], DutyRequirement.objects.get(rotation=setup.rotation))

    after = client.get(report_url(setup)).context["bus_factor"]
    assert after[-1][1] == 1


@time_machine.travel(NOW, tick=False)
def test_another_teams_history_does_not_reach_this_teams_plan(
    transactional_db, client, remembering
):
    ours = build_team(3, pattern="daily", handoff_time=time(9), prefix="ours-")
    theirs = build_team(3, pattern="daily", handoff_time=time(9), prefix="theirs-")
    client.force_login(ours.boss)
    before = rows_by_person(client, ours)
    client.force_login(theirs.boss)
    their_before = rows_by_person(client, theirs)

    imported_october(theirs)

    client.force_login(ours.boss)
    after = rows_by_person(client, ours)
    assert set(after) == {p.pk for p in ours.people}
    assert {uid: r.level.past_load for uid, r in after.items()} == {
        uid: r.level.past_load for uid, r in before.items()
    }
    client.force_login(theirs.boss)
    their_after = rows_by_person(client, theirs)
    assert set(their_after) == {p.pk for p in theirs.people}
    assert sum(r.level.past_load for r in their_after.values()) > sum(
        r.level.past_load for r in their_before.values()
    )


@time_machine.travel(NOW, tick=False)
def test_a_lost_history_stamp_keeps_nothing_stale(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    before = viewed_after_time_away(client, setup)[amara.pk]

    cache.delete(plan_stamp.HISTORY_STAMP_KEY)  # a flushed Redis
    imported_october(setup)

    assert rows_by_person(client, setup)[amara.pk].level.past_load > before.level.past_load


@time_machine.travel(NOW, tick=False)
def test_the_history_stamp_is_renewed_before_the_plan_and_page_stamps(
    transactional_db, remembering
):
    """A reader reads the plan (or page) stamp, then the history stamp: if it sees the first
    renewed, it must see the second renewed too, or it would keep a plan made from the old
    history under the new plan stamp. So the history stamp goes first, even when the
    transaction wrote time away before it wrote a shift."""
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    roster = imported_october(setup)
    with transaction.atomic():
        availability_services.mark(*AWAY, "unavailable", by=setup.people[0])
        Shift.objects.filter(roster=roster).update(end=F("end"))
        renewals = [func for _, func, _ in connection.run_on_commit]
        assert plan_stamp.HISTORY.pending(connection)
        assert renewals[0] is plan_stamp.HISTORY._renew_after_commit
