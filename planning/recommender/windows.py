"""Time-window re-optimisation: the greedy mode's repeatable search past the local search.

Why windows: on a tight team (a rest rule that lets each person work about one shift in six,
every slot needed) the roster is a rigid packing. Lowering the most loaded person by one shift
means someone with room takes it, who then hands one of theirs on, and so on along the
timeline: a chain of moves that a move-or-swap local search cannot see (each step alone breaks
the rest rule or leaves a slot empty). Inside a stretch of time the exact model sees every such
chain at once. So: free every (unpinned) slot of a window of consecutive slots, keep the rest of
the roster as it is (its load counted, its rest rules binding at the window's edges), and let
CP-SAT find the smallest largest load over the whole team with the window's coverage kept;
sweep the windows along the horizon while a sweep still improves.

Repeatable: one CP-SAT thread, each window with a deterministic work limit, and the sweep
stops on accumulated deterministic work (the solver's own count, not a clock), so the same
inputs give the same roster on any machine; a wall-clock deadline only guards a machine far
slower than that.
"""

from __future__ import annotations

import numpy as np

from . import exact
from .budget import NO_DEADLINE, Deadline
from .cpsat import CpSat
from .problem import Problem, Roster

# eligible (slot, person) pairs freed in one window (CP-SAT proves such a window in about a
# tenth of a work unit on the tight suite)
WINDOW_PAIRS = 500
# work units (CP-SAT's deterministic time) one window may take
WINDOW_WORK = 0.2
# when the largest load cannot fall within a window, the people within this fraction of it
# hand work to the others
GROUP_BAND = 0.03


def _cover_in(model: exact.Model, holder: np.ndarray, freed: np.ndarray) -> float:
    """Priority-weighted coverage of ``holder`` on the freed slots."""
    prio = exact.coverage_priorities(model.problem)
    return float(prio[freed & (holder >= 0)].sum())


def windows(problem: Problem, pairs_per_window: int = WINDOW_PAIRS) -> list[np.ndarray]:
    """Overlapping windows of consecutive slots (time order), each about
    ``pairs_per_window`` eligible pairs, shifted by half a window."""
    movable = ~problem.pinned_mask
    order = np.array([s for s in problem.geometry.order if movable[s]], dtype=np.int64)
    if order.size == 0:
        return []
    per_slot = problem.eligible[order].sum(axis=1)
    mean = max(1.0, float(per_slot.mean()))
    size = int(max(4, min(order.size, round(pairs_per_window / mean))))
    step = max(1, size // 2)
    out = []
    for a in range(0, max(1, order.size - size + step), step):
        mask = np.zeros(problem.n_slots, dtype=bool)
        mask[order[a : a + size]] = True
        out.append(mask)
        if a + size >= order.size:
            break
    return out


def improve(
    problem: Problem,
    roster: Roster,
    work: float,
    deadline: Deadline = NO_DEADLINE,
    *,
    pairs_per_window: int = WINDOW_PAIRS,
    window_work: float = WINDOW_WORK,
) -> tuple[np.ndarray, float]:
    """Sweep the windows until a full sweep finds nothing or ``work`` units are spent.

    Each window: first the smallest largest load; if that cannot fall, the smallest sum of the
    normalised loads of the people near the top (within ``GROUP_BAND`` of the largest), with
    the largest kept. A window's roster is kept when the team's loads, sorted from the
    highest, are lexicographically lower (so the largest load never rises, and a sweep that
    lowers the second-highest opens the way for the highest in the next). Returns (holder,
    work spent); the holder covers what ``roster`` covers on every window."""
    holder = roster.holder.copy()
    current = _profile(problem, holder)
    spent = 0.0
    spans = windows(problem, pairs_per_window)
    if len(spans) < 2:  # one window is the whole roster: the exact mode's job
        return holder, spent
    since = 0  # windows tried since the last improvement
    k = 0
    while spent < work and since < len(spans) and not deadline.expired():
        freed = spans[k % len(spans)]
        k += 1
        since += 1
        keep = holder.copy()
        keep[freed] = -1
        model = exact.Model(problem, keep=keep)
        if model.nx == 0:
            continue
        search = CpSat(model, repeatable=True)
        cover = _cover_in(model, holder, freed)
        peak = float(current[0])
        limit = min(window_work, work - spent)
        got = search.min_max(cover, limit, hint=holder, upper=peak, portfolio=False)
        spent += got.work
        if search.guard_hit:
            deadline.mark_guard_hit()
        if got.holder is not None and got.value is not None and got.value < peak * (1 - 1e-9):
            holder, current = got.holder, _profile(problem, got.holder)
            since = 0
            continue
        if spent >= work:
            break
        L = _loads(problem, holder)
        group = L >= peak * (1 - GROUP_BAND)
        got = search.min_max(
            cover,
            min(window_work, work - spent),
            hint=holder,
            upper=peak,
            group=group,
            portfolio=False,
        )
        spent += got.work
        if search.guard_hit:
            deadline.mark_guard_hit()
        if got.holder is not None:
            profile = _profile(problem, got.holder)
            if _lower(profile, current):
                holder, current = got.holder, profile
                since = 0
    return holder, spent


def _loads(problem: Problem, holder: np.ndarray) -> np.ndarray:
    candidate = Roster(problem)
    candidate.load_assignment(holder)
    return candidate.normalised_loads()


def _profile(problem: Problem, holder: np.ndarray) -> np.ndarray:
    """The normalised loads from the highest down."""
    return np.sort(_loads(problem, holder))[::-1]


def _lower(a: np.ndarray, b: np.ndarray) -> bool:
    """Is profile ``a`` lexicographically lower than ``b`` (beyond round-off)?"""
    for x, y in zip(a, b):
        tol = 1e-9 * max(1.0, abs(y))
        if x < y - tol:
            return True
        if x > y + tol:
            return False
    return False
