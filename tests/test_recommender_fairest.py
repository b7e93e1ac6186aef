"""The manager's "Fairest possible" draft is never worse than the default draft, and the same
rotation handed over in another order (people or slots shuffled) gives the same roster."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given

from planning.recommender import Settings, recommend
from tests.recommender_support import no_django, property_settings
from tests.test_recommender_properties import rotations


@pytest.fixture
def settings():
    return no_django()


def empty_by_role(slots, draft) -> tuple[int, int, int]:
    role = {s.key: s.role for s in slots}
    empty = [role[u.slot_key] for u in draft.uncovered]
    return tuple(empty.count(r) for r in ("primary", "secondary", "shadow"))


def roster(draft) -> list[tuple[str, int]]:
    return sorted((a.slot_key, a.person_id) for a in draft.assignments)


@property_settings(15)
@given(rotations())
def test_fairest_possible_with_almost_no_time_is_still_as_fair_as_the_default(rotation):
    """The solver gets no time to search: the manager still gets at least the default roster,
    and the draft only says "optimal" when the bound proves it."""
    slots, people = rotation
    no_time = replace(Settings(), exact_time_limit=0.001)

    default = recommend(slots, people, no_time)
    fairest = recommend(slots, people, no_time, mode="exact")

    assert empty_by_role(slots, fairest) <= empty_by_role(slots, default)
    if empty_by_role(slots, fairest) == empty_by_role(slots, default):
        assert fairest.objective_max <= default.objective_max * (1 + 1e-9)
    if fairest.status == "optimal":
        assert fairest.objective_max <= fairest.lower_bound * (1 + 1e-7) + 1e-12


@property_settings(15)
@given(rotations())
def test_the_same_rotation_in_another_order_gives_the_same_roster(rotation):
    slots, people = rotation
    shuffled_people, shuffled_slots = list(people), list(slots)
    random.Random(7).shuffle(shuffled_people)
    random.Random(8).shuffle(shuffled_slots)

    as_given = recommend(slots, people)

    assert roster(recommend(slots, people[::-1])) == roster(as_given)
    assert roster(recommend(shuffled_slots, people)) == roster(as_given)
    assert roster(recommend(shuffled_slots, shuffled_people)) == roster(as_given)
