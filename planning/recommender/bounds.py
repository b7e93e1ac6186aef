"""Lower bounds on the largest normalised load L of the fairest roster.

All bounds assume the roster covers what the given roster covers (per role): when that coverage
is maximal they bound the lexicographic optimum (coverage first, then max L).

* fixed: nobody's L falls below ``(past + pinned) / capacity``;
* per slot: someone must take each covered slot, reaching at least the smallest projected L;
* water filling: pour the (minimum) weighted hours over everyone (fractional, ignores integrality);
* counting: the smallest ``T`` such that the people can absorb the covered slots *as whole
  slots*: person ``p`` takes at most ``k_p(T)`` slots, the largest ``k`` with the ``k`` lightest
  slots they could hold fitting under ``T * capacity_p - past_p``; needs ``sum_p k_p(T) >= n``,
  per role and in total. It respects integrality, so on a team with no history and equal
  weights it is the ``ceil(n / people)`` slots the most loaded person must take;
* LP relaxation of the exact model (``exact.lp_bound``, small and medium instances).
"""

from __future__ import annotations

import math

import numpy as np

from .problem import Problem

# slots x people up to which the counting bound uses each person's own eligible slots (else
# all slots of the roles they are qualified for: still valid, a little weaker)
_PER_PERSON_COUNTING = 3_000_000


def water_filling_bound(base_loads, capacities, total_load: float) -> float:
    """Cheap lower bound on the largest L.

    Pours ``total_load`` weighted hours over people with fixed loads
    ``base_loads`` and ``capacities`` (ignoring eligibility): the smallest
    ``T`` with ``sum max(0, T * c_p - b_p) >= total_load``, never below the
    highest fixed load ``max b_p / c_p``. Sort-based closed form.
    """
    b = np.asarray(base_loads, dtype=float).ravel()
    c = np.asarray(capacities, dtype=float).ravel()
    if b.size == 0:
        return 0.0 if total_load <= 0 else math.inf
    r = b / c
    fixed = float(r.max())
    if total_load <= 0:
        return fixed
    order = np.argsort(r, kind="stable")
    rs, bs, cs = r[order], b[order], c[order]
    levels_ = (total_load + np.cumsum(bs)) / np.cumsum(cs)
    nxt = np.append(rs[1:], np.inf)
    k = int(np.argmax(levels_ <= nxt + 1e-12 * np.maximum(1.0, np.abs(nxt))))
    return max(float(levels_[k]), fixed)


def _counting_level(past, capacity, sorted_weights, group_of, need: int) -> float:
    """Smallest T with sum_p k_p(T) >= need (see the module docstring); ``sorted_weights[g]`` are
    the ascending weights of the slots open to group ``g`` and ``group_of[p]`` its group."""
    if need <= 0:
        return 0.0
    width = max((len(w) for w in sorted_weights), default=0)
    sums = np.full((len(sorted_weights), width), np.inf)
    for g, w in enumerate(sorted_weights):
        sums[g, : len(w)] = np.cumsum(w)
    if int(np.isfinite(sums[group_of]).sum()) < need:
        return math.inf
    groups = np.unique(group_of)
    members = [np.nonzero(group_of == g)[0] for g in groups] if groups.size < 64 else None

    def absorbed(level: float) -> int:
        room = level * capacity - past + 1e-9 * max(1.0, abs(level))
        if members is None:
            return int((sums[group_of] <= room[:, None]).sum())
        return sum(
            int(np.searchsorted(sums[g], room[m], side="right").sum())
            for g, m in zip(groups, members)
        )

    lo = float((past / capacity).max(initial=0.0))
    if absorbed(lo) >= need:
        return lo
    hi = max(2.0 * lo, 1.0)
    while absorbed(hi) < need:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if absorbed(mid) >= need:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-9 * max(1.0, hi):
            break
    return lo


def counting_bound(problem: Problem, base: np.ndarray, coverable: np.ndarray, needs) -> float:
    """Integer counting bound: ``needs[r]`` slots of role ``r`` (and their total) must be taken
    from the ``coverable`` ones (bool mask over slots)."""
    best = 0.0
    per_person = problem.n_slots * problem.n_people <= _PER_PERSON_COUNTING
    for roles in ((0,), (1,), (0, 1)):
        slots = coverable & np.isin(problem.role, roles)
        need = int(sum(needs[r] for r in roles))
        if need == 0:
            continue
        idx = np.nonzero(slots)[0]
        if per_person:
            open_ = problem.eligible[idx]
            people = np.nonzero(open_.any(axis=0))[0]
            weights = [np.sort(problem.weight[idx[open_[:, p]], p]) for p in people]
            group_of = np.arange(people.size)
        else:
            # people sharing a weight column and qualified for the same roles share a list
            qualified = np.stack(
                [problem.eligible[idx[problem.role[idx] == r]].any(axis=0) for r in roles]
            )
            people = np.nonzero(qualified.any(axis=0))[0]
            bits = (qualified[:, people] * (1 << np.arange(len(roles)))[:, None]).sum(axis=0)
            key = problem.weight_group[people] * 8 + bits
            unique, first, group_of = np.unique(key, return_index=True, return_inverse=True)
            weights = []
            for k, representative in zip(unique, people[first]):
                mask = np.isin(
                    problem.role[idx], [r for i, r in enumerate(roles) if (k % 8) >> i & 1]
                )
                weights.append(np.sort(problem.weight[idx[mask], representative]))
        level = _counting_level(base[people], problem.capacity[people], weights, group_of, need)
        best = max(best, level)
    return best


def lower_bound(problem: Problem, fixed_load: np.ndarray, holder: np.ndarray) -> float:
    """The largest of the cheap bounds (fixed, per slot, water filling, counting), for rosters
    covering as many primary and secondary slots as ``holder``."""
    base = problem.past + fixed_load
    if problem.n_people == 0:
        return 0.0
    lb = float((base / problem.capacity).max())
    coverable = ~problem.pinned_mask & ~problem.is_shadow & problem.eligible.any(axis=1)
    covered = coverable & (holder >= 0)
    needs = [int((covered & (problem.role == r)).sum()) for r in (0, 1)]
    if sum(needs) == 0:
        return lb
    rows = np.nonzero(coverable)[0]
    if covered.sum() == coverable.sum():  # every coverable slot is taken by someone
        for chunk in np.array_split(rows, max(1, rows.size // 64)):
            reach = (base[None, :] + problem.weight[chunk]) / problem.capacity[None, :]
            per = np.where(problem.eligible[chunk], reach, np.inf).min(axis=1)
            lb = max(lb, float(per.max()))
    if problem.n_slots * problem.n_people > _PER_PERSON_COUNTING:
        # large teams: the counting bound (by groups) subsumes water filling
        return max(lb, counting_bound(problem, base, coverable, needs))
    E = problem.eligible[rows]
    W = problem.weight[rows]
    minw = np.where(E, W, np.inf).min(axis=1)
    role = problem.role[rows]
    total = float(np.sort(minw)[: sum(needs)].sum())
    lb = max(lb, water_filling_bound(base, problem.capacity, total))
    for r in (0, 1):
        if needs[r] == 0:
            continue
        mine = role == r
        people = E[mine].any(axis=0)
        lightest = float(np.sort(minw[mine])[: needs[r]].sum())
        lb = max(lb, water_filling_bound(base[people], problem.capacity[people], lightest))
    return max(lb, counting_bound(problem, base, coverable, needs))
