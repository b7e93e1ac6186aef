"""The same draft on any machine at any load: the greedy mode's roster does not depend on the clock.

Every stage stops on a count of work (``planning/recommender/budget.py``); the wall clock only
guards a machine far too slow, and a draft the guard cut says so. The story: a manager drafts
the same rotation on a quiet machine, on a busy one (a clock running several times faster than
the work), on an infinitely fast one (a clock that never moves) and on one that stalls now and
then (a clock that jumps): the roster is the same, unless the draft says the guard stopped it.
Rotations: daily, weekly and follow-the-sun thirds, with rest rules, vacations and skewed
history, small enough that a draft takes about a second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planning.recommender import Candidate, Settings, Slot, recommend
from planning.recommender.budget import PROGRESS_EVERY_STEPS, STAGES, Deadline, Progress
from tests.recommender_support import no_django, property_settings

START = datetime(2026, 12, 7, 9, tzinfo=UTC)
# hours per shift, shifts in the period, people: sized so the rest rule binds
SHAPES = {
    "daily": (24, (10, 21), (4, 7)),
    "weekly": (168, (5, 10), (3, 5)),
    "thirds": (8, (18, 36), (6, 9)),
}
PROPERTIES = property_settings(8)


@pytest.fixture
def settings():
    return no_django()


@st.composite
def rotations(draw):
    """A rotation of one of the shapes, with primary and secondary slots."""
    shape = draw(st.sampled_from(sorted(SHAPES)))
    hours, shifts, team = SHAPES[shape]
    step = timedelta(hours=hours)
    n_shifts = draw(st.integers(*shifts))
    slots = [
        Slot(f"{k}:{role}", str(k), role, START + step * k, START + step * (k + 1))
        for k in range(n_shifts)
        for role in ("primary", "secondary")
    ]
    end = START + step * n_shifts
    days = max(1, (end - START).days)
    people = []
    heavy = draw(st.integers(1, team[1]))
    for pid in range(1, draw(st.integers(*team)) + 1):
        away = ()
        if draw(st.booleans()):
            first = START + timedelta(days=draw(st.integers(0, days - 1)))
            away = ((first, first + timedelta(days=draw(st.integers(1, 4)))),)
        past = draw(st.integers(0, 40)) * (3 if pid == heavy else 1)
        people.append(
            Candidate(
                person_id=pid,
                name=f"P{pid}",
                roles=frozenset({"secondary"} | ({"primary"} if draw(st.booleans()) else set())),
                unavailable=away,
                past_load=float(past),
                fte=draw(st.sampled_from([1.0, 0.8, 0.5])),
                utilisation=draw(st.sampled_from([0.0, 0.2, 0.4])),
            )
        )
    rest = timedelta(hours=draw(st.sampled_from([12, 16, 24, 36])))
    return slots, people, Settings(min_rest=rest)


def fast_clock(factor: float):
    """A busy machine: its clock runs ``factor`` times faster than the work."""
    origin = time.perf_counter()
    return lambda: origin + factor * (time.perf_counter() - origin)


def stopped_clock():
    """An infinitely fast machine: no time ever passes."""
    return lambda: 0.0


def stalling_clock(every: int, seconds: float):
    """A machine that stalls now and then: every ``every``-th reading jumps ``seconds`` on."""
    reads = [0]

    def clock() -> float:
        reads[0] += 1
        return time.perf_counter() + seconds * (reads[0] // every)

    return clock


def roster(draft) -> list[tuple[str, int]]:
    return sorted((a.slot_key, a.person_id) for a in draft.assignments)


def cut_by_the_guard(draft) -> bool:
    """The draft says the wall-clock guard stopped a stage (and so may differ)."""
    return "guard before its usual amount of work" in draft.note


@PROPERTIES
@given(rotations(), st.sampled_from([3.0, 5.0]))
def test_a_busy_machine_drafts_the_same_roster(rotation, factor):
    slots, people, rules = rotation
    quiet = recommend(slots, people, rules)

    busy = recommend(slots, people, rules, clock=fast_clock(factor))

    # (on a machine as loaded as a shared CI runner can be, a guard may cut even the "quiet" one)
    assert cut_by_the_guard(busy) or cut_by_the_guard(quiet) or roster(busy) == roster(quiet)


@PROPERTIES
@given(rotations())
def test_an_infinitely_fast_machine_drafts_the_same_roster(rotation):
    slots, people, rules = rotation
    quiet = recommend(slots, people, rules)

    instant = recommend(slots, people, rules, clock=stopped_clock())

    if not (cut_by_the_guard(quiet) or cut_by_the_guard(instant)):  # CP-SAT's own guard
        assert roster(instant) == roster(quiet)
        assert (instant.objective_max, instant.status) == (quiet.objective_max, quiet.status)


@PROPERTIES
@given(rotations(), st.sampled_from([50, 500]))
def test_a_machine_that_stalls_drafts_the_same_roster_or_says_it_was_cut(rotation, every):
    slots, people, rules = rotation
    quiet = recommend(slots, people, rules)

    stalling = recommend(slots, people, rules, clock=stalling_clock(every, 2.0))

    cut = cut_by_the_guard(stalling) or cut_by_the_guard(quiet)
    assert cut or roster(stalling) == roster(quiet)


@PROPERTIES
@given(rotations())
def test_a_machine_far_too_slow_says_so_and_still_covers_as_much(rotation):
    slots, people, rules = rotation
    quiet = recommend(slots, people, rules)

    # every reading of the clock is an hour later: the guard stops each stage at its first step
    frozen_out = recommend(slots, people, rules, clock=stalling_clock(1, 3600.0))

    assert cut_by_the_guard(frozen_out)
    # "time_limit" unless a slot stays empty ("infeasible") or the roster is proven optimal
    assert frozen_out.status != "feasible"
    assert len(frozen_out.uncovered) == len(quiet.uncovered)  # the coverage search has no clock


def test_a_stage_stops_after_its_steps_whatever_the_clock_says():
    now = [0.0]
    stage = Deadline(None, clock=lambda: now[0], steps=3)

    taken = [stage.expired() for _ in range(5)]

    assert taken == [False, False, False, True, True]
    assert stage.hit and not stage.guard_hit


def test_the_guard_stopping_a_stage_is_told_to_the_whole_draft():
    now = [0.0]
    draft = Deadline(10.0, clock=lambda: now[0])
    stage = draft.child(steps=1_000)
    assert not stage.expired()

    now[0] = 11.0

    assert stage.expired()
    assert stage.guard_hit and draft.guard_hit


@PROPERTIES
@given(rotations())
def test_a_draft_watched_for_progress_is_the_same_draft(rotation):
    slots, people, rules = rotation
    quiet = recommend(slots, people, rules)
    told = []

    watched = recommend(
        slots, people, rules, progress=lambda stage, done: told.append((stage, done))
    )

    if not (cut_by_the_guard(quiet) or cut_by_the_guard(watched)):
        assert roster(watched) == roster(quiet)
    # stage by stage, forward only, from the first stage to the last
    assert told[0] == (STAGES["construct"], 0.0)
    assert told[-1][0] == STAGES["rules"]
    assert {stage for stage, _ in told} <= set(STAGES.values())
    fractions = [done for _, done in told]
    assert fractions == sorted(fractions) and 0.0 <= fractions[-1] <= 1.0


def test_a_counted_stage_tells_its_progress_every_few_thousand_steps():
    told = []
    progress = Progress(lambda stage, done: told.append((stage, round(done, 3))))
    progress.stage("Evening out the load", 0.2, 0.6)
    stage = Deadline(None, clock=lambda: 0.0, steps=4 * PROGRESS_EVERY_STEPS)
    stage.progress = progress

    for _ in range(4 * PROGRESS_EVERY_STEPS):
        stage.expired()

    assert told == [
        ("Evening out the load", 0.2),
        ("Evening out the load", 0.3),
        ("Evening out the load", 0.4),
        ("Evening out the load", 0.5),
        ("Evening out the load", 0.6),
    ]
