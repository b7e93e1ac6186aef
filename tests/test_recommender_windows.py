"""The greedy mode's time-window search (``windows.py``): a manager's draft may only get fairer.

A window of consecutive slots is freed and re-solved with the rest of the roster kept; the
story here: whatever rotation a manager drafts, the windows never break a hard rule, never
leave a slot empty that was filled, never raise the largest load, and give the same roster
twice. Windows are made tiny (a few slots) so the small rotations of the property tests have
several of them.
"""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given

from planning.recommender import Candidate, Settings, Slot, exact, windows
from planning.recommender.cpsat import CpSat
from planning.recommender.greedy import run_greedy
from planning.recommender.problem import Problem, Roster
from tests.recommender_support import no_django, property_settings
from tests.test_recommender_properties import broken_rules, rotations

PROPERTIES = property_settings(25)
TINY_WINDOW = 8  # eligible pairs per window: two to four slots of these rotations


@pytest.fixture
def settings():
    return no_django()


def drafted(problem: Problem) -> Roster:
    roster, _ = run_greedy(problem, None)
    return roster


def as_recommendation(problem: Problem, holder: np.ndarray):
    """The roster in the shape ``broken_rules`` reads (assignments and empty slots)."""
    assignments, uncovered = [], []
    for s, slot in enumerate(problem.slots):
        if holder[s] >= 0:
            person = problem.people[int(holder[s])].person_id
            assignments.append(types.SimpleNamespace(slot_key=slot.key, person_id=person))
        else:
            uncovered.append(types.SimpleNamespace(slot_key=slot.key))
    return types.SimpleNamespace(assignments=assignments, uncovered=uncovered)


def largest_load(problem: Problem, holder: np.ndarray) -> float:
    roster = Roster(problem)
    roster.load_assignment(holder)
    return float(roster.normalised_loads().max(initial=0.0))


@PROPERTIES
@given(rotations())
def test_the_windows_only_make_a_draft_fairer(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)
    draft = drafted(problem)
    before = draft.holder.copy()

    after, spent = windows.improve(problem, draft, 2.0, pairs_per_window=TINY_WINDOW)

    assert broken_rules(slots, people, as_recommendation(problem, after)) == []
    assert exact.coverage_key(problem, after) <= exact.coverage_key(problem, before)
    assert largest_load(problem, after) <= largest_load(problem, before) * (1 + 1e-9) + 1e-9
    assert spent <= 2.0 + 0.5  # a window stops at its share of the work (solver's own unit)


@PROPERTIES
@given(rotations())
def test_the_windows_give_the_same_roster_twice(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)

    first, _ = windows.improve(problem, drafted(problem), 2.0, pairs_per_window=TINY_WINDOW)
    second, _ = windows.improve(problem, drafted(problem), 2.0, pairs_per_window=TINY_WINDOW)

    assert first.tolist() == second.tolist()


@PROPERTIES
@given(rotations())
def test_a_window_reports_the_largest_load_of_the_whole_roster(instance):
    # the kept slots' load is in the window model's base: counted once, not twice
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)
    draft = drafted(problem)
    spans = windows.windows(problem, TINY_WINDOW)
    keep = draft.holder.copy()
    keep[spans[0]] = -1
    model = exact.Model(problem, keep=keep)
    if model.nx == 0:
        return
    prio = exact.coverage_priorities(problem)
    cover = float(prio[spans[0] & (draft.holder >= 0)].sum())

    got = CpSat(model, repeatable=True).min_max(cover, 2.0, hint=draft.holder)

    assert got.holder is not None  # the draft itself is a solution
    assert got.value == pytest.approx(largest_load(problem, got.holder), rel=1e-12)
    assert got.value <= largest_load(problem, draft.holder) * (1 + 1e-9) + 1e-9
    assert got.bound <= got.value * (1 + 1e-9) + 1e-9


@PROPERTIES
@given(rotations())
def test_handing_work_down_from_the_top_never_raises_the_largest_load(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)
    draft = drafted(problem)
    model = exact.Model(problem)
    if model.nx == 0:
        return
    peak = largest_load(problem, draft.holder)
    loads = draft.normalised_loads()
    top = loads >= peak * 0.97

    got = CpSat(model, repeatable=True).min_max(
        model.cover_of(draft.holder), 2.0, hint=draft.holder, upper=peak, group=top
    )

    assert got.holder is not None
    assert exact.coverage_key(problem, got.holder) <= exact.coverage_key(problem, draft.holder)
    assert largest_load(problem, got.holder) <= peak * (1 + 1e-9) + 1e-9
    assert got.bound is None  # no claim about the largest load's optimum


# groups of people across the whole horizon (``windows.regroup``): groups of two (the most
# loaded person and one other) so the small rotations of the property tests have several


@PROPERTIES
@given(rotations())
def test_regrouping_people_only_makes_a_draft_fairer(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)
    draft = drafted(problem)
    before = draft.holder.copy()

    after, spent = windows.regroup(problem, before, 2.0, group_people=2)

    assert broken_rules(slots, people, as_recommendation(problem, after)) == []
    assert exact.coverage_key(problem, after) <= exact.coverage_key(problem, before)
    assert largest_load(problem, after) <= largest_load(problem, before) * (1 + 1e-9) + 1e-9
    assert spent <= 2.0 + 0.5  # a group stops at its share of the work (solver's own unit)


@PROPERTIES
@given(rotations())
def test_regrouping_people_gives_the_same_roster_twice(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)

    first, _ = windows.regroup(problem, drafted(problem).holder, 2.0, group_people=2)
    second, _ = windows.regroup(problem, drafted(problem).holder, 2.0, group_people=2)

    assert first.tolist() == second.tolist()


def test_regrouping_hands_a_shift_from_the_most_loaded_person_to_a_light_one(settings):
    # two people who can take every shift, one holding all three: a group of the two re-deals
    # them so the largest load falls (no window needed: the trade spans the whole horizon)
    start = datetime(2026, 3, 23, 9, tzinfo=UTC)
    slots = [
        Slot(
            f"{d}:primary",
            str(d),
            "primary",
            start + timedelta(days=d),
            start + timedelta(days=d + 1),
        )
        for d in (0, 2, 4)
    ]
    people = [Candidate(pid, f"P{pid}", frozenset({"primary"})) for pid in (1, 2)]
    problem = Problem(slots, people, Settings(), None)
    everything_on_the_first = np.zeros(problem.n_slots, dtype=np.int64)

    after, _ = windows.regroup(problem, everything_on_the_first, 2.0, group_people=2)

    assert exact.coverage_key(problem, after) == (0, 0, 0)
    assert largest_load(problem, after) < largest_load(problem, everything_on_the_first)
    assert broken_rules(slots, people, as_recommendation(problem, after)) == []
