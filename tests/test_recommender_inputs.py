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


def test_a_draft_of_more_person_slots_than_a_worker_can_hold_is_refused_before_any_work():
    """1,601 people x 5,000 hourly slots is just over the 8 million person-slots a draft may
    hold (a year of daily primary and secondary shifts for 10,000 people still fits)."""
    slots = [
        Slot(f"{h}", str(h), "primary", START + timedelta(hours=h), START + timedelta(hours=h + 1))
        for h in range(5_000)
    ]
    crowd = [person(pid) for pid in range(1, 1_602)]

    with pytest.raises(ValueError, match="too many person-slots for one draft"):
        recommend(slots, crowd)


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


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"needs_shadow": 0.5}, "needs_shadow must be a whole number"),
        ({"holidays": frozenset({datetime(2026, 3, 3, tzinfo=UTC)})}, "holidays must be dates"),
    ],
)
def test_more_people_the_recommender_cannot_use_are_refused_in_words(fields, words):
    with pytest.raises(ValueError, match=words):
        recommend(day_slots(3), [person(**fields)])


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (Settings(pairing_weight=float("nan")), "pairing_weight"),
        (Settings(exact_time_limit=-1), "exact_time_limit"),
        (Settings(time_budget=float("nan")), "time_budget"),
    ],
)
def test_more_settings_the_recommender_cannot_use_are_refused_in_words(bad, words):
    with pytest.raises(ValueError, match=words):
        recommend(day_slots(3), [person()], bad)


@pytest.mark.parametrize(
    ("start", "length", "words"),
    [
        (datetime(9999, 12, 30, tzinfo=UTC), timedelta(hours=1), "outside the years"),
        (START, timedelta(days=400), "longer than 367 days"),
    ],
)
def test_a_slot_outside_any_sensible_calendar_is_refused_in_words(start, length, words):
    slots = [Slot("0:primary", "0", "primary", start, start + length)]

    with pytest.raises(ValueError, match=words):
        recommend(slots, [person()])


def test_slots_may_come_from_a_generator():
    got = recommend((s for s in day_slots(2)), [person(1), person(2), person(3), person(4)])

    assert not got.uncovered


def test_the_exact_mode_proves_its_optimum_with_huge_loads_and_odd_capacities():
    # a utilisation as the app computes it (a ratio of seconds) and a past load of 300,000 h:
    # the solver's integers must not overflow (they did, and the search silently did nothing)
    days = [
        Slot(
            f"{k}:primary",
            str(k),
            "primary",
            START + timedelta(days=k),
            START + timedelta(days=k + 1),
        )
        for k in range(10)
    ]

    def away(*ds):
        return tuple((START + timedelta(days=d), START + timedelta(days=d + 1)) for d in ds)

    people = [
        person(1, past_load=300_010.0, utilisation=0.3652987, unavailable=away(0, 1, 2, 5)),
        person(2, past_load=300_031.0, utilisation=0.3652987, unavailable=away(3, 4)),
        person(3, past_load=300_000.0, utilisation=0.3652987, unavailable=away(6, 7, 8)),
        person(4, past_load=300_020.0, utilisation=0.3652987, unavailable=away(9)),
    ]

    got = recommend(days, people, Settings(exact_time_limit=10), mode="exact")

    assert got.status == "optimal"
    assert got.gap == 0.0


def test_the_share_cap_in_the_exact_search_is_never_looser_than_the_rule():
    # shifts of an hour and 0.4 s, a cap just above half the hours: each of two people may
    # hold 4 of the 10 shifts, not 5 (rounding the cap row to whole seconds allowed 5)
    length = timedelta(hours=1, milliseconds=400)
    slots = [
        Slot(f"{k}", str(k), "primary", START + k * length, START + (k + 1) * length)
        for k in range(10)
    ]
    people = [
        person(1, roles=frozenset({"primary"})),
        person(2, roles=frozenset({"primary"}), past_load=0.5),
    ]
    settings = Settings(max_share=18001 / 36004, no_back_to_back=False)

    got = recommend(slots, people, settings, mode="exact")

    assert len(got.uncovered) == 2
    assert got.coverage_proven
