"""The exact model's search stages on OR-Tools CP-SAT (coverage, then the largest load).

Why CP-SAT beside HiGHS: the rosters here are pure 0/1 puzzles (rest rules, one slot per
shift, cliques of conflicting shifts) with a min-max objective. HiGHS' branch and bound spends
its time on a weak relaxation; CP-SAT's clause learning and its portfolio of searches prove the
maximal coverage of a 12-person follow-the-sun month in seconds (HiGHS: minutes) and find rosters
3-4% fairer than the local search within the same limit. HiGHS stays for the linear relaxations
(``exact.Model.lp_bound``, ``coverage_lp_bound``): bounds are what an LP solver is for.

The rows are the ones ``exact.Model`` builds (one place for the rules: slot once, conflicts,
shadow quotas, the share cap, hard pairing); this module only translates them.

Exactness: CP-SAT works on integers. Loads are counted in 1/``LOAD_UNITS`` of a weighted hour,
a capacity is an exact fraction (``CAPACITY_DENOMINATOR``), and the largest load ``L`` moves in
1/``L_UNITS`` steps, rounded up. The optimum CP-SAT proves is therefore the true optimum to
within about 3e-8 of L (a relative 1e-10 for a typical L of 300);
``solve.py`` re-evaluates every roster in floating point, so what the manager sees is exact, and
the bound shown is lowered by that resolution so it can never claim more than is proven.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

if TYPE_CHECKING:  # exact.py builds the rows and calls this module
    from .exact import Model

# one weighted hour = LOAD_UNITS integer units (hundredths of a second: weekend and holiday
# weights with two decimals on whole seconds, and past loads to 1/100 s, are exact)
LOAD_UNITS = 360_000
# a capacity is the nearest fraction with at most this denominator (0.504 is 63/125 exactly)
CAPACITY_DENOMINATOR = 1_000_000
# L is searched in steps of 1 / (LOAD_UNITS * L_STEPS_PER_UNIT): about 3e-8 of a unit of L
L_STEPS_PER_UNIT = 100
L_UNITS = LOAD_UNITS * L_STEPS_PER_UNIT
# CP-SAT's integers are 64-bit: products in the load rows stay below this (room for a sum)
INT_ROOM = 2**60
# a row with fractional coefficients (the share cap in hours) is scaled by this and rounded
ROW_UNITS = 3600
# the objective of min_max's ``group``: a load unit of a person of capacity 1 counts this much
# (the loads are already in 1/LOAD_UNITS of an hour: the sum stays well inside 64 bits)
GROUP_UNITS = 1_000
# CP-SAT threads when the manager asks for the exact mode: both cores of a small server (the
# portfolio of searches finds fairer rosters sooner, but which of several equally good rosters
# comes back depends on the threads' timing)
WORKERS = 2
# a repeatable search for the smallest largest load runs this many of CP-SAT's searches in
# turn on one thread ("interleaved": still repeatable). Measured on the tight suite's seeds 36
# and 93 (2 work units): one plain search kept the greedy roster (1133.9, 1187.6), three in
# turn found 1119.6 and 1168.8 and a bound within 0.6% and 0.4%; more searches, no better
PORTFOLIO = 3
# a repeatable run (greedy mode: the same inputs give the same draft) uses one thread and a
# deterministic work limit (CP-SAT's own unit: about a second of one core on a quiet machine,
# 1.6-3 CPU-seconds on the shared 2 cores); the wall clock is only a guard for a machine far
# slower than that, at this multiple of the limit, at least GUARD_FLOOR seconds. With 20 times
# (10 s at least) it fired at load ~12 on 4 of 5 drafts whose rosters were identical to a quiet
# machine's (red team, issue 15), telling the manager to draft again for nothing; drafts run on
# a worker now (not in a web request), so the guard can wait far longer. A search it stops says
# so (``guard_hit``)
WALL_GUARD = 60.0
GUARD_FLOOR = 30.0


@dataclass
class Outcome:
    holder: np.ndarray | None  # the best roster found (None: none within the limit)
    optimal: bool  # CP-SAT proved it optimal for the stage's objective
    value: float | None = None  # the stage's objective of ``holder`` (coverage, or L)
    bound: float | None = None  # the stage's proven bound (same units as value)
    work: float = 0.0  # CP-SAT's deterministic time spent (its own unit, about a core-second)


class CpSat:
    """The search stages on the rows of one ``exact.Model``: maximal coverage, the roster
    closest to a given one at a coverage, and the smallest largest load."""

    def __init__(self, model: Model, *, repeatable: bool = False):
        self.repeatable = repeatable
        self.model = model
        # a repeatable search stopped on the wall-clock guard before its work (a machine far
        # too slow): its result may differ from a normal machine's, and the draft says so
        self.guard_hit = False
        self.problem = model.problem
        A = model._matrix([], 0, model.n_vars).tocsr()[:, : model.nx]
        self._A = A
        self._lo = np.asarray(model._lo, dtype=float)
        self._hi = np.asarray(model._hi, dtype=float)

    # -- building -----------------------------------------------------------------------
    def _base(self, hint: np.ndarray | None):
        """A fresh CpModel with the 0/1 pairs and the rule rows (each stage adds its own)."""
        m = cp_model.CpModel()
        x = [m.new_bool_var(f"x{k}") for k in range(self.model.nx)]
        A, lo, hi = self._A, self._lo, self._hi
        for r in range(A.shape[0]):
            a, b = A.indptr[r], A.indptr[r + 1]
            if a == b:
                continue
            cols, vals = A.indices[a:b], A.data[a:b]
            integral = np.all(np.abs(vals - np.round(vals)) < 1e-9)
            if integral:
                coef, scale = np.round(vals).astype(np.int64), 1
            else:
                # a fractional row (the share cap in hours, an upper bound with non-negative
                # coefficients) rounds its coefficients up and its room down: never looser than
                # the float rule (it may refuse a roster within a second of the cap)
                scale = ROW_UNITS
                coef = np.ceil(vals * scale - 1e-9).astype(np.int64)
            expr = cp_model.LinearExpr.weighted_sum([x[k] for k in cols], coef.tolist())
            if np.isfinite(hi[r]):
                m.add(expr <= int(np.floor(hi[r] * scale + 1e-6)))
            if np.isfinite(lo[r]):
                m.add(expr >= int(np.ceil(lo[r] * scale - 1e-6)))
        if hint is not None:
            on = hint[self.model.slot_of] == self.model.person_of
            for k in range(self.model.nx):
                m.add_hint(x[k], bool(on[k]))
        return m, x

    def _coverage(self, x) -> cp_model.LinearExpr:
        prio = np.round(self.model.priority).astype(np.int64)
        return cp_model.LinearExpr.weighted_sum(x, prio.tolist())

    def _solve(
        self,
        m: cp_model.CpModel,
        time_limit: float,
        repeatable: bool | None = None,
        portfolio: bool = False,
    ):
        solver = cp_model.CpSolver()
        if self.repeatable if repeatable is None else repeatable:
            solver.parameters.num_workers = 1
            if portfolio:
                # several of CP-SAT's searches taking turns on one thread (still repeatable)
                solver.parameters.num_workers = PORTFOLIO
                solver.parameters.interleave_search = True
            # interleaved, CP-SAT counts the work of each search (measured: a unit then costs
            # about PORTFOLIO core-seconds): the limit is shared between them
            work = float(time_limit) / (PORTFOLIO if portfolio else 1)
            solver.parameters.max_deterministic_time = max(0.01, work)
            solver.parameters.max_time_in_seconds = max(GUARD_FLOOR, WALL_GUARD * float(time_limit))
        else:
            solver.parameters.num_workers = WORKERS
            solver.parameters.max_time_in_seconds = max(0.05, float(time_limit))
        status = solver.solve(m)
        limits = solver.parameters
        if (
            (self.repeatable if repeatable is None else repeatable)
            and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
            and solver.deterministic_time < 0.99 * limits.max_deterministic_time
            and solver.wall_time >= 0.99 * limits.max_time_in_seconds
        ):
            self.guard_hit = True
        return solver, status

    def _holder(self, solver: cp_model.CpSolver, x) -> np.ndarray:
        values = np.array([solver.boolean_value(v) for v in x], dtype=float)
        values = np.concatenate([values, [0.0]])
        return self.model.holder(values)

    # -- stages -------------------------------------------------------------------------
    def max_coverage(self, time_limit: float) -> Outcome:
        """Stage 1: the most priority-weighted coverage (primary before secondary before
        shadow). ``value`` is the coverage of ``holder``, ``bound`` an upper bound.

        No hint from the greedy roster on purpose: it anchors the search next to a roster that
        leaves slots empty (measured on the tight suite: seed 11 was still one slot short and
        unproven after 8 s with it, proven in 3.8 s on one thread without it); the caller keeps
        the greedy roster anyway if this one is not better.

        Always one thread with a deterministic work limit, in the exact mode too: coverage is
        a pure 0/1 puzzle that one thread proves as fast as two (seed 11: 3.8 s), and the
        answer must not depend on how busy the machine is (two threads under a wall-clock
        limit on a loaded machine once returned a roster 117 slots short)."""
        if self.model.nx == 0:
            return Outcome(self.model.holder(np.zeros(1)), True, 0.0, 0.0)
        m, x = self._base(None)
        m.maximize(self._coverage(x))
        solver, status = self._solve(m, time_limit, repeatable=True)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Outcome(None, False)
        holder = self._holder(solver, x)
        return Outcome(
            holder,
            status == cp_model.OPTIMAL,
            self.model.cover_of(holder),
            float(np.floor(solver.best_objective_bound + 1e-6)),
        )

    def closest(self, cover: float, to: np.ndarray, time_limit: float) -> Outcome:
        """A roster covering at least ``cover`` that keeps as many of ``to``'s picks as it can
        (``to`` is the fair greedy roster that covers less; the fewer picks change, the less
        its fairness is disturbed). ``value`` is the coverage of ``holder``."""
        model = self.model
        if model.nx == 0:
            return Outcome(None, False)
        m, x = self._base(None)
        m.add(self._coverage(x) >= int(round(cover)))
        kept = np.nonzero(to[model.slot_of] == model.person_of)[0]
        m.maximize(cp_model.LinearExpr.sum([x[k] for k in kept]))
        for k in kept:
            m.add_hint(x[k], True)
        solver, status = self._solve(m, time_limit)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Outcome(None, False)
        holder = self._holder(solver, x)
        return Outcome(holder, status == cp_model.OPTIMAL, model.cover_of(holder))

    def min_max(
        self,
        cover: float,
        time_limit: float,
        hint: np.ndarray | None = None,
        upper: float | None = None,
        group: np.ndarray | None = None,
        portfolio: bool = True,
    ) -> Outcome:
        """Stage 2: the smallest largest normalised load among rosters covering at least
        ``cover``. ``group`` (a mask of people, with ``upper``): instead, the smallest sum of
        these people's normalised loads among rosters whose largest load stays at most
        ``upper`` (it hands work from the most loaded group to the others when their peak
        cannot fall alone; ``bound`` is then None). ``value`` is the largest L of ``holder`` in
        floating point; ``bound`` a proven lower bound on it (lowered by the integer
        resolution). ``upper``: an L already reached (the search only looks for rosters at most
        that high). ``portfolio``: a repeatable search runs several of CP-SAT's searches in
        turn (``PORTFOLIO``), else one."""
        model, problem = self.model, self.problem
        if model.nx == 0:
            return Outcome(None, False)
        m, x = self._base(hint)
        if cover > 0:
            m.add(self._coverage(x) >= int(round(cover)))
        w = np.round(model.w * LOAD_UNITS).astype(np.int64)
        base = np.round(model.base * LOAD_UNITS).astype(np.int64)
        # L_p = load_p / cap_p <= T / L_UNITS  <=>  load_p * L_STEPS * den_p <= T * num_p
        most = base.copy()
        np.add.at(most, model.person_of, np.maximum(w, 0))
        # the products must stay inside CP-SAT's 64-bit integers (with room for a sum of two):
        # huge loads or long drafts get coarser capacity fractions, and the bound and the
        # "optimal" claim then allow for the error that makes
        largest = max(1, int(most.max(initial=1))) * L_STEPS_PER_UNIT
        # T reaches the largest load over the smallest capacity and multiplies the largest
        # capacity's numerator: the spread of capacities costs room too
        spread = int(np.ceil(problem.capacity.max() / problem.capacity.min()))
        denominator = min(CAPACITY_DENOMINATOR, INT_ROOM // (largest * max(1, spread)))
        if denominator < 1:
            return Outcome(None, False)  # too large for exact integers; the caller keeps its own
        caps = [Fraction(float(c)).limit_denominator(denominator) for c in problem.capacity]
        error = max(
            (abs(float(f) - float(c)) / float(c) for f, c in zip(caps, problem.capacity)),
            default=0.0,
        )
        if any(f.numerator < 1 for f in caps):
            return Outcome(None, False)
        top = max(
            (int(most[p]) * L_STEPS_PER_UNIT * c.denominator) // max(c.numerator, 1) + 1
            for p, c in enumerate(caps)
        )
        if upper is not None and np.isfinite(upper):
            top = min(top, int(np.ceil(upper * L_UNITS * (1 + 1e-9))) + 1)
        if top * max(f.numerator for f in caps) > INT_ROOM:
            return Outcome(None, False)  # a guard: the sizing above should prevent this
        floor = max(0, int(np.floor(model.floor * L_UNITS)) - 1)
        T = m.new_int_var(floor, max(top, floor), "largest_load")
        order = np.argsort(model.person_of, kind="stable")
        people, starts = np.unique(model.person_of[order], return_index=True)
        ends = np.append(starts[1:], order.size)
        loads = {}
        for p, a, b in zip(people, starts, ends):
            ks = order[a:b]
            load = m.new_int_var(int(min(base[p], most[p])), int(most[p]), f"load{p}")
            loads[int(p)] = load
            m.add(
                load
                == cp_model.LinearExpr.weighted_sum([x[k] for k in ks], w[ks].tolist())
                + int(base[p])
            )
            c = caps[p]
            m.add(load * (L_STEPS_PER_UNIT * c.denominator) <= T * max(c.numerator, 1))
        if hint is not None:
            # a complete hint (loads and T too): with the x alone, one thread spent its whole
            # limit completing a hint it had been given (the tight suite's seed 80)
            on = hint[model.slot_of] == model.person_of
            got = base.copy()
            np.add.at(got, model.person_of[on], w[on])
            for p, var in loads.items():
                m.add_hint(var, int(got[p]))
            need = max(
                -(-(int(got[p]) * L_STEPS_PER_UNIT * caps[p].denominator) // caps[p].numerator)
                for p in loads
            )
            if need <= T.proto.domain[-1]:
                m.add_hint(T, max(need, int(T.proto.domain[0])))
        if group is not None and upper is not None:
            # the group's normalised loads, each weighted hour worth GROUP_UNITS / capacity
            terms = [
                (loads[p], int(round(GROUP_UNITS / float(problem.capacity[p]))))
                for p in loads
                if group[p]
            ]
            if not terms:
                return Outcome(None, False)
            objective = [v for v, _ in terms], [c for _, c in terms]
            m.minimize(cp_model.LinearExpr.weighted_sum(*objective))
        else:
            m.minimize(T)
        solver, status = self._solve(m, time_limit, portfolio=portfolio)
        work = float(solver.deterministic_time)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Outcome(None, False, work=work)
        holder = self._holder(solver, x)
        L = self._largest_load(holder)
        # the integer bound, less one step (T is rounded up) and the capacities' relative error
        # (at least 1e-6: fte x (1 - utilisation) with a few decimals is an exact fraction)
        if group is not None and upper is not None:
            return Outcome(holder, False, L, None, work)
        bound = (float(solver.best_objective_bound) - 1.0) / L_UNITS * (1 - max(1e-6, 2 * error))
        # an optimum of the rounded capacities is the true one only if they were (almost) exact
        optimal = status == cp_model.OPTIMAL and error <= 1e-9
        return Outcome(holder, optimal, L, max(bound, model.floor), work)

    def _largest_load(self, holder: np.ndarray) -> float:
        problem = self.problem
        load = self.model.base.copy()
        # the model's base counts the pinned (and, in a neighbourhood, the kept) slots already
        on = (self.model.fixed_holder < 0) & (holder >= 0)
        s = np.nonzero(on)[0]
        np.add.at(load, holder[s], problem.weight[s, holder[s]])
        return float((load / problem.capacity).max(initial=0.0))
