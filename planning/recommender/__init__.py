"""Fair on-call roster recommender (pure core: no Django, no database, no clock).

Given the slots of a rotation period (primary / secondary / optional shadow slot of every
shift) and the candidate people, :func:`recommend` fills the slots so that the hard rules hold
and the normalised load is as even as possible.

Definitions (``load.py``)
-------------------------
* Weighted hours: an interval is cut at local midnights *in the person's time zone*; hours on
  a date in the person's holiday set count ``holiday_weight``, hours on a local Saturday/Sunday
  ``weekend_weight`` (holiday beats weekend, no stacking), other hours 1. Elapsed hours are
  used, so a DST week really is one hour shorter or longer. Shadow slots are multiplied by
  ``shadow_weight`` (default 0: shadowing is training, not load).
* Capacity: ``max(capacity_floor, fte * (1 - utilisation))``.
* Normalised load: ``L = (past_load + draft_load) / capacity``.

Objective (lexicographic)
-------------------------
1. cover as many slots as possible: primary before secondary before shadow;
2. then minimise the largest L;
3. then even out the rest (sum of squared deviations of L from the mean).

Hard rules (``rules.py``): qualified for the role (shadow: ``needs_shadow > 0``, at most that
many shadow slots), no unavailability or ``busy`` interval overlaps, rest (``min_rest``,
``no_back_to_back``, ``last_shift_end``), one slot per shift; team rules (``pairing.py``):
pairing with experienced people (``Settings.pairing``) and the share cap (``max_share``).

Modules
-------
``types``         inputs and results (Slot, Candidate, Settings, Recommendation, ...)
``load``          weighted hours, capacity, past load, fairness metrics
``rules``         hard rules: slot conflicts (geometry), eligibility reasons, ``check_assignment``
``pairing``       team rules: pairing newcomers with experienced people, the share cap
``problem``       the problem as arrays and a roster being searched (with undo)
``greedy``        construction (most constrained slot first) and coverage repair
``local_search``  peak pass (moves, swaps, ejection chains), spread pass, window search
``exact``         the lexicographic MILP (coverage, then max L, then spread) and its LP bound
``bounds``        lower bounds on the largest L (fixed, per slot, water filling, counting)
``explain``       reasons for each pick, blocking reasons, recommendation levels
``solve``         ``recommend``: pipeline, comparison, status and the manager's note
"""

from .bounds import water_filling_bound
from .explain import levels
from .load import capacity, fairness_metrics, past_load, slot_weighted_hours
from .rules import check_assignment
from .solve import MAX_PERSON_SLOTS, MAX_SLOTS, recommend, too_big_to_draft
from .types import (
    MODES,
    ROLES,
    Assignment,
    Candidate,
    FairnessMetrics,
    PastShift,
    PersonProjection,
    Reason,
    Recommendation,
    Settings,
    Slot,
    Uncovered,
)

__all__ = [
    "MAX_PERSON_SLOTS",
    "MAX_SLOTS",
    "MODES",
    "ROLES",
    "Assignment",
    "Candidate",
    "FairnessMetrics",
    "PastShift",
    "PersonProjection",
    "Reason",
    "Recommendation",
    "Settings",
    "Slot",
    "Uncovered",
    "capacity",
    "check_assignment",
    "fairness_metrics",
    "levels",
    "past_load",
    "recommend",
    "slot_weighted_hours",
    "too_big_to_draft",
    "water_filling_bound",
]
