"""The manager's note says what happened: plainly that nobody could be placed (and what to do)
when every slot is empty, and which guard stopped a search without quoting a time limit that
did not apply."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from planning.recommender import Settings, recommend
from tests.recommender_support import no_django
from tests.test_recommender_inputs import START, day_slots, person
from tests.test_recommender_repeatable import stalling_clock


@pytest.fixture
def settings():
    return no_django()


@pytest.mark.parametrize("mode", ["greedy", "exact"])
def test_a_rotation_without_candidates_says_nobody_could_be_placed_and_why(mode):
    draft = recommend(day_slots(3), [], mode=mode)

    assert draft.status == "infeasible"
    assert draft.note.startswith("Nobody could be placed: the rotation has no candidates")
    assert "Optimal" not in draft.note


@pytest.mark.parametrize("mode", ["greedy", "exact"])
def test_a_team_all_away_is_told_nobody_could_be_placed_and_what_to_do(mode):
    away = ((START - timedelta(days=1), START + timedelta(days=10)),)
    team = [person(pid, unavailable=away) for pid in (1, 2, 3)]

    draft = recommend(day_slots(3), team, mode=mode)

    assert draft.status == "infeasible"
    assert draft.note.startswith("Nobody could be placed: every candidate is blocked")
    assert "Move time away" in draft.note
    assert "Optimal" not in draft.note


def test_a_guard_that_stopped_the_draft_is_named_without_a_wrong_time_limit():
    """Every reading of the clock is an hour later, so a guard stops each stage: the note says
    a wall-clock guard stopped a search, and quotes no draft-wide figure."""
    team = [person(pid, past_load=10.0 * pid) for pid in (1, 2, 3, 4)]

    draft = recommend(day_slots(7), team, Settings(), clock=stalling_clock(1, 3600.0))

    assert "wall-clock guard" in draft.note
    assert not re.search(r"\d+ s time limit", draft.note)
