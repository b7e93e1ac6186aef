"""The greedy mode's large-neighbourhood search on small teams (``windows.lns``).

The story: on a small team the default draft re-solves parts of the roster around the most
loaded person (windows of time centred on their shifts, groups of people across the whole
month) until the parts stop giving; whatever rotation a manager drafts, that search never
breaks a hard rule, never covers less (role by role), never raises the largest load, and gives the
same roster twice. Windows are made tiny (a few slots) so the small rotations of the property
tests have several of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given

from planning.recommender import Candidate, Settings, Slot, exact, windows
from planning.recommender.greedy import run_greedy
from planning.recommender.problem import Problem
from tests.recommender_support import property_settings
from tests.test_recommender_properties import broken_rules, rotations
from tests.test_recommender_windows import as_recommendation, largest_load

PROPERTIES = property_settings(25)
TINY_WINDOW = 8  # eligible pairs per window: two to four slots of these rotations


def greedy_holder(problem: Problem) -> np.ndarray:
    roster, _ = run_greedy(problem, None)
    return roster.holder.copy()


@PROPERTIES
@given(rotations())
def test_the_search_around_the_peak_only_makes_a_draft_fairer(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)
    before = greedy_holder(problem)

    after, spent = windows.lns(problem, before, 2.0, window_pairs=TINY_WINDOW)

    assert broken_rules(slots, people, as_recommendation(problem, after)) == []
    assert exact.coverage_key(problem, after) <= exact.coverage_key(problem, before)
    assert largest_load(problem, after) <= largest_load(problem, before) * (1 + 1e-9) + 1e-9
    assert spent <= 2.0 + 0.5  # a neighbourhood stops at its share (the solver's own unit)


@PROPERTIES
@given(rotations())
def test_the_search_around_the_peak_gives_the_same_roster_twice(instance):
    slots, people = instance
    problem = Problem(slots, people, Settings(), None)

    first, _ = windows.lns(problem, greedy_holder(problem), 2.0, window_pairs=TINY_WINDOW)
    second, _ = windows.lns(problem, greedy_holder(problem), 2.0, window_pairs=TINY_WINDOW)

    assert first.tolist() == second.tolist()


def test_the_search_hands_shifts_from_the_most_loaded_person_to_the_others():
    # three people who can take every shift, one holding all six daily shifts: the search
    # around that person deals them out so the largest load falls, every shift still held
    start = datetime(2026, 3, 23, 9, tzinfo=UTC)
    slots = [
        Slot(
            f"{d}:primary",
            str(d),
            "primary",
            start + timedelta(days=d),
            start + timedelta(days=d + 1),
        )
        for d in range(0, 12, 2)
    ]
    people = [Candidate(pid, f"P{pid}", frozenset({"primary"})) for pid in (1, 2, 3)]
    problem = Problem(slots, people, Settings(), None)
    everything_on_the_first = np.zeros(problem.n_slots, dtype=np.int64)

    after, _ = windows.lns(problem, everything_on_the_first, 2.0, window_pairs=TINY_WINDOW)

    assert (after >= 0).all()
    assert largest_load(problem, after) < largest_load(problem, everything_on_the_first)
    assert broken_rules(slots, people, as_recommendation(problem, after)) == []
