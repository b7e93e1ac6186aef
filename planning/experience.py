"""Experience per person and rotation: shifts served, incidents handled, level and next step.

Counted from the rotation's history: slots of published (and superseded) rosters whose shift
ended before `as_of`, plus imported history. When two rosters hold the same slot (a roster and
the one that superseded it), the published one, else the newest, decides who served it.
Incidents handled are the incidents attributed to the person (the primary when they started).

Levels, with the rotation's thresholds (defaults in brackets):

* newcomer: fewer than `level_shadow_shifts` (2) shadow shifts;
* shadowed: enough shadow shifts, fewer than `level_secondary_shifts` (2) secondary shifts;
* secondary-ready: fewer than `level_primary_ready_shifts` (4) secondary shifts;
* primary-ready ("experienced"): that many secondary shifts, or `level_first_primaries_paired`
  (2) primary shifts already served (experience brought in as imported history).

Two queries for a whole rotation, whatever its size; `level_of` is pure.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from incidents.models import Incident
from rotation.models import Roster, Rotation, Shift, SlotRole

NEWCOMER = "newcomer"
SHADOWED = "shadowed"
SECONDARY_READY = "secondary-ready"
PRIMARY_READY = "primary-ready"
LEVELS = (NEWCOMER, SHADOWED, SECONDARY_READY, PRIMARY_READY)
COUNTED_STATUSES = (Roster.Status.PUBLISHED, Roster.Status.SUPERSEDED, Roster.Status.IMPORTED)


@dataclass(frozen=True)
class Thresholds:
    shadow: int = 2  # shadow shifts to become "shadowed"
    secondary: int = 2  # secondary shifts to become "secondary-ready"
    primary_ready: int = 4  # secondary shifts (in all) to become "primary-ready"
    first_primaries_paired: int = 2  # a person's first primaries get an experienced secondary

    @classmethod
    def of(cls, rotation: Rotation) -> "Thresholds":
        return cls(
            shadow=rotation.level_shadow_shifts,
            secondary=rotation.level_secondary_shifts,
            primary_ready=rotation.level_primary_ready_shifts,
            first_primaries_paired=rotation.level_first_primaries_paired,
        )


@dataclass(frozen=True)
class Experience:
    primary: int = 0
    secondary: int = 0
    shadow: int = 0
    incidents: int = 0
    level: str = NEWCOMER
    experienced: bool = False  # primary-ready
    next_step: str = ""  # in words: "2 more secondary shifts before primary"

    @property
    def level_label(self) -> str:
        return self.level.replace("-", " ").capitalize()

    @property
    def served(self) -> str:
        """'3 primary, 4 secondary, 2 shadow shifts; 5 incidents'."""
        text = f"{self.primary} primary, {self.secondary} secondary, {self.shadow} shadow"
        incidents = f"{self.incidents} incident" + ("" if self.incidents == 1 else "s")
        return f"{text} shifts; {incidents}"


def _more(count: int, what: str) -> str:
    return f"{count} more {what} shift" + ("" if count == 1 else "s")


def level_of(
    *, primary: int, secondary: int, shadow: int, thresholds: Thresholds, incidents: int = 0
) -> Experience:
    """The level and the next step for these counts (pure)."""
    t = thresholds
    if secondary >= t.primary_ready or (primary > 0 and primary >= t.first_primaries_paired):
        level = PRIMARY_READY
    elif secondary >= t.secondary or primary > 0:
        level = SECONDARY_READY
    elif shadow >= t.shadow or secondary > 0:
        level = SHADOWED
    else:
        level = NEWCOMER
    if level == NEWCOMER:
        step = f"{_more(t.shadow - shadow, 'shadow')} before secondary"
    elif level == PRIMARY_READY:
        paired_left = t.first_primaries_paired - primary
        step = (
            f"Ready for primary; the first {paired_left} primary shift"
            + ("" if paired_left == 1 else "s")
            + " paired with an experienced secondary"
            if paired_left > 0
            else "Ready for primary; can pair with newcomers"
        )
    else:
        step = f"{_more(max(1, t.primary_ready - secondary), 'secondary')} before primary"
    return Experience(
        primary=primary,
        secondary=secondary,
        shadow=shadow,
        incidents=incidents,
        level=level,
        experienced=level == PRIMARY_READY,
        next_step=step,
    )


def _served_slots(
    *, rotation_id: int, as_of: datetime, people: list[int] | None
) -> list[tuple[int, str, datetime]]:
    """(person, role, end) of every slot served in the rotation before `as_of`, one per slot."""
    rows = Shift.objects.filter(
        roster__rotation_id=rotation_id,
        roster__status__in=COUNTED_STATUSES,
        assignee__isnull=False,
        end__lte=as_of,
    )
    if people is not None:
        rows = rows.filter(assignee_id__in=people)
    winners: dict[tuple[datetime, str], tuple] = {}
    for start, end, role, assignee_id, status, roster_id in rows.values_list(
        "start", "end", "role", "assignee_id", "roster__status", "roster_id"
    ).order_by():
        rank = (status == Roster.Status.PUBLISHED, roster_id)
        key = (start, role)
        if key not in winners or rank > winners[key][0]:
            winners[key] = (rank, assignee_id, end)
    return [(assignee, role, end) for (_s, role), (_r, assignee, end) in winners.items()]


def _incidents(
    *, rotation_id: int, as_of: datetime, people: list[int] | None
) -> dict[int, list[datetime]]:
    rows = Incident.objects.filter(
        rotation_id=rotation_id, attributed_to__isnull=False, started_at__lt=as_of
    )
    if people is not None:
        rows = rows.filter(attributed_to_id__in=people)
    out: dict[int, list[datetime]] = defaultdict(list)
    for uid, started in rows.values_list("attributed_to_id", "started_at").order_by("started_at"):
        out[uid].append(started)
    return out


@dataclass
class History:
    """Everything served in a rotation up to a moment, to ask 'as of' any earlier time."""

    thresholds: Thresholds
    ends: dict[tuple[int, str], list[datetime]]  # (person, role) -> sorted end times
    incidents: dict[int, list[datetime]]  # person -> sorted start times

    def experience(self, person_id: int, at: datetime) -> Experience:
        def served(role: str) -> int:
            return bisect_right(self.ends.get((person_id, role), []), at)

        return level_of(
            primary=served(SlotRole.PRIMARY),
            secondary=served(SlotRole.SECONDARY),
            shadow=served(SlotRole.SHADOW),
            incidents=bisect_right(self.incidents.get(person_id, []), at),
            thresholds=self.thresholds,
        )


def rotation_history(
    *, rotation: Rotation, as_of: datetime, people: Iterable[int] | None = None
) -> History:
    """The rotation's served slots and incidents up to `as_of` (two queries)."""
    ids = None if people is None else [getattr(p, "pk", p) for p in people]
    ends: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for person, role, end in _served_slots(rotation_id=rotation.pk, as_of=as_of, people=ids):
        ends[(person, role)].append(end)
    for values in ends.values():
        values.sort()
    return History(
        thresholds=Thresholds.of(rotation),
        ends=dict(ends),
        incidents=dict(_incidents(rotation_id=rotation.pk, as_of=as_of, people=ids)),
    )


def experience_by_person(
    *, rotation: Rotation, as_of: datetime, people: Iterable | None = None
) -> dict[int, Experience]:
    """Experience of each person (user id -> Experience) in the rotation as of `as_of`.

    `people` (users or ids) defaults to the rotation's members. Two or three queries.
    """
    if people is None:
        ids = list(rotation.rotation_members.values_list("user_id", flat=True))
    else:
        ids = [getattr(p, "pk", p) for p in people]
    history = rotation_history(rotation=rotation, as_of=as_of, people=ids)
    return {uid: history.experience(uid, as_of) for uid in ids}


def experienced_people(*, rotation: Rotation, as_of: datetime) -> list[int]:
    """User ids of the rotation's primary-ready members as of `as_of`, in id order."""
    found = experience_by_person(rotation=rotation, as_of=as_of)
    return sorted(uid for uid, e in found.items() if e.experienced)
