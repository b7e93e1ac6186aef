"""Local search on a complete roster: lower the peak, then even out the rest.

* peak pass: lower the person with the largest L by a move, swap or ejection chain of bounded
  depth, accepted only when every person who receives a slot ends strictly below that person's
  old L (the sorted load vector drops; max L never rises);
* spread pass: moves and swaps that lower the sum of squared deviations without raising max L;
* window search (large-neighbourhood search): exact depth-first branch-and-bound re-solving a
  time window around the peak person's slots, or the peak person's slots together with those of
  one of the least loaded people.

No move ever empties a slot, so coverage is never lost. Work is bounded by node budgets that
shrink with the instance size (deterministic, no clock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .budget import NO_DEADLINE, Deadline
from .problem import Problem, Roster


class LocalSearch:
    def __init__(self, problem: Problem, roster: Roster, deadline: Deadline = NO_DEADLINE):
        self.problem = problem
        self.roster = roster
        self.deadline = deadline
        self.pinned_load = (
            Roster(problem).draft_load if problem.pinned else np.zeros(problem.n_people)
        )
        self._py_cache = None
        size = problem.n_slots * max(1, problem.n_people)
        for limit, depth, fanout, budget in _CHAIN_TIERS:
            if size <= limit:
                self.chain_depth, self.fanout, self.node_budget = depth, fanout, budget
                break
        self.nodes = 0

    # -- improvement: leximax local search -------------------------------------------
    def _place(self, s: int, src: int, depth: int, thr: float, chain: frozenset[int]) -> bool:
        """Place the (unassigned) slot ``s`` so that every receiver ends below ``thr``."""
        problem, roster = self.problem, self.roster
        self.nodes += 1
        if self.deadline.expired():
            self.node_budget = -1  # out of time: no further chains
        feas = roster.feasible(s)
        feas[src] = False
        values = roster.projected(s)
        if feas.any():
            ok = feas & (values < thr)
            if ok.any():
                roster.assign(s, roster.pick(s, ok, values))
                return True
        if depth == 0 or self.nodes > self.node_budget:
            return False
        chain = chain | {s}
        # B: someone blocked only by one of their slots that conflicts with s
        for t in problem.neighbors[s]:
            t = int(t)
            q = int(roster.holder[t])
            if (
                q < 0
                or q == src
                or problem.pinned_mask[t]
                or t in chain
                or roster.blockers[s, q] != 1
                or not problem.eligible[s, q]
            ):
                continue
            if (
                problem.past[q] + roster.draft_load[q] - problem.weight[t, q] + problem.weight[s, q]
            ) / problem.capacity[q] >= thr:
                continue
            mk = roster.mark()
            roster.unassign(t)
            if roster.feasible(s)[q]:
                roster.assign(s, q)
                if self._place(t, q, depth - 1, thr, chain):
                    return True
            roster.rollback(mk)
        # C: someone feasible but pushed over thr sheds one of their slots
        over = np.nonzero(feas & ~(values < thr))[0]
        if over.size:
            over = over[np.lexsort((problem.tiebreak_rank[over], values[over]))]
            tried = 0
            for q in over:
                q = int(q)
                sheds = sorted(
                    (
                        u
                        for u in roster.held[q]
                        if not problem.pinned_mask[u]
                        and u not in chain
                        and problem.weight[u, q] > 0
                    ),
                    key=lambda u: (-problem.weight[u, q], problem.order_rank[u]),
                )
                for u in sheds:
                    if (
                        problem.past[q]
                        + roster.draft_load[q]
                        + problem.weight[s, q]
                        - problem.weight[u, q]
                    ) / problem.capacity[q] >= thr:
                        break
                    tried += 1
                    mk = roster.mark()
                    roster.unassign(u)
                    if roster.feasible(s)[q]:
                        roster.assign(s, q)
                        if self._place(u, q, depth - 1, thr, chain):
                            return True
                    roster.rollback(mk)
                    if tried >= self.fanout:
                        break
                if tried >= self.fanout:
                    break
        return False

    def _lower(self, p: int, L: np.ndarray, eps: float) -> bool:
        problem, roster = self.problem, self.roster
        thr = L[p] - eps
        slots = sorted(
            (s for s in roster.held[p] if not problem.pinned_mask[s] and problem.weight[s, p] > 0),
            key=lambda s: (-problem.weight[s, p], problem.order_rank[s]),
        )
        before = roster.rule_count()
        for s in slots:
            mk = roster.mark()
            roster.unassign(s)
            if self._place(s, p, self.chain_depth, thr, frozenset()) and self._rules_ok(before):
                roster.commit()
                return True
            roster.rollback(mk)
            if self.nodes > self.node_budget:
                break
        return False

    def peak_pass(self, max_iter: int = 100_000) -> bool:
        """Lower the person with the largest L (moves / swaps / ejection chains,
        leximax acceptance) until that fails; ties at the top: lowest tie-break
        rank first."""
        problem, roster = self.problem, self.roster
        # nobody's L can drop below (past + pinned) / capacity, so max L can never
        # fall below the highest such floor
        floor = float(((problem.past + self.pinned_load) / problem.capacity).max(initial=0.0))
        changed = False
        for _ in range(max_iter):
            L = roster.normalised_loads()
            top = float(L.max(initial=0.0))
            eps = 1e-9 * max(1.0, abs(top))
            if top <= floor + eps or self.nodes > self.node_budget:
                break
            tied = np.nonzero(L >= top - eps)[0]
            p = int(tied[np.argmin(problem.tiebreak_rank[tied])])
            if not self._lower(p, L, eps):
                break
            changed = True
        return changed

    # -- improvement: squared deviation -------------------------------------------------
    def sq_pass(self, max_sweeps: int = 20) -> bool:
        problem, roster = self.problem, self.roster
        n = problem.n_people
        if n == 0:
            return False
        changed = False
        movable = np.array(
            [s for s in problem.geometry.order if not problem.pinned_mask[s]], dtype=np.int64
        )
        for _ in range(max_sweeps):
            improved = False
            for s in movable:
                s = int(s)
                p = int(roster.holder[s])
                if p < 0:
                    continue
                if self.deadline.expired():
                    return changed
                L = roster.normalised_loads()
                top = float(L.max())
                S1, S2 = float(L.sum()), float((L * L).sum())
                sq = S2 - S1 * S1 / n
                tol = 1e-9 * max(1.0, abs(sq)) + 1e-12
                lim = top + 1e-12 * max(1.0, abs(top))
                best = None
                # moves s: p -> q
                feas = roster.feasible(s)
                feas[p] = False
                if feas.any():
                    Lp2 = L[p] - problem.weight[s, p] / problem.capacity[p]
                    Lq2 = L + problem.weight[s] / problem.capacity
                    d1 = (Lp2 - L[p]) + (Lq2 - L)
                    d2 = (Lp2 * Lp2 - L[p] * L[p]) + (Lq2 * Lq2 - L * L)
                    new_sq = (S2 + d2) - (S1 + d1) ** 2 / n
                    ok = feas & (Lq2 <= lim) & (new_sq < sq - tol)
                    if ok.any():
                        q = roster.pick(s, ok, new_sq)
                        best = (float(new_sq[q]), "move", q, -1)
                # swaps s(p) <-> t(q)
                others = movable[(roster.holder[movable] >= 0) & (roster.holder[movable] != p)]
                if others.size:
                    qs = roster.holder[others]
                    ok = problem.eligible[others, p] & (
                        roster.blockers[others, p] - problem.conflict_int[others, s] == 0
                    )
                    ok &= problem.eligible[s, qs] & (
                        roster.blockers[s, qs] - problem.conflict_int[s, others] == 0
                    )
                    if problem.is_shadow[s]:
                        ok &= problem.is_shadow[others] | (
                            roster.shadow_used[qs] < problem.shadow_quota[qs]
                        )
                    ok &= (
                        ~problem.is_shadow[others]
                        | problem.is_shadow[s]
                        | (roster.shadow_used[p] < problem.shadow_quota[p])
                    )
                    if ok.any():
                        Lp2 = (
                            L[p]
                            + (problem.weight[others, p] - problem.weight[s, p])
                            / problem.capacity[p]
                        )
                        Lq2 = (
                            L[qs]
                            + (problem.weight[s, qs] - problem.weight[others, qs])
                            / problem.capacity[qs]
                        )
                        d1 = (Lp2 - L[p]) + (Lq2 - L[qs])
                        d2 = (Lp2 * Lp2 - L[p] * L[p]) + (Lq2 * Lq2 - L[qs] * L[qs])
                        new_sq = (S2 + d2) - (S1 + d1) ** 2 / n
                        ok &= (Lp2 <= lim) & (Lq2 <= lim) & (new_sq < sq - tol)
                        if ok.any():
                            k = int(np.argmin(np.where(ok, new_sq, np.inf)))
                            if best is None or new_sq[k] < best[0] - tol:
                                best = (float(new_sq[k]), "swap", int(qs[k]), int(others[k]))
                if best is None:
                    continue
                _, kind, q, t = best
                before = roster.rule_count()
                mk = roster.mark()
                roster.unassign(s)
                if kind == "move":
                    roster.assign(s, q)
                else:
                    roster.unassign(t)
                    roster.assign(s, q)
                    roster.assign(t, p)
                if not self._rules_ok(before):
                    roster.rollback(mk)
                    continue
                roster.commit()
                improved = True
            changed |= improved
            if not improved:
                break
        return changed

    # -- exact window search (large-neighbourhood search) -----------------------------
    def _py(self):
        """Plain-Python copies of the static arrays (built once, for the search)."""
        if self._py_cache is None:
            problem = self.problem
            partners: list[list[int]] = [[] for _ in range(problem.n_slots)]
            for s in range(problem.n_slots):
                for t in np.nonzero(problem.geometry.same_shift[s])[0]:
                    t = int(t)
                    if (
                        t != s
                        and problem.is_shadow[s] == problem.is_shadow[t]
                        and np.array_equal(problem.weight[s], problem.weight[t])
                        and np.array_equal(
                            np.delete(problem.conflict[s], [s, t]),
                            np.delete(problem.conflict[t], [s, t]),
                        )
                    ):
                        partners[s].append(t)
            self._py_cache = (
                problem.weight.tolist(),
                [
                    [int(p) for p in np.nonzero(problem.eligible[s])[0]]
                    for s in range(problem.n_slots)
                ],
                [[int(t) for t in problem.neighbors[s]] for s in range(problem.n_slots)],
                partners,
                problem.capacity.tolist(),
                problem.tiebreak_rank.tolist(),
                problem.is_shadow.tolist(),
            )
        return self._py_cache

    def window_search(self, free: Sequence[int], thr: float, node_budget: int) -> bool:
        """Re-assign the (currently assigned, movable) slots ``free`` from scratch so
        that every person receiving one ends with L < ``thr``, minimising the largest
        receiver L (depth-first branch-and-bound, most constrained slot first,
        symmetric slot pairs broken). Keeps the old roster if nothing is found."""
        problem, roster = self.problem, self.roster
        Wl, elig, nbr, partners, cap, tb, is_shadow = self._py()
        E = problem.eligible
        rules_before = roster.rule_count()
        mk = roster.mark()
        for s in free:
            roster.unassign(s)
        base = (problem.past + roster.draft_load).tolist()
        free_set = set(free)
        blocked = {s: roster.blockers[s].tolist() for s in free}
        quota = (problem.shadow_quota - roster.shadow_used).tolist()
        load = [0.0] * problem.n_people
        holder: dict[int, int] = {}
        best: list[dict[int, int] | None] = [None]
        top = [thr]
        nodes = [0]
        open_slots = sorted(free, key=lambda x: problem.order_rank[x])
        people = range(problem.n_people)

        def candidates(s: int, limit: float) -> list[tuple[float, int, int]]:
            out = []
            row = blocked[s]
            w = Wl[s]
            pairs = [(t, holder[t]) for t in partners[s] if t in holder]
            for p in elig[s]:
                if row[p] or (is_shadow[s] and quota[p] <= 0):
                    continue
                if pairs and any(
                    E[t, p] and E[s, q] and ((tb[p] > tb[q]) if s < t else (tb[p] < tb[q]))
                    for t, q in pairs
                ):
                    continue
                v = (base[p] + load[p] + w[p]) / cap[p]
                if v < limit:
                    out.append((v, tb[p], p))
            return out

        deadline = self.deadline

        def dfs(current: float) -> None:
            nodes[0] += 1
            if nodes[0] > node_budget:
                return
            if not nodes[0] & 63 and deadline.expired():
                nodes[0] = node_budget + 1
                return
            if not open_slots:
                best[0] = dict(holder)
                top[0] = current
                return
            limit = top[0] - 1e-9 * max(1.0, abs(top[0]))
            pick = None
            need = 0.0
            for s in open_slots:
                cand = candidates(s, limit)
                if not cand:
                    return
                need += min(Wl[s][p] for _, _, p in cand)
                if pick is None or len(cand) < len(pick[1]):
                    pick = (s, cand)
            room = sum(max(0.0, limit * cap[p] - base[p] - load[p]) for p in people)
            if need > room + 1e-9 * max(1.0, room):
                return
            s, cand = pick
            cand.sort()
            open_slots.remove(s)
            for v, _, p in cand:
                if v >= top[0] - 1e-9 * max(1.0, abs(top[0])):
                    break
                holder[s] = p
                load[p] += Wl[s][p]
                for t in nbr[s]:
                    if t in free_set:
                        blocked[t][p] += 1
                if is_shadow[s]:
                    quota[p] -= 1
                dfs(max(current, v))
                if is_shadow[s]:
                    quota[p] += 1
                for t in nbr[s]:
                    if t in free_set:
                        blocked[t][p] -= 1
                load[p] -= Wl[s][p]
                del holder[s]
                if nodes[0] > node_budget:
                    break
            open_slots.append(s)
            open_slots.sort(key=lambda x: problem.order_rank[x])

        dfs(-math.inf)
        self.nodes += nodes[0]
        if best[0] is None:
            roster.rollback(mk)
            return False
        for s in sorted(best[0], key=lambda x: problem.order_rank[x]):
            roster.assign(s, best[0][s])
        if not self._rules_ok(rules_before):  # the window knows no team rules
            roster.rollback(mk)
            return False
        roster.commit()
        return True

    def lower_peak(self, radius: int, node_budget: int, max_iter: int = 500) -> bool:
        """Repeatedly lower the person with the largest L by re-solving, exactly,
        time windows of ``radius`` shifts around each of their slots (radius < 0:
        the whole period as one window)."""
        problem, roster = self.problem, self.roster
        floor = float(((problem.past + self.pinned_load) / problem.capacity).max(initial=0.0))
        shift_rank = np.empty(problem.n_slots, dtype=np.int64)
        order_sh: dict[int, int] = {}
        for s in problem.geometry.order:
            order_sh.setdefault(int(problem.geometry.shift_of[s]), len(order_sh))
        for s in range(problem.n_slots):
            shift_rank[s] = order_sh[int(problem.geometry.shift_of[s])]
        movable = (~problem.pinned_mask) & (roster.holder >= 0)
        changed = False
        for _ in range(max_iter):
            if self.deadline.expired():
                break
            L = roster.normalised_loads()
            top = float(L.max())
            eps = 1e-9 * max(1.0, abs(top))
            if top <= floor + eps:
                break
            tops = [int(p) for p in np.nonzero(L >= top - eps)[0]]
            p = min(tops, key=lambda q: problem.tiebreak_rank[q])
            mine = [
                s for s in roster.held[p] if not problem.pinned_mask[s] and problem.weight[s, p] > 0
            ]
            if not mine:
                break
            movable = (~problem.pinned_mask) & (roster.holder >= 0)
            if radius < 0:
                windows = [np.nonzero(movable)[0]]
            else:
                centres = sorted({int(shift_rank[s]) for s in mine})
                windows = [
                    np.nonzero(movable & (np.abs(shift_rank - c) <= radius))[0]
                    for c in sorted(
                        centres,
                        key=lambda c: (
                            -max(problem.weight[s, p] for s in mine if shift_rank[s] == c),
                            c,
                        ),
                    )
                ]
            if radius >= 0 and _PAIR_WINDOWS:
                # people windows: the peak person's slots plus all slots of one of
                # the least loaded people holding movable slots
                others = sorted(
                    (
                        q
                        for q in range(problem.n_people)
                        if q != p and any(not problem.pinned_mask[s] for s in roster.held[q])
                    ),
                    key=lambda q: (L[q], problem.tiebreak_rank[q]),
                )
                for q in others[:_PAIR_WINDOWS]:
                    windows.append(
                        np.array(
                            sorted(
                                set(mine)
                                | {s for s in roster.held[q] if not problem.pinned_mask[s]}
                            )
                        )
                    )
            improved = False
            for free in windows:
                if self.window_search([int(s) for s in free], top - eps, node_budget):
                    improved = True
                    break
            if not improved:
                break
            changed = True
        return changed

    def _rules_ok(self, before: int) -> bool:
        """Team rules (pairing, cap): a move may not break more of them, nor (soft pairing)
        raise the penalty."""
        return not self.problem.rules.strict or self.roster.rule_count() <= before

    def improve(self, rounds: int = 3) -> None:
        self.nodes = 0
        for _ in range(rounds):
            a = self.peak_pass()
            b = self.sq_pass()
            if not (a or b):
                break


# (max slots x people, chain depth, fanout, node budget) for the peak pass' ejection chains.
# A chain in time: the peak person's slot goes to someone whose rest rule it breaks by one of
# their own slots (path B of ``_place``), that slot moves on to a third person, and so on along
# the calendar; the depth is the number of slots a chain may eject. Small teams (up to
# SMALL_TEAM person-slots: the tight suite's 5-15 people over 4-13 weeks) get depth 3: under a
# 24-36 h rest rule everyone works about every other day, and the load reaches the person with
# room only after several re-timings. Depth 2 stopped the tight suite's seed 93 (daily, 5
# people, rest 24 h) at 1167.12 on the auto-exact roster where depth 3 reaches the proven
# optimum 1165.00 in 6,500 nodes (0.3 s); whole drafts of seeds 45, 21, 69: 739.38 -> 736.67,
# 391.96 -> 389.80, 281.79 -> 280.21 (bench/results/recommender.md). Depth 5 found nothing more
# on seed 93 for 17 times the nodes. Deterministic: nodes are counted (and the polish's steps),
# never timed.
SMALL_TEAM = 6_000
_CHAIN_TIERS = (
    (300, 3, 6, 200_000),
    (SMALL_TEAM, 3, 4, 100_000),
    (200_000, 2, 3, 60_000),
    (math.inf, 2, 3, 2_000),
)
_PAIR_WINDOWS = 8  # how many least-loaded partners to try in people windows
