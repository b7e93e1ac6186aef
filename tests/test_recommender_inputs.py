"""The recommender refuses what it cannot use with a clear ValueError (never a crash deep
inside), and keeps big drafts inside a web worker's memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from planning.recommender import Candidate, Settings, Slot, recommend

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def day_slots(days: int, roles=("primary", "secondary")) -> list[Slot]:
    return [
        Slot(f"{d}:{r}", str(d), r, START + timedelta(days=d), START + timedelta(days=d + 1))
        for d in range(days)
        for r in roles
    ]


def person(pid: int = 1, **fields) -> Candidate:
    fields.setdefault("roles", frozenset({"primary", "secondary"}))
    return Candidate(pid, f"P{pid}", **fields)


NAIVE = datetime(2026, 3, 3, 9)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"roles": frozenset({"Primary"})}, "unknown role"),
        ({"past_load": float("nan")}, "past_load"),
        ({"past_load": float("inf")}, "past_load"),
        ({"past_load": -1.0}, "past_load"),
        ({"past_load": 1e9}, "past_load"),
        ({"fte": -0.5}, "fte"),
        ({"utilisation": 1.5}, "utilisation"),
        ({"unavailable": ((NAIVE, NAIVE + timedelta(days=1)),)}, "timezone-aware"),
        ({"busy": ((START + timedelta(days=2), START + timedelta(days=1)),)}, "ends before"),
        ({"last_shift_end": NAIVE}, "timezone-aware"),
    ],
)
def test_a_person_the_recommender_cannot_use_is_refused_in_words(fields, words):
    people = [person(**fields)]

    with pytest.raises(ValueError, match=words):
        recommend(day_slots(3), people)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (Settings(capacity_floor=0), "capacity_floor"),
        (Settings(shadow_weight=float("nan")), "shadow_weight"),
        (Settings(weekend_weight=-1), "weekend_weight"),
        (Settings(min_rest=timedelta(hours=-1)), "min_rest"),
    ],
)
def test_settings_the_recommender_cannot_use_are_refused_in_words(bad, words):
    with pytest.raises(ValueError, match=words):
        recommend(day_slots(3), [person()], bad)


def test_a_pinned_slot_needs_a_person_id():
    with pytest.raises(ValueError, match="person id must be an integer"):
        recommend(day_slots(3), [person()], pinned={"0:primary": None})


def test_a_draft_of_too_many_slots_is_refused_before_any_work():
    slots = [
        Slot(f"{h}", str(h), "primary", START + timedelta(hours=h), START + timedelta(hours=h + 1))
        for h in range(5_001)
    ]

    with pytest.raises(ValueError, match="too many for one draft"):
        recommend(slots, [person()])


def test_the_exact_mode_on_a_huge_team_drafts_with_the_default_mode_and_says_so(monkeypatch):
    from planning.recommender import solve

    monkeypatch.setattr(solve, "COVERAGE_PAIRS", 10)
    people = [person(pid) for pid in range(1, 7)]

    got = recommend(day_slots(4), people, Settings(), mode="exact")

    assert got.mode != "exact"
    assert "The exact mode handles up to 10 person-slot pairs" in got.note
    assert not got.uncovered


def test_a_shadow_only_draft_with_every_quota_used_is_proven_covered(monkeypatch):
    from planning.recommender import solve

    monkeypatch.setattr(solve, "COVERAGE_PAIRS", 0)  # no model: the cheap check decides
    slots = day_slots(6, roles=("shadow",))
    people = [replace(person(pid), needs_shadow=1) for pid in range(1, 3)]

    got = recommend(slots, people, Settings(shadow_weight=1.0))

    assert len(got.assignments) == 2
    assert got.coverage_proven
