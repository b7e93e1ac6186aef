"""What goes in and comes out of the recommender: slots, candidates, settings, results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

ROLES = ("primary", "secondary", "shadow")
ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}
SHADOW = ROLE_INDEX["shadow"]
# "greedy": construction + local search (+ the exact model on small rotations: "auto-exact");
# "exact": the lexicographic MILP, with the greedy roster as the fallback.
MODES = ("greedy", "exact")


@dataclass(frozen=True)
class Slot:
    key: str  # unique, e.g. "12:primary"
    shift_key: str  # slots of one shift share it
    role: str  # "primary" | "secondary" | "shadow"
    start: datetime  # aware, UTC
    end: datetime
    # False when no escalation contact (mentor, lead) is available during this slot's shift:
    # the pairing rule then asks for an experienced secondary.
    escalation_reachable: bool = True


@dataclass(frozen=True)
class Candidate:
    person_id: int
    name: str
    roles: frozenset[str]  # qualified slot roles ("shadow" is implied by needs_shadow > 0)
    time_zone: str = "UTC"
    holidays: frozenset[date] = frozenset()  # public holiday dates in their country
    unavailable: tuple[tuple[datetime, datetime], ...] = ()
    busy: tuple[tuple[datetime, datetime], ...] = ()  # shifts held in other rotations
    past_load: float = 0.0  # weighted, decayed hours
    fte: float = 1.0
    utilisation: float = 0.0  # 0..1 share of working time already committed
    last_shift_end: datetime | None = None  # tie-breaks and the rest rule
    needs_shadow: int = 0
    # Interruptions in the look-back window: already part of past_load as hours-equivalent,
    # kept apart so explanations can say so in words.
    pages: int = 0
    night_pages: int = 0
    interruption_hours: float = 0.0
    # Experience (issue 16): primary-ready people count as "experienced" for the pairing rule.
    experienced: bool = True
    primary_served: int = 0  # primary shifts already served in this rotation
    level: str = ""  # "newcomer" | "shadowed" | "secondary-ready" | "primary-ready" (words only)


@dataclass(frozen=True)
class Settings:
    weekend_weight: float = 1.5
    holiday_weight: float = 2.0
    shadow_weight: float = 0.0
    min_rest: timedelta = timedelta(0)
    no_back_to_back: bool = True
    capacity_floor: float = 0.1
    exact_time_limit: float = 10.0  # seconds of solver time for mode="exact"
    # ... automatic exact run on small instances (0: off), in CP-SAT's deterministic work units
    # on one thread (about a second of one core each here), so the draft is repeatable
    auto_exact_time_limit: float = 4.0
    # greedy mode: sizes the repair's, the local search's and the polish's counts of work (what
    # a normal machine does in shares of this many seconds, ``budget.py``), so the same inputs
    # give the same draft at any load; the wall clock only guards (8 times this) a machine far
    # too slow, and a draft it cut says so (0: no count, no guard). The coverage search, the
    # auto-exact run and the window search do fixed amounts of solver work. The draft page says
    # "Drafting..." meanwhile.
    time_budget: float = 8.0
    # Pairing (issue 16): "hard" = every shift has an experienced primary or secondary and a
    # newcomer's first primaries get an experienced secondary; "soft" = the same as a penalty
    # of pairing_weight per unpaired shift; "off" = no rule.
    pairing: str = "off"
    pairing_weight: float = 50.0
    first_primaries_paired: int = 2  # a primary with fewer served primaries is a newcomer
    max_share: float = 1.0  # largest share of the drafted period's hours one person may hold


@dataclass(frozen=True)
class Reason:
    summary: str  # one human sentence
    projected_load: float  # the assignee's L with this roster
    runner_up_id: int | None
    runner_up_load: float | None  # L the runner-up would reach by taking the slot
    runner_up_why_not: str | None
    eligible_count: int  # people who could hold the slot given the rest of the roster
    runner_up_name: str | None = None
    pinned: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Assignment:
    slot_key: str
    person_id: int
    reason: Reason


@dataclass(frozen=True)
class Uncovered:
    slot_key: str
    blocking: dict[int, str]  # person_id -> why they cannot take it


@dataclass(frozen=True)
class PersonProjection:
    person_id: int
    past_load: float
    draft_load: float
    capacity: float
    projected: float  # L
    level: str  # "High" | "Medium" | "Low" recommendation
    rank: int  # 1 = lowest L (ties share a rank)
    of: int
    explanation: str


@dataclass(frozen=True)
class FairnessMetrics:
    count: int
    mean: float
    max: float
    min: float
    spread: float  # max - min
    stdev: float  # population standard deviation
    gini: float


@dataclass(frozen=True)
class Recommendation:
    assignments: tuple[Assignment, ...]
    uncovered: tuple[Uncovered, ...]
    people: dict[int, PersonProjection]
    mode: str  # "greedy" | "auto-exact" (greedy mode ran the exact model) | "exact"
    objective_max: float  # largest L
    objective_sq: float  # sum of squared deviations of L from the mean
    lower_bound: float  # best proven bound on the largest L (always computed)
    optimum: float | None  # when the exact model ran: the proven optimum, else its best bound
    gap: float  # (objective_max - lower_bound) / lower_bound; 0 when proven optimal
    status: str  # "optimal" | "feasible" | "time_limit" | "infeasible"
    source: str = "greedy"  # which search produced the roster: "greedy" | "milp"
    fairness: FairnessMetrics | None = None
    coverage_proven: bool = False  # no roster leaves fewer slots empty (primary first)
    note: str = ""  # one sentence for the manager: optimal, or within X% and what to do


@dataclass(frozen=True)
class PastShift:
    start: datetime
    end: datetime
    role: str = "primary"


DEFAULT_SETTINGS = Settings()
