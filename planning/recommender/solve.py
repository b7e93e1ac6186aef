"""``recommend``: the pipeline, the lexicographic comparison and the honest status line.

Objective, lexicographic: (1) cover as many slots as possible, primary before secondary before
shadow; (2) minimise the largest normalised load L; (3) even out the rest (sum of squared
deviations of L from the mean).

Pipeline: greedy + local search (``greedy.py``, ``local_search.py``); if it leaves a slot empty
that someone could take, the coverage model (CP-SAT, ``cpsat.py``) decides whether more can be
covered and supplies the roster with that coverage closest to the greedy one; bounds
(``bounds.py``, plus the LP relaxation on small and medium instances); then the exact model --
always in ``mode="exact"``, and automatically in greedy mode on small instances whose greedy
roster is not already proven optimal (mode ``"auto-exact"``); then, in greedy mode on a roster
still not proven optimal, CP-SAT re-solves windows of consecutive slots with the rest kept
(``windows.py``, a fixed amount of deterministic work), then groups of people across the whole
horizon (``windows.regroup``, the same); on small teams (``LNS_PAIRS``) a large-neighbourhood
search around the most loaded person (``windows.lns``) runs beside the groups, from the same
roster, until its neighbourhoods stop giving or its fixed work is spent, and the better of the
two is kept.
The better roster in the lexicographic order is returned with the best proven bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import exact, windows
from .bounds import lower_bound
from .budget import GUARD, NO_DEADLINE, NO_PROGRESS, STAGES, Deadline, Progress, steps_for
from .cpsat import CpSat
from .explain import block_reason, projections, reason_for
from .greedy import Builder, enforce_rules, run_greedy
from .load import fairness_metrics
from .local_search import LocalSearch
from .problem import Problem, Roster
from .types import (
    DEFAULT_SETTINGS,
    MODES,
    Assignment,
    Candidate,
    Reason,
    Recommendation,
    Settings,
    Slot,
    Uncovered,
)

# what the draft adds when the wall-clock guard stopped a stage (``budget.py``)
GUARD_NOTE = (
    # no figure: the guard that fired may be a stage's own, not the draft's (bench finding)
    " The machine was too busy: a search stopped at its wall-clock guard before its usual amount"
    " of work, so this draft may differ from the one a less busy machine gives; draft again later"
    " for that one."
)

# eligible (slot, person) pairs up to which the coverage model (CP-SAT) checks a greedy roster
# that leaves coverable slots empty, and up to which the exact mode runs at all (measured:
# 126,000 pairs 440 MB and 6 s, 200,000 pairs 606 MB and 9.5 s, including the solver's import)
COVERAGE_PAIRS = 150_000
# a team above COVERAGE_PAIRS: people the coverage neighbourhood frees at most (those who could
# take an empty slot), and helpers who may take the slots they give up
NEIGHBOURHOOD_PEOPLE = 200
NEIGHBOURHOOD_HELPERS = 100
# slots in one draft at most: the rules' slot x slot matrices grow with the square (a year of
# two-hour shifts, 8,760 slots, took 1.9 GB)
MAX_SLOTS = 5_000
# person-slots (candidates x slots) in one draft at most: the eligibility, weight and blocker
# matrices grow with it (5,000 slots x 30,000 people took 3.35 GB). 8 M still admits the growth
# goal, 10,000 people x a year of daily primary and secondary slots (7.3 M)
MAX_PERSON_SLOTS = 8_000_000
# the coverage search's own allowance (CP-SAT work units on one thread, about a second of one
# core each here), outside the fairness time budget: an empty slot someone could take is worse
# than seconds. Bounded so a draft (a web request) still ends well inside gunicorn's timeout;
# past it the note says coverage is not proven.
COVERAGE_SECONDS = 8.0
# ... and for keeping the most greedy picks in the roster that covers more
COVERAGE_FAIRNESS_SECONDS = 3.0
# greedy mode: a normal machine's seconds of steps (``budget.py``) for the augmenting-path
# repair when the coverage model runs afterwards (it settles coverage; the rest of the budget
# goes to fairness)
REPAIR_SECONDS = 1.0
# the LP relaxation's bound stops after this many interior-point iterations (HiGHS: 25-30 on
# the tight suite's largest instances, then its crossover, 0.3-1 s in all), so it is the same
# bound on any machine; LP_SECONDS (greedy mode: GUARD times it) only guards the wall clock
LP_ITERATIONS = 200
LP_SECONDS = 3.0
# ... up to which the LP relaxation tightens the bound
LP_PAIRS = 60_000
# ... up to which greedy mode runs the exact model itself ("auto-exact")
AUTO_EXACT_PAIRS = 10_000
# greedy mode: CP-SAT work units (about a core-second each) for re-solving windows of time
# when the roster is not proven optimal, and the pairs up to which it runs
WINDOWS_WORK = 4.0
WINDOWS_PAIRS = 60_000
# ... and for re-dealing the slots of groups of people after the windows (same pairs limit;
# measured on the tight suite's seeds 80, 11, 38 and 65: 3 units lower their largest load by
# 2.1%, 2.6%, 0.3% and 0.7% after the windows)
GROUPS_WORK = 3.0
# greedy mode, teams up to this many pairs (the tight suite's instances have at most 5,040):
# after the windows, the large-neighbourhood search around the peak (``windows.lns``) runs
# beside the groups, with this many work units at most (it stops sooner when neighbourhoods
# stop giving)
LNS_PAIRS = 10_000
LNS_WORK = 10.0
# greedy mode: the local search polishing each roster a solver stage adopts gets this share of
# the time budget as steps (a normal machine's); so does the last repair after a team rule
POLISH_SHARE = 1 / 16


def objective(L: np.ndarray) -> tuple[float, float]:
    """(largest L, sum of squared deviations of L from the mean)."""
    if L.size == 0:
        return 0.0, 0.0
    return float(L.max()), float(((L - L.mean()) ** 2).sum())


def better(a: Roster, b: Roster) -> bool:
    """Is roster ``a`` strictly better than ``b`` in the lexicographic order?"""
    problem = a.problem
    # hard team rules (pairing, the share cap) first: a roster that breaks one is no roster,
    # whatever it covers; the last guard would take its extra slots back and leave a proven
    # coverage short (red-team finding: a window's roster with 4 pairing breaks won on
    # coverage, and the guard then left 3 slots empty that the coverage stage had filled)
    ra, rb = a.hard_rule_count(), b.hard_rule_count()
    if ra != rb:
        return ra < rb
    ca, cb = exact.coverage_key(problem, a.holder), exact.coverage_key(problem, b.holder)
    if ca != cb:
        return ca < cb
    (ma, sa), (mb, sb) = objective(a.normalised_loads()), objective(b.normalised_loads())
    ma, mb = ma + a.soft_penalty(), mb + b.soft_penalty()
    tol = 1e-9 * max(1.0, abs(mb))
    if ma < mb - tol:
        return True
    if ma > mb + tol:
        return False
    return sa < sb - 1e-9 * max(1.0, abs(sb))


def _adopt(
    problem: Problem,
    roster: Roster,
    holder: np.ndarray | None,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[Roster, bool]:
    if holder is None:
        return roster, False
    candidate = Roster(problem)
    candidate.load_assignment(holder)
    search = LocalSearch(problem, candidate, deadline)
    search.improve()
    if better(candidate, roster):
        return candidate, True
    return roster, False


def _holder_of(problem: Problem, draft: Recommendation) -> np.ndarray:
    """A returned draft's assignments as the search's array (slot -> person position)."""
    holder = np.full(problem.n_slots, -1, dtype=np.int64)
    for a in draft.assignments:
        person = problem.pid_index.get(a.person_id)
        if person is not None:
            holder[problem.slot_index[a.slot_key]] = person
    return holder


def _cover_neighbourhood(problem: Problem, roster: Roster) -> np.ndarray | None:
    """A team too big for the whole coverage model (more than ``COVERAGE_PAIRS`` pairs) with
    slots left empty that someone could take: re-solve coverage over the people who could
    take them (all their slots freed) plus the least loaded others who could take the freed
    slots, everyone else kept. On a big team the scarce people (the few qualified for the
    empty role) are exactly this set, so the neighbourhood usually reaches the maximum; it
    cannot prove it. Returns a roster that covers more, or None."""
    movable = ~problem.pinned_mask
    empty = movable & (roster.holder < 0) & problem.eligible.any(axis=1)
    if not empty.any():
        return None
    # the empty slots of the most important role first (primary before secondary before shadow)
    empty &= problem.role == problem.role[empty].min()
    could = problem.eligible[empty].sum(axis=0)
    scarce = np.nonzero(could > 0)[0]
    L = roster.normalised_loads()
    if scarce.size > NEIGHBOURHOOD_PEOPLE:  # the ones who could take the most, then lightest
        scarce = scarce[np.lexsort((L[scarce], -could[scarce]))][:NEIGHBOURHOOD_PEOPLE]
    chosen = np.zeros(problem.n_people, dtype=bool)
    chosen[scarce] = True
    held = roster.holder >= 0
    freed = empty | (held & chosen[np.maximum(roster.holder, 0)] & movable)
    others = np.nonzero(problem.eligible[freed].any(axis=0) & ~chosen)[0]
    chosen[others[np.argsort(L[others], kind="stable")][:NEIGHBOURHOOD_HELPERS]] = True
    keep = roster.holder.copy()
    keep[freed] = -1
    model = exact.Model(problem, keep=keep, people=chosen)
    if model.nx == 0 or model.nx > COVERAGE_PAIRS:
        return None
    got = CpSat(model, repeatable=True).max_coverage(COVERAGE_SECONDS)
    if got.holder is None or model.cover_of(got.holder) <= model.cover_of(roster.holder):
        return None
    return got.holder


def _nobody_note(problem: Problem) -> str:
    """Every slot left to fill is empty because nobody may take any of them: say so and why,
    instead of a fairness claim about an empty roster."""
    if not problem.n_people:
        return (
            "Nobody could be placed: the rotation has no candidates (nobody in it, or nobody "
            "qualified for its roles). Add people to the rotation or record their "
            "qualifications, then draft again."
        )
    return (
        "Nobody could be placed: every candidate is blocked for every slot (time away, other "
        "shifts, rest or qualification: each slot says who and why). Move time away, add "
        "people to the rotation or shorten the rest rule, then draft again."
    )


def too_big_to_draft(n_slots: int, n_candidates: int) -> str | None:
    """Why a draft of this size is refused before any work (memory grows with slots squared
    and with person-slots), or None."""
    if n_slots > MAX_SLOTS:
        return (
            f"{n_slots} slots are too many for one draft (at most {MAX_SLOTS:,}: a month of "
            "hourly shifts with three roles is 2,232); draft a shorter period"
        )
    if n_slots * n_candidates > MAX_PERSON_SLOTS:
        return (
            f"{n_candidates:,} people x {n_slots:,} slots are too many person-slots for one draft "
            f"(at most {MAX_PERSON_SLOTS:,}: 10,000 people over a year of daily primary and "
            "secondary shifts is 7.3 million); draft a shorter period or split the rotation"
        )
    return None


def _status_note(
    status: str, gap: float, ran_exact: bool, time_limit: float | str, coverage_proven: bool = True
) -> str:
    """``time_limit``: the solver's own limit in seconds, or words for what stopped the search
    (a guard, a fixed amount of work): never a figure that did not apply."""
    stopped = f"the {time_limit:g} s time limit" if not isinstance(time_limit, str) else time_limit
    prefix = (
        "" if coverage_proven else "Coverage not proven (another roster might fill more slots). "
    )
    if status == "optimal":
        if not coverage_proven:
            return prefix + "Among rosters with this coverage, the largest load is minimal."
        return "Optimal: no roster is fairer (largest load proven minimal)."
    if gap == 0.0:  # not proven and no bound above zero: nothing honest to quote
        return prefix + (
            "No useful bound on the fairest possible roster is known; run the exact mode for a "
            "proof."
        )
    pct = f"{100 * gap:.1f}%" if gap >= 0.001 else f"{100 * gap:.2g}%"
    if ran_exact:
        return prefix + (
            f"Within {pct} of the fairest possible roster after {stopped}; "
            "give the exact mode more time for a proof."
        )
    return prefix + f"Within {pct} of the fairest possible roster; run the exact mode for a proof."


def recommend(
    slots: Sequence[Slot],
    candidates: Sequence[Candidate],
    settings: Settings = DEFAULT_SETTINGS,
    *,
    mode: str = "greedy",
    pinned: Mapping[str, int] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str, float], None] | None = None,
) -> Recommendation:
    """Fill the slots; see the package docstring for rules and algorithms.

    ``pinned`` maps slot_key -> person_id fixed by a manager: kept as given
    (even if it breaks a rule) and counted in that person's load. ``clock``: the wall clock of
    the guards (``budget.py``; a test may inject a fast or jumping one): in greedy mode the
    draft does not depend on it unless a guard stops a stage, and then the draft says so.
    ``progress(stage, fraction)``: told as stages begin and every few thousand counted steps
    (``budget.Progress``); it only observes, so the roster is the same with or without it.
    """
    told = Progress(progress) if progress is not None else NO_PROGRESS
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    # canonical order (people by id, slots by key; a generator is fine too): the same problem
    # given in another order gives the same roster (every tie-break follows positions)
    slots = tuple(sorted(slots, key=lambda slot: slot.key))
    candidates = tuple(sorted(candidates, key=lambda person: person.person_id))
    refused = too_big_to_draft(len(slots), len(candidates))
    if refused:
        raise ValueError(refused)
    problem = Problem(slots, candidates, settings, pinned)
    movable = ~problem.pinned_mask
    pairs = int(problem.eligible[movable].sum()) if problem.n_people else 0
    too_big = ""
    if mode == "exact" and pairs > COVERAGE_PAIRS:
        # the model's memory grows with the pairs (about 600 MB at 200,000): a web worker
        # drafts it with the greedy instead, and says so
        mode = "greedy"
        too_big = (
            f"The exact mode handles up to {COVERAGE_PAIRS:,} person-slot pairs and this draft "
            f"has {pairs:,}: this roster comes from the default mode. "
        )
    # greedy mode: every stage stops on a count of work sized from the time budget for a normal
    # machine (``budget.py``), so the same inputs give the same draft at any load; the wall
    # clock (from here on, after construction) only guards a machine far too slow for that
    budget = settings.time_budget if mode == "greedy" else None
    with_model = bool(pairs) and (pairs <= COVERAGE_PAIRS or mode == "exact")
    # when the model settles coverage, the augmenting-path repair gets a second's worth of steps
    # (the exact mode too: without a limit it searched slots nobody can fill for minutes)
    roster, deadline = run_greedy(
        problem,
        budget,
        repair_seconds=REPAIR_SECONDS if with_model else None,
        clock=clock,
        progress=told,
    )
    source = "greedy"
    if mode == "exact":
        # "Fairest possible" is never worse than the default mode's roster: that roster (its
        # local search, windows and groups included) is the start every later stage must beat
        # (each adopts a roster only when it is better in the lexicographic order), and the
        # solver's hint
        default = recommend(slots, candidates, settings, mode="greedy", pinned=pinned, clock=clock)
        roster, took = _adopt(problem, roster, _holder_of(problem, default))
        source = default.source if took else source
    fixed_load = Roster(problem).draft_load
    polish_seconds = POLISH_SHARE * budget if budget else None

    def polish() -> Deadline:
        """The steps of one polish (or last repair) under the guard."""
        return deadline.child(steps_for(problem.n_people, problem.n_slots, polish_seconds))

    # one model per call, shared by the coverage, LP-bound and exact stages
    model = exact.Model(problem) if with_model else None
    coverage_proven = not pairs
    proven_cover: float | None = None  # the maximal coverage, once proven
    # (1) coverage: proven maximal when it reaches the cheap upper bound, else ask the model
    if model is not None:
        coverage_proven = model.cover_of(roster.holder) >= model.max_cover_possible() - 0.5
        if not coverage_proven:
            # CP-SAT: it fills what can be filled and proves the maximum
            # (outside the fairness budget, which is extended: an empty slot someone could take
            # is worse than seconds)
            told.stage(STAGES["coverage"], 0.45, 0.55)
            started = deadline.clock()
            search = CpSat(model, repeatable=mode != "exact")
            got = search.max_coverage(COVERAGE_SECONDS)
            holder = got.holder
            if holder is not None and model.cover_of(holder) > model.cover_of(roster.holder):
                # CP-SAT's roster covers more but was dealt without regard to load: the roster
                # with that coverage that keeps most of the (fair) greedy picks
                closer = search.closest(
                    model.cover_of(holder), roster.holder, COVERAGE_FAIRNESS_SECONDS
                )
                if closer.holder is not None and closer.value >= model.cover_of(holder):
                    holder = closer.holder
            deadline.extend(deadline.clock() - started)
            if search.guard_hit:
                deadline.mark_guard_hit()
            if holder is not None:
                roster, took = _adopt(problem, roster, holder, polish())
                source = "milp" if took else source
            coverage_proven = got.optimal and model.cover_of(roster.holder) >= got.value - 0.5
            if coverage_proven:
                proven_cover = got.value
    elif pairs:
        # with team rules on, the neighbourhood's rows treat kept slots as strictly as the
        # model can; the last guard below removes any pairing or cap break either way
        told.stage(STAGES["coverage"], 0.45, 0.55)
        started = deadline.clock()
        filled = _cover_neighbourhood(problem, roster)
        deadline.extend(deadline.clock() - started)
        if filled is not None:
            roster, took = _adopt(problem, roster, filled, polish())
            source = "milp" if took else source
        must = movable & problem.eligible.any(axis=1)
        shadow = must & problem.is_shadow
        # shadow slots are maximal when all are taken or every quota is used up
        shadow_full = bool((roster.holder[shadow] >= 0).all()) or int(
            roster.shadow_used.sum()
        ) >= int(problem.shadow_quota.sum())
        coverage_proven = bool((roster.holder[must & ~problem.is_shadow] >= 0).all()) and (
            shadow_full
        )

    # (2) bounds on the largest L, for rosters covering as much as this one: the cheap ones,
    # then the LP relaxation (a fixed number of iterations: the bound decides whether the
    # auto-exact run and the window search run, so it may not depend on the clock; the clock
    # only guards, outside the step-counted stages' guard)
    told.stage(STAGES["bound"], 0.55, 0.6)
    lower = lower_bound(problem, fixed_load, roster.holder)
    obj_max = objective(roster.normalised_loads())[0]
    if model is not None and pairs <= LP_PAIRS and obj_max > lower * (1 + 1e-9) + 1e-12:
        lp_guard = min(settings.exact_time_limit, LP_SECONDS) if mode == "exact" else LP_SECONDS
        if mode == "greedy":
            lp_guard *= GUARD
        started = deadline.clock()
        lp = model.lp_bound(model.cover_of(roster.holder), lp_guard, LP_ITERATIONS)
        took_s = deadline.clock() - started
        deadline.extend(took_s)
        if lp is not None:
            lower = max(lower, lp)
        elif mode == "greedy" and took_s >= lp_guard:
            deadline.mark_guard_hit()  # the bound (and what follows from it) may differ

    # (3) the exact model: on request, or automatically on small unproven instances
    ran_exact = False
    optimum: float | None = None
    bound = lower
    out_mode = mode
    auto = (
        mode == "greedy"
        and settings.auto_exact_time_limit > 0
        and 0 < pairs <= AUTO_EXACT_PAIRS
        and (obj_max > lower * (1 + 1e-7) + 1e-12 or not coverage_proven)
    )
    # a fixed amount of solver work (CP-SAT's deterministic units, one thread), not what the
    # wall-clock budget has left: sized from the clock, a busy machine got a shorter search and
    # a different draft (tight suite at load 9-12: seed 3 920.0 where a quiet machine gives
    # 910.8). The clock only guards a machine far slower than usual (cpsat.WALL_GUARD)
    auto_limit = settings.auto_exact_time_limit if auto else 0.0
    if (mode == "exact" and pairs) or auto:
        limit = settings.exact_time_limit if mode == "exact" else auto_limit
        told.stage(STAGES["exact"], 0.6, 0.7 if mode == "greedy" else 0.97)
        started = deadline.clock()  # fixed solver work, with its own guard (cpsat.WALL_GUARD)
        result = exact.solve_exact(
            problem,
            limit,
            incumbent=roster,
            model=model if model is not None and model.nx else None,
            proven_cover=proven_cover,
            repeatable=mode != "exact",
        )
        deadline.extend(deadline.clock() - started)
        if result.guard_hit and mode == "greedy":
            deadline.mark_guard_hit()
        ran_exact = True
        out_mode = "auto-exact" if auto else mode
        roster, took = _adopt(problem, roster, result.holder, polish())
        source = "milp" if took else source
        coverage_proven = coverage_proven or result.coverage_proven
        if result.bound is not None:
            bound = max(bound, result.bound)
        if result.status == "optimal":
            optimum = result.optimum
    elif mode == "exact":
        ran_exact = True
        optimum = (
            float((problem.past / problem.capacity).max(initial=0.0)) if problem.n_people else 0.0
        )

    # (4) greedy mode, not proven optimal: re-solve windows of time around the roster
    # (``windows.py``; deterministic work, so the draft stays repeatable)
    obj_max = objective(roster.normalised_loads())[0]
    unproven = obj_max > bound * (1 + 1e-7) + 1e-12 and optimum is None
    if mode == "greedy" and model is not None and unproven and pairs <= WINDOWS_PAIRS:
        # a fixed amount of work, not what the wall-clock budget has left: the same inputs give
        # the same draft however busy the machine is (the clock only guards a machine far
        # slower than usual). On small teams (``LNS_PAIRS``) the large-neighbourhood search
        # around the peak (``windows.lns``) runs next to the groups.
        small = pairs <= LNS_PAIRS

        def counted(search: Callable[[Deadline], tuple[np.ndarray, float]]) -> np.ndarray:
            """A stage that counts its own work: no clock of its own (each CP-SAT search has
            its guard, cpsat.WALL_GUARD, and tells the draft when it fires); its time is not
            taken from the budget of the stages after it."""
            started = deadline.clock()
            holder, _ = search(Deadline(None, deadline.clock, parent=deadline))
            deadline.extend(deadline.clock() - started)
            return holder

        told.stage(STAGES["windows"], 0.7, 0.8 if small else 0.88)
        holder = counted(lambda guard: windows.improve(problem, roster, WINDOWS_WORK, guard))
        roster, took = _adopt(problem, roster, holder, polish())
        source = "milp" if took else source
        # then groups of people across the whole horizon (``windows.regroup``): the trades
        # between the most loaded person and a few others that no window holds
        if objective(roster.normalised_loads())[0] > bound * (1 + 1e-7) + 1e-12:
            told.stage(STAGES["lns" if small else "groups"], 0.8 if small else 0.88, 0.97)
            start = roster
            holder = counted(
                lambda guard: windows.regroup(problem, start.holder, GROUPS_WORK, guard)
            )
            roster, took = _adopt(problem, start, holder, polish())
            if small:
                # the search around the peak from the same roster, the better of the two kept:
                # each misses some of the other's trades (tight suite: seed 45 739.38 after
                # the search, 736.67 after the groups; 65 570.00 after the search)
                share = GROUPS_WORK / (GROUPS_WORK + LNS_WORK)
                told.within(share)
                holder = counted(
                    lambda guard: windows.lns(
                        problem,
                        start.holder,
                        LNS_WORK,
                        guard,
                        progress=lambda f: told.within(share + (1 - share) * f),
                    )
                )
                searched, searched_took = _adopt(problem, start, holder, polish())
                if not better(roster, searched):  # the search's roster on a tie
                    roster, took = searched, searched_took
            source = "milp" if took else source

    told.stage(STAGES["rules"], 0.97, 1.0)
    if problem.rules.strict and roster.hard_rule_count():
        # a last guard: no draft leaves with a hard team rule broken (pairing, cap)
        covered = exact.coverage_key(problem, roster.holder)
        if enforce_rules(problem, roster):
            Builder(problem, roster, deadline=polish()).repair()
            if roster.hard_rule_count():  # the repair never adds a break: belt and braces
                enforce_rules(problem, roster)
        if exact.coverage_key(problem, roster.holder) > covered:
            coverage_proven = False  # what was proven held the slots the guard took back
    L = roster.normalised_loads()
    obj_max, obj_sq = objective(L)
    if optimum is not None:
        # the solver's optimum and the returned roster agree up to the MIP tolerance
        bound = max(bound, min(optimum, obj_max))
    assignments, uncovered = _assemble(problem, roster, L)
    must_uncovered = any(not problem.is_shadow[problem.slot_index[u.slot_key]] for u in uncovered)
    proven = obj_max <= bound * (1 + 1e-7) + 1e-12
    # the wall-clock guard stopped a stage before its count of work: not repeatable, say so
    cut = deadline.guard_hit
    if must_uncovered:
        status = "infeasible"
    elif proven:
        status = "optimal"
    elif ran_exact or cut:
        status = "time_limit"
    else:
        status = "feasible"
    gap = 0.0 if bound <= 0 or proven else max(0.0, (obj_max - bound) / bound)
    fairness_status = "optimal" if proven else ("time_limit" if ran_exact or cut else "feasible")
    # what stopped the search, in true words: a guard's figure is not the draft's (a solver
    # stage has its own), and the automatic exact run is a fixed amount of work, not seconds
    limit: float | str
    if cut:
        limit = "a wall-clock guard stopped a search"
    elif mode == "exact":
        limit = settings.exact_time_limit
    else:
        limit = "its fixed amount of search"
    nobody = bool(problem.n_slots) and not problem.eligible[movable].any() and must_uncovered
    return Recommendation(
        assignments=tuple(assignments),
        uncovered=tuple(uncovered),
        people=projections(list(problem.people), settings, roster.draft_load.tolist()),
        mode=out_mode,
        objective_max=obj_max,
        objective_sq=obj_sq,
        lower_bound=float(bound),
        optimum=(obj_max if proven else bound) if ran_exact else None,
        gap=float(gap),
        status=status,
        source=source,
        fairness=fairness_metrics({c.person_id: float(v) for c, v in zip(problem.people, L)}),
        coverage_proven=bool(coverage_proven),
        note=too_big
        + (
            _nobody_note(problem)
            if nobody
            else _status_note(fairness_status, gap, ran_exact or cut, limit, coverage_proven)
        )
        + (GUARD_NOTE if cut else "")
        + _team_note(problem, roster, uncovered),
    )


# blocking reasons that come from the team rules (``pairing.py``)
TEAM_REASONS = ("not experienced yet", "this would be one of", "would be on call")


def _team_note(problem: Problem, roster: Roster, uncovered) -> str:
    """What pairing and the cap did to this draft, and what the manager can do."""
    out = ""
    if problem.pairing_soft:
        broken = len(problem.rules.broken_shifts(roster.holder))
        if broken:
            out += (
                f" {broken} shift{'s' if broken != 1 else ''} without the experienced person "
                "pairing asks for (soft pairing): add an experienced person to the rotation or "
                "move a newcomer's first primary."
            )
    held_back = sum(
        1 for u in uncovered if any(str(r).startswith(TEAM_REASONS) for r in u.blocking.values())
    )
    if held_back:
        empty = len(uncovered)
        of = f" of the {empty} empty slots" if empty > held_back else ""
        verb = "is" if held_back == 1 and not of else "are"
        out += (
            f" {held_back}{of} {verb} empty because of the pairing rule or the share cap (someone "
            "else could hold them otherwise): add an experienced person, raise the cap, or make "
            "pairing soft."
        )
        if of:
            out += (
                f" The other {empty - held_back} have nobody who can take them (time away, "
                "other shifts, rest or qualification: each slot says who and why)."
            )
    return out


def _assemble(problem: Problem, roster: Roster, L: np.ndarray):
    sums = (float(L.sum()), float((L * L).sum()))
    assignments = []
    uncovered = []
    for s in range(problem.n_slots):
        slot = problem.slots[s]
        if roster.holder[s] >= 0:
            person = problem.people[int(roster.holder[s])]
            reason = reason_for(problem, roster, s, L, sums)
            assignments.append(Assignment(slot.key, person.person_id, reason))
        elif problem.pinned_mask[s]:  # pinned to someone who is not a candidate
            reason = Reason(
                summary="Pinned by a manager (person is not a candidate of this rotation)",
                projected_load=0.0,
                runner_up_id=None,
                runner_up_load=None,
                runner_up_why_not=None,
                eligible_count=1,
                pinned=True,
            )
            assignments.append(Assignment(slot.key, problem.pinned[s], reason))
        else:
            blocking = {
                problem.people[p].person_id: block_reason(problem, roster, s, p)
                for p in range(problem.n_people)
            }
            uncovered.append(Uncovered(slot.key, blocking))
    return assignments, uncovered
