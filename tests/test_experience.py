"""Experience: what a person has served in a rotation, their level and their next step."""

from datetime import UTC, date, datetime

import pytest

from incidents import services as incidents
from planning.experience import (
    Thresholds,
    experience_by_person,
    experienced_people,
    level_of,
)
from rotation import services as rotation_services
from rotation.history import import_history
from tests.factories import build_team

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def history_csv(rotation, rows) -> bytes:
    """rows: (user, role, "2026-06-01") -> one week from that Monday 09:00 UTC."""
    lines = ["email,rotation,role,start,end"]
    for user, role, day in rows:
        start = date.fromisoformat(day)
        end = date.fromordinal(start.toordinal() + 7)
        lines.append(
            f"{user.email},{rotation.name},{role},{start}T09:00:00+00:00,{end}T09:00:00+00:00"
        )
    return ("\n".join(lines) + "\n").encode()


def roster(setup, month_start, month_end, *, primary=None, secondary=None, publish=True):
    made = rotation_services.create_roster(setup.rotation, month_start, month_end, by=setup.boss)
    if primary:
        made.shifts.filter(role="primary").update(assignee=primary)
    if secondary:
        made.shifts.filter(role="secondary").update(assignee=secondary)
    if publish:
        rotation_services.publish_roster(made, by=setup.boss)
    return made


def test_published_shifts_that_ended_count_and_drafts_and_future_shifts_do_not():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    roster(setup, date(2026, 6, 1), date(2026, 7, 1), primary=dev, secondary=amara)
    roster(setup, date(2026, 7, 1), date(2026, 8, 1), primary=amara, publish=False)
    roster(setup, date(2026, 12, 1), date(2027, 1, 1), primary=amara)

    found = experience_by_person(rotation=setup.rotation, as_of=NOW)

    # June 2026 has five Monday handoffs from 1 June: 1, 8, 15, 22, 29 (the last ends in July).
    assert (found[dev.pk].primary, found[dev.pk].secondary) == (5, 0)
    assert (found[amara.pk].primary, found[amara.pk].secondary) == (0, 5)


def test_a_republished_period_counts_each_slot_once_for_whoever_holds_it_now():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    roster(setup, date(2026, 6, 1), date(2026, 7, 1), primary=dev)
    roster(setup, date(2026, 6, 1), date(2026, 7, 1), primary=amara)

    found = experience_by_person(rotation=setup.rotation, as_of=NOW)

    assert (found[amara.pk].primary, found[dev.pk].primary) == (5, 0)


def test_imported_history_counts_as_experience():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    import_history(
        setup.team,
        history_csv(
            setup.rotation,
            [(dev, "primary", "2025-01-06"), (dev, "primary", "2025-01-13")]
            + [(amara, "shadow", "2025-01-06")],
        ),
        by=setup.boss,
    )

    found = experience_by_person(rotation=setup.rotation, as_of=NOW)

    assert found[dev.pk].primary == 2 and found[dev.pk].experienced
    assert found[amara.pk].shadow == 1 and found[amara.pk].level == "newcomer"


def test_incidents_attributed_to_a_person_count_as_handled():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    roster(setup, date(2026, 6, 1), date(2026, 7, 1), primary=dev)
    for day in (2, 3, 9):
        incidents.record_incident(
            setup.rotation,
            by=setup.boss,
            title=f"Checkout errors {day}",
            started_at=datetime(2026, 6, day, 14, tzinfo=UTC),
        )

    found = experience_by_person(rotation=setup.rotation, as_of=NOW)

    assert (found[dev.pk].incidents, found[amara.pk].incidents) == (3, 0)


def test_experience_is_counted_as_of_a_moment():
    setup = build_team(1, names=["Dev"])
    (dev,) = setup.people
    roster(setup, date(2026, 6, 1), date(2026, 7, 1), primary=dev)

    mid_june = experience_by_person(
        rotation=setup.rotation, as_of=datetime(2026, 6, 16, tzinfo=UTC)
    )

    assert mid_june[dev.pk].primary == 2


@pytest.mark.parametrize(
    ("served", "level", "step"),
    [
        ({}, "newcomer", "2 more shadow shifts before secondary"),
        ({"shadow": 1}, "newcomer", "1 more shadow shift before secondary"),
        ({"shadow": 2}, "shadowed", "4 more secondary shifts before primary"),
        (
            {"shadow": 2, "secondary": 2},
            "secondary-ready",
            "2 more secondary shifts before primary",
        ),
        ({"secondary": 3}, "secondary-ready", "1 more secondary shift before primary"),
        (
            {"secondary": 4},
            "primary-ready",
            "Ready for primary; the first 2 primary shifts paired with an experienced secondary",
        ),
        (
            {"secondary": 4, "primary": 2},
            "primary-ready",
            "Ready for primary; can pair with newcomers",
        ),
    ],
)
def test_levels_and_the_next_step_in_words(served, level, step):
    counts = {"primary": 0, "secondary": 0, "shadow": 0} | served
    found = level_of(**counts, thresholds=Thresholds())
    assert (found.level, found.next_step) == (level, step)
    assert found.experienced == (level == "primary-ready")


def test_the_thresholds_are_the_rotations_settings():
    setup = build_team(
        1,
        names=["Amara"],
        level_shadow_shifts=1,
        level_secondary_shifts=1,
        level_primary_ready_shifts=1,
    )
    (amara,) = setup.people
    roster(setup, date(2026, 6, 1), date(2026, 6, 9), secondary=amara)

    found = experience_by_person(rotation=setup.rotation, as_of=NOW)

    assert found[amara.pk].level == "primary-ready"
    assert experienced_people(rotation=setup.rotation, as_of=NOW) == [amara.pk]


def test_experience_costs_the_same_queries_for_5_and_50_people(django_assert_max_num_queries):
    for size in (5, 50):
        setup = build_team(size, prefix=f"q{size}")
        with django_assert_max_num_queries(3):
            experience_by_person(rotation=setup.rotation, as_of=NOW)
