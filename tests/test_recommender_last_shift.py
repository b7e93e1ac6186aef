"""Someone whose last shift is still running when the period starts is not given a slot that
overlaps it, nor one inside the rest after it: in every mode, in the reasons, and in a draft
of the product (a handoff moved between two months)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from planning import services as planning_services
from planning.recommender import Candidate, Settings, Slot, recommend
from rotation.models import Roster, Shift
from tests.factories import build_team, daily_roster

START = datetime(2026, 12, 7, 9, tzinfo=UTC)
TWELVE_HOURS = Settings(min_rest=timedelta(hours=12))


def morning_slot() -> list[Slot]:
    return [Slot("mon", "mon", "primary", START, START + timedelta(hours=12))]


def on_call(pid: int, name: str, last_shift_end: datetime) -> Candidate:
    return Candidate(pid, name, frozenset({"primary"}), last_shift_end=last_shift_end)


@pytest.mark.parametrize("mode", ["greedy", "exact"])
def test_someone_still_on_their_last_shift_is_not_given_a_slot_overlapping_it(mode):
    still_on_call = on_call(1, "Ana", START + timedelta(hours=6))
    rested_two_hours = on_call(2, "Ben", START - timedelta(hours=2))

    draft = recommend(morning_slot(), [still_on_call, rested_two_hours], TWELVE_HOURS, mode=mode)

    assert not draft.assignments
    (empty,) = draft.uncovered
    assert "still on their last shift" in empty.blocking[1]
    assert "rest rule" in empty.blocking[2]


@pytest.mark.parametrize("mode", ["greedy", "exact"])
def test_after_a_long_last_shift_the_rest_counts_from_its_end(mode):
    """The shift ended 6 h into the period: a slot 12 h later is too soon, 18 h later is fine."""
    slots = [
        Slot("eve", "eve", "primary", START + timedelta(hours=12), START + timedelta(hours=18)),
        Slot("next", "next", "primary", START + timedelta(hours=18), START + timedelta(hours=24)),
    ]
    ana = on_call(1, "Ana", START + timedelta(hours=6))

    draft = recommend(slots, [ana], TWELVE_HOURS, mode=mode)

    assert [(a.slot_key, a.person_id) for a in draft.assignments] == [("next", 1)]
    assert "rest rule" in draft.uncovered[0].blocking[1]


@pytest.mark.django_db
def test_a_published_shift_running_into_the_next_month_keeps_its_holder_off_the_overlap():
    """November's shifts were handed off at 21:00; December's hand off at 09:00. Whoever holds
    the last November shift (until 1 December 21:00) is not on call from 1 December 09:00."""
    setup = build_team(3, pattern="daily", handoff_time=time(9), time_zone="UTC")
    daily_roster(setup, date(2026, 11, 1), date(2026, 12, 1), Roster.Status.PUBLISHED, at=time(21))
    running_on = Shift.objects.filter(end__gt=datetime(2026, 12, 1, 9, tzinfo=UTC))
    still_on_call = {s.assignee_id: s.end for s in running_on}
    assert len(still_on_call) == 2

    draft = planning_services.draft_roster(
        setup.rotation,
        date(2026, 12, 1),
        date(2027, 1, 1),
        by=setup.boss,
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )

    for shift in draft.shifts.exclude(assignee=None):
        if shift.assignee_id in still_on_call:
            assert shift.start >= still_on_call[shift.assignee_id]
    first_day = draft.shifts.filter(start=datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert first_day.exclude(assignee=None).count() == 1
