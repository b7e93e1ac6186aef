"""The exact model (rows built here; searched by CP-SAT, relaxed by HiGHS), lexicographically.

Variables: binary ``x[s, p]`` for every eligible (slot, person) pair only; the continuous peak
``t``. Rows, per person: conflicts as clique rows (the slots of a shift and of the next
conflicting shifts, ``sum x <= 1``) plus pairwise rows for any conflict not in a clique; shadow
quotas; ``past_p + pinned_p + sum_s weight[s, p] x[s, p] <= t * capacity_p``. Every slot has
``sum_p x[s, p] <= 1``: the model itself chooses which slots stay empty.

1. Coverage (CP-SAT, ``cpsat.py``): maximise ``sum_s priority[s] * covered[s]`` where the
   priorities make it lexicographic (one primary outweighs all secondary and shadow slots
   together, one secondary all shadow slots). The optimum ``cover*`` is then fixed as a row.
2. Fairness (CP-SAT): minimise ``t`` (the largest normalised load). The solver's incumbent and
   proven bound are both in units of L (integers of a known resolution, see ``cpsat.py``), so
   the reported optimum, bound and gap are the solver's own.
3. Tie-break (HiGHS MILP): with ``t <= t*`` fixed, minimise ``sum_p |L_p - mean L|`` (linear
   stand-in for the sum of squares; the local search polishes the squares afterwards).

``lp_bound`` solves the linear relaxation of stage 2 with HiGHS (coverage at least a given
level): a lower bound on the fairest roster that respects the eligibility, rest and coverage
structure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array, vstack

from . import cpsat
from .cpsat import CpSat
from .problem import Problem, Roster

# relative MIP gap at which HiGHS may call a roster optimal (default 1e-4 is too loose for
# "optimal" to mean optimal at the shown precision)
MIP_GAP = 1e-7


def cliques(problem: Problem, slots: np.ndarray) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Cover the conflict graph on ``slots`` by cliques (+ leftover pairs)."""
    allowed = np.zeros(problem.n_slots, dtype=bool)
    allowed[slots] = True
    C = problem.conflict & allowed[:, None] & allowed[None, :]
    order = [s for s in problem.geometry.order if allowed[s]]
    pos = {s: k for k, s in enumerate(order)}
    covered = np.zeros_like(C)
    cliques: list[list[int]] = []
    for a in order:
        later = sorted((int(b) for b in np.nonzero(C[a])[0] if pos[int(b)] > pos[a]), key=pos.get)
        clique = [a]
        for b in later:
            if all(C[b, k] for k in clique):
                clique.append(b)
        if len(clique) < 2:
            continue
        idx = np.array(clique)
        sub = covered[np.ix_(idx, idx)]
        if sub.sum() == len(clique) * (len(clique) - 1):
            continue
        covered[np.ix_(idx, idx)] = True
        cliques.append(clique)
    np.fill_diagonal(covered, True)
    left = np.argwhere(np.triu(C & ~covered, 1))
    return cliques, [(int(a), int(b)) for a, b in left]


def coverage_priorities(problem: Problem) -> np.ndarray:
    """Integer priority of each slot: lexicographic primary > secondary > shadow."""
    shadow = float(problem.is_shadow.sum())
    secondary = float((problem.role == 1).sum())
    per_role = np.array([secondary * (shadow + 1) + shadow + 1, shadow + 1, 1.0])
    return per_role[problem.role]


def coverage_key(problem: Problem, holder: np.ndarray) -> tuple[int, int, int]:
    """Empty (primary, secondary, shadow) slots, excluding pinned ones: smaller is better."""
    empty = ~problem.pinned_mask & (holder < 0)
    return tuple(int((empty & (problem.role == r)).sum()) for r in range(3))


@dataclass
class ExactResult:
    holder: np.ndarray | None = None  # best roster found by the model (None: none found)
    status: str = "time_limit"  # "optimal" | "time_limit" | "infeasible"
    coverage_proven: bool = False  # stage 1 finished: no roster covers more
    cover: float | None = None  # the priority-weighted coverage that was fixed
    optimum: float | None = None  # stage 2 proven optimum of the largest L
    bound: float | None = None  # solver's dual bound on the largest L (same units)
    guard_hit: bool = False  # a repeatable search stopped on its wall-clock guard (cpsat.py)


class Model:
    """The sparse model of one problem (pinned slots fixed, their load counted).

    ``keep`` (a neighbourhood of a team too big for the whole model): a holder per slot; the
    slots it holds stay with that person like pinned ones, the others (-1) are decided.
    ``people``: only these people's pairs are variables. Either makes the model a
    neighbourhood: its optimum is the best *within* it, never a proof for the whole team."""

    def __init__(
        self,
        problem: Problem,
        *,
        keep: np.ndarray | None = None,
        people: np.ndarray | None = None,
    ):
        self.problem = problem
        pinned_only = Roster(problem)
        if keep is not None:
            for s in np.nonzero((keep >= 0) & ~problem.pinned_mask)[0]:
                pinned_only._assign(int(s), int(keep[s]))
        self.fixed_holder = pinned_only.holder.copy()
        self.fixed_load = pinned_only.draft_load.copy()
        movable = ~problem.pinned_mask & (pinned_only.holder < 0)
        quota = problem.shadow_quota - pinned_only.shadow_used
        pairs = problem.eligible & movable[:, None] & (pinned_only.blockers == 0)
        pairs &= ~(problem.is_shadow[:, None] & (quota[None, :] <= 0))
        if people is not None:
            pairs &= people[None, :]
        self.slot_of, self.person_of = np.nonzero(pairs)
        nx = self.slot_of.size
        self.nx = nx
        self.t_index = nx
        self.n_vars = nx + 1
        var = np.full((problem.n_slots, problem.n_people), -1, dtype=np.int64)
        var[self.slot_of, self.person_of] = np.arange(nx)
        self.base = problem.past + self.fixed_load
        self.floor = float((self.base / problem.capacity).max(initial=0.0))
        self.w = problem.weight[self.slot_of, self.person_of]
        self.priority = coverage_priorities(problem)[self.slot_of]
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[float] = []
        hi: list[float] = []
        self.n_rows = 0

        def add(r, c, v, lower, upper) -> None:
            rows.append(np.asarray(r, dtype=np.int64) + self.n_rows)
            cols.append(np.asarray(c, dtype=np.int64))
            vals.append(np.asarray(v, dtype=float))
            lower, upper = np.broadcast_arrays(
                np.atleast_1d(np.asarray(lower, dtype=float)),
                np.atleast_1d(np.asarray(upper, dtype=float)),
            )
            lo.extend(lower.tolist())
            hi.extend(upper.tolist())
            self.n_rows += lower.size

        self._add = add
        self._rows, self._cols, self._vals, self._lo, self._hi = rows, cols, vals, lo, hi
        # each slot at most once
        slot_row = np.full(problem.n_slots, -1, dtype=np.int64)
        used = np.unique(self.slot_of)
        slot_row[used] = np.arange(used.size)
        add(slot_row[self.slot_of], np.arange(nx), np.ones(nx), -np.inf, np.ones(used.size))
        # conflicts: cliques and leftover pairs, per person
        clique_list, pair_list = cliques(problem, np.nonzero(movable)[0])
        for clique in clique_list:
            sub = var[clique]
            has = sub >= 0
            people = np.nonzero(has.sum(axis=0) >= 2)[0]
            if people.size == 0:
                continue
            rr, cc = np.nonzero(has[:, people].T)
            add(rr, sub[cc, people[rr]], np.ones(rr.size), -np.inf, np.ones(people.size))
        for a, b in pair_list:
            both = np.nonzero((var[a] >= 0) & (var[b] >= 0))[0]
            if both.size == 0:
                continue
            k = np.arange(both.size)
            add(
                np.concatenate([k, k]),
                np.concatenate([var[a, both], var[b, both]]),
                np.ones(2 * both.size),
                -np.inf,
                np.ones(both.size),
            )
        # shadow quotas
        shadow = problem.is_shadow[self.slot_of]
        if shadow.any():
            count = np.bincount(self.person_of[shadow], minlength=problem.n_people)
            people = np.nonzero(count > np.maximum(quota, 0))[0]
            if people.size:
                prow = np.full(problem.n_people, -1)
                prow[people] = np.arange(people.size)
                sel = shadow & (prow[self.person_of] >= 0)
                add(
                    prow[self.person_of[sel]],
                    np.nonzero(sel)[0],
                    np.ones(int(sel.sum())),
                    -np.inf,
                    quota[people].astype(float),
                )
        self._team_rows(var, pinned_only)
        self.base_rows = self.n_rows
        self._base_matrix = None

    def _team_rows(self, var: np.ndarray, pinned_only: Roster) -> None:
        """The team rules of ``pairing.py`` as rows: the cap, and hard pairing."""
        problem, rules, add = self.problem, self.problem.rules, self._add
        if rules.capped:
            hours = rules.hours[self.slot_of]
            on = np.nonzero(hours > 0)[0]
            people = np.unique(self.person_of[on])
            if people.size:
                prow = np.full(problem.n_people, -1)
                prow[people] = np.arange(people.size)
                room = np.maximum(rules.cap + 1e-6 - pinned_only.hours_held[people], 0.0)
                add(prow[self.person_of[on]], on, hours[on], -np.inf, room)
        if not problem.pairing_hard:
            return
        exp = rules.experienced
        holder = pinned_only.holder

        def paired_by_kept(slots) -> bool:
            """A slot of these held (kept or pinned) by an experienced person pairs the shift."""
            return any(holder[t] >= 0 and exp[holder[t]] for t in slots)

        for h in range(len(rules.ps)):
            if rules.pinned_shift[h] or paired_by_kept(rules.ps[h]):
                continue
            ps = rules.ps[h]
            if rules.pair_shift[h]:
                sub = var[ps]
                inexp = sub[:, ~exp]
                inexp = inexp[inexp >= 0]
                if inexp.size:
                    ex = sub[:, exp]
                    ex = ex[ex >= 0]
                    k = float(len(ps))
                    add(
                        np.zeros(inexp.size + ex.size, dtype=np.int64),
                        np.concatenate([inexp, ex]),
                        np.concatenate([np.ones(inexp.size), np.full(ex.size, -k)]),
                        -np.inf,
                        0.0,
                    )
        # a newcomer's first primaries: k x[s, p] - k E_sec(shift) - (their earlier primaries)
        # <= pinned earlier primaries, where k = first_primaries_paired - primary_served
        for p in np.nonzero(rules.may_be_newcomer)[0]:
            p = int(p)
            k = float(rules.first - rules.served[p])
            prim = [
                int(t)
                for t in np.argsort(rules.rank, kind="stable")
                if rules.role[t] == 0 and (var[t, p] >= 0 or holder[t] == p)
            ]
            earlier: list[int] = []
            pinned_before = 0
            for t in prim:
                if holder[t] == p:
                    pinned_before += 1
                    continue
                h = int(rules.shift_of[t])
                if (
                    pinned_before < k
                    and not rules.pinned_shift[h]
                    and rules.sec[h]
                    and not paired_by_kept(rules.sec[h])
                ):
                    secs = var[rules.sec[h]][:, exp]
                    secs = secs[:, np.arange(problem.n_people)[exp] != p] if exp[p] else secs
                    secs = secs[secs >= 0]
                    cols = np.concatenate([[var[t, p]], secs, earlier]).astype(np.int64)
                    vals = np.concatenate(
                        [[k], np.full(secs.size, -k), np.full(len(earlier), -1.0)]
                    )
                    add(np.zeros(cols.size, dtype=np.int64), cols, vals, -np.inf, pinned_before)
                earlier.append(int(var[t, p]))

    # -- helpers ----------------------------------------------------------------------
    def _matrix(self, blocks, n_extra: int, n_cols: int):
        rows = self._rows + [r + self.base_rows for r, _, _ in blocks]
        cols = self._cols + [c for _, c, _ in blocks]
        vals = self._vals + [v for _, _, v in blocks]
        return csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.base_rows + n_extra, n_cols),
        )

    def _solve(
        self, cost, extra, integral: bool, lb, ub, time_limit: float, nodes: int | None = None
    ):
        """``extra``: list of (rows, cols, vals, lower, upper) blocks, rows numbered from 0;
        ``nodes``: a branch-and-bound node limit (the same stop on any machine)."""
        matrix, lo, hi = self._system(extra, cost.size)
        integrality = np.zeros(cost.size)
        if integral:
            integrality[: self.nx] = 1
        return milp(
            cost,
            constraints=[LinearConstraint(matrix, lo, hi)],
            integrality=integrality,
            bounds=Bounds(lb, ub),
            options={
                "time_limit": max(0.05, time_limit),
                "disp": False,
                "mip_rel_gap": MIP_GAP,
                "node_limit": nodes,
            },
        )

    def _system(self, extra, n_cols: int):
        """The rule rows plus ``extra`` blocks: (matrix, lower bounds, upper bounds)."""
        blocks = []
        lo, hi = list(self._lo), list(self._hi)
        offset = 0
        for r, c, v, lower, upper in extra:
            blocks.append((np.asarray(r) + offset, np.asarray(c), np.asarray(v, dtype=float)))
            k = int(np.asarray(r).max(initial=-1)) + 1
            lower, upper = np.broadcast_arrays(
                np.atleast_1d(np.asarray(lower, dtype=float)),
                np.atleast_1d(np.asarray(upper, dtype=float)),
            )
            lo.extend(np.broadcast_to(lower, (k,)).tolist())
            hi.extend(np.broadcast_to(upper, (k,)).tolist())
            offset += k
        return self._matrix(blocks, offset, n_cols), np.array(lo), np.array(hi)

    def _load_rows(self):
        """past_p + sum_s w x - capacity_p t <= 0 for every person with a variable (built
        once, shared by the stages)."""
        if getattr(self, "_load_block", None) is None:
            self._load_block = self._build_load_rows()
        return self._load_block

    def _build_load_rows(self):
        problem = self.problem
        people = np.unique(self.person_of)
        prow = np.full(problem.n_people, -1)
        prow[people] = np.arange(people.size)
        nz = np.nonzero(self.w != 0)[0]
        r = np.concatenate([prow[self.person_of[nz]], np.arange(people.size)])
        c = np.concatenate([nz, np.full(people.size, self.t_index)])
        v = np.concatenate([self.w[nz], -problem.capacity[people]])
        return (r, c, v, -np.inf, -self.base[people])

    def _cover_row(self, cover: float):
        # integer priorities: cover - 0.5 keeps it an equality in effect, robust to round-off
        return (
            np.zeros(self.nx, dtype=np.int64),
            np.arange(self.nx),
            self.priority,
            cover - 0.5,
            np.inf,
        )

    def holder(self, x: np.ndarray) -> np.ndarray:
        out = self.fixed_holder.copy()  # pinned (and kept) slots with their holders
        on = np.nonzero(x[: self.nx] > 0.5)[0]
        out[self.slot_of[on]] = self.person_of[on]
        return out

    def cover_of(self, holder: np.ndarray) -> float:
        on = (holder >= 0) & ~self.problem.pinned_mask
        return float(coverage_priorities(self.problem)[on].sum())

    def max_cover_possible(self) -> float:
        """Cheap upper bound on coverage: every slot with a variable, shadow capped by quotas."""
        problem = self.problem
        prio = coverage_priorities(problem)
        has = np.zeros(problem.n_slots, dtype=bool)
        has[self.slot_of] = True
        must = has & ~problem.is_shadow
        shadow_slots = int((has & problem.is_shadow).sum())
        pinned_only = Roster(problem)
        quota = int(np.maximum(problem.shadow_quota - pinned_only.shadow_used, 0).sum())
        return float(prio[must].sum()) + float(min(shadow_slots, quota))

    # -- stages -----------------------------------------------------------------------
    def lp_bound(
        self, cover: float, time_limit: float, iterations: int | None = None
    ) -> float | None:
        """Linear relaxation of stage 2: a lower bound on the largest L (None: not solved
        within ``iterations`` of the interior point, or ``time_limit`` seconds)."""
        cost = np.zeros(self.n_vars)
        cost[self.t_index] = 1.0
        lb = np.zeros(self.n_vars)
        ub = np.ones(self.n_vars)
        lb[self.t_index], ub[self.t_index] = self.floor, np.inf
        extra = [self._load_rows()]
        if cover > 0:
            extra.append(self._cover_row(cover))
        # interior point: this relaxation is very degenerate, and HiGHS' simplex took 3-6 s
        # where the interior point takes 0.6 s (tight suite, seeds 38 and 80)
        matrix, lo, hi = self._system(extra, self.n_vars)
        upper, lower = np.isfinite(hi), np.isfinite(lo)
        res = linprog(
            cost,
            A_ub=vstack([matrix[np.nonzero(upper)[0]], -matrix[np.nonzero(lower)[0]]]).tocsr(),
            b_ub=np.concatenate([hi[upper], -lo[lower]]),
            bounds=np.column_stack([lb, ub]),
            method="highs-ipm",
            options={"time_limit": max(0.05, time_limit), "disp": False, "maxiter": iterations},
        )
        if res.status != 0 or res.fun is None:
            return None
        # the interior point stops within its tolerance of the optimum: step back by more
        return float(res.fun) * (1 - 1e-6)

    def spread(self, cover: float, t_star: float, time_limit: float, nodes: int | None = None):
        """Stage 3: minimise sum |L_p - mean| with t <= t* and the coverage fixed (within
        ``time_limit`` seconds and ``nodes`` branch-and-bound nodes)."""
        problem = self.problem
        n = problem.n_people
        mean_index = self.n_vars
        dev0 = self.n_vars + 1
        coef = self.w / problem.capacity[self.person_of]
        fixed = self.base / problem.capacity
        extra = [self._load_rows()]
        if cover > 0:
            extra.append(self._cover_row(cover))
        extra.append(
            (
                np.zeros(self.nx + 1, dtype=np.int64),
                np.concatenate([np.arange(self.nx), [mean_index]]),
                np.concatenate([-coef, [float(n)]]),
                float(fixed.sum()),
                float(fixed.sum()),
            )
        )
        r = np.concatenate([self.person_of, np.arange(n), np.arange(n)])
        c = np.concatenate([np.arange(self.nx), dev0 + np.arange(n), np.full(n, mean_index)])
        extra.append((r, c, np.concatenate([-coef, np.ones(n), np.ones(n)]), fixed, np.inf))
        extra.append((r, c, np.concatenate([coef, np.ones(n), -np.ones(n)]), -fixed, np.inf))
        cost = np.concatenate([np.zeros(self.n_vars + 1), np.ones(n)])
        lb = np.concatenate([np.zeros(self.n_vars), [-np.inf], np.zeros(n)])
        ub = np.concatenate([np.ones(self.n_vars), [np.inf], np.full(n, np.inf)])
        lb[self.t_index] = self.floor
        ub[self.t_index] = t_star * (1 + 1e-9) + 1e-12
        return self._solve(cost, extra, True, lb, ub, time_limit, nodes)


# the repeatable tie-break (stage 3) stops after this many branch-and-bound nodes, not on the
# clock (its 0.2 of the time limit, then, times cpsat.WALL_GUARD, is only a guard): HiGHS on a
# wall-clock limit gave a different roster on a busier machine
SPREAD_NODES = 500


def solve_exact(
    problem: Problem,
    time_limit: float,
    incumbent: Roster | None = None,
    *,
    model: Model | None = None,
    proven_cover: float | None = None,
    repeatable: bool = False,
) -> ExactResult:
    """Stages 1-3 within about ``time_limit`` seconds of solver time.

    ``incumbent``: a roster already found (the greedy's); if it reaches the cheap coverage upper
    bound, stage 1 is skipped (its coverage is then provably maximal). ``model``: the model of
    ``problem`` already built by the caller (built here otherwise). ``proven_cover``: the maximal
    coverage when the caller has proven it already (stage 1 is then skipped and the coverage
    fixed as a row). ``repeatable``: one solver thread and a deterministic work limit, so the
    same inputs give the same roster (``cpsat.py``).
    """
    out = ExactResult()
    model = Model(problem) if model is None else model
    if model.nx == 0:  # nothing to decide
        out.holder = model.holder(np.zeros(1))
        out.status, out.coverage_proven, out.cover = "optimal", True, 0.0
        out.optimum = out.bound = model.floor
        return out
    search = CpSat(model, repeatable=repeatable)
    upper = model.max_cover_possible()
    if incumbent is not None and model.cover_of(incumbent.holder) >= upper - 0.5:
        cover, proven = upper, True
    elif proven_cover is not None:
        cover, proven = proven_cover, True
    else:
        got = search.max_coverage(0.3 * time_limit)
        if got.holder is None:
            out.guard_hit = search.guard_hit
            return out
        out.holder = got.holder
        cover, proven = got.value, got.optimal
        if incumbent is not None and model.cover_of(incumbent.holder) > cover:
            cover = model.cover_of(incumbent.holder)  # the time-limited stage 1 fell short
    out.cover, out.coverage_proven = cover, proven
    # start from the incumbent when it covers as much (it is usually fair already), else from
    # stage 1's roster
    start = None
    if incumbent is not None and model.cover_of(incumbent.holder) >= cover - 0.5:
        start = incumbent.holder
    elif out.holder is not None and model.cover_of(out.holder) >= cover - 0.5:
        start = out.holder
    limit = 0.7 * time_limit if proven else 0.5 * time_limit
    if repeatable:
        res = _two_searches(search, cover, limit, start)
    else:
        res = search.min_max(cover, limit, start)
    out.guard_hit = search.guard_hit
    if res.holder is None:
        out.status = "time_limit"
        return out
    out.holder = res.holder
    out.bound = res.bound
    if res.optimal and proven:
        out.status = "optimal"
        out.optimum = res.value
        out.bound = res.value if out.bound is None else min(out.bound, res.value)
        if repeatable:
            guard = cpsat.WALL_GUARD * 0.2 * time_limit
            started = time.perf_counter()
            tie = model.spread(cover, res.value, guard, SPREAD_NODES)
            if tie.status == 1 and time.perf_counter() - started >= guard:
                out.guard_hit = True  # stopped on the clock, not the nodes: may differ
        else:
            tie = model.spread(cover, res.value, 0.2 * time_limit)
        if tie.x is not None:
            out.holder = model.holder(tie.x)
    return out


# the repeatable stage 2's share of work for CP-SAT's plain search (the rest: its portfolio)
PLAIN_SHARE = 1 / 3


def _two_searches(search: CpSat, cover: float, limit: float, start: np.ndarray | None):
    """The repeatable stage 2: ``PLAIN_SHARE`` of the work for CP-SAT's plain search, the rest
    for several of its searches in turn from the plain one's roster (``cpsat.PORTFOLIO``).
    Neither alone wins everywhere (tight suite, 2.8 units: the plain search 910.8 on seed 3
    where the portfolio gave 920.0; the portfolio 1119.6 and 1167.1 on seeds 36 and 93 where
    the plain search kept 1133.9 and 1187.6; both in turn: 909.5, 1119.6, 1180.8). The second
    search only looks at rosters at most as high as the first's, so its bound is still a bound
    on the optimum; the better roster and the higher bound are kept."""
    first = search.min_max(cover, limit * PLAIN_SHARE, start, portfolio=False)
    rest = limit * (1 - PLAIN_SHARE)
    if first.holder is None or first.optimal:
        second = search.min_max(cover, rest, start) if first.holder is None else None
        return first if second is None or second.holder is None else second
    second = search.min_max(cover, rest, first.holder, upper=first.value)
    if second.holder is None:
        return first
    best = second if second.value < first.value else first
    bounds = [b for b in (first.bound, second.bound) if b is not None]
    return cpsat.Outcome(
        best.holder,
        second.optimal,
        best.value,
        max(bounds) if bounds else None,
        first.work + second.work,
    )


def lp_bound(problem: Problem, holder: np.ndarray, time_limit: float = 5.0) -> float | None:
    """LP-relaxation bound on the largest L over rosters covering at least as much as
    ``holder`` (priority-weighted); valid for the lexicographic optimum."""
    model = Model(problem)
    if model.nx == 0:
        return None
    return model.lp_bound(model.cover_of(holder), time_limit)
