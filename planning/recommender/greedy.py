"""Greedy construction and coverage repair.

Construction: repeatedly take the open slot with the fewest currently feasible people (ties: time
order) and give it to the feasible person with the lowest *projected* normalised load (L after
taking it); ties by longest time since ``last_shift_end`` (never = longest), then ``person_id``.
Feasibility counts are updated incrementally (only the conflicting neighbours of a filled slot
change), so construction costs about (slots x people) rather than slots^2 x people.

Repair: an empty slot is filled through augmenting paths (give it to someone blocked by one or
two of their slots and re-place those slots, iterative deepening). Whether the resulting cover is
*maximal* is then settled by the exact coverage model (``coverage.py``).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import numpy as np

from .budget import GUARD, NO_DEADLINE, NO_PROGRESS, STAGES, Deadline, Progress, steps_for
from .local_search import LocalSearch
from .problem import Problem, Roster

# node budget per empty slot in the first (cheap) repair pass
FIRST_PASS_NODES = 4_000
# shares of the time budget a normal machine's worth of steps is sized from (``budget.py``):
# the repair when no coverage model follows it, and the local search after it
REPAIR_SHARE = 1 / 4
LOCAL_SEARCH_SHARE = 3 / 8


class Builder:
    def __init__(
        self,
        problem: Problem,
        roster: Roster,
        node_budget: int = 60_000,
        deadline: Deadline = NO_DEADLINE,
    ):
        self.problem = problem
        self.roster = roster
        self.node_budget = node_budget
        self.nodes = 0
        self.deadline = deadline

    # -- construction ----------------------------------------------------------
    def construct(self) -> None:
        """Fill open slots, most constrained first (see the module docstring)."""
        problem, roster = self.problem, self.roster
        open_slots = ~problem.pinned_mask & (roster.holder < 0)
        rows = np.nonzero(open_slots)[0]
        if rows.size == 0:
            return
        feasible = problem.eligible[rows] & (roster.blockers[rows] == 0)
        if problem.is_shadow[rows].any():
            quota_left = roster.shadow_used < problem.shadow_quota
            feasible[problem.is_shadow[rows]] &= quota_left
        count = np.zeros(problem.n_slots, dtype=np.int64)
        count[rows] = feasible.sum(axis=1)
        del feasible
        rank = problem.order_rank
        heap = [(int(count[s]), int(rank[s]), int(s)) for s in rows]
        heapq.heapify(heap)
        shadow_open = problem.is_shadow & open_slots
        while heap:
            n, _, s = heapq.heappop(heap)
            if not open_slots[s] or n != count[s]:
                continue  # filled already, or a stale entry
            open_slots[s] = False
            if n == 0:
                continue
            mask = roster.feasible(s)
            if not mask.any():  # only the team rules (pairing, cap) rule everyone out
                continue
            p = roster.pick(s, mask)
            # the neighbours for which p was feasible lose one option
            nbr = problem.neighbors[s]
            nbr = nbr[open_slots[nbr]]
            ok = problem.eligible[nbr, p] & (roster.blockers[nbr, p] == 0)
            if roster.shadow_used[p] >= problem.shadow_quota[p]:
                ok &= ~problem.is_shadow[nbr]  # p was not an option for shadow slots anyway
            hit = nbr[ok]
            roster.assign(s, p)
            if problem.is_shadow[s]:
                shadow_open[s] = False
                if roster.shadow_used[p] >= problem.shadow_quota[p]:
                    others = np.nonzero(shadow_open)[0]
                    others = others[problem.eligible[others, p] & (roster.blockers[others, p] == 0)]
                    hit = np.union1d(hit, others)
            for t in hit:
                t = int(t)
                count[t] -= 1
                heapq.heappush(heap, (int(count[t]), int(rank[t]), t))
        roster.commit()

    # -- repair: augmenting paths ------------------------------------------------
    def _augment(self, s: int, depth: int, banned: frozenset[int]) -> bool:
        problem, roster = self.problem, self.roster
        feas = roster.feasible(s)
        if feas.any():
            roster.assign(s, roster.pick(s, feas))
            return True
        if depth == 0:
            return False
        values = roster.projected(s)
        cands = np.nonzero(problem.eligible[s])[0]
        cands = cands[np.lexsort((problem.tiebreak_rank[cands], values[cands]))]
        banned = banned | {s}
        for p in cands:
            p = int(p)
            self.nodes += 1
            if self.nodes > self.node_budget:
                return False
            if self.deadline.expired():
                self.node_budget = -1  # out of time: every level unwinds
                return False
            if problem.is_shadow[s] and problem.shadow_quota[p] <= 0:
                continue
            blockers = sorted(t for t in roster.held[p] if problem.conflict[s, t])
            if any(problem.pinned_mask[t] or t in banned for t in blockers):
                continue
            options = [blockers]
            if (
                problem.is_shadow[s]
                and roster.shadow_used[p] >= problem.shadow_quota[p]
                and not any(problem.is_shadow[t] for t in blockers)
            ):
                extra = sorted(
                    u
                    for u in roster.held[p]
                    if problem.is_shadow[u] and not problem.pinned_mask[u] and u not in banned
                )
                options = [blockers + [u] for u in extra]
            rules = problem.rules
            if rules.capped and rules.hours[s] > 0:
                room = rules.cap + 1e-6 - roster.hours_held[p] - rules.hours[s]
                room += sum(rules.hours[t] for t in blockers)
                if room < 0:  # at the cap: shed one more of p's slots (re-placed below)
                    extra = sorted(
                        (
                            u
                            for u in roster.held[p]
                            if u not in blockers
                            and not problem.pinned_mask[u]
                            and u not in banned
                            and rules.hours[u] >= -room
                        ),
                        key=lambda u: problem.order_rank[u],
                    )
                    options = [opt + [u] for opt in options for u in extra]
            for opt in options:
                if len(opt) > 2:
                    continue
                mk = roster.mark()
                for t in opt:
                    roster.unassign(t)
                roster.assign(s, p)
                if all(self._augment(t, depth - 1, banned) for t in opt):
                    return True
                roster.rollback(mk)
        return False

    def repair(self, max_depth: int = 6, stop_on_failure: bool = False) -> bool:
        """Augmenting paths for every empty slot: a cheap pass first (small node budget per
        slot, so easy slots are not starved by hopeless ones when time is short), then the
        slots still empty again with the full budget."""
        budget = self.node_budget
        first = min(budget, FIRST_PASS_NODES)
        ok = self._repair_pass(first, max_depth, stop_on_failure and first >= budget)
        if not ok and first < budget and not self.deadline.expired():
            ok = self._repair_pass(budget, max_depth, stop_on_failure)
        self.node_budget = budget
        return ok

    def _repair_pass(self, budget: int, max_depth: int, stop_on_failure: bool) -> bool:
        problem, roster = self.problem, self.roster
        ok = True
        for s in problem.geometry.order:
            if problem.pinned_mask[s] or roster.holder[s] >= 0 or not problem.eligible[s].any():
                continue
            if self.deadline.expired():  # keep what is placed; the slot stays empty
                feas = roster.feasible(s)
                if feas.any():
                    before = roster.rule_count()
                    mk = roster.mark()
                    roster.assign(s, roster.pick(s, feas))
                    if roster.rule_count() > before:  # a team rule needs more than one slot
                        roster.rollback(mk)
                        ok = False
                    roster.commit()
                else:
                    ok = False
                continue
            self.node_budget = budget
            self.nodes = 0
            placed = False
            before = roster.rule_count()
            for depth in range(1, max_depth + 1):
                mk = roster.mark()
                if self._augment(s, depth, frozenset()) and roster.rule_count() <= before:
                    placed = True
                    break
                roster.rollback(mk)
                if self.nodes > self.node_budget:
                    break
            roster.commit()
            ok &= placed
            if not placed and stop_on_failure:
                return False
        return ok

    def complete_search(self, budget: int = 200_000) -> bool:
        """Backtracking (most constrained first, forward checking) for a cover of
        every coverable primary/secondary slot. Replaces the roster if found."""
        problem, roster = self.problem, self.roster
        target = [
            s
            for s in range(problem.n_slots)
            if not problem.pinned_mask[s] and not problem.is_shadow[s] and problem.eligible[s].any()
        ]
        if all(roster.holder[s] >= 0 for s in target):
            return True
        saved = roster.copy_assignment()
        for s in range(problem.n_slots):
            if not problem.pinned_mask[s] and roster.holder[s] >= 0:
                roster.unassign(s)
        roster.commit()
        nodes = [0]
        target_arr = np.array(target, dtype=np.int64)

        def dfs() -> bool:
            rows = target_arr[roster.holder[target_arr] < 0]
            if rows.size == 0:
                return True
            nodes[0] += 1
            if nodes[0] > budget:
                return False
            if self.deadline.expired():
                nodes[0] = budget + 1
                return False
            feas = problem.eligible[rows] & (roster.blockers[rows] == 0)
            counts = feas.sum(axis=1)
            if counts.min() == 0:
                return False
            k = int(np.lexsort((problem.order_rank[rows], counts))[0])
            s = int(rows[k])
            values = roster.projected(s)
            cands = np.nonzero(feas[k])[0]
            cands = cands[np.lexsort((problem.tiebreak_rank[cands], values[cands]))]
            for p in cands:
                roster._assign(s, int(p))
                if dfs():
                    return True
                roster._unassign(s)
                if nodes[0] > budget:
                    return False
            return False

        found = dfs()
        if found and roster.rule_count():  # the search knows no team rules: keep the old one
            found = False
            for s in range(problem.n_slots):
                if not problem.pinned_mask[s] and roster.holder[s] >= 0:
                    roster._unassign(s)
        if not found:
            roster.load_assignment(saved)
            return False
        # shadows: greedy + augmenting
        self.construct()
        self.repair()
        return True


# slots x people up to which the whole period is re-solved by branch-and-bound
WHOLE_PERIOD_SIZE = 160
# slots x people up to which time windows around the peak are re-solved exactly
WINDOW_SIZE = 40_000
WHOLE_PERIOD_NODES = 20_000
WINDOW_NODES = 1_000
WINDOW_RADII = (2,)


def enforce_rules(problem: Problem, roster: Roster) -> bool:
    """Empty the slots that break a team rule (``pairing.py``: hard pairing, the cap); soft
    pairing is left as it is. Returns whether anything changed."""
    rules = problem.rules
    changed = False
    for p in rules.over_cap(roster.holder):  # drop the latest slots until under the cap
        p = int(p)
        for s in sorted(roster.held[p], key=lambda t: -problem.order_rank[t]):
            if roster.hours_held[p] <= rules.cap + 1e-6:
                break
            if not problem.pinned_mask[s] and rules.hours[s] > 0:
                roster.unassign(s)
                changed = True
    if problem.pairing_hard:
        while True:
            broken = rules.broken_shifts(roster.holder)
            if not broken:
                break
            for h in broken:
                if _swap_in_experienced(problem, roster, h):
                    changed = True
                    continue
                for kind, t in rules.shift_problems(roster.holder, h):
                    if kind == "unpaired":  # nobody experienced: nobody inexperienced either
                        drop = [u for u in rules.ps[h] if roster.holder[u] >= 0]
                    else:  # the newcomer's primary, or the inexperienced secondary
                        drop = [t] if roster.holder[t] >= 0 else []
                    for u in drop:
                        if not problem.pinned_mask[u]:
                            roster.unassign(u)
                            changed = True
                    break  # re-read the shift after each fix
    roster.commit()
    return changed


def _swap_in_experienced(problem: Problem, roster: Roster, h: int) -> bool:
    """Mend shift ``h`` by giving one of its primary/secondary slots (empty, or held by
    someone not experienced) to an experienced person who may take it: True if the shift then
    breaks no pairing rule and nothing else broke."""
    rules = problem.rules
    before = roster.rule_count()
    for u in sorted(rules.ps[h], key=lambda t: (-problem.role[t], problem.order_rank[t])):
        if problem.pinned_mask[u]:
            continue
        q = int(roster.holder[u])
        if q >= 0 and rules.experienced[q]:
            continue
        mk = roster.mark()
        if q >= 0:
            roster.unassign(u)
        options = roster.feasible(u) & rules.experienced
        if q >= 0:
            options[q] = False
        if options.any():
            roster.assign(u, roster.pick(u, options))
            if not rules.shift_problems(roster.holder, h) and roster.rule_count() < before:
                return True
        roster.rollback(mk)
    return False


def run_greedy(
    problem: Problem,
    budget: float | None = None,
    repair_seconds: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
    progress: Progress = NO_PROGRESS,
) -> tuple[Roster, Deadline]:
    """Construction, repair, then local search: deterministic, whatever the clock says.

    Each stage stops on a count of steps (``budget.py``) sized from the team for a normal
    machine: the repair ``repair_seconds`` worth (when the exact coverage model settles coverage
    afterwards: on a team that cannot be covered the augmenting paths would otherwise search
    for minutes for slots nobody can fill), else ``REPAIR_SHARE`` of ``budget``; the local
    search ``LOCAL_SEARCH_SHARE`` of it. ``budget`` (seconds, ``None``: no count, no guard) also
    sets the wall-clock guard, ``GUARD`` times it; the returned deadline is that guard, shared
    with the later stages of ``recommend`` (its ``guard_hit`` says whether it stopped one).
    """
    roster = Roster(problem)
    builder = Builder(problem, roster)
    progress.stage(STAGES["construct"], 0.0, 0.05)
    builder.construct()
    limited = budget is not None and budget > 0
    deadline = Deadline(GUARD * budget if limited else None, clock)
    deadline.progress = progress

    def allowance(seconds: float | None) -> Deadline:
        return deadline.child(steps_for(problem.n_people, problem.n_slots, seconds))

    if repair_seconds is None and limited:
        repair_seconds = REPAIR_SHARE * budget
    repair_deadline = allowance(repair_seconds)
    progress.stage(STAGES["repair"], 0.05, 0.15)
    builder.deadline = repair_deadline
    builder.repair()
    if problem.rules.strict:
        enforce_rules(problem, roster)
        builder.repair()
    size = problem.n_slots * max(1, problem.n_people)
    must = ~problem.pinned_mask & ~problem.is_shadow & problem.eligible.any(axis=1)
    if (roster.holder[must] < 0).any() and size <= 2_000_000 and not repair_deadline.expired():
        builder.complete_search(budget=max(5_000, 2_000_000 // size))
    if problem.n_slots == 0 or problem.n_people == 0:
        return roster, deadline
    progress.stage(STAGES["local_search"], 0.15, 0.45)
    search = LocalSearch(
        problem, roster, allowance(LOCAL_SEARCH_SHARE * budget if limited else None)
    )
    search.improve()
    if size <= WHOLE_PERIOD_SIZE:
        if search.lower_peak(radius=-1, node_budget=WHOLE_PERIOD_NODES):
            search.improve()
    elif size <= WINDOW_SIZE:
        for radius in WINDOW_RADII:
            if search.lower_peak(radius=radius, node_budget=WINDOW_NODES):
                search.improve()
    return roster, deadline
