"""Explanations: recommendation levels, each pick's reason and why someone could not take a slot."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from .load import capacity
from .problem import Problem, Roster
from .rules import static_reason
from .types import DEFAULT_SETTINGS, Candidate, PersonProjection, Reason, Settings


def _level(rank: int, of: int) -> str:
    if of <= 1 or 3 * (rank - 1) < of - 1:
        return "High"
    if 3 * (rank - 1) <= 2 * (of - 1):
        return "Medium"
    return "Low"


_LEVEL_TEXT = {
    "High": "among the least loaded third, a good pick",
    "Medium": "in the middle third of the load ranking",
    "Low": "among the most loaded third, pick only if needed",
}


def pages_in_words(candidate: Candidate) -> str:
    """How interruptions weigh on someone's past load, in a sentence."""
    pages = f"{candidate.pages} page{'s' if candidate.pages != 1 else ''}"
    night = f", {candidate.night_pages} of them at night" if candidate.night_pages else ""
    return (
        f"Past load includes {candidate.interruption_hours:.1f} h for {pages} while on call"
        f"{night}, so {candidate.name} is picked less."
    )


def projections(
    candidates: Sequence[Candidate],
    settings: Settings,
    draft: Sequence[float],
    *,
    explained: bool = True,
) -> dict[int, PersonProjection]:
    n = len(candidates)
    caps = [capacity(c, settings) for c in candidates]
    values = [(c.past_load + d) / cap for c, d, cap in zip(candidates, draft, caps)]
    sorted_vals = sorted(values)
    median = float(np.median(values)) if n else 0.0
    out: dict[int, PersonProjection] = {}
    for c, d, cap, value in zip(candidates, draft, caps, values):
        rank = 1 + bisect_left(sorted_vals, value - 1e-9 * max(1.0, abs(value)))
        level = _level(rank, n)
        explanation = ""
        if explained:
            raw = c.fte * (1.0 - c.utilisation)
            cap_text = (
                f"capacity = FTE {c.fte:g} x (1 - utilisation {c.utilisation:.0%}) = {raw:.2f}"
            )
            if raw < settings.capacity_floor:
                cap_text += f", floored at {settings.capacity_floor:g}"
            explanation = (
                f"L = (past {c.past_load:.1f} + this period {d:.1f} weighted h) / capacity "
                f"{cap:.2f} = {value:.1f} ({cap_text}); rank {rank} of {n} (1 = least loaded), "
                f"team median L {median:.1f}; {level}: {_LEVEL_TEXT[level]}."
            )
            if c.pages:
                explanation += " " + pages_in_words(c)
        out[c.person_id] = PersonProjection(
            person_id=c.person_id,
            past_load=float(c.past_load),
            draft_load=float(d),
            capacity=float(cap),
            projected=float(value),
            level=level,
            rank=rank,
            of=n,
            explanation=explanation,
        )
    return out


def levels(
    candidates: Sequence[Candidate],
    settings: Settings = DEFAULT_SETTINGS,
    draft_loads: Mapping[int, float] | None = None,
    *,
    explained: bool = True,
) -> dict[int, PersonProjection]:
    """Recommendation levels without drafting: rank people by
    ``L = (past_load + draft_loads[pid]) / capacity``; the lowest third of L is
    "High", the middle third "Medium", the highest third "Low".

    ``explained=False`` leaves each projection's explanation empty: a page that ranks a
    whole team and shows none of them saves a sentence per person."""
    draft_loads = draft_loads or {}
    draft = [float(draft_loads.get(c.person_id, 0.0)) for c in candidates]
    return projections(list(candidates), settings, draft, explained=explained)


def block_reason(problem: Problem, roster: Roster, s: int, p: int) -> str:
    slot, person = problem.slots[s], problem.people[p]
    reason = static_reason(slot, person, problem.settings)
    if reason:
        return reason
    for t in sorted(roster.held[p], key=lambda t: problem.order_rank[t]):
        if t != s and problem.conflict[s, t]:
            return problem.geometry.reason(s, t)
    if problem.is_shadow[s] and roster.shadow_used[p] >= problem.shadow_quota[p]:
        return (
            f"no shadow shifts needed (already shadowing {roster.shadow_used[p]} of "
            f"{problem.shadow_quota[p]})"
        )
    rule = problem.rules.why_not(
        roster.holder, s, p, [c.name for c in problem.people], problem.pairing_hard
    )
    if rule:
        return rule
    return "eligible, but placing them would leave another slot empty"


def team_words(problem: Problem, roster: Roster, s: int) -> str:
    """Pairing and cap in words for the holder of slot ``s`` ('' when neither applies)."""
    rules, holder = problem.rules, roster.holder
    p = int(holder[s])
    person = problem.people[p]
    parts: list[str] = []
    h = int(rules.shift_of[s])
    if rules.active and not rules.pinned_shift[h] and not problem.is_shadow[s]:
        exp_secs = [int(holder[t]) for t in rules.sec[h] if rules._exp(int(holder[t]))]
        if problem.role[s] == 0 and rules.is_newcomer(holder, s, p) and exp_secs:
            q = problem.people[exp_secs[0]]
            parts.append(
                f"paired with {q.name}, {q.primary_served} primary shifts, because this is one "
                f"of {person.name}'s first {rules.first} primary shifts"
            )
        elif problem.role[s] == 1 and rules.experienced[p]:
            newcomers = [
                problem.people[int(holder[t])].name
                for t in rules.prim[h]
                if holder[t] >= 0 and rules.is_newcomer(holder, t, int(holder[t]))
            ]
            if newcomers:
                parts.append(
                    f"experienced ({person.primary_served} primary shifts), paired with "
                    f"{newcomers[0]} on one of their first primary shifts"
                )
            elif rules.unreachable[s]:
                parts.append(
                    "experienced: no mentor or lead is reachable during this shift, so the "
                    "secondary must be"
                )
        if not parts and rules.pair_shift[h] and rules.experienced[p]:
            held = [int(holder[t]) for t in rules.ps[h] if t != s]
            if not any(rules._exp(q) for q in held):
                parts.append("the experienced person on this shift")
    if rules.capped and rules.hours[s] > 0:
        pct = 100 * roster.hours_held[p] / rules.period_hours
        parts.append(
            f"on call {pct:.0f}% of the period, under the team's cap of "
            f"{100 * problem.settings.max_share:.0f}%"
        )
    return "; ".join(parts)


def reason_for(
    problem: Problem, roster: Roster, s: int, L: np.ndarray, sums: tuple[float, float]
) -> Reason:
    reason = _reason_for(problem, roster, s, L, sums)
    if problem.pinned_mask[s] or not (problem.rules.active or problem.rules.capped):
        return reason
    words = team_words(problem, roster, s)
    if not words:
        return reason
    return replace(reason, summary=f"{reason.summary}; {words}")


def _more(higher: float, lower: float) -> str:
    """'18% more' or 'more': how much heavier a load is, in words (the figures stay in the
    Reason's fields for the details a page shows on demand)."""
    if lower <= 0:
        return "more"
    pct = round(100 * (higher - lower) / lower)
    return f"{pct}% more" if pct >= 1 else "slightly more"


def _reason_for(
    problem: Problem, roster: Roster, s: int, L: np.ndarray, sums: tuple[float, float]
) -> Reason:
    p = int(roster.holder[s])
    person = problem.people[p]
    Lp = float(L[p])
    if problem.pinned_mask[s]:
        return Reason(
            summary=f"Pinned by a manager to {person.name}",
            projected_load=Lp,
            runner_up_id=None,
            runner_up_load=None,
            runner_up_why_not=None,
            eligible_count=1,
            pinned=True,
        )
    feas = roster.feasible(s)
    feas[p] = False
    k = int(feas.sum()) + 1
    if k == 1:
        return Reason(
            summary="The only person qualified, available and rested for this slot",
            projected_load=Lp,
            runner_up_id=None,
            runner_up_load=None,
            runner_up_why_not="no one else qualified, available and rested for this slot",
            eligible_count=1,
        )
    values = roster.projected(s)
    q = roster.pick(s, feas, values)
    Lq = float(values[q])
    other = problem.people[q]
    if Lq > Lp + 1e-9 * max(1.0, abs(Lp)):
        why = f"would end up {_more(Lq, Lp)} loaded than {person.name}"
        summary = (
            f"The lightest load of the {k} who could take it; the next, {other.name}, would "
            f"end up {_more(Lq, Lp)} loaded"
        )
    else:
        S1, S2 = sums
        n = problem.n_people
        Lp2 = Lp - problem.weight[s, p] / problem.capacity[p]
        d1 = (Lp2 - Lp) + (Lq - L[q])
        d2 = (Lp2 * Lp2 - Lp * Lp) + (Lq * Lq - L[q] * L[q])
        sq_now = S2 - S1 * S1 / n
        sq_new = (S2 + d2) - (S1 + d1) ** 2 / n
        top = float(L.max())
        if max(Lq, Lp2) > top + 1e-9 * max(1.0, top):
            why = "would become the most loaded person on the roster"
            effect = "make them the most loaded person on the roster"
        elif sq_new >= sq_now:
            why = "would make loads less even"
            effect = "make loads less even"
        else:
            why = "would not make loads noticeably more even"
            effect = "not make loads noticeably more even"
        summary = (
            f"The most even spread of load of the {k} who could take it; giving it to "
            f"{other.name} would {effect}"
        )
    return Reason(
        summary=summary,
        projected_load=Lp,
        runner_up_id=other.person_id,
        runner_up_load=Lq,
        runner_up_why_not=why,
        eligible_count=k,
        runner_up_name=other.name,
    )
