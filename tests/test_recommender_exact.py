"""Greedy and exact mode against brute force on tiny rotations (lexicographic objective).

Objective: first the fewest empty primary slots, then the fewest empty secondary slots, then
the smallest largest normalised load L. Brute force enumerates every roster (including empty
slots) under hard rules re-implemented here for daily 24 h shifts with no back-to-back days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planning.recommender import (
    Candidate,
    Settings,
    Slot,
    capacity,
    exact,
    recommend,
    slot_weighted_hours,
)
from planning.recommender.cpsat import CpSat
from planning.recommender.problem import Problem
from tests.recommender_support import no_django, property_settings

START = datetime(2026, 3, 26, 9, tzinfo=UTC)  # a Thursday: the weekend falls inside
TINY = property_settings(40)


@pytest.fixture
def settings():
    return no_django()


@st.composite
def tiny_rotations(draw):
    days = draw(st.integers(2, 4))
    slots = [
        Slot(f"{d}:{r}", str(d), r, START + timedelta(days=d), START + timedelta(days=d + 1))
        for d in range(days)
        for r in ("primary", "secondary")
    ]
    people = []
    for pid in range(1, draw(st.integers(1, 4)) + 1):
        roles = draw(st.sets(st.sampled_from(["primary", "secondary"]), min_size=1))
        off = draw(st.lists(st.integers(0, days - 1), max_size=2, unique=True))
        people.append(
            Candidate(
                person_id=pid,
                name=f"P{pid}",
                roles=frozenset(roles),
                unavailable=tuple(
                    (START + timedelta(days=d, hours=3), START + timedelta(days=d, hours=5))
                    for d in off
                ),
                # hundredths of an hour and utilisations like 0.37: the exact search works in
                # integers, and its optimum must still be the brute-force one
                past_load=draw(st.integers(0, 6000)) / 100,
                fte=draw(st.sampled_from([1.0, 0.8, 0.5])),
                utilisation=draw(st.sampled_from([0.0, 0.13, 0.25, 0.37, 0.5])),
            )
        )
    return slots, people


def brute_force(slots, people):
    """Best (empty primary, empty secondary, max L) over every roster."""
    sets = Settings()
    caps = [capacity(p, sets) for p in people]
    best = [None]

    def allowed(slot, p):
        who = people[p]
        if slot.role not in who.roles:
            return False
        return not any(a < slot.end and slot.start < b for a, b in who.unavailable)

    def walk(k, days_of, loads, empty):
        if k == len(slots):
            top = max((people[p].past_load + loads[p]) / caps[p] for p in range(len(people)))
            key = (empty[0], empty[1], round(top, 9))
            if best[0] is None or key < best[0]:
                best[0] = key
            return
        slot = slots[k]
        day = int(slot.shift_key)
        role = 0 if slot.role == "primary" else 1
        for p in range(len(people)):
            if allowed(slot, p) and all(abs(day - d) > 1 for d in days_of[p]):
                days_of[p].append(day)
                loads[p] += slot_weighted_hours(slot, people[p], sets)
                walk(k + 1, days_of, loads, empty)
                loads[p] -= slot_weighted_hours(slot, people[p], sets)
                days_of[p].pop()
        empty[role] += 1
        walk(k + 1, days_of, loads, empty)
        empty[role] -= 1

    walk(0, [[] for _ in people], [0.0] * len(people), [0, 0])
    return best[0]


def key_of(slots, rec):
    roles = {s.key: s.role for s in slots}
    empty = [
        sum(1 for u in rec.uncovered if roles[u.slot_key] == r) for r in ("primary", "secondary")
    ]
    return empty[0], empty[1], rec.objective_max


@TINY
@given(tiny_rotations())
def test_exact_mode_equals_brute_force(instance):
    slots, people = instance
    truth = brute_force(slots, people)

    got = recommend(slots, people, Settings(exact_time_limit=20), mode="exact")

    assert key_of(slots, got)[:2] == truth[:2]
    assert got.objective_max == pytest.approx(truth[2], rel=1e-7, abs=1e-9)
    assert got.coverage_proven
    assert got.optimum == pytest.approx(truth[2], rel=1e-7, abs=1e-9)
    assert got.gap == 0.0


@TINY
@given(tiny_rotations())
def test_greedy_never_leaves_more_slots_empty_than_brute_force(instance):
    slots, people = instance
    truth = brute_force(slots, people)

    got = recommend(slots, people)

    assert key_of(slots, got)[:2] == truth[:2]
    assert got.objective_max >= truth[2] - 1e-9
    assert got.lower_bound <= truth[2] + 1e-6  # the bound is a bound


@TINY
@given(tiny_rotations(), st.sampled_from([0.0, 1e-9, 1e-6]))
def test_coverage_does_not_depend_on_the_time_budget(instance, budget):
    # a loaded machine: the fairness budget is out before the first stage (0: no budget at all)
    slots, people = instance
    truth = brute_force(slots, people)

    got = recommend(slots, people, Settings(time_budget=budget))

    assert key_of(slots, got)[:2] == truth[:2]
    assert got.coverage_proven


def coverage_of(slots, empty_primary, empty_secondary):
    """The coverage model's priority-weighted coverage of a roster with these empty slots
    (one primary outweighs every secondary; no shadow slots here)."""
    primaries = sum(1 for s in slots if s.role == "primary")
    secondaries = len(slots) - primaries
    return (primaries - empty_primary) * (secondaries + 1) + secondaries - empty_secondary


@TINY
@given(tiny_rotations())
def test_the_coverage_search_proves_the_brute_force_maximum(instance):
    slots, people = instance
    truth = brute_force(slots, people)
    best = coverage_of(slots, *truth[:2])
    problem = Problem(slots, people, Settings(), None)

    got = CpSat(exact.Model(problem), repeatable=True).max_coverage(20.0)

    assert got.optimal
    assert got.value == best == got.bound
