"""The plan keeps what it worked out across writes (under the history stamp, and each
person's availability under the version of their own rows): after a shift written,
reassigned, moved or deleted, a member leaving or joining, a qualification or profile
changed, an incident paged, the plan shows exactly what a plan computed from nothing kept
shows, and the first view after a shift write costs the same queries for a small team or a
large one."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from availability import services as availability_services
from incidents.models import Incident, IncidentGroup
from rotation.models import Person, Roster, Rotation, RotationMember, Shift
from tests.factories import (
    DutyRequirementFactory,
    build_team,
    daily_roster,
    engineer,
    join_rotation,
    reassign,
    verified,
)
from tests.plan_support import computed_from_nothing_kept, plan_url

NOW = "2026-11-20 12:00Z"
DECEMBER = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
AWAY = (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC))

needs_xmin = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="per-person parts are kept under xmin"
)


def seen(client, setup) -> dict:
    """Everything the plan says of each person, and the team's readiness."""
    response = client.get(plan_url(setup))
    assert response.status_code == 200
    rows = {
        row.user_id: (
            row.name,
            row.time_zone,
            row.roles,
            row.needs_shadow,
            row.utilisation,
            row.commitments,
            row.level,
            row.share,
            row.why,
            row.experience,
            [(c.unavailable, c.partial, c.preferred) for c in row.cells],
        )
        for row in response.context["rows"]
    }
    return {"rows": rows, "order": list(rows), "bus factor": response.context["bus_factor"]}


def team_with_history(size: int = 6):
    """A daily rotation with half a year imported, a superseded plan for November and this
    month published over it, and someone away in December."""
    setup = build_team(size, pattern="daily", handoff_time=time(9))
    daily_roster(setup, date(2026, 5, 1), date(2026, 11, 1), Roster.Status.IMPORTED)
    # The superseded plan had the team in another order: whose shifts count is decided slot
    # by slot against the published one.
    reversed_team = replace(setup, people=setup.people[::-1])
    daily_roster(reversed_team, date(2026, 11, 1), date(2026, 12, 1), Roster.Status.SUPERSEDED)
    daily_roster(setup, date(2026, 11, 1), date(2026, 12, 1), Roster.Status.PUBLISHED)
    availability_services.mark(*AWAY, "unavailable", by=setup.people[1])
    return setup


def published_shift(setup, n: int = 0) -> Shift:
    return Shift.objects.filter(
        roster__rotation=setup.rotation, roster__status=Roster.Status.PUBLISHED
    ).order_by("start", "role")[n]


def a_shift_is_rewritten_as_it_was(setup):
    Shift.objects.filter(pk=published_shift(setup).pk).update(end=F("end"))


def a_shift_is_reassigned(setup):
    reassign(published_shift(setup, 3), setup.people[4])


def a_published_shift_moves_off_the_superseded_slot(setup):
    """The superseded primary of that day now counts for whoever held it there."""
    Shift.objects.filter(pk=published_shift(setup).pk).update(
        start=F("start") + timedelta(days=40), end=F("end") + timedelta(days=40)
    )


def a_past_shift_is_deleted(setup):
    Shift.objects.filter(
        roster__rotation=setup.rotation, roster__status=Roster.Status.IMPORTED
    ).order_by("-start").first().delete()


def the_published_roster_is_superseded(setup):
    Roster.objects.filter(rotation=setup.rotation, status=Roster.Status.PUBLISHED).update(
        status=Roster.Status.SUPERSEDED
    )


def a_member_leaves(setup):
    RotationMember.objects.filter(rotation=setup.rotation, user=setup.people[2]).delete()


def a_newcomer_joins(setup):
    """Credited the team's rate for the part of the year before they joined."""
    newcomer = engineer(setup.team, first_name="Zanele")
    join_rotation(setup.rotation, newcomer, since=date(2026, 9, 1))


def someone_moves_to_another_zone(setup):
    Person.objects.filter(user=setup.people[3]).update(time_zone="Asia/Tokyo", country="JP")


def someone_is_paged(setup):
    group = IncidentGroup.objects.create(rotation=setup.rotation, key="disk")
    Incident.objects.create(
        rotation=setup.rotation,
        group=group,
        title="Disk full",
        source="generic",
        started_at=datetime(2026, 11, 19, 2, tzinfo=UTC),
        attributed_to=setup.people[0],
    )


def primary_needs_a_qualification_and_one_person_has_it(setup):
    requirement = DutyRequirementFactory(rotation=setup.rotation)
    verified(setup.people[0], requirement)


def the_rotation_weighs_weekends_more(setup):
    Rotation.objects.filter(pk=setup.rotation.pk).update(weekend_weight=3)


def a_shift_write_rolled_back(setup):
    with pytest.raises(RuntimeError), transaction.atomic():
        reassign(published_shift(setup, 2), setup.people[5])
        raise RuntimeError("the request failed after the write")


def time_away_and_a_shift_written_together(setup):
    availability_services.mark(*AWAY, "unavailable", by=setup.people[4])
    reassign(published_shift(setup, 1), setup.people[1])


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "write",
    [
        a_shift_is_rewritten_as_it_was,
        a_shift_is_reassigned,
        a_published_shift_moves_off_the_superseded_slot,
        a_past_shift_is_deleted,
        the_published_roster_is_superseded,
        a_member_leaves,
        a_newcomer_joins,
        someone_moves_to_another_zone,
        someone_is_paged,
        primary_needs_a_qualification_and_one_person_has_it,
        the_rotation_weighs_weekends_more,
        a_shift_write_rolled_back,
        time_away_and_a_shift_written_together,
    ],
)
def test_after_a_write_to_the_history_the_plan_shows_what_it_would_show_from_nothing_kept(
    transactional_db, client, settings, plan_remembered, write
):
    setup = team_with_history()
    client.force_login(setup.boss)
    before = seen(client, setup)  # everyone's candidate kept from here
    assert seen(client, setup) == before

    write(setup)

    after = seen(client, setup)
    assert after == computed_from_nothing_kept(settings, lambda: seen(client, setup))
    assert seen(client, setup) == after


@needs_xmin
@time_machine.travel(NOW, tick=False)
def test_the_first_view_after_a_shift_write_costs_the_same_queries_for_5_or_60_people(
    transactional_db, client, plan_remembered
):
    counts = []
    for size in (5, 60):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        daily_roster(setup, date(2026, 11, 1), date(2026, 12, 1), Roster.Status.PUBLISHED)
        client.force_login(setup.boss)
        client.get(plan_url(setup))

        Shift.objects.filter(pk=published_shift(setup).pk).update(end=F("end"))

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(plan_url(setup)).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_writes_one_after_another_each_show_as_computed_from_nothing_kept(
    transactional_db, client, settings, plan_remembered
):
    """Each first view patches what the views before it patched: nobody's earlier patch is
    lost or served after their next write."""
    setup = team_with_history()
    client.force_login(setup.boss)
    seen(client, setup)
    for write in (
        a_shift_is_reassigned,
        time_away_and_a_shift_written_together,
        a_shift_is_rewritten_as_it_was,
        someone_is_paged,
        a_past_shift_is_deleted,
    ):
        write(setup)
        assert seen(client, setup) == computed_from_nothing_kept(
            settings, lambda: seen(client, setup)
        )
