"""Long exact solves OUTSIDE the product: proven references for the tight suite's hard seeds.

The bench's ratio is only honest against a proven optimum or a proven bound. For the tight
instances the 10-30 s exact runs leave unproven, this runs CP-SAT much longer (one thread,
several of its searches interleaved on it, so it stays on one core; start it with
``nice -n 19``):

    nice -n 19 python bench/recommender_reference.py --seeds 80,11,38 --seconds 240

Per seed: stage 1 proves the maximal coverage; stage 2 minimises the largest load L among
rosters with that coverage, hinted with the plain greedy's roster. It records the best roster's
L, CP-SAT's proven lower bound on L (a bound for every roster with the maximal coverage, so for
the optimum), how it was obtained and the solver time, in
bench/results/recommender-references.json, which ``bench/recommender.py`` reads. An entry only
ever tightens: the stored bound is the highest proven so far, the roster the lowest found.

``--bisect`` (stronger where the min-max model's bound stalls): every weight of the suite is a
whole multiple of a unit (1.5 h daily, 0.5 h thirds), so a person's L is (base + k units) /
capacity and each "is there a roster with the maximal coverage and every L_p <= c?" becomes
one knapsack row per person with a whole budget. Each check is solved by HiGHS (default, via
scipy's milp; ``--engine cpsat`` for CP-SAT) on one thread; INFEASIBLE proves the optimum is
at least the least load one unit above the check's budgets (``Ladder.next_above``), a roster
found lowers the best. First the check at the bench's greedy L / ``--aim`` (does a roster 1%
fairer exist?), then the value just below the best roster (is it optimal?), then halves of
the unsettled range. ``--seconds`` is then the CPU budget per seed, ``--check-seconds`` the
wall limit per check; what is proven is stored after each settled check.

    nice -n 19 python bench/recommender_reference.py --bisect --aim 1.01 --seeds 69,21 \
        --seconds 150 --check-seconds 120
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import numpy as np  # noqa: E402
from ortools.sat.python import cp_model  # noqa: E402
from recommender import tight_instance  # noqa: E402  (the bench's instances)

from planning.recommender import exact  # noqa: E402
from planning.recommender.cpsat import LOAD_UNITS, CpSat  # noqa: E402
from planning.recommender.greedy import run_greedy  # noqa: E402
from planning.recommender.problem import Problem, Roster  # noqa: E402

REFERENCES = ROOT / "bench" / "results" / "recommender-references.json"
# the bench's rows (their greedy L: the roster the bisection first tries to prove optimal)
TIGHT = ROOT / "bench" / "results" / "recommender-tight.jsonl"
# CP-SAT searches interleaved on the one thread (a portfolio with bound-proving searches)
SEARCHES = 8
# work units (CP-SAT's deterministic time) for proving the maximal coverage
COVERAGE_WORK = 60.0


class LongCpSat(CpSat):
    """CpSat with a wall-clock limit on one thread, several searches interleaved (bench only:
    not repeatable, which a reference need not be; the bound it proves is proven either way)."""

    def _solve(self, m, time_limit, repeatable=None, portfolio=False):
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = SEARCHES
        solver.parameters.interleave_search = True
        solver.parameters.max_time_in_seconds = float(time_limit)
        status = solver.solve(m)
        return solver, status


def load() -> dict[int, dict]:
    if not REFERENCES.exists():
        return {}
    return {int(k): v for k, v in json.loads(REFERENCES.read_text()).items()}


def save(refs: dict[int, dict]) -> None:
    REFERENCES.write_text(json.dumps({str(k): refs[k] for k in sorted(refs)}, indent=1) + "\n")


def reference(seed: int, seconds: float) -> dict:
    slots, people, settings, shape = tight_instance(seed)
    problem = Problem(slots, people, settings, None)
    model = exact.Model(problem)
    search = LongCpSat(model)
    t0 = time.process_time()
    start, _ = run_greedy(problem, None)  # the plain greedy's roster: a cheap first hint
    start = start.holder
    upper = model.max_cover_possible()
    hint = start
    if model.cover_of(start) >= upper - 0.5:
        cover, cover_how = upper, "reaches the counting bound"
    else:
        # the product's repeatable coverage search (one plain thread proves it fastest)
        got = CpSat(model, repeatable=True).max_coverage(COVERAGE_WORK)
        if not got.optimal:
            return None
        cover, cover_how = got.value, "CP-SAT proved it"
        if model.cover_of(start) < cover - 0.5:
            hint = got.holder  # the greedy covers less: start from the coverage roster
    t1 = time.process_time()
    res = search.min_max(cover, seconds, hint)
    solver_cpu = time.process_time() - t1
    if res.holder is None:  # no roster within the limit (a busy machine): nothing to store
        return None
    roster = Roster(problem)
    roster.load_assignment(res.holder)
    best = float(roster.normalised_loads().max())
    roster = Roster(problem)
    roster.load_assignment(start)
    greedy_L = float(roster.normalised_loads().max())
    return {
        "shape": shape,
        "best_L": best,
        "bound": float(res.bound),
        "optimal": bool(res.optimal) or best <= res.bound * (1 + 1e-7),
        "how": (
            f"coverage {cover_how}; CP-SAT min-max on one thread ({SEARCHES} searches "
            f"interleaved), {seconds:g} s wall limit, hinted with the plain greedy's roster "
            f"(L {greedy_L:.2f}) or, where it covers less, the coverage stage's"
        ),
        "solver_cpu_s": round(solver_cpu, 1),
        "total_cpu_s": round(time.process_time() - t0, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def merge(old: dict | None, new: dict) -> dict:
    """Never loosen: the highest proven bound, the lowest roster found."""
    if old is None:
        return new
    out = dict(new)
    if old["bound"] > new["bound"]:
        out["bound"], out["bound_how"] = old["bound"], old.get("bound_how", old["how"])
    else:
        out["bound_how"] = new["how"]
    if old["best_L"] < new["best_L"]:
        out["best_L"], out["best_how"] = old["best_L"], old.get("best_how", old["how"])
    else:
        out["best_how"] = new["how"]
    out["optimal"] = out["best_L"] <= out["bound"] * (1 + 1e-7)
    out["solver_cpu_s"] = round(old.get("solver_cpu_s", 0) + new["solver_cpu_s"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument(
        "--bisect",
        action="store_true",
        help="bisection on the ladder of L values instead of one min-max run (--seconds: CPU "
        "budget per seed, --check-seconds: limit per check)",
    )
    parser.add_argument("--check-seconds", type=float, default=CHECK_SECONDS)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="highs")
    parser.add_argument(
        "--aim",
        type=float,
        help="with --bisect: first check L <= the bench's greedy L / AIM (e.g. 1.01)",
    )
    args = parser.parse_args()
    rows = {}
    if TIGHT.exists():
        rows = {r["seed"]: r for r in map(json.loads, TIGHT.read_text().splitlines())}
    for seed in [int(x) for x in args.seeds.split(",") if x]:
        if args.bisect:
            bench = rows.get(seed, {})
            row = bisect(
                seed,
                args.seconds,
                args.check_seconds,
                bench.get("greedy_L"),
                args.engine,
                bench.get("reference"),
                args.aim,
            )
            if row is None:
                print(f"{seed}: coverage not proven", flush=True)
                continue
            refs = load()  # bisect merged what it proved as it went
        else:
            row = reference(seed, args.seconds)
            if row is None:
                print(f"{seed}: coverage not proven, or no roster within the limit", flush=True)
                continue
            refs = load()  # re-read: another run may have written meanwhile
            refs[seed] = merge(refs.get(seed), row)
            save(refs)
        r = refs[seed]
        print(
            f"{seed} {r['shape']}: best {r['best_L']:.2f} bound {r['bound']:.2f} "
            f"ratio {r['best_L'] / r['bound']:.4f} optimal {r['optimal']} "
            f"cpu {row['solver_cpu_s']} s",
            flush=True,
        )


# -- bisection on L: each "is there a roster with L <= t" proven infeasible is a bound -----------
# one check's CP-SAT wall limit (seconds), and the default CPU budget per seed
CHECK_SECONDS = 60.0
BISECT_BUDGET = 300.0
ENGINES = {"highs": "HiGHS (scipy milp)", "cpsat": "CP-SAT"}


class Ladder:
    """The values the largest load can take: every weight of a pair is a whole multiple of
    ``unit`` (the gcd of the integer weights, e.g. 1.5 h on the daily suite), so person p's L is
    (base_p + unit k) / capacity_p for some whole k, and the optimum is one of these values.
    A check "some roster has L <= c" proven infeasible for a value c of the ladder then proves
    the optimum is at least the next value above c, not only above c."""

    def __init__(self, model: exact.Model):
        self.model = model
        w = np.round(model.w * LOAD_UNITS).astype(np.int64)
        if np.any(np.abs(model.w * LOAD_UNITS - w) > 1e-6):
            raise ValueError("weights not whole in LOAD_UNITS: the ladder would not be exact")
        self.unit = int(np.gcd.reduce(np.abs(w[w != 0]))) if np.any(w != 0) else 1
        self.steps = w // self.unit  # each pair's weight in units
        self.base = model.base * LOAD_UNITS / self.unit  # each person's base, in units (float)
        self.cap = model.problem.capacity
        self.people = np.unique(model.person_of)

    def budget(self, t: float) -> dict[int, int]:
        """Largest whole number of units person p may take with L_p <= t (generous by 1e-6 of
        a unit against round-off, so the check only relaxes "L <= t": an infeasible check is a
        proof)."""
        room = t * self.cap * LOAD_UNITS / self.unit - self.base
        return {int(p): int(np.floor(room[p] + 1e-6)) for p in self.people}

    def next_above(self, t: float) -> float:
        """The bound an infeasible check at ``t`` proves: the check forbade every roster in
        which each person p takes at most ``budget(t)[p]`` units, so any roster left has some
        p with one unit more: its L is at least the least (base_p + budget_p + 1) / capacity_p
        (less 1e-12 against round-off). Computed from the budgets the check used, not from a
        list of values, so two values equal up to round-off cannot repeat a check."""
        budget = self.budget(t)
        least = min(
            (self.base[p] + budget[int(p)] + 1) * self.unit / LOAD_UNITS / self.cap[p]
            for p in self.people
        )
        return float(least) * (1 - 1e-12)

    def values(self, low: float, high: float) -> np.ndarray:
        """The ladder's values in [low, high] over the people with pairs (sorted)."""
        out = []
        for p in self.people:
            k0 = max(0, int(np.ceil((low * self.cap[p] * LOAD_UNITS / self.unit) - self.base[p])))
            k1 = int(np.floor(high * self.cap[p] * LOAD_UNITS / self.unit - self.base[p]))
            k = np.arange(k0, k1 + 1)
            out.append((self.base[p] + k) * self.unit / LOAD_UNITS / self.cap[p])
        v = np.unique(np.concatenate(out)) if out else np.array([])
        return v[(v >= low * (1 - 1e-12)) & (v <= high * (1 + 1e-12))]


def check(search: CpSat, ladder: Ladder, cover: float, t: float, seconds: float, hint):
    """CP-SAT on "a roster with the maximal coverage and every L_p <= t" (one thread, the
    rule rows of the product's model, each person's load as a knapsack row in ladder units).
    Returns (status name, holder or None, CPU seconds)."""
    m, x = search._base(hint)
    if cover > 0:
        m.add(search._coverage(x) >= int(round(cover)))
    budget = ladder.budget(t)
    if any(b < 0 for b in budget.values()):  # someone's past alone is above t
        return "INFEASIBLE", None, 0.0
    model = ladder.model
    order = np.argsort(model.person_of, kind="stable")
    people, starts = np.unique(model.person_of[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    for p, a, b in zip(people, starts, ends):
        ks = order[a:b]
        ks = ks[ladder.steps[ks] != 0]
        if ks.size:
            terms = cp_model.LinearExpr.weighted_sum([x[k] for k in ks], ladder.steps[ks].tolist())
            m.add(terms <= budget[int(p)])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = float(seconds)
    c0 = time.process_time()
    status = solver.solve(m)
    cpu = time.process_time() - c0
    name = solver.status_name(status)
    holder = search._holder(solver, x) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    return name, holder, cpu


def check_highs(model: exact.Model, ladder: Ladder, cover: float, t: float, seconds: float):
    """The same check as a MIP for HiGHS (scipy's milp, no objective): the product's rule rows,
    the coverage row, each person's load row in whole ladder units. Measured on seed 69 (daily
    11p): HiGHS proved "L <= 278.50" infeasible in 22 s and found a roster with L <= 280.98 in
    19 s where CP-SAT (one thread) left both unsettled after 14-34 s. Returns like ``check``."""
    people = ladder.people
    budget = ladder.budget(t)
    if any(b < 0 for b in budget.values()):
        return "INFEASIBLE", None, 0.0
    prow = np.full(model.problem.n_people, -1)
    prow[people] = np.arange(people.size)
    nz = np.nonzero(ladder.steps != 0)[0]
    load_rows = (
        prow[model.person_of[nz]],
        nz,
        ladder.steps[nz].astype(float),
        -np.inf,
        np.array([budget[int(p)] for p in people], dtype=float),
    )
    extra = [load_rows]
    if cover > 0:
        extra.append(model._cover_row(cover))
    lb = np.zeros(model.n_vars)
    ub = np.ones(model.n_vars)
    ub[model.t_index] = 0.0  # t is not used by this check
    c0 = time.process_time()
    res = model._solve(np.zeros(model.n_vars), extra, True, lb, ub, seconds)
    cpu = time.process_time() - c0
    if res.status == 2:  # HiGHS: the model is infeasible
        return "INFEASIBLE", None, cpu
    if res.x is not None and res.status in (0, 1):
        return ("OPTIMAL" if res.status == 0 else "FEASIBLE"), model.holder(res.x), cpu
    return "UNKNOWN", None, cpu


def largest(problem: Problem, holder: np.ndarray) -> float:
    roster = Roster(problem)
    roster.load_assignment(holder)
    return float(roster.normalised_loads().max())


def bisect(
    seed: int,
    budget_s: float,
    check_s: float,
    high: float | None,
    engine: str = "highs",
    proven_low: float | None = None,
    aim: float | None = None,
) -> dict | None:
    """Raise the bound by bisection on the ladder of L values between the stored bound and the
    best roster known (``high``: the bench's greedy L or the stored best, whichever is lower),
    first trying to prove that best optimal. Returns the reference row (merged by the caller)."""
    t0 = time.process_time()
    slots, people, settings, shape = tight_instance(seed)
    problem = Problem(slots, people, settings, None)
    model = exact.Model(problem)
    search = CpSat(model)
    ladder = Ladder(model)
    start, _ = run_greedy(problem, None)
    start = start.holder
    upper = model.max_cover_possible()
    if model.cover_of(start) >= upper - 0.5:
        cover, cover_how = upper, "reaches the counting bound"
    else:
        got = CpSat(model, repeatable=True).max_coverage(COVERAGE_WORK)
        if not got.optimal:
            return None
        cover, cover_how = got.value, "CP-SAT proved it"
        if model.cover_of(start) < cover - 0.5:
            start = got.holder
    stored = load().get(seed, {})
    # the bench row's reference is a proven bound too (its exact runs, same coverage)
    low = max(float(stored.get("bound", model.floor)), model.floor, proven_low or 0.0)
    best_holder = start if model.cover_of(start) >= cover - 0.5 else None
    best = largest(problem, start) if best_holder is not None else np.inf
    target = min(best, high if high is not None else np.inf, float(stored.get("best_L", np.inf)))
    log = []

    def spent() -> float:
        return time.process_time() - t0

    if target < best:
        # a lower roster is known (the bench's greedy mode or a stored run): find one here
        if engine == "highs":
            status, holder, cpu = check_highs(model, ladder, cover, target * (1 + 1e-9), check_s)
        else:
            status, holder, cpu = check(search, ladder, cover, target * (1 + 1e-9), check_s, start)
        log.append(f"L<={target:.4f} {status} {cpu:.1f}s")
        if holder is not None:
            best_holder, best = holder, largest(problem, holder)
        elif status == "INFEASIBLE":  # cannot be: the stored roster exists
            raise RuntimeError(f"seed {seed}: a known roster's L {target} checked infeasible")
    recorded = [0.0]  # CPU seconds already added to the stored entry

    def record() -> None:
        """Merge what is proven so far into the stored references (a run may be cut)."""
        bound_how = (
            f"coverage {cover_how}; bisection on the ladder of L values (every weight a "
            f"multiple of {ladder.unit / LOAD_UNITS:g} h, so the optimum is (base + k x unit) "
            f"/ capacity of someone): each 'roster with L <= c' check by {ENGINES[engine]} on "
            f"one thread (<= {check_s:g} s), INFEASIBLE proves the optimum >= the next value "
            f"above c; checks: {'; '.join(log)}"
        )
        row = {
            "shape": shape,
            "best_L": float(best),
            "bound": float(min(proven, best)),
            "optimal": proven >= best * (1 - 1e-7),
            "how": bound_how,
            "solver_cpu_s": round(spent() - recorded[0], 1),
            "total_cpu_s": round(spent(), 1),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        refs = load()  # re-read: another run may have written meanwhile
        refs[seed] = merge(refs.get(seed), row)
        save(refs)
        recorded[0] = spent()

    proven = low  # L* >= proven
    hi = best  # a roster with L = hi is held
    try_hi = hi  # checks at values from here up to hi were not settled
    # ``aim``: first the check that settles "within aim of the optimum" for the bench's greedy
    # roster: infeasible, the bound reaches high / aim; feasible, a roster that much fairer
    first = high / aim if aim and high is not None and high / aim > proven else None
    while spent() < budget_s:
        vals = ladder.values(proven, hi)
        below = vals[vals < try_hi * (1 - 1e-9)]
        if below.size == 0:
            if try_hi >= hi:  # no value of the ladder between the bound and the best roster
                proven = max(proven, hi)
            break
        # first the value just below the best roster (proves it optimal); after an unsettled
        # check, the middle of the values below it (raises the bound)
        c = float(below[-1] if try_hi >= hi else below[below.size // 2])
        if first is not None:
            aimed = below[below < first]
            c, first = (float(aimed[-1]) if aimed.size else c), None
        left = budget_s - spent()
        if engine == "highs":
            status, holder, cpu = check_highs(model, ladder, cover, c, min(check_s, left))
        else:
            status, holder, cpu = check(search, ladder, cover, c, min(check_s, left), best_holder)
        log.append(f"L<={c:.4f} {status} {cpu:.1f}s")
        print(f"  {seed}: L<={c:.4f} {status} {cpu:.1f} s", flush=True)
        if status == "INFEASIBLE":
            proven = max(proven, ladder.next_above(c))
            record()
        elif holder is not None:
            got = largest(problem, holder)
            if got >= best:  # cannot happen (the check bounds every load): stop, not loop
                break
            best_holder, best, hi = holder, got, got
            try_hi = hi
            record()
        else:  # unsettled within the limit: try lower values
            try_hi = c
    record()
    return load()[seed]


if __name__ == "__main__":
    main()
