"""A team too big for the whole coverage model still gets every slot covered that can be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from planning.recommender import Candidate, Settings, Slot, recommend, solve

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def day(d: int) -> datetime:
    return T0 + timedelta(days=d)


def month_of_days() -> list[Slot]:
    return [
        Slot(f"{k}:{r}", str(k), r, day(k), day(k + 1))
        for k in range(30)
        for r in ("primary", "secondary")
    ]


def three_primaries_and_fillers(fillers: int) -> list[Candidate]:
    """Three people may be primary, around their time away; many others only secondary. With
    a 36 h rest the primaries can cover all but two days, and only by the right pattern."""
    primaries = [
        Candidate(
            1,
            "Ada",
            frozenset({"primary"}),
            past_load=1.12,
            unavailable=(
                (day(20), day(21)),
                (day(2), day(3)),
                (day(11), day(12)),
                (day(29), day(31)),
            ),
        ),
        Candidate(
            2,
            "Ben",
            frozenset({"primary"}),
            past_load=28.42,
            unavailable=(
                (day(13), day(14)),
                (day(7), day(8)),
                (day(17), day(21)),
                (day(1), day(2)),
            ),
        ),
        Candidate(
            3, "Cy", frozenset({"primary"}), past_load=1.49, unavailable=((day(18), day(22)),)
        ),
    ]
    return primaries + [
        Candidate(1000 + f, f"F{f}", frozenset({"secondary"}), past_load=(f * 7.77) % 30)
        for f in range(fillers)
    ]


def empty_primaries(rec) -> int:
    return sum(1 for u in rec.uncovered if u.slot_key.endswith(":primary"))


def test_the_whole_model_proves_two_empty_primaries_is_the_least():
    got = recommend(
        month_of_days(), three_primaries_and_fillers(40), Settings(min_rest=timedelta(hours=36))
    )

    assert empty_primaries(got) == 2
    assert got.coverage_proven


@pytest.mark.parametrize(
    "rules", [{}, {"pairing": "hard"}, {"pairing": "soft"}, {"max_share": 0.9}]
)
def test_a_team_above_the_models_size_leaves_no_more_empty_than_possible(monkeypatch, rules):
    # the same team, but counted as too big for the whole model: the neighbourhood of the
    # three who could take the empty primaries finds the same cover, without a proof, with
    # team rules on or off (everyone is experienced; nobody reaches the cap)
    monkeypatch.setattr(solve, "COVERAGE_PAIRS", 500)
    monkeypatch.setattr(solve, "AUTO_EXACT_PAIRS", 500)
    settings = Settings(min_rest=timedelta(hours=36), **rules)

    got = recommend(month_of_days(), three_primaries_and_fillers(40), settings)

    assert empty_primaries(got) == 2
    assert not got.coverage_proven
    assert "Coverage not proven" in got.note
