"""Property tests: the greedy recommender on small random rotations.

Instances: 3-7 people, 4-10 daily 24 h shifts with a primary and a secondary
slot, random qualifications, partial-day unavailability, time zones, holidays,
past loads, FTE and utilisation. The hard rules are re-checked here
independently of the module, and the greedy roster is compared with the exact
MILP optimum.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planning.recommender import Candidate, Settings, Slot, recommend
from tests.recommender_support import no_django, property_settings

# a Monday; Berlin and London switch to summer time that week
START = datetime(2026, 3, 23, 9, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
PROPERTY_SETTINGS = property_settings(60)


@pytest.fixture
def settings():
    return no_django()


@st.composite
def rotations(draw):
    n_days = draw(st.integers(4, 10))
    n_people = draw(st.integers(3, 7))
    slots = []
    for d in range(n_days):
        a = START + timedelta(days=d)
        for role in ("primary", "secondary"):
            slots.append(Slot(f"{d}:{role}", str(d), role, a, a + timedelta(days=1)))
    people = []
    for pid in range(1, n_people + 1):
        roles = {r for r in ("primary", "secondary") if draw(st.booleans()) or draw(st.booleans())}
        unavailable = []
        for d in draw(st.lists(st.integers(0, n_days - 1), max_size=2, unique=True)):
            offset = draw(st.integers(0, 23))
            length = draw(st.integers(1, 30))
            a = START + timedelta(days=d, hours=offset)
            unavailable.append((a, a + timedelta(hours=length)))
        holidays = frozenset(
            date(2026, 3, 23) + timedelta(days=d)
            for d in draw(st.lists(st.integers(0, n_days), max_size=1))
        )
        people.append(
            Candidate(
                person_id=pid,
                name=f"P{pid}",
                roles=frozenset(roles),
                time_zone=draw(st.sampled_from(ZONES)),
                holidays=holidays,
                unavailable=tuple(unavailable),
                past_load=draw(st.floats(0, 120, allow_nan=False).map(lambda x: round(x, 1))),
                fte=draw(st.sampled_from([1.0, 0.8, 0.5])),
                utilisation=draw(st.sampled_from([0.0, 0.1, 0.25, 0.4, 0.6])),
            )
        )
    return slots, people


def broken_rules(slots, people, rec):
    """Hard-rule violations, checked from first principles for daily 24 h shifts."""
    by_key = {s.key: s for s in slots}
    by_id = {p.person_id: p for p in people}
    problems = []
    days_of: dict[int, list[int]] = {}
    for a in rec.assignments:
        slot, who = by_key[a.slot_key], by_id[a.person_id]
        if slot.role not in who.roles:
            problems.append(f"{who.name} not qualified for {slot.key}")
        for u0, u1 in who.unavailable:
            if u0 < slot.end and slot.start < u1:
                problems.append(f"{who.name} unavailable for {slot.key}")
        days_of.setdefault(a.person_id, []).append(int(slot.shift_key))
    for pid, days in days_of.items():
        days.sort()
        if any(b - a <= 1 for a, b in zip(days, days[1:])):  # same shift, or back-to-back days
            problems.append(f"P{pid} works days {days}")
    covered = {a.slot_key for a in rec.assignments} | {u.slot_key for u in rec.uncovered}
    if covered != set(by_key) or len(rec.assignments) + len(rec.uncovered) != len(slots):
        problems.append("slots missing or duplicated")
    return problems


@PROPERTY_SETTINGS
@given(rotations())
def test_every_hard_rule_holds_in_the_greedy_roster(instance):
    slots, people = instance

    rec = recommend(slots, people)

    assert broken_rules(slots, people, rec) == []
    for u in rec.uncovered:
        assert set(u.blocking) == {p.person_id for p in people}
        assert all(u.blocking.values())


@PROPERTY_SETTINGS
@given(rotations())
def test_greedy_covers_what_exact_covers_and_is_within_two_percent(instance):
    slots, people = instance

    greedy = recommend(slots, people)
    exact = recommend(slots, people, Settings(exact_time_limit=30), mode="exact")

    if exact.status != "optimal" or exact.uncovered:
        return  # infeasible rotation: nothing to compare
    assert greedy.uncovered == ()
    assert greedy.objective_max >= exact.optimum - 1e-6
    assert greedy.objective_max <= exact.optimum * 1.02 + 1e-6
