"""Marking availability: days in the person's zone, UTC in the database, locks and merging."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from availability import intervals as iv
from availability import selectors, services
from availability.models import AvailabilityEntry
from onehand.errors import NotAllowed
from tests.factories import TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db

LONDON = "Europe/London"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def manual(user):
    return list(
        AvailabilityEntry.objects.filter(user=user, source="manual")
        .order_by("start")
        .values_list("start", "end", "kind", "reason")
    )


def test_marking_29_to_31_march_in_london_spans_the_clock_change():
    person = engineer(TeamFactory(), time_zone=LONDON)
    services.toggle_days(
        date(2026, 3, 29), date(2026, 3, 31), "unavailable", reason="Trip", by=person
    )
    # 29 March starts at 00:00 GMT; 1 April starts at 00:00 BST, an hour earlier in UTC.
    assert manual(person) == [(utc(2026, 3, 29, 0), utc(2026, 3, 31, 23), "unavailable", "Trip")]


def test_marking_in_new_york_uses_new_york_midnights():
    person = engineer(TeamFactory(), time_zone="America/New_York")
    services.toggle_days(date(2026, 3, 8), date(2026, 3, 8), "unavailable", by=person)
    # 8 March 2026 is the US clock change: a 23-hour day.
    assert manual(person) == [(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), "unavailable", "")]


def test_toggling_marked_days_clears_them_and_splits_a_longer_entry():
    person = engineer(TeamFactory(), time_zone=LONDON)
    services.toggle_days(date(2026, 12, 1), date(2026, 12, 10), "unavailable", by=person)
    change = services.toggle_days(date(2026, 12, 4), date(2026, 12, 5), "unavailable", by=person)
    assert change.action == "cleared"
    assert manual(person) == [
        (utc(2026, 12, 1), utc(2026, 12, 4), "unavailable", ""),
        (utc(2026, 12, 6), utc(2026, 12, 11), "unavailable", ""),
    ]


def test_adjacent_days_join_into_one_entry():
    person = engineer(TeamFactory(), time_zone=LONDON)
    for day in (1, 2, 3):
        services.toggle_days(date(2026, 12, day), date(2026, 12, day), "unavailable", by=person)
    assert manual(person) == [(utc(2026, 12, 1), utc(2026, 12, 4), "unavailable", "")]


def test_marking_preferred_over_unavailable_replaces_it():
    person = engineer(TeamFactory(), time_zone=LONDON)
    services.toggle_days(date(2026, 12, 1), date(2026, 12, 3), "unavailable", by=person)
    services.toggle_days(date(2026, 12, 2), date(2026, 12, 2), "preferred", by=person)
    assert manual(person) == [
        (utc(2026, 12, 1), utc(2026, 12, 2), "unavailable", ""),
        (utc(2026, 12, 2), utc(2026, 12, 3), "preferred", ""),
        (utc(2026, 12, 3), utc(2026, 12, 4), "unavailable", ""),
    ]


def test_a_part_day_is_kept_to_the_minute():
    person = engineer(TeamFactory(), time_zone=LONDON)
    tz = ZoneInfo(LONDON)
    start = datetime.combine(date(2026, 7, 1), time(13, 30), tzinfo=tz)
    services.mark(start, start + timedelta(hours=2), "unavailable", reason="Dentist", by=person)
    assert manual(person) == [
        (utc(2026, 7, 1, 12, 30), utc(2026, 7, 1, 14, 30), "unavailable", "Dentist")
    ]


def test_clear_kind_always_clears():
    person = engineer(TeamFactory(), time_zone=LONDON)
    services.toggle_days(date(2026, 12, 1), date(2026, 12, 2), "preferred", by=person)
    services.toggle_days(date(2026, 12, 1), date(2026, 12, 1), "clear", by=person)
    assert manual(person) == [(utc(2026, 12, 2), utc(2026, 12, 3), "preferred", "")]


def test_a_locked_period_refuses_changes():
    team = TeamFactory(name="Payments")
    boss = manager(team)
    person = engineer(team, time_zone=LONDON)
    services.toggle_days(date(2026, 12, 24), date(2026, 12, 24), "unavailable", by=person)
    services.lock_availability(team, date(2026, 12, 1), date(2027, 1, 1), by=boss)
    with pytest.raises(services.AvailabilityLocked, match="locked by Payments"):
        services.toggle_days(date(2026, 12, 30), date(2027, 1, 2), "unavailable", by=person)
    entry = AvailabilityEntry.objects.get(user=person)
    with pytest.raises(services.AvailabilityLocked):
        services.delete_entry(entry, by=person)
    # January is still open.
    services.toggle_days(date(2027, 1, 2), date(2027, 1, 2), "unavailable", by=person)
    assert len(manual(person)) == 2


def test_only_a_manager_of_the_team_can_lock():
    team = TeamFactory()
    person = engineer(team)
    with pytest.raises(NotAllowed):
        services.lock_availability(team, date(2026, 12, 1), date(2027, 1, 1), by=person)


def test_locks_of_other_teams_do_not_apply():
    team, other = TeamFactory(), TeamFactory()
    services.lock_availability(other, date(2026, 12, 1), date(2027, 1, 1), by=manager(other))
    person = engineer(team)
    services.toggle_days(date(2026, 12, 5), date(2026, 12, 5), "unavailable", by=person)
    assert len(manual(person)) == 1


def test_calendar_entries_are_not_changed_by_hand():
    from availability.models import CalendarSource

    person = engineer(TeamFactory())
    source = CalendarSource.objects.create(user=person, name="Work", kind="upload")
    entry = AvailabilityEntry.objects.create(
        user=person,
        start=utc(2026, 12, 1),
        end=utc(2026, 12, 2),
        source="calendar",
        calendar=source,
    )
    with pytest.raises(services.AvailabilityError, match="calendar"):
        services.delete_entry(entry, by=person)
    # Toggling days leaves the imported entry in place.
    services.toggle_days(date(2026, 12, 1), date(2026, 12, 1), "clear", by=person)
    assert AvailabilityEntry.objects.filter(pk=entry.pk).exists()


def test_the_database_refuses_an_entry_that_ends_before_it_starts():
    from django.db import IntegrityError, transaction

    person = engineer(TeamFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        AvailabilityEntry.objects.create(user=person, start=utc(2026, 12, 2), end=utc(2026, 12, 1))


def test_unavailability_by_person_is_merged_clipped_and_has_every_key():
    team = TeamFactory()
    a, b = engineer(team), engineer(team)
    services.mark(utc(2026, 12, 1), utc(2026, 12, 3), "unavailable", reason="x", by=a)
    services.mark(utc(2026, 12, 3), utc(2026, 12, 5), "unavailable", reason="y", by=a)
    services.mark(utc(2026, 12, 10), utc(2026, 12, 11), "preferred", by=a)
    found = selectors.unavailability_by_person(
        user_ids=[a.pk, b.pk], start=utc(2026, 12, 2), end=utc(2026, 12, 31)
    )
    assert found == {a.pk: [(utc(2026, 12, 2), utc(2026, 12, 5))], b.pk: []}
    assert selectors.preferences_by_person(
        user_ids=[a.pk], start=utc(2026, 12, 1), end=utc(2027, 1, 1)
    ) == {a.pk: [(utc(2026, 12, 10), utc(2026, 12, 11))]}


@pytest.mark.parametrize("size", [5, 50])
def test_availability_selectors_use_one_query(size, django_assert_num_queries):
    team = TeamFactory()
    people = [engineer(team) for _ in range(size)]
    for person in people:
        services.mark(utc(2026, 12, 1), utc(2026, 12, 3), "unavailable", by=person)
        services.mark(utc(2026, 12, 5), utc(2026, 12, 6), "preferred", by=person)
    ids = [p.pk for p in people]
    with django_assert_num_queries(1):
        found = selectors.unavailability_by_person(
            user_ids=ids, start=utc(2026, 12, 1), end=utc(2027, 1, 1)
        )
    assert all(found[i] == [(utc(2026, 12, 1), utc(2026, 12, 3))] for i in ids)
    with django_assert_num_queries(1):
        selectors.preferences_by_person(user_ids=ids, start=utc(2026, 12, 1), end=utc(2027, 1, 1))


# --- the pure interval helpers ----------------------------------------------------------------


def test_interval_helpers():
    a = [(utc(2026, 1, 1), utc(2026, 1, 3)), (utc(2026, 1, 3), utc(2026, 1, 4))]
    assert iv.merge(a) == [(utc(2026, 1, 1), utc(2026, 1, 4))]
    assert iv.subtract(iv.merge(a), [(utc(2026, 1, 2), utc(2026, 1, 3))]) == [
        (utc(2026, 1, 1), utc(2026, 1, 2)),
        (utc(2026, 1, 3), utc(2026, 1, 4)),
    ]
    assert iv.intersect(a, [(utc(2026, 1, 2), utc(2026, 1, 10))]) == [
        (utc(2026, 1, 2), utc(2026, 1, 4))
    ]
    assert iv.covers(a, utc(2026, 1, 1), utc(2026, 1, 4))
    assert not iv.covers(a, utc(2026, 1, 1), utc(2026, 1, 5))


def test_working_hours_follow_local_time_across_dst():
    # A London 09:00–17:00 Monday: 08:00–16:00 UTC in summer, 09:00–17:00 UTC in winter.
    summer = iv.working_intervals(
        utc(2026, 6, 1),
        utc(2026, 6, 2),
        time_zone=LONDON,
        work_start=time(9),
        work_end=time(17),
        work_days={0},
    )
    winter = iv.working_intervals(
        utc(2026, 12, 7),
        utc(2026, 12, 8),
        time_zone=LONDON,
        work_start=time(9),
        work_end=time(17),
        work_days={0},
    )
    assert summer == [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 16))]
    assert winter == [(utc(2026, 12, 7, 9), utc(2026, 12, 7, 17))]


def test_night_workers_hours_run_into_the_next_morning():
    hours = iv.working_intervals(
        utc(2026, 12, 7),
        utc(2026, 12, 9),
        time_zone="UTC",
        work_start=time(22),
        work_end=time(6),
        work_days={0},
    )
    assert hours == [(utc(2026, 12, 7, 22), utc(2026, 12, 8, 6))]
