"""Hard rules: who may hold which slot (eligibility) and which slots conflict (overlap, rest).

Two slots of different shifts conflict when they overlap, when the gap between them is shorter
than ``min_rest``, or -- with ``no_back_to_back`` -- when they touch or one shift is the
*immediately next shift* of the rotation after the other (the shift(s) with the earliest start
at or after the other one's end; for a weekday-only rotation Friday's next shift is Monday's).
Two slots of one shift always conflict (a person holds at most one slot per shift).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .load import require_aware
from .pairing import TeamRules
from .types import DEFAULT_SETTINGS, ROLE_INDEX, ROLES, Candidate, Settings, Slot


def _local(value: datetime, zone: str) -> datetime:
    try:
        return value.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return value.astimezone(UTC)


def format_time(value: datetime, zone: str = "UTC") -> str:
    """'Tue 8 Dec 2026 09:00 (Europe/London)': in the person's own zone, named."""
    local = _local(value, zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({zone})"


def format_interval(a: datetime, b: datetime, zone: str = "UTC") -> str:
    """'Tue 8 Dec 09:00 – Sat 12 Dec 09:00 (Europe/London)', or one day's times."""
    a, b = _local(a, zone), _local(b, zone)
    first = f"{a:%a} {a.day} {a:%b %Y}" if a.year != b.year else f"{a:%a} {a.day} {a:%b}"
    if a.date() == b.date():
        return f"{first} {a:%H:%M}–{b:%H:%M} ({zone})"
    return f"{first} {a:%H:%M} – {b:%a} {b.day} {b:%b} {b:%H:%M} ({zone})"


def _overlaps(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def validate_slot(slot: Slot) -> None:
    if slot.role not in ROLE_INDEX:
        raise ValueError(f"slot {slot.key!r}: unknown role {slot.role!r} (expected one of {ROLES})")
    require_aware(slot.start, f"slot {slot.key!r} start")
    require_aware(slot.end, f"slot {slot.key!r} end")
    if slot.end <= slot.start:
        raise ValueError(f"slot {slot.key!r} ends before it starts")
    if not (EARLIEST <= slot.start and slot.end <= LATEST):
        raise ValueError(f"slot {slot.key!r} lies outside the years 1900-2500")
    if slot.end - slot.start > LONGEST_SLOT:
        raise ValueError(f"slot {slot.key!r} is longer than {LONGEST_SLOT.days} days")


# slots are refused outside these years (local times near year 1 or 9999 overflow) and when
# longer than a year and a day (a unit mistake; the exact search's integers would overflow)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2500, 1, 1, tzinfo=UTC)
LONGEST_SLOT = timedelta(days=367)
# the largest past load accepted (weighted hours): a century of round-the-clock duty; above it
# the input is a unit mistake, and the exact search's integers would overflow
MAX_PAST_LOAD = 1_000_000.0


def _finite(value: float, what: str, low: float, high: float = math.inf) -> None:
    if not (math.isfinite(float(value)) and low <= float(value) <= high):
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f"at least {low:g}"
        raise ValueError(f"{what} must be a number {bounds}, got {value!r}")


def validate_settings(settings: Settings) -> None:
    """Clear errors for settings the recommender cannot use (not crashes deep inside)."""
    _finite(settings.weekend_weight, "weekend_weight", 0.0, 100.0)
    _finite(settings.holiday_weight, "holiday_weight", 0.0, 100.0)
    _finite(settings.shadow_weight, "shadow_weight", 0.0, 100.0)
    _finite(settings.capacity_floor, "capacity_floor", 0.001, 1000.0)
    _finite(settings.pairing_weight, "pairing_weight", 0.0, 1e6)
    for name in ("exact_time_limit", "auto_exact_time_limit", "time_budget"):
        _finite(getattr(settings, name), name, 0.0, 86_400.0)
    if settings.min_rest < timedelta(0):
        raise ValueError("min_rest must not be negative")


def validate_candidate(c: Candidate) -> None:
    """Clear errors for a person the recommender cannot use: unknown zone or role, naive or
    reversed intervals, loads and capacities that are not finite and non-negative."""
    who = f"candidate {c.person_id} ({c.name})"
    try:
        ZoneInfo(c.time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{who}: unknown time zone {c.time_zone!r}") from None
    unknown = set(c.roles) - set(ROLES)
    if unknown:
        raise ValueError(
            f"{who}: unknown role(s) {sorted(map(str, unknown))} (expected one of {ROLES})"
        )
    _finite(c.past_load, f"{who}: past_load", 0.0, MAX_PAST_LOAD)
    _finite(c.fte, f"{who}: fte", 0.0, 10.0)
    _finite(c.utilisation, f"{who}: utilisation", 0.0, 1.0)
    for name, intervals in (("unavailable", c.unavailable), ("busy", c.busy)):
        for a, b in intervals:
            require_aware(a, f"{who}: {name} start")
            require_aware(b, f"{who}: {name} end")
            if b < a:
                raise ValueError(f"{who}: a {name} interval ends before it starts ({a} > {b})")
    if c.last_shift_end is not None:
        require_aware(c.last_shift_end, f"{who}: last_shift_end")
    if isinstance(c.needs_shadow, bool) or not isinstance(c.needs_shadow, int | np.integer):
        raise ValueError(f"{who}: needs_shadow must be a whole number, got {c.needs_shadow!r}")
    if c.needs_shadow < 0:
        raise ValueError(f"{who}: needs_shadow must not be negative")
    if any(isinstance(d, datetime) or not isinstance(d, date) for d in c.holidays):
        raise ValueError(f"{who}: holidays must be dates (not datetimes)")


# --------------------------------------------------------------------------
# Slot geometry: shift order and pairwise conflicts
# --------------------------------------------------------------------------


class Geometry:
    """Time order of slots and the slot x slot conflict matrix."""

    def __init__(self, slots: Sequence[Slot], settings: Settings):
        self.slots = slots
        n = len(slots)
        self.start = np.array([s.start.timestamp() for s in slots], dtype=float)
        self.end = np.array([s.end.timestamp() for s in slots], dtype=float)
        shift_index: dict[str, int] = {}
        shift_of = np.zeros(n, dtype=np.int64)
        for i, s in enumerate(slots):
            shift_of[i] = shift_index.setdefault(s.shift_key, len(shift_index))
        self.shift_of = shift_of
        n_sh = len(shift_index)
        sh_start = np.full(n_sh, np.inf)
        sh_end = np.full(n_sh, -np.inf)
        np.minimum.at(sh_start, shift_of, self.start)
        np.maximum.at(sh_end, shift_of, self.end)
        nxt = np.zeros((n_sh, n_sh), dtype=bool)
        for i in range(n_sh):
            later = sh_start >= sh_end[i]
            later[i] = False
            if later.any():
                first = sh_start[later].min()
                nxt[i] = later & (sh_start == first)
        self.next_shift = nxt | nxt.T
        rest = settings.min_rest.total_seconds()
        gap = np.maximum(
            self.start[None, :] - self.end[:, None], self.start[:, None] - self.end[None, :]
        )
        self.gap = gap
        self.same_shift = shift_of[:, None] == shift_of[None, :]
        conflict = self.same_shift | (gap < 0) | (gap < rest)
        if settings.no_back_to_back:
            conflict |= self.next_shift[np.ix_(shift_of, shift_of)] | (gap <= 0)
        np.fill_diagonal(conflict, False)
        self.conflict = conflict
        self.rest_seconds = rest
        # time order: start, end, role, key
        self.order = sorted(
            range(n),
            key=lambda i: (self.start[i], self.end[i], ROLE_INDEX[slots[i].role], slots[i].key),
        )

    def reason(self, i: int, j: int) -> str:
        """Why holding slot ``j`` forbids slot ``i`` (they must conflict)."""
        other = self.slots[j]
        when = format_interval(other.start, other.end)
        if self.same_shift[i, j]:
            return f"already holds {other.role} in this shift"
        if self.gap[i, j] < 0:
            return f"on another shift of this rotation ({other.role} {when})"
        if self.gap[i, j] < self.rest_seconds:
            return (
                f"rest rule (holds {other.role} {when}; less than "
                f"{timedelta(seconds=self.rest_seconds)} rest)"
            )
        return f"rest rule (holds {other.role} {when}; back-to-back shifts)"


def static_reason(slot: Slot, person: Candidate, settings: Settings) -> str | None:
    """Reason independent of the rest of the roster, or None."""
    if slot.role == "shadow":
        if person.needs_shadow <= 0:
            return "no shadow shifts needed"
    elif slot.role not in person.roles:
        return f"not qualified for {slot.role}"
    elif (
        settings.pairing == "hard"
        and slot.role == "secondary"
        and not slot.escalation_reachable
        and not person.experienced
    ):
        return (
            "not experienced yet, and no mentor or lead is reachable during this shift "
            "(the secondary must be experienced)"
        )
    for a, b in sorted(person.unavailable):
        if _overlaps(slot.start, slot.end, a, b):
            return f"away {format_interval(a, b, person.time_zone)}"
    for a, b in sorted(person.busy):
        if _overlaps(slot.start, slot.end, a, b):
            return f"on another shift ({format_interval(a, b, person.time_zone)})"
    lse = person.last_shift_end
    if lse is not None:
        # the last shift began before this period, so it runs until ``lse``: a slot starting
        # before then overlaps it, and one starting after it still needs the rest
        if slot.start < lse:
            return f"still on their last shift (until {format_time(lse, person.time_zone)})"
        gap = (slot.start - lse).total_seconds()
        if last_shift_blocks(gap, settings):
            return f"rest rule (last shift ended {format_time(lse, person.time_zone)})"
    return None


def last_shift_blocks(gap_seconds, settings: Settings):
    """Whether a slot starting ``gap_seconds`` after the person's last shift ended is refused:
    it starts before the end (overlap), within ``min_rest``, or -- with ``no_back_to_back`` --
    right at the end. Works on a number or an array of gaps (the one rule for every mode)."""
    rest = settings.min_rest.total_seconds()
    gap = np.asarray(gap_seconds, dtype=float)
    out = (gap < 0) | (gap < rest) | ((gap == 0) & bool(settings.no_back_to_back))
    return out if out.ndim else bool(out)


def check_assignment(
    slot: Slot,
    person: Candidate,
    current: Mapping[str, int],
    slots: Sequence[Slot],
    settings: Settings = DEFAULT_SETTINGS,
    *,
    people: Mapping[int, Candidate] | None = None,
    period: Sequence[Slot] | None = None,
) -> str | None:
    """For a manager's edit: ``None`` if ``person`` may hold ``slot`` given the
    other assignments in ``current`` (slot_key -> person_id; the entry for
    ``slot`` itself is ignored), else the hard rule it would break.

    Team rules (``pairing.py``): ``people`` (person_id -> Candidate) tells who else is
    experienced (anyone not given counts as experienced); ``period`` is every slot of the drafted
    period, for the share cap (default: ``slots``). Hard pairing is checked as the draft checks
    it: a pick is refused when the shift could no longer get the experienced person it needs
    (an open slot of the shift may still provide one)."""
    validate_slot(slot)
    reason = static_reason(slot, person, settings)
    if reason:
        return reason
    all_slots = list(slots)
    keys = {s.key: i for i, s in enumerate(all_slots)}
    if slot.key in keys:
        all_slots[keys[slot.key]] = slot
    else:
        keys[slot.key] = len(all_slots)
        all_slots.append(slot)
    geometry = Geometry(all_slots, settings)
    i = keys[slot.key]
    held = sorted(
        (
            keys[k]
            for k, pid in current.items()
            if pid == person.person_id and k != slot.key and k in keys
        ),
        key=geometry.order.index,
    )
    for j in held:
        if geometry.conflict[i, j]:
            return geometry.reason(i, j)
    if slot.role == "shadow":
        used = sum(1 for j in held if all_slots[j].role == "shadow")
        if used >= person.needs_shadow:
            return f"no shadow shifts needed (already shadowing {used} of {person.needs_shadow})"
    if settings.pairing == "off" and settings.max_share >= 1:
        return None
    return _team_rule(slot, person, current, all_slots, keys, geometry, settings, people, period)


def _team_rule(slot, person, current, all_slots, keys, geometry, settings, people, period):
    """``check_assignment``'s pairing and cap check (the rules of ``pairing.py``)."""
    known = dict(people or {})
    known[person.person_id] = person
    for pid in current.values():
        if pid not in known:  # not a candidate: nothing known, so not held against the pick
            known[pid] = Candidate(
                person_id=pid,
                name=str(pid),
                roles=frozenset(),
                primary_served=settings.first_primaries_paired,
            )
    plist = list(known.values())
    index = {c.person_id: j for j, c in enumerate(plist)}
    rules = TeamRules(all_slots, plist, settings, geometry.shift_of, period=period)
    holder = np.full(len(all_slots), -1, dtype=np.int64)
    for k, pid in current.items():
        if k in keys and k != slot.key:
            holder[keys[k]] = index[pid]
    i = keys[slot.key]
    return rules.why_not(
        holder, i, index[person.person_id], [c.name for c in plist], settings.pairing == "hard"
    )
