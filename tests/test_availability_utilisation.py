"""Utilisation: project allocation + time off + on-call elsewhere, as shares of working time."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from availability import selectors, services
from onehand.errors import NotAllowed
from rotation import services as rotation_services
from rotation.models import Person
from rotation.permissions import SYSTEM
from tests.factories import RotationFactory, TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
DECEMBER = selectors.month_span(date(2026, 12, 1), LONDON)
WORKING_DAYS_IN_DECEMBER = 23  # Mon–Fri, 1–31 December 2026


@pytest.fixture
def team():
    team = TeamFactory()
    return {
        "team": team,
        "boss": manager(team),
        "person": engineer(team, time_zone="Europe/London"),
    }


def allocate(t, percent, *, by=None, person=None):
    return services.set_allocation(
        by=by or t["boss"],
        user=person or t["person"],
        team=t["team"],
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=percent,
    )


def test_half_allocation_plus_a_week_off(team):
    allocate(team, 50)
    # Monday 7 to Sunday 13 December: five working days off.
    services.toggle_days(date(2026, 12, 7), date(2026, 12, 13), "unavailable", by=team["person"])
    u = selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
        team["person"].pk
    ]
    assert u.allocation == pytest.approx(0.5)
    assert u.time_off == pytest.approx(5 / WORKING_DAYS_IN_DECEMBER, abs=1e-4)
    assert u.on_call == 0
    assert u.total == pytest.approx(0.5 + 5 / WORKING_DAYS_IN_DECEMBER, abs=1e-4)


def test_the_total_rises_with_the_allocation(team):
    services.toggle_days(date(2026, 12, 7), date(2026, 12, 13), "unavailable", by=team["person"])
    totals = []
    for percent in (0, 25, 50, 75):
        allocate(team, percent)
        totals.append(
            selectors.utilisation_for(
                user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1]
            )[team["person"].pk].total
        )
    assert totals == sorted(totals) and len(set(totals)) == 4
    allocate(team, 100)
    assert (
        selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
            team["person"].pk
        ].total
        == 1.0
    )


def test_time_off_only_counts_working_hours(team):
    # A weekend away and an evening out take no working time.
    services.toggle_days(date(2026, 12, 5), date(2026, 12, 6), "unavailable", by=team["person"])
    evening = datetime.combine(date(2026, 12, 8), time(18), tzinfo=LONDON)
    services.mark(evening, evening.replace(hour=23), "unavailable", by=team["person"])
    u = selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
        team["person"].pk
    ]
    assert u.time_off == 0


def test_half_a_month_allocation_counts_for_its_half(team):
    services.set_allocation(
        by=team["boss"],
        user=team["person"],
        team=team["team"],
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 16),
        percent=100,
    )
    u = selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
        team["person"].pk
    ]
    assert u.allocation == pytest.approx(
        11 / WORKING_DAYS_IN_DECEMBER, abs=1e-4
    )  # 1–15 Dec: 11 days


def test_published_shifts_in_other_rotations_count_as_on_call(team):
    other = RotationFactory(team=team["team"], pattern="daily", handoff_time=time(9))
    roster = rotation_services.create_roster(other, date(2026, 12, 7), date(2026, 12, 8), by=SYSTEM)
    roster.shifts.filter(role="primary").update(assignee=team["person"])
    rotation_services.publish_roster(roster, by=team["boss"])
    u = selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
        team["person"].pk
    ]
    # 09:00 Monday to 09:00 Tuesday covers one working day.
    assert u.on_call == pytest.approx(1 / WORKING_DAYS_IN_DECEMBER, abs=1e-4)
    excluded = selectors.utilisation_for(
        user_ids=[team["person"].pk],
        start=DECEMBER[0],
        end=DECEMBER[1],
        exclude_rotation_id=other.pk,
    )
    assert excluded[team["person"].pk].on_call == 0


def test_working_hours_come_from_the_persons_profile(team):
    Person.objects.filter(user=team["person"]).update(
        work_days="0,1,2", work_start=time(10), work_end=time(14)
    )
    services.toggle_days(
        date(2026, 12, 7), date(2026, 12, 7), "unavailable", by=team["person"]
    )  # a Monday
    u = selectors.utilisation_for(user_ids=[team["person"].pk], start=DECEMBER[0], end=DECEMBER[1])[
        team["person"].pk
    ]
    mon_to_wed = sum(1 for d in range(1, 32) if date(2026, 12, d).weekday() <= 2)
    assert u.time_off == pytest.approx(1 / mon_to_wed, abs=1e-4)


def test_engineers_set_their_own_allocation_only_when_the_team_allows(team):
    with pytest.raises(NotAllowed):
        allocate(team, 30, by=team["person"])
    services.set_team_settings(team["team"], by=team["boss"], engineers_set_allocation=True)
    allocate(team, 30, by=team["person"])
    colleague = engineer(team["team"])
    with pytest.raises(NotAllowed):
        allocate(team, 30, by=team["person"], person=colleague)


def test_allocation_is_a_percentage(team):
    with pytest.raises(services.AvailabilityError):
        allocate(team, 120)


@pytest.mark.parametrize("size", [5, 50])
def test_utilisation_takes_four_queries(size, team, django_assert_num_queries):
    people = [engineer(team["team"]) for _ in range(size)]
    for person in people:
        allocate(team, 20, person=person)
        services.toggle_days(date(2026, 12, 7), date(2026, 12, 8), "unavailable", by=person)
    with django_assert_num_queries(4):
        result = selectors.utilisation_for(
            user_ids=[p.pk for p in people], start=DECEMBER[0], end=DECEMBER[1]
        )
    assert len(result) == size and all(u.allocation == pytest.approx(0.2) for u in result.values())


def test_month_span_is_the_local_month():
    assert DECEMBER == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert selectors.month_span(date(2026, 7, 1), LONDON) == (
        datetime(2026, 6, 30, 23, tzinfo=UTC),
        datetime(2026, 7, 31, 23, tzinfo=UTC),
    )
