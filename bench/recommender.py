"""Benchmark of planning.recommender on seeded synthetic rotations.

Run from the repository root::

    python bench/recommender.py            # full grid (10/50/200/1000 people, 30/90 days, daily/weekly)
    python bench/recommender.py --quick    # 10/50/200 people, 30 days only, shorter MILP limit

Writes bench/results/recommender.md and bench/results/recommender.json.

Instances: shifts start 2026-12-01 09:00 UTC (so Christmas / New Year holidays
fall inside), daily shifts are 24 h, weekly shifts 7 days; each shift has a
primary and a secondary slot. 60% of people are qualified for primary, all for
secondary. Each person: with probability 0.3 a 5-10 day vacation block, 5%
random unavailable days, time zone / holiday calendar from one of four
countries, FTE in {1, 0.8, 0.5}, utilisation U(0, 0.6), and a random history
of past shifts over the last year (shift count proportional to capacity +-15%,
as if scheduled fairly before) turned into a decayed weighted past load by
``past_load()``. Exact mode (scipy/HiGHS) runs with ``exact_time_limit`` for
up to 200 people; for 1000 people only the greedy runs and the gap is measured
against the cheap lower bound.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import holidays as holidays_lib  # noqa: E402

from planning.recommender import (  # noqa: E402
    Candidate,
    PastShift,
    Settings,
    Slot,
    capacity,
    past_load,
    recommend,
)

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
COUNTRIES = [
    ("US", "America/New_York"),
    ("DE", "Europe/Berlin"),
    ("JP", "Asia/Tokyo"),
    ("GB", "Europe/London"),
]


def _holiday_sets() -> dict[str, frozenset]:
    out = {}
    for code, _ in COUNTRIES:
        out[code] = frozenset(holidays_lib.country_holidays(code, years=[2025, 2026, 2027]).keys())
    return out


HOLIDAYS = _holiday_sets()


def make_instance(n_people: int, days: int, pattern: str, seed: int):
    rng = random.Random(seed)
    step = timedelta(days=1 if pattern == "daily" else 7)
    n_shifts = days if pattern == "daily" else -(-days // 7)
    horizon_end = START + step * n_shifts
    slots = []
    for k in range(n_shifts):
        a = START + step * k
        for role in ("primary", "secondary"):
            slots.append(Slot(f"{k}:{role}", str(k), role, a, a + step))
    settings = Settings()
    people = []
    for pid in range(1, n_people + 1):
        code, zone = COUNTRIES[rng.randrange(len(COUNTRIES))]
        roles = {"secondary"} | ({"primary"} if rng.random() < 0.6 else set())
        unavailable = []
        if rng.random() < 0.3:
            length = rng.randint(5, 10)
            first = START + timedelta(
                days=rng.randrange(max(1, (horizon_end - START).days - length + 1))
            )
            first = first.replace(hour=0)
            unavailable.append((first, first + timedelta(days=length)))
        for d in range((horizon_end - START).days + 1):
            if rng.random() < 0.05:
                day = (START + timedelta(days=d)).replace(hour=0)
                unavailable.append((day, day + timedelta(days=1)))
        fte = rng.choice([1.0, 1.0, 1.0, 0.8, 0.5])
        utilisation = round(rng.uniform(0.0, 0.6), 2)
        probe = Candidate(pid, "", frozenset(), fte=fte, utilisation=utilisation)
        cap = capacity(probe, settings)
        # history: roughly fair past scheduling, one 24 h shift per ~12 days per FTE
        history = []
        n_hist = max(0, round(30 * cap * rng.uniform(0.85, 1.15)))
        for k in range(n_hist):  # spread over the year, jittered
            end = START - timedelta(days=(k + rng.random()) * 365 / n_hist)
            history.append(PastShift(end - timedelta(hours=24), end))
        member_since = None
        if rng.random() < 0.1:  # newcomer
            member_since = START - timedelta(days=rng.uniform(20, 200))
            history = [h for h in history if h.start >= member_since]
        last_end = max((h.end for h in history), default=None)
        load = past_load(
            history,
            as_of=START,
            time_zone=zone,
            holidays=HOLIDAYS[code],
            member_since=member_since,
            team_average_rate=2.25 * cap,  # what a colleague of their capacity accrues per day
        )
        people.append(
            Candidate(
                person_id=pid,
                name=f"Person {pid}",
                roles=frozenset(roles),
                time_zone=zone,
                holidays=HOLIDAYS[code],
                unavailable=tuple(unavailable),
                past_load=round(load, 2),
                fte=fte,
                utilisation=utilisation,
                last_shift_end=last_end,
            )
        )
    return slots, people


@contextlib.contextmanager
def _quiet_native_output():
    """HiGHS sometimes prints debug lines from C++ straight to fd 1/2; hide them."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def measure(n: int, days: int, pattern: str, limit: float, history: bool = True) -> dict:
    seed = n * 1000 + days * 10 + (pattern == "weekly")
    slots, people = make_instance(n, days, pattern, seed)
    if not history:
        people = [dataclasses.replace(p, past_load=0.0, last_shift_end=None) for p in people]
    settings = Settings(exact_time_limit=limit)
    t0 = time.perf_counter()
    g = recommend(slots, people, settings)
    tg = time.perf_counter() - t0
    row = {
        "people": n,
        "days": days,
        "pattern": pattern,
        "history": history,
        "slots": len(slots),
        "greedy_s": tg,
        "greedy_max": g.objective_max,
        "greedy_sq": g.objective_sq,
        "greedy_spread": g.fairness.spread,
        "greedy_uncovered": len(g.uncovered),
        "greedy_status": g.status,
        "lower_bound": g.lower_bound,
        "max_set_by_history": _max_fixed(g),
        "best_bound": g.lower_bound,
    }
    if n <= 200:
        t0 = time.perf_counter()
        with _quiet_native_output():
            e = recommend(slots, people, settings, mode="exact")
        te = time.perf_counter() - t0
        row.update(
            exact_s=te,
            exact_max=e.objective_max,
            exact_sq=e.objective_sq,
            exact_spread=e.fairness.spread,
            exact_uncovered=len(e.uncovered),
            exact_status=e.status,
            exact_source=e.source,
            exact_optimum=e.optimum,
            best_bound=max(e.lower_bound, e.optimum if e.optimum is not None else 0.0),
            vs_exact_pct=100.0 * (g.objective_max - e.objective_max) / e.objective_max
            if e.objective_max > 0
            else 0.0,
        )
    bound = row["best_bound"]
    row["gap_pct"] = 100.0 * (g.objective_max - bound) / bound if bound > 0 else 0.0
    return row


def run(quick: bool) -> tuple[list[dict], list[dict]]:
    sizes = [10, 50, 200] if quick else [10, 50, 200, 1000]
    horizons = [30] if quick else [30, 90]
    limit = 5.0 if quick else 12.0
    rows = []
    for n in sizes:
        for days in horizons:
            for pattern in ("daily", "weekly"):
                rows.append(measure(n, days, pattern, limit))
                _print_row(rows[-1])
    # stress: nobody has history, so every L is decided by this draft
    stress = []
    print("no history (draft decides every L):")
    for n in [50, 200] if quick else [50, 200, 1000]:
        stress.append(measure(n, horizons[-1], "daily", limit, history=False))
        _print_row(stress[-1])
    return rows, stress


def _max_fixed(rec) -> bool:
    """Is the largest L held by someone without draft load (set by history alone)?"""
    top = max(rec.people.values(), key=lambda p: p.projected)
    return top.draft_load == 0


HEADER = (
    "| people | days | pattern | slots | greedy s | exact s | greedy max L | exact max L | "
    "vs exact % | best bound | gap % | spread g/e | sq dev g/e | uncovered g/e | exact status |"
)


def _fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def _row_md(r: dict) -> str:
    hist = " (hist)" if r["max_set_by_history"] else ""
    status = f"{r['exact_status']} ({r['exact_source']})" if "exact_s" in r else "skipped"
    cells = [
        r["people"],
        r["days"],
        r["pattern"],
        r["slots"],
        f"{r['greedy_s']:.3f}",
        _fmt(r.get("exact_s"), ".2f"),
        f"{r['greedy_max']:.2f}{hist}",
        _fmt(r.get("exact_max"), ".2f"),
        _fmt(r.get("vs_exact_pct"), "+.2f"),
        f"{r['best_bound']:.2f}",
        f"{r['gap_pct']:.2f}",
        f"{r['greedy_spread']:.1f}/{_fmt(r.get('exact_spread'))}",
        f"{r['greedy_sq']:.0f}/{_fmt(r.get('exact_sq'), '.0f')}",
        f"{r['greedy_uncovered']}/{r.get('exact_uncovered', '-')}",
        status,
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _print_row(r: dict) -> None:
    print(_row_md(r), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grid, 5 s MILP limit")
    args = parser.parse_args()
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    t0 = time.perf_counter()
    rows, stress = run(args.quick)
    total = time.perf_counter() - t0
    greedy_total = sum(r["greedy_s"] for r in rows + stress)
    exact_total = sum(r.get("exact_s", 0.0) for r in rows + stress)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}"
    )
    lines = [
        "# Recommender benchmark",
        "",
        f"`python bench/recommender.py{' --quick' if args.quick else ''}`: total {total:.1f} s "
        f"(greedy {greedy_total:.1f} s, exact {exact_total:.1f} s; {machine}, "
        f"exact_time_limit {5 if args.quick else 12} s).",
        "",
        "max L = largest normalised load (past + draft weighted hours) / capacity. `(hist)`: the",
        "largest L belongs to someone with no draft load (set by history alone). vs exact % =",
        "(greedy max L - exact max L) / exact max L, where exact is the better of the MILP roster",
        "and its own greedy run. best bound = max(cheap lower bound, MILP optimum or dual bound);",
        "gap % = (greedy max L - best bound) / best bound. sq dev = sum of squared deviations of L",
        "from the mean. Exact = scipy.optimize.milp (HiGHS): stage 1 min max L, stage 2 min",
        "sum |L - mean| (60% / 40% of the time limit); `exact s` includes its own greedy run.",
        "",
        "## Seeded grid (random history)",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *(_row_md(r) for r in rows),
        "",
        "## Stress: no history, the draft decides every L",
        "",
        HEADER,
        "|" + "---|" * (HEADER.count("|") - 1),
        *(_row_md(r) for r in stress),
        "",
    ]
    (out_dir / "recommender.md").write_text("\n".join(lines))
    (out_dir / "recommender.json").write_text(
        json.dumps({"total_s": total, "rows": rows, "stress": stress}, indent=2)
    )
    print(f"total {total:.1f} s; wrote {out_dir / 'recommender.md'}")


if __name__ == "__main__":
    main()
