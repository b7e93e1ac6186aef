"""Team rules over a whole roster (issue 16): pairing with experience, and the share cap.

One place for these rules, used by the greedy, the local search, the repair, the final check of
every draft and the manager's manual pick (``rules.check_assignment``); the exact model states
the same rules as rows (``exact.py``).

Pairing (``Settings.pairing``: "hard", "soft" or "off"), on the primary and secondary slots of
a shift (shadow slots never count):

* **unpaired**: a shift with a primary and a secondary slot, at least one of them filled, and no
  experienced person among the holders;
* **newcomer**: a primary slot held by someone who, counting the primaries they served before
  (``primary_served``) and the ones they hold earlier in this draft, has held fewer than
  ``first_primaries_paired`` primaries, and no experienced secondary in the shift;
* **unreachable**: a secondary slot with ``escalation_reachable=False`` held by someone who is
  not experienced (nobody else to escalate to).

"hard": no draft breaks them (a slot stays empty when only an unpaired filling exists); "soft":
each shift that breaks one costs ``pairing_weight`` weighted hours of a team-average person.
A shift holding a manager's pinned slot is left to the manager (not checked).

Cap (``Settings.max_share`` < 1): nobody holds primary/secondary slots adding up to more than
``max_share`` of the drafted period's hours (the sum of each shift's hours; shadow slots are
training and do not count). Always hard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from .types import ROLE_INDEX, Candidate, Settings, Slot

PAIRING_MODES = ("off", "soft", "hard")
PRIMARY, SECONDARY, SHADOW = ROLE_INDEX["primary"], ROLE_INDEX["secondary"], ROLE_INDEX["shadow"]
# slack on the cap (hours), so float sums of shift hours never refuse an exact fit
CAP_SLACK = 1e-6


def period_words(start: datetime, end: datetime) -> str:
    """'December 2026' when the period is (about) one calendar month -- a month's weekly shifts
    run from its first handoff into the next month, so a period of at most five weeks most of
    which lies in one month is named by that month -- else its dates."""
    last = end - timedelta(days=1) if end - start > timedelta(days=1) else start
    if (start.year, start.month) == (last.year, last.month):
        return f"{start:%B %Y}"
    month_end = (start.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    if end - start <= timedelta(days=35) and (month_end - start) * 2 > end - start:
        return f"{start:%B %Y}"
    return f"the period {start.day} {start:%b} – {end.day} {end:%b %Y}"


class TeamRules:
    """Pairing and cap structure of one set of slots and people (built once)."""

    def __init__(
        self,
        slots: Sequence[Slot],
        people: Sequence[Candidate],
        settings: Settings,
        shift_of: np.ndarray,
        pinned_mask: np.ndarray | None = None,
        period: Sequence[Slot] | None = None,
    ):
        if settings.pairing not in PAIRING_MODES:
            raise ValueError(f"pairing must be one of {PAIRING_MODES}, got {settings.pairing!r}")
        if not 0 < settings.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {settings.max_share!r}")
        self.settings = settings
        self.mode = settings.pairing
        self.first = max(0, int(settings.first_primaries_paired))
        ns, npp = len(slots), len(people)
        self.n_slots, self.n_people = ns, npp
        self.role = np.array([ROLE_INDEX[s.role] for s in slots], dtype=np.int64)
        self.shift_of = np.asarray(shift_of, dtype=np.int64)
        starts = np.array([s.start.timestamp() for s in slots], dtype=float)
        self.rank = np.empty(ns, dtype=np.int64)
        self.rank[np.lexsort((self.role, starts))] = np.arange(ns)
        self.hours = np.array(
            [
                0.0 if s.role == "shadow" else (s.end - s.start).total_seconds() / 3600
                for s in slots
            ],
            dtype=float,
        )
        # the drafted period: each shift's hours once (from its earliest start to latest end)
        spans: dict[object, tuple[datetime, datetime]] = {}
        for i, s in enumerate(slots if period is None else period):
            if s.role == "shadow":
                continue
            h = int(self.shift_of[i]) if period is None else s.shift_key
            a, b = spans.get(h, (s.start, s.end))
            spans[h] = (min(a, s.start), max(b, s.end))
        self.period_hours = sum((b - a).total_seconds() / 3600 for a, b in spans.values())
        self.period = (
            (min(a for a, _ in spans.values()), max(b for _, b in spans.values()))
            if spans
            else None
        )
        self.capped = settings.max_share < 1 and self.period_hours > 0
        self.cap = settings.max_share * self.period_hours if self.capped else math.inf
        self.experienced = np.array([bool(c.experienced) for c in people], dtype=bool)
        self.served = np.array([max(0, int(c.primary_served)) for c in people], dtype=np.int64)
        self.may_be_newcomer = self.served < self.first
        self.unreachable = np.array(
            [s.role == "secondary" and not s.escalation_reachable for s in slots], dtype=bool
        )
        n_sh = int(self.shift_of.max()) + 1 if ns else 0
        self.ps: list[list[int]] = [[] for _ in range(n_sh)]
        self.prim: list[list[int]] = [[] for _ in range(n_sh)]
        self.sec: list[list[int]] = [[] for _ in range(n_sh)]
        for i in np.argsort(self.rank, kind="stable"):
            i = int(i)
            h = int(self.shift_of[i])
            if self.role[i] == PRIMARY:
                self.prim[h].append(i)
                self.ps[h].append(i)
            elif self.role[i] == SECONDARY:
                self.sec[h].append(i)
                self.ps[h].append(i)
        self.pair_shift = np.array([bool(p and s) for p, s in zip(self.prim, self.sec)], bool)
        pinned = np.zeros(ns, dtype=bool) if pinned_mask is None else np.asarray(pinned_mask)
        self.pinned_shift = np.zeros(n_sh, dtype=bool)
        if ns:
            self.pinned_shift[self.shift_of[pinned]] = True
        self.active = self.mode != "off" and npp > 0
        self.strict = self.active or self.capped  # moves must be checked against these rules

    # -- the state of one roster ----------------------------------------------------
    def _exp(self, p: int) -> bool:
        return p >= 0 and bool(self.experienced[p])

    def primaries_before(self, holder: np.ndarray, s: int) -> np.ndarray:
        """Per person: primary slots held in this roster earlier than slot ``s``."""
        mask = (self.role == PRIMARY) & (holder >= 0) & (self.rank < self.rank[s])
        return np.bincount(holder[mask], minlength=self.n_people)

    def is_newcomer(self, holder: np.ndarray, s: int, p: int) -> bool:
        """Is ``p`` holding (or taking) primary slot ``s`` one of their first primaries?"""
        if not self.may_be_newcomer[p] or not self.sec[int(self.shift_of[s])]:
            return False  # (a shift with no secondary slot cannot pair anyone)
        mask = (self.role == PRIMARY) & (holder == p) & (self.rank < self.rank[s])
        return int(self.served[p]) + int(mask.sum()) < self.first

    def mask(
        self,
        holder: np.ndarray,
        s: int,
        hours_held: np.ndarray | None = None,
        can_take_experienced=None,
    ) -> np.ndarray:
        """People who may take slot ``s`` given the rest of ``holder`` without breaking a team
        rule now or leaving it unfixable by the shift's still-open slots.

        ``can_take_experienced(t)``: can open slot ``t`` still get an experienced person (the
        draft's look-ahead; without it, as for a manager's pick, any open slot can)."""

        def open_exp(t: int) -> bool:
            return holder[t] < 0 and (can_take_experienced is None or can_take_experienced(t))

        allowed = np.ones(self.n_people, dtype=bool)
        if self.capped and self.hours[s] > 0:
            if hours_held is None:
                hours_held = self.hours_held(holder, exclude=s)
            allowed &= hours_held + self.hours[s] <= self.cap + CAP_SLACK
        if not self.active or self.role[s] == SHADOW:
            return allowed
        h = int(self.shift_of[s])
        if self.pinned_shift[h]:
            return allowed
        others = [t for t in self.ps[h] if t != s]
        need_exp = False
        if self.pair_shift[h]:
            if not any(self._exp(int(holder[t])) or open_exp(t) for t in others):
                need_exp = True
        if self.role[s] == SECONDARY:
            if self.unreachable[s]:
                need_exp = True
            other_secs = [t for t in self.sec[h] if t != s]
            if not any(self._exp(int(holder[t])) or open_exp(t) for t in other_secs) and any(
                holder[t] >= 0 and self.is_newcomer(holder, t, int(holder[t])) for t in self.prim[h]
            ):
                need_exp = True
        elif self.role[s] == PRIMARY and self.sec[h] and self.may_be_newcomer.any():
            if not any(open_exp(t) or self._exp(int(holder[t])) for t in self.sec[h]):
                before = self.primaries_before(holder, s)
                allowed &= ~(self.served + before < self.first)
        if need_exp:
            allowed &= self.experienced
        return allowed

    def hours_held(self, holder: np.ndarray, exclude: int = -1) -> np.ndarray:
        on = holder >= 0
        if exclude >= 0:
            on = on.copy()
            on[exclude] = False
        return np.bincount(holder[on], weights=self.hours[on], minlength=self.n_people)

    def shift_problems(self, holder: np.ndarray, h: int) -> list[tuple[str, int]]:
        """(kind, slot) of each pairing rule shift ``h`` breaks ("unpaired", "newcomer",
        "unreachable")."""
        out: list[tuple[str, int]] = []
        if not self.active or self.pinned_shift[h]:
            return out
        held = [int(holder[t]) for t in self.ps[h]]
        if self.pair_shift[h] and any(p >= 0 for p in held) and not any(map(self._exp, held)):
            out.append(("unpaired", self.ps[h][0]))
        exp_sec = any(self._exp(int(holder[t])) for t in self.sec[h])
        if not exp_sec:
            for t in self.prim[h]:
                p = int(holder[t])
                if p >= 0 and self.is_newcomer(holder, t, p):
                    out.append(("newcomer", t))
        for t in self.sec[h]:
            p = int(holder[t])
            if p >= 0 and self.unreachable[t] and not self.experienced[p]:
                out.append(("unreachable", t))
        return out

    def broken_shifts(self, holder: np.ndarray) -> list[int]:
        """Shifts that break a pairing rule."""
        if not self.active:
            return []
        return [h for h in range(len(self.ps)) if self.shift_problems(holder, h)]

    def over_cap(self, holder: np.ndarray) -> np.ndarray:
        """People above the cap."""
        if not self.capped:
            return np.zeros(0, dtype=np.int64)
        return np.nonzero(self.hours_held(holder) > self.cap + CAP_SLACK)[0]

    def count(self, holder: np.ndarray) -> int:
        """Broken shifts + people over the cap: moves of the search may never raise it."""
        if not self.strict:
            return 0
        return len(self.broken_shifts(holder)) + int(self.over_cap(holder).size)

    def why_not(
        self, holder: np.ndarray, s: int, p: int, names: Sequence[str], pairing: bool = True
    ) -> str | None:
        """The team rule ``p`` taking slot ``s`` breaks (the words of ``mask``), or None."""
        if self.capped and self.hours[s] > 0:
            hours = self.hours_held(holder, exclude=s)[p] + self.hours[s]
            if hours > self.cap + CAP_SLACK:
                return self.share_words(hours)
        if not pairing or not self.active or self.role[s] == SHADOW or self.experienced[p]:
            if pairing and self.active and self.role[s] == PRIMARY:
                return self._newcomer_reason(holder, s, p, names)
            return None
        h = int(self.shift_of[s])
        if self.pinned_shift[h]:
            return None
        others = [t for t in self.ps[h] if t != s]
        if self.role[s] == SECONDARY and self.unreachable[s]:
            return (
                "not experienced yet, and no mentor or lead is reachable during this shift "
                "(the secondary must be experienced)"
            )
        if (
            self.pair_shift[h]
            and not any(self._exp(int(holder[t])) for t in others)
            and all(holder[t] >= 0 for t in others)
        ):
            return (
                "not experienced yet, and nobody else on this shift is (every shift needs an "
                "experienced primary or secondary)"
            )
        if self.role[s] == SECONDARY:
            other_secs = [t for t in self.sec[h] if t != s]
            if not any(self._exp(int(holder[t])) or holder[t] < 0 for t in other_secs):
                for t in self.prim[h]:
                    q = int(holder[t])
                    if q >= 0 and self.is_newcomer(holder, t, q):
                        return (
                            f"not experienced yet, and this is one of {names[q]}'s first "
                            f"primary shifts (they need an experienced secondary)"
                        )
        return self._newcomer_reason(holder, s, p, names) if self.role[s] == PRIMARY else None

    def _newcomer_reason(self, holder, s: int, p: int, names: Sequence[str]) -> str | None:
        h = int(self.shift_of[s])
        if self.pinned_shift[h] or any(
            holder[t] < 0 or self._exp(int(holder[t])) for t in self.sec[h]
        ):
            return None
        if not self.is_newcomer(holder, s, p):
            return None
        return (
            f"this would be one of {names[p]}'s first {self.first} primary shifts and the "
            "shift has no experienced secondary"
        )

    # -- words ------------------------------------------------------------------------
    def share_words(self, hours: float) -> str:
        pct = 100 * hours / self.period_hours if self.period_hours else 0.0
        where = period_words(*self.period) if self.period else "the period"
        return (
            f"would be on call {pct:.0f}% of {where}; the team's cap is "
            f"{100 * self.settings.max_share:.0f}%"
        )
