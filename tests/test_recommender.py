"""Behaviour of the pure roster recommender (no database)."""

from __future__ import annotations

import json
import types
from datetime import UTC, date, datetime, timedelta

import pytest

from planning.recommender import (
    Candidate,
    PastShift,
    Settings,
    Slot,
    check_assignment,
    fairness_metrics,
    levels,
    past_load,
    recommend,
    slot_weighted_hours,
    water_filling_bound,
)


@pytest.fixture
def settings():
    """These tests need no Django. tests/conftest.py has autouse fixtures that
    take pytest-django's ``settings``; this stand-in lets the module also run
    with ``-p no:django``."""
    return types.SimpleNamespace()


MONDAY = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday


def daily_slots(days: int, roles=("primary", "secondary"), start=MONDAY, hours=24):
    slots = []
    for d in range(days):
        a = start + timedelta(days=d)
        for role in roles:
            slots.append(Slot(f"{d}:{role}", str(d), role, a, a + timedelta(hours=hours)))
    return slots


def person(pid, name, roles=("primary", "secondary"), **kw):
    return Candidate(person_id=pid, name=name, roles=frozenset(roles), **kw)


def roster(rec):
    return {a.slot_key: a.person_id for a in rec.assignments}


def count(rec, pid):
    return sum(1 for a in rec.assignments if a.person_id == pid)


def test_a_more_utilised_person_is_picked_less():
    slots = daily_slots(12, roles=("primary",), hours=8)
    ana = person(1, "Ana")
    bo = person(2, "Bo")
    cy = person(3, "Cy", utilisation=0.5)  # half their time is already committed

    rec = recommend(slots, [ana, bo, cy])

    assert not rec.uncovered
    assert count(rec, 3) < count(rec, 1)
    assert count(rec, 3) < count(rec, 2)
    assert rec.people[3].capacity == pytest.approx(0.5)


def test_someone_with_heavy_recent_weekend_load_is_not_given_the_next_weekend():
    as_of = datetime(2026, 11, 13, 9, tzinfo=UTC)  # a Friday
    saturday = datetime(2026, 11, 7, 0, tzinfo=UTC)
    ana_history = [  # the last two weekends
        PastShift(saturday - timedelta(days=7), saturday - timedelta(days=5)),
        PastShift(saturday, saturday + timedelta(days=2)),
    ]
    bo_history = [  # two weekdays
        PastShift(datetime(2026, 11, 3, 9, tzinfo=UTC), datetime(2026, 11, 4, 9, tzinfo=UTC)),
        PastShift(datetime(2026, 11, 10, 9, tzinfo=UTC), datetime(2026, 11, 11, 9, tzinfo=UTC)),
    ]
    ana = person(1, "Ana", past_load=past_load(ana_history, as_of=as_of))
    bo = person(2, "Bo", past_load=past_load(bo_history, as_of=as_of))
    next_weekend = [
        Slot("w:primary", "w", "primary", as_of + timedelta(hours=15), as_of + timedelta(days=3))
    ]

    rec = recommend(next_weekend, [ana, bo])

    assert ana.past_load > bo.past_load
    assert roster(rec) == {"w:primary": 2}
    assert "Ana" in rec.assignments[0].reason.summary


def test_an_unqualified_or_unavailable_person_is_never_picked():
    slots = daily_slots(8)
    day2 = MONDAY + timedelta(days=2)
    ana = person(1, "Ana", roles=("secondary",))  # not qualified for primary
    bo = person(2, "Bo", unavailable=((day2, day2 + timedelta(hours=3)),))  # dentist on day 2
    cy = person(3, "Cy", past_load=300.0)  # heavily loaded, only picked when needed
    dee = person(4, "Dee", past_load=300.0)
    eve = person(5, "Eve", past_load=300.0)

    rec = recommend(slots, [ana, bo, cy, dee, eve])

    assert not rec.uncovered
    got = roster(rec)
    assert all(pid != 1 for key, pid in got.items() if key.endswith(":primary"))
    assert got["2:primary"] != 2 and got["2:secondary"] != 2
    assert count(rec, 1) > 0 and count(rec, 2) > 0  # they are still used where allowed


def test_an_infeasible_instance_names_the_blocking_slot_and_everyones_reason():
    slots = daily_slots(1)
    start = slots[0].start
    ana = person(1, "Ana", unavailable=((start + timedelta(hours=1), start + timedelta(hours=9)),))
    bo = person(2, "Bo")
    cy = person(3, "Cy", roles=())
    dee = person(4, "Dee", busy=((start - timedelta(hours=2), start + timedelta(hours=2)),))

    rec = recommend(slots, [ana, bo, cy, dee])

    assert rec.status == "infeasible"
    assert [u.slot_key for u in rec.uncovered] == ["0:secondary"]
    blocking = rec.uncovered[0].blocking
    assert set(blocking) == {1, 2, 3, 4}
    assert blocking[1] == "away Mon 2 Nov 10:00–18:00 (UTC)"
    assert blocking[2].startswith("already holds primary in this shift")
    assert blocking[3] == "not qualified for secondary"
    assert blocking[4].startswith("on another shift")


def test_the_same_inputs_give_the_same_roster():
    slots = daily_slots(14)
    people = [
        person(
            i,
            f"P{i}",
            roles=("primary", "secondary") if i % 3 else ("secondary",),
            past_load=float(i % 4) * 10,
        )
        for i in range(1, 9)
    ]

    first = recommend(slots, people)
    second = recommend(slots, people)

    # the roster and its reasons; the bound may tighten with the time the machine gives
    assert first.assignments == second.assignments
    assert first.uncovered == second.uncovered
    assert first.objective_max == second.objective_max


def test_every_assignment_has_a_reason():
    slots = daily_slots(10)
    people = [
        person(i, f"P{i}", past_load=10.0 * i, fte=1.0 if i % 2 else 0.8) for i in range(1, 8)
    ]

    rec = recommend(slots, people)

    assert len(rec.assignments) == len(slots)
    for a in rec.assignments:
        r = a.reason
        assert r.summary and r.summary[0].isupper()
        assert r.eligible_count >= 1
        assert r.projected_load == pytest.approx(rec.people[a.person_id].projected)
        if r.runner_up_id is not None:
            assert (
                r.runner_up_id != a.person_id
                and r.runner_up_load is not None
                and r.runner_up_why_not
            )
        json.dumps(r.as_dict())
    example = rec.assignments[0].reason
    assert f"of the {example.eligible_count} who could take it" in example.summary


def test_pinned_slots_are_kept_and_counted():
    slots = daily_slots(6)
    heavy = person(1, "Ana", past_load=500.0)  # would never be picked
    people = [heavy] + [person(i, f"P{i}") for i in range(2, 7)]

    rec = recommend(slots, people, pinned={"3:primary": 1})

    got = roster(rec)
    assert got["3:primary"] == 1
    assert rec.assignments[[a.slot_key for a in rec.assignments].index("3:primary")].reason.pinned
    assert rec.people[1].draft_load == pytest.approx(slot_weighted_hours(slots[6], heavy))
    # the pinned shift still blocks Ana from the neighbouring shifts
    assert all(got[k] != 1 for k in ("2:primary", "2:secondary", "4:primary", "4:secondary"))


def test_check_assignment_refuses_a_conflicting_edit_with_a_reason():
    slots = daily_slots(3)
    by_key = {s.key: s for s in slots}
    ana = person(1, "Ana")
    current = {
        "0:primary": 2,
        "0:secondary": 1,
        "1:primary": 3,
        "1:secondary": 4,
        "2:primary": 2,
        "2:secondary": 3,
    }

    same_shift = check_assignment(by_key["0:primary"], ana, current, slots, Settings())
    next_day = check_assignment(by_key["1:primary"], ana, current, slots, Settings())
    allowed = check_assignment(by_key["2:secondary"], ana, current, slots, Settings())

    assert same_shift == "already holds secondary in this shift"
    assert next_day.startswith("rest rule")
    assert allowed is None


def test_levels_give_the_most_loaded_person_low():
    people = [
        person(1, "Ana", past_load=10.0),
        person(2, "Bo", past_load=40.0),
        person(3, "Cy", past_load=80.0),
        person(4, "Dee", past_load=20.0, utilisation=0.75),  # little capacity: L = 80
        person(5, "Eve", past_load=120.0),
        person(6, "Fay", past_load=5.0),
    ]

    got = levels(people, Settings(), draft_loads={1: 30.0})

    assert got[5].level == "Low" and got[5].rank == 6
    assert got[6].level == "High" and got[6].rank == 1
    assert got[3].level == got[4].level and got[3].rank == got[4].rank  # both L = 80
    assert got[1].projected == pytest.approx(40.0)
    assert "40.0" in got[1].explanation and "rank" in got[1].explanation


def test_weekend_and_holiday_hours_are_weighted_in_the_persons_time_zone():
    friday_night = (datetime(2026, 11, 6, 20, tzinfo=UTC), datetime(2026, 11, 7, 4, tzinfo=UTC))
    london = person(1, "Ana", time_zone="UTC")
    tokyo = person(2, "Bo", time_zone="Asia/Tokyo")  # Sat 05:00-13:00 local
    los_angeles = person(3, "Cy", time_zone="America/Los_Angeles")  # Fri 12:00-20:00 local
    saturday_holiday = person(
        4, "Dee", time_zone="Asia/Tokyo", holidays=frozenset({date(2026, 11, 7)})
    )

    assert slot_weighted_hours(friday_night, london) == pytest.approx(4 * 1 + 4 * 1.5)
    assert slot_weighted_hours(friday_night, tokyo) == pytest.approx(8 * 1.5)
    assert slot_weighted_hours(friday_night, los_angeles) == pytest.approx(8 * 1)
    # holiday beats weekend: 2.0, not 1.5 x 2.0
    assert slot_weighted_hours(friday_night, saturday_holiday) == pytest.approx(8 * 2.0)


def test_a_dst_weekend_counts_its_real_hours():
    berlin = person(1, "Ana", time_zone="Europe/Berlin")
    # Sat 28 Mar 2026 00:00 to Mon 30 Mar 00:00 Berlin time: clocks jump forward, 47 h
    spring = (datetime(2026, 3, 27, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    # Sat 24 Oct 2026 00:00 to Mon 26 Oct 00:00 Berlin time: clocks fall back, 49 h
    autumn = (datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))

    assert slot_weighted_hours(spring, berlin) == pytest.approx(47 * 1.5)
    assert slot_weighted_hours(autumn, berlin) == pytest.approx(49 * 1.5)
    # the same spring interval for someone in UTC starts with a Friday hour
    assert slot_weighted_hours(spring, person(2, "Bo")) == pytest.approx(1 + 46 * 1.5)


def test_shadow_slots_go_to_people_who_still_need_shadowing_and_carry_no_load():
    slots = daily_slots(4, roles=("primary", "shadow"))
    ana = person(1, "Ana")
    bo = person(2, "Bo")
    newbie = person(3, "Nia", roles=(), needs_shadow=1)

    rec = recommend(slots, [ana, bo, newbie])

    shadows = {a.slot_key: a.person_id for a in rec.assignments if a.slot_key.endswith(":shadow")}
    assert list(shadows.values()) == [3]  # one shadow shift needed, one given
    assert rec.people[3].draft_load == 0.0  # shadow_weight defaults to 0
    assert rec.status == "optimal"  # empty shadow slots do not make the roster infeasible
    reasons = {u.slot_key: u.blocking for u in rec.uncovered}
    assert len(reasons) == 3
    for blocking in reasons.values():
        assert blocking[1] == "no shadow shifts needed"
        assert blocking[3].startswith(
            ("no shadow shifts needed (already shadowing 1 of 1)", "rest rule")
        )


def test_min_rest_and_last_shift_are_respected():
    slots = daily_slots(3, roles=("primary",), hours=8)  # 09:00-17:00, 16 h apart
    rested = Settings(min_rest=timedelta(hours=20), no_back_to_back=False)
    ana = person(1, "Ana", last_shift_end=MONDAY - timedelta(hours=4))  # ended 05:00 today
    bo = person(2, "Bo", past_load=1000.0)

    rec = recommend(slots, [ana, bo], rested)

    assert roster(rec) == {"0:primary": 2, "1:primary": 1, "2:primary": 2}
    assert check_assignment(slots[0], ana, {}, slots, rested).startswith(
        "rest rule (last shift ended"
    )
    assert check_assignment(slots[1], bo, {"0:primary": 2}, slots, rested).startswith("rest rule")


def test_past_load_decay_halves_at_the_half_life():
    as_of = datetime(2026, 11, 4, 17, tzinfo=UTC)  # a Wednesday

    def shift_ending(days_ago):
        end = as_of - timedelta(days=days_ago)
        return PastShift(end - timedelta(hours=8), end)

    def weekday_hours(ps):
        return slot_weighted_hours(ps, person(0, "x"))

    fresh = shift_ending(0)
    old = shift_ending(180)
    older = shift_ending(360)

    assert past_load([fresh], as_of=as_of) == pytest.approx(weekday_hours(fresh))
    assert past_load([old], as_of=as_of, half_life_days=180) == pytest.approx(
        weekday_hours(old) / 2
    )
    assert past_load([older], as_of=as_of, half_life_days=180) == pytest.approx(
        weekday_hours(older) / 4
    )


def test_a_newcomer_is_credited_the_team_average_for_the_time_before_joining():
    as_of = datetime(2026, 11, 2, 9, tzinfo=UTC)
    every_week = [
        PastShift(as_of - timedelta(days=7 * k + 1), as_of - timedelta(days=7 * k))
        for k in range(52)
    ]
    # the team's average rate, in weighted hours per day
    rate = sum(slot_weighted_hours(s, person(0, "x")) for s in every_week) / 365.0
    joined = as_of - timedelta(days=60)
    newcomer_history = [s for s in every_week if s.start >= joined]

    veteran = past_load(every_week, as_of=as_of)
    bare = past_load(newcomer_history, as_of=as_of, member_since=joined)
    credited = past_load(newcomer_history, as_of=as_of, member_since=joined, team_average_rate=rate)

    assert bare < 0.4 * veteran  # without pro-rating the newcomer looks idle and would be buried
    assert credited == pytest.approx(veteran, rel=0.05)


def test_exact_mode_finds_a_proven_optimum_no_worse_than_greedy():
    slots = daily_slots(6)
    people = [
        person(i, f"P{i}", past_load=15.0 * (i % 3), fte=1.0 if i % 2 else 0.8) for i in range(1, 6)
    ]

    greedy = recommend(slots, people)
    exact = recommend(slots, people, Settings(exact_time_limit=20), mode="exact")

    assert exact.mode == "exact" and exact.status == "optimal"
    assert exact.optimum is not None
    assert exact.objective_max == pytest.approx(exact.optimum, rel=1e-6)
    assert exact.objective_max <= greedy.objective_max + 1e-6
    assert greedy.lower_bound <= exact.optimum + 1e-6


def test_water_filling_bound_and_fairness_metrics():
    # 30 h poured over loads 0 and 10 (capacity 1): level 20, i.e. 20 + 10
    assert water_filling_bound([0.0, 10.0], [1.0, 1.0], 30.0) == pytest.approx(20.0)
    # nobody can go below the highest fixed load
    assert water_filling_bound([0.0, 50.0], [1.0, 1.0], 10.0) == pytest.approx(50.0)
    m = fairness_metrics({1: 10.0, 2: 20.0, 3: 30.0})
    assert (m.mean, m.max, m.min, m.spread) == (20.0, 30.0, 10.0, 20.0)
    assert m.stdev == pytest.approx((200 / 3) ** 0.5)
    assert m.gini == pytest.approx(2 / 9)


def test_a_rotation_without_people_or_slots_is_reported_not_crashed():
    nobody = recommend(daily_slots(2), [])
    nothing = recommend([], [person(1, "Ana")])

    assert nobody.status == "infeasible" and len(nobody.uncovered) == 4
    assert all(u.blocking == {} for u in nobody.uncovered)
    assert nothing.status == "optimal" and nothing.assignments == () and 1 in nothing.people


def test_naive_datetimes_are_rejected():
    naive = Slot("x", "x", "primary", datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 17))
    with pytest.raises(ValueError, match="timezone-aware"):
        recommend([naive], [person(1, "Ana")])
