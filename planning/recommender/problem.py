"""The problem as arrays (built once per call) and a roster being searched (with undo).

Names: ``s``/``t`` index slots, ``p``/``q`` index people (positions in ``Problem.people``, not
person ids). ``weight[s, p]`` is the weighted hours slot ``s`` costs person ``p``;
``eligible[s, p]`` says whether ``p`` passes the static hard rules for ``s`` (role, availability,
other rotations, last shift); ``conflict[s, t]`` says whether one person may not hold both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from .load import capacity, weighted_hours, zone
from .pairing import TeamRules
from .rules import Geometry, last_shift_blocks, validate_candidate, validate_settings, validate_slot
from .types import ROLE_INDEX, SHADOW, Candidate, Settings, Slot


class Problem:
    """Everything precomputed once per recommend() call."""

    def __init__(
        self,
        slots: Sequence[Slot],
        candidates: Sequence[Candidate],
        settings: Settings,
        pinned: Mapping[str, int] | None,
    ):
        self.settings = settings
        self.slots = tuple(slots)
        self.people = tuple(candidates)
        validate_settings(settings)
        for s in self.slots:
            validate_slot(s)
        for c in candidates:
            validate_candidate(c)
        self.slot_index: dict[str, int] = {}
        for i, s in enumerate(self.slots):
            if s.key in self.slot_index:
                raise ValueError(f"duplicate slot key {s.key!r}")
            self.slot_index[s.key] = i
        self.pid_index: dict[int, int] = {}
        for j, c in enumerate(self.people):
            if c.person_id in self.pid_index:
                raise ValueError(f"duplicate candidate person_id {c.person_id}")
            self.pid_index[c.person_id] = j
        ns, npp = len(self.slots), len(self.people)
        self.n_slots, self.n_people = ns, npp
        self.geometry = Geometry(self.slots, settings)
        self.conflict = self.geometry.conflict
        self.conflict_int = self.conflict.astype(np.int8)
        self.neighbors = [np.nonzero(self.conflict[i])[0] for i in range(ns)]
        self.role = np.array([ROLE_INDEX[s.role] for s in self.slots], dtype=np.int64)
        self.is_shadow = self.role == SHADOW
        self.order_rank = np.empty(ns, dtype=np.int64)
        self.order_rank[self.geometry.order] = np.arange(ns)

        self.capacity = np.array([capacity(c, settings) for c in self.people], dtype=float)
        self.past = np.array([float(c.past_load) for c in self.people], dtype=float)
        self.shadow_quota = np.array(
            [max(0, int(c.needs_shadow)) for c in self.people], dtype=np.int64
        )
        last = [
            c.last_shift_end.timestamp() if c.last_shift_end is not None else -np.inf
            for c in self.people
        ]
        tb = sorted(range(npp), key=lambda j: (last[j], self.people[j].person_id))
        self.tiebreak_rank = np.empty(npp, dtype=np.int64)
        self.tiebreak_rank[tb] = np.arange(npp)

        self.weight = self._weights()
        self.eligible = self._eligibility()

        # pinned slots: kept as given and counted in load
        self.pinned_mask = np.zeros(ns, dtype=bool)
        self.pinned: dict[int, int] = {}  # slot index -> person_id
        for key, pid in (pinned or {}).items():
            if key not in self.slot_index:
                raise ValueError(f"pinned slot {key!r} is not one of the slots")
            if isinstance(pid, bool) or not isinstance(pid, int | np.integer):
                raise ValueError(f"pinned slot {key!r}: person id must be an integer, got {pid!r}")
            i = self.slot_index[key]
            self.pinned_mask[i] = True
            self.pinned[i] = int(pid)
        # pairing and the share cap (issue 16): one place, ``pairing.py``
        self.rules = TeamRules(
            self.slots, self.people, settings, self.geometry.shift_of, self.pinned_mask
        )
        self.pairing_hard = self.rules.active and self.rules.mode == "hard"
        self.pairing_soft = self.rules.active and self.rules.mode == "soft"
        if self.pairing_hard and ns and npp:
            # no experienced person to escalate to: the secondary must be experienced
            self.eligible[np.ix_(self.rules.unreachable, ~self.rules.experienced)] = False
        # soft pairing: a broken shift costs pairing_weight weighted hours of an average person
        self.pairing_penalty = (
            float(settings.pairing_weight) / float(self.capacity.mean())
            if self.pairing_soft
            else 0.0
        )

    def _weights(self) -> np.ndarray:
        settings = self.settings
        W = np.zeros((self.n_slots, self.n_people), dtype=float)
        # people with one time zone and holiday calendar share a weight column
        self.weight_group = np.zeros(self.n_people, dtype=np.int64)
        if not self.n_slots or not self.n_people:
            return W
        groups: dict[tuple[str, frozenset], list[int]] = {}
        for j, c in enumerate(self.people):
            zone(c.time_zone)  # fail early on unknown zones
            groups.setdefault((c.time_zone, frozenset(c.holidays)), []).append(j)
        intervals: dict[tuple[datetime, datetime], list[int]] = {}
        for i, s in enumerate(self.slots):
            intervals.setdefault((s.start, s.end), []).append(i)
        factor = np.where(self.is_shadow, float(settings.shadow_weight), 1.0)
        for g, ((tz, hol), members) in enumerate(groups.items()):
            self.weight_group[members] = g
            col = np.zeros(self.n_slots)
            for (a, b), idx in intervals.items():
                col[idx] = weighted_hours(
                    a, b, tz, hol, float(settings.weekend_weight), float(settings.holiday_weight)
                )
            W[:, members] = (col * factor)[:, None]
        return W

    def _eligibility(self) -> np.ndarray:
        ns, npp = self.n_slots, self.n_people
        E = np.zeros((ns, npp), dtype=bool)
        start, end = self.geometry.start, self.geometry.end
        for j, c in enumerate(self.people):
            col = np.zeros(ns, dtype=bool)
            for r in ("primary", "secondary"):
                if r in c.roles:
                    col |= self.role == ROLE_INDEX[r]
            if c.needs_shadow > 0:
                col |= self.is_shadow
            for a, b in tuple(c.unavailable) + tuple(c.busy):
                col &= ~((start < b.timestamp()) & (end > a.timestamp()))
            if c.last_shift_end is not None:
                col &= ~last_shift_blocks(start - c.last_shift_end.timestamp(), self.settings)
            E[:, j] = col
        return E


class Roster:
    """A (partial) roster with incremental bookkeeping and an undo journal."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.holder = np.full(problem.n_slots, -1, dtype=np.int64)
        self.draft_load = np.zeros(problem.n_people, dtype=float)
        # blockers[s, p]: how many slots p holds that conflict with s
        self.blockers = np.zeros((problem.n_slots, problem.n_people), dtype=np.int16)
        self.shadow_used = np.zeros(problem.n_people, dtype=np.int64)
        self.hours_held = np.zeros(problem.n_people, dtype=float)
        self.held: list[set[int]] = [set() for _ in range(problem.n_people)]
        self.journal: list[tuple[str, int, int]] = []
        for i, pid in problem.pinned.items():
            j = problem.pid_index.get(pid)
            if j is not None:
                self._assign(i, j)
        self.journal.clear()

    # -- primitive operations -------------------------------------------------
    def _assign(self, s: int, p: int) -> None:
        problem = self.problem
        self.holder[s] = p
        self.draft_load[p] += problem.weight[s, p]
        self.blockers[problem.neighbors[s], p] += 1
        self.held[p].add(s)
        self.hours_held[p] += problem.rules.hours[s]
        if problem.is_shadow[s]:
            self.shadow_used[p] += 1

    def _unassign(self, s: int) -> int:
        problem = self.problem
        p = int(self.holder[s])
        self.holder[s] = -1
        self.draft_load[p] -= problem.weight[s, p]
        self.blockers[problem.neighbors[s], p] -= 1
        self.held[p].discard(s)
        self.hours_held[p] -= problem.rules.hours[s]
        if problem.is_shadow[s]:
            self.shadow_used[p] -= 1
        return p

    def assign(self, s: int, p: int) -> None:
        self._assign(s, p)
        self.journal.append(("a", s, p))

    def unassign(self, s: int) -> int:
        p = self._unassign(s)
        self.journal.append(("u", s, p))
        return p

    def mark(self) -> int:
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        while len(self.journal) > mark:
            op, s, p = self.journal.pop()
            if op == "a":
                self._unassign(s)
            else:
                self._assign(s, p)

    def commit(self) -> None:
        self.journal.clear()

    # -- queries --------------------------------------------------------------
    def normalised_loads(self) -> np.ndarray:
        return (self.problem.past + self.draft_load) / self.problem.capacity

    def feasible(self, s: int) -> np.ndarray:
        problem = self.problem
        mask = problem.eligible[s] & (self.blockers[s] == 0)
        if problem.is_shadow[s]:
            mask &= self.shadow_used < problem.shadow_quota
        if problem.rules.capped or problem.pairing_hard:
            mask &= self.rule_mask(s, problem.pairing_hard)
        return mask

    def rule_mask(self, s: int, pairing: bool) -> np.ndarray:
        """Team rules (``pairing.py``) for slot ``s``: the cap, and pairing if asked."""
        rules = self.problem.rules
        hours = self.hours_held
        if self.holder[s] >= 0 and rules.capped:
            hours = hours.copy()
            hours[self.holder[s]] -= rules.hours[s]
        if pairing:
            return rules.mask(self.holder, s, hours, self._can_take_experienced)
        allowed = np.ones(self.problem.n_people, dtype=bool)
        if rules.capped:
            allowed &= hours + rules.hours[s] <= rules.cap + 1e-6
        return allowed

    def _can_take_experienced(self, t: int) -> bool:
        """Could an experienced person still take open slot ``t`` (static rules, conflicts)?"""
        problem = self.problem
        ok = problem.eligible[t] & (self.blockers[t] == 0) & problem.rules.experienced
        if problem.rules.capped:
            ok &= self.hours_held + problem.rules.hours[t] <= problem.rules.cap + 1e-6
        return bool(ok.any())

    def rule_count(self) -> int:
        """Broken pairing shifts + people over the cap (0 without such rules)."""
        return self.problem.rules.count(self.holder) if self.problem.rules.strict else 0

    def hard_rule_count(self) -> int:
        """People over the cap, + broken pairing shifts when pairing is hard."""
        rules = self.problem.rules
        if not rules.strict:
            return 0
        out = int(rules.over_cap(self.holder).size)
        if self.problem.pairing_hard:
            out += len(rules.broken_shifts(self.holder))
        return out

    def soft_penalty(self) -> float:
        """Soft pairing: the penalty of this roster in units of L."""
        problem = self.problem
        if not problem.pairing_soft:
            return 0.0
        return problem.pairing_penalty * len(problem.rules.broken_shifts(self.holder))

    def projected(self, s: int) -> np.ndarray:
        problem = self.problem
        return (problem.past + self.draft_load + problem.weight[s]) / problem.capacity

    def pick(self, s: int, mask: np.ndarray, values: np.ndarray | None = None) -> int:
        """Lowest value among ``mask``; ties by longest since last shift, person_id."""
        if values is None:
            values = self.projected(s)
            if self.problem.pairing_soft:
                values = values + self.problem.pairing_penalty * ~self.rule_mask(s, True)
        idx = np.nonzero(mask)[0]
        vals = values[idx]
        best = vals.min()
        tol = 1e-9 * max(1.0, abs(best))
        tied = idx[vals <= best + tol]
        return int(tied[np.argmin(self.problem.tiebreak_rank[tied])])

    def copy_assignment(self) -> np.ndarray:
        return self.holder.copy()

    def load_assignment(self, holder: np.ndarray) -> None:
        for s in range(self.problem.n_slots):
            if self.problem.pinned_mask[s]:
                continue
            if self.holder[s] >= 0 and self.holder[s] != holder[s]:
                self._unassign(s)
        for s in range(self.problem.n_slots):
            if not self.problem.pinned_mask[s] and holder[s] >= 0 and self.holder[s] != holder[s]:
                self._assign(s, int(holder[s]))
        self.journal.clear()
