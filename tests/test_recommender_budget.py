"""The greedy-mode wall-clock budget: stages stop cleanly and the note says what was proven."""

import dataclasses
import importlib.util
from pathlib import Path

from planning.recommender import recommend
from planning.recommender.budget import Deadline

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "recommender.py"


def _tight(seed: int):
    spec = importlib.util.spec_from_file_location("bench_recommender", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tight_instance(seed)


def test_deadline_with_injected_clock():
    now = [10.0]
    d = Deadline(2.0, clock=lambda: now[0])
    assert d.remaining() == 2.0 and not d.expired()
    assert d.allow(5.0, reserve=0.5) == 1.5
    now[0] = 12.5
    assert d.expired() and d.hit and d.allow(1.0) == 0.0
    assert not Deadline(0).limited and Deadline(None).remaining() == float("inf")


def test_a_stage_with_its_own_allowance_does_not_spend_the_budget():
    now = [0.0]
    d = Deadline(4.0, clock=lambda: now[0])
    now[0] = 3.0  # the greedy and its repair took 3 s
    now[0] = 63.0  # the coverage proof took 60 s of its own
    d.extend(60.0)
    assert d.remaining() == 1.0 and not d.expired()


def test_an_exhausted_budget_still_leaves_no_more_slots_empty_than_the_minimum():
    # daily, 6 people, rest 36 h: 5 slots stay empty at best (the 10 s exact mode said 6)
    slots, people, settings, _ = _tight(99)
    settings = dataclasses.replace(settings, time_budget=1e-6)  # a loaded machine: out at once

    r = recommend(slots, people, settings)

    assert len(r.uncovered) == 5
    assert r.coverage_proven
    assert not r.note.startswith("Coverage not proven")
