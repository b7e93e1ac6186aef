"""The plan keeps each person's availability (time away, utilisation) across writes and works it
out again only for the people whose time away or allocations were written since: after any
write, the plan shows exactly what a plan computed from nothing kept shows, and a write
costs the same queries for a small team or a large one."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import F

from availability import selectors as availability
from availability import services as availability_services
from availability.models import AvailabilityEntry, ProjectAllocation
from rotation.models import Person, Roster, Shift
from tests.factories import RotationFactory, build_team, engineer, join_rotation
from tests.plan_support import computed_from_nothing_kept, plan_url

NOW = "2026-11-20 12:00Z"
DECEMBER = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
AWAY = (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC))


def seen(client, setup) -> dict:
    """What the plan says of each person: everything availability feeds."""
    response = client.get(plan_url(setup))
    assert response.status_code == 200
    return {
        row.user_id: (
            row.utilisation,
            row.commitments,
            row.level.level,
            row.level.projected,
            row.level.rank,
            row.why,
            [(c.unavailable, c.partial, c.preferred) for c in row.cells],
        )
        for row in response.context["rows"]
    }


def someone_marks_time_away(setup):
    availability_services.mark(*AWAY, "unavailable", by=setup.people[0])


def someone_clears_their_time_away(setup):
    availability_services.clear(*AWAY, by=setup.people[1])


def an_operator_moves_time_away_without_a_signal(setup):
    AvailabilityEntry.objects.filter(user=setup.people[1]).update(end=F("end") + timedelta(days=3))


def an_operator_rewrites_time_away_as_it_was(setup):
    AvailabilityEntry.objects.filter(user=setup.people[1]).update(end=F("end"))


def someone_prefers_a_day(setup):
    day = datetime(2026, 12, 3, 9, tzinfo=UTC)
    availability_services.mark(day, day + timedelta(hours=8), "preferred", by=setup.people[2])


def the_manager_allocates_someone_to_a_project(setup):
    availability_services.set_allocation(
        by=setup.boss,
        user=setup.people[2],
        team=setup.team,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=60,
        project="Checkout",
    )


def an_allocation_is_removed(setup):
    ProjectAllocation.objects.filter(user=setup.people[3]).delete()


def a_newcomer_who_is_away_joins_the_rotation(setup):
    newcomer = engineer(setup.team, first_name="Zanele")
    availability_services.mark(*AWAY, "unavailable", by=newcomer)
    join_rotation(setup.rotation, newcomer)


def someone_is_published_on_call_in_another_rotation(setup):
    other = RotationFactory(team=setup.team, lead=setup.boss)
    roster = Roster.objects.create(
        rotation=other,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        status=Roster.Status.PUBLISHED,
    )
    Shift.objects.create(
        roster=roster,
        role="primary",
        start=datetime(2026, 12, 14, 9, tzinfo=UTC),
        end=datetime(2026, 12, 18, 9, tzinfo=UTC),
        assignee=setup.people[4],
    )


def someone_changes_their_working_hours(setup):
    Person.objects.filter(user=setup.people[1]).update(work_start=time(12), work_end=time(14))


def time_away_written_then_rolled_back(setup):
    with pytest.raises(RuntimeError), transaction.atomic():
        availability_services.mark(*AWAY, "unavailable", by=setup.people[4])
        raise RuntimeError("the request failed after the write")


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "write",
    [
        someone_marks_time_away,
        someone_clears_their_time_away,
        an_operator_moves_time_away_without_a_signal,
        an_operator_rewrites_time_away_as_it_was,
        someone_prefers_a_day,
        the_manager_allocates_someone_to_a_project,
        an_allocation_is_removed,
        a_newcomer_who_is_away_joins_the_rotation,
        someone_is_published_on_call_in_another_rotation,
        someone_changes_their_working_hours,
        time_away_written_then_rolled_back,
    ],
)
def test_after_any_write_the_plan_shows_what_it_would_show_from_nothing_kept(
    transactional_db, client, settings, plan_remembered, write
):
    setup = build_team(6, pattern="daily", handoff_time=time(9))
    availability_services.mark(*AWAY, "unavailable", by=setup.people[1])
    availability_services.set_allocation(
        by=setup.boss,
        user=setup.people[3],
        team=setup.team,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=40,
    )
    client.force_login(setup.boss)
    before = seen(client, setup)  # everyone's availability kept from here
    assert seen(client, setup) == before

    write(setup)

    after = seen(client, setup)
    assert after == computed_from_nothing_kept(settings, lambda: seen(client, setup))
    assert seen(client, setup) == after


@time_machine.travel(NOW, tick=False)
def test_time_away_shows_on_the_writers_row_and_leaves_the_others_as_they_were(
    transactional_db, client, plan_remembered
):
    setup = build_team(6, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    before = seen(client, setup)

    availability_services.mark(*AWAY, "unavailable", by=amara)

    after = seen(client, setup)
    assert after[amara.pk][0] > before[amara.pk][0]  # utilisation: away 5 of 31 days
    assert any(unavailable for unavailable, _, _ in after[amara.pk][6])
    assert {uid: row[1] for uid, row in after.items() if uid != amara.pk} == {
        uid: row[1] for uid, row in before.items() if uid != amara.pk
    }


@time_machine.travel(NOW, tick=False)
def test_a_persons_commitment_version_changes_with_their_own_writes_only(transactional_db):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    amara, bo, chen = setup.people
    availability_services.mark(*AWAY, "unavailable", by=amara)
    availability_services.mark(*AWAY, "unavailable", by=bo)
    ids = [p.pk for p in setup.people]

    def versions():
        return availability.commitment_versions(user_ids=ids, start=DECEMBER[0], end=DECEMBER[1])

    first = versions()
    assert set(first) == {amara.pk, bo.pk}  # Chen has nothing in December

    # The same values written again still count as a write: its row has a new version.
    AvailabilityEntry.objects.filter(user=amara).update(end=F("end"))
    second = versions()
    assert second[amara.pk] != first[amara.pk]
    assert second[bo.pk] == first[bo.pk]

    availability_services.clear(*AWAY, by=bo)
    assert bo.pk not in versions()

    # Time away outside the period is not part of it.
    january = datetime(2027, 1, 10, tzinfo=UTC)
    availability_services.mark(january, january + timedelta(days=2), "unavailable", by=chen)
    assert chen.pk not in versions()


@time_machine.travel(NOW, tick=False)
def test_follow_the_sun_keeps_working_hours_apart_from_the_time_away_written(
    transactional_db, client, settings, plan_remembered
):
    """Outside working hours counts as unavailable in a follow-the-sun rotation: a person's
    time away worked out again keeps their hours, and drops the time away they cleared."""
    setup = build_team(4, pattern="follow_the_sun", handoff_time=time(9))
    amara = setup.people[0]
    Person.objects.filter(user=amara).update(time_zone="Asia/Tokyo")
    availability_services.mark(*AWAY, "unavailable", by=amara)
    client.force_login(setup.boss)
    seen(client, setup)

    availability_services.clear(*AWAY, by=amara)
    seen(client, setup)
    availability_services.mark(*AWAY, "unavailable", by=amara)

    assert seen(client, setup) == computed_from_nothing_kept(settings, lambda: seen(client, setup))
