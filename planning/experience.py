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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from availability.selectors import qualified_roles
from incidents.models import Incident
from onehand.dates import next_month
from onehand.ids import among
from rotation.models import Roster, Rotation, RotationMember, Shift, SlotRole

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
    thresholds: Thresholds = field(default_factory=Thresholds, compare=False, repr=False)

    @property
    def level_label(self) -> str:
        return self.level.replace("-", " ").capitalize()

    @property
    def path(self) -> list[dict]:
        """The levels to primary, each with what it takes, done and where this person is."""
        t = self.thresholds
        labels = (
            f"Newcomer: shadow {t.shadow} shift{'s' if t.shadow != 1 else ''}",
            f"Shadowed: serve {t.secondary} secondary shift{'s' if t.secondary != 1 else ''}",
            f"Secondary-ready: serve {t.primary_ready} secondary shifts in all",
            f"Primary-ready: your first {t.first_primaries_paired} primary shifts are paired "
            "with an experienced secondary",
        )
        here = LEVELS.index(self.level)
        return [
            {"label": label, "done": i < here, "current": i == here}
            for i, label in enumerate(labels)
        ]

    @property
    def served(self) -> str:
        """'3 primary, 4 secondary, 2 shadow shifts; 5 incidents'."""
        text = f"{self.primary} primary, {self.secondary} secondary, {self.shadow} shadow"
        incidents = f"{self.incidents} incident" + ("" if self.incidents == 1 else "s")
        return f"{text} shifts; {incidents}"


def _more(count: int, what: str) -> str:
    return f"{count} more {what} shift" + ("" if count == 1 else "s")


def primary_ready(*, primary: int, secondary: int, thresholds: Thresholds) -> bool:
    """Whether these counts make someone experienced (ready for primary on their own)."""
    t = thresholds
    return secondary >= t.primary_ready or (primary > 0 and primary >= t.first_primaries_paired)


def level_of(
    *, primary: int, secondary: int, shadow: int, thresholds: Thresholds, incidents: int = 0
) -> Experience:
    """The level and the next step for these counts (pure)."""
    t = thresholds
    if primary_ready(primary=primary, secondary=secondary, thresholds=t):
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
        thresholds=t,
    )


def _served_slots(
    *, rotation_ids: list[int], as_of: datetime, people: list[int] | None
) -> list[tuple[int, int, str, datetime]]:
    """(rotation, person, role, end) of every slot served before `as_of`, one per slot."""
    rows = Shift.objects.filter(
        roster__rotation_id__in=rotation_ids,
        roster__status__in=COUNTED_STATUSES,
        assignee__isnull=False,
        end__lte=as_of,
    )
    if people is not None:
        rows = rows.filter(assignee_id__in=among(people))
    winners: dict[tuple[int, datetime, str], tuple] = {}
    for rotation_id, start, end, role, assignee_id, status, roster_id in rows.values_list(
        "roster__rotation_id", "start", "end", "role", "assignee_id", "roster__status", "roster_id"
    ).order_by():
        rank = (status == Roster.Status.PUBLISHED, roster_id)
        key = (rotation_id, start, role)
        if key not in winners or rank > winners[key][0]:
            winners[key] = (rank, assignee_id, end)
    return [
        (rotation_id, assignee, role, end)
        for (rotation_id, _s, role), (_r, assignee, end) in winners.items()
    ]


def _incidents(
    *, rotation_ids: list[int], as_of: datetime, people: list[int] | None
) -> dict[tuple[int, int], list[datetime]]:
    """(rotation, person) -> start times of the incidents attributed to them, in order."""
    rows = Incident.objects.filter(
        rotation_id__in=rotation_ids, attributed_to__isnull=False, started_at__lt=as_of
    )
    if people is not None:
        rows = rows.filter(attributed_to_id__in=among(people))
    out: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for rotation_id, uid, started in rows.values_list(
        "rotation_id", "attributed_to_id", "started_at"
    ).order_by("started_at"):
        out[(rotation_id, uid)].append(started)
    return out


@dataclass
class History:
    """Everything served in a rotation up to a moment, to ask 'as of' any earlier time."""

    thresholds: Thresholds
    ends: dict[tuple[int, str], list[datetime]]  # (person, role) -> sorted end times
    incidents: dict[int, list[datetime]]  # person -> sorted start times

    def experienced(self, person_id: int, at: datetime) -> bool:
        """`experience(person_id, at).experienced` without its words (the bus factor asks
        this of everyone, month by month)."""
        return primary_ready(
            primary=bisect_right(self.ends.get((person_id, SlotRole.PRIMARY), []), at),
            secondary=bisect_right(self.ends.get((person_id, SlotRole.SECONDARY), []), at),
            thresholds=self.thresholds,
        )

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
    return _histories(rotations=[rotation], as_of=as_of, people=ids)[rotation.pk]


def _histories(
    *, rotations: list[Rotation], as_of: datetime, people: list[int] | None
) -> dict[int, History]:
    rotation_ids = [r.pk for r in rotations]
    ends: dict[int, dict[tuple[int, str], list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for rotation_id, person, role, end in _served_slots(
        rotation_ids=rotation_ids, as_of=as_of, people=people
    ):
        ends[rotation_id][(person, role)].append(end)
    incidents: dict[int, dict[int, list[datetime]]] = defaultdict(dict)
    for (rotation_id, person), starts in _incidents(
        rotation_ids=rotation_ids, as_of=as_of, people=people
    ).items():
        incidents[rotation_id][person] = starts
    out = {}
    for rotation in rotations:
        served = dict(ends.get(rotation.pk, {}))
        for values in served.values():
            values.sort()
        out[rotation.pk] = History(
            thresholds=Thresholds.of(rotation),
            ends=served,
            incidents=incidents.get(rotation.pk, {}),
        )
    return out


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


def experience_across(
    *, user_id: int, rotations: Iterable[Rotation], as_of: datetime
) -> dict[int, Experience]:
    """One person's experience in each of these rotations (rotation id -> Experience).

    Two queries whatever the number of rotations (the home page's readiness panel).
    """
    rotations = list(rotations)
    if not rotations:
        return {}
    histories = _histories(rotations=rotations, as_of=as_of, people=[user_id])
    return {pk: history.experience(user_id, as_of) for pk, history in histories.items()}


@dataclass(frozen=True)
class BusFactor:
    """How many people could be primary on their own: qualified for primary and experienced."""

    count: int
    names: tuple[str, ...]
    warn_below: int  # the rotation's setting; 0 = never warn

    @property
    def low(self) -> bool:
        return self.count < self.warn_below

    @property
    def words(self) -> str:
        if self.count == 0:
            return "Nobody is ready for primary on their own"
        who = ", ".join(self.names)
        people = "person is" if self.count == 1 else "people are"
        return f"{self.count} {people} ready for primary ({who})"


def bus_factor_of(*, rotation: Rotation, ready: Iterable[tuple[str, bool, bool]]) -> BusFactor:
    """From (name, experienced, qualified for primary) per person, e.g. the plan page's rows."""
    names = sorted(name for name, experienced, qualified in ready if experienced and qualified)
    return BusFactor(count=len(names), names=tuple(names), warn_below=rotation.bus_factor_warning)


def _month_starts(start: date, end: date) -> list[date]:
    months, month = [], start.replace(day=1)
    while month < end:
        months.append(month)
        month = next_month(month)
    return months


def bus_factor_by_month(
    *, rotation: Rotation, start: datetime, end: datetime
) -> list[tuple[date, int]]:
    """(first day of month, people ready for primary at the month's end) for [start, end).

    A month still running counts up to `end`. Members count from the day they joined. Two
    queries, plus the qualification check (at most three queries) per month.
    """
    members = list(RotationMember.objects.filter(rotation=rotation).values_list("user_id", "since"))
    ids = [uid for uid, _ in members]
    history = rotation_history(rotation=rotation, as_of=end, people=ids)
    out = []
    for month in _month_starts(start.date(), end.date()):
        at = min(end, datetime.combine(next_month(month), time(0), tzinfo=UTC))
        present = [uid for uid, since in members if since < at.date()]
        roles = qualified_roles(rotation=rotation, user_ids=present, at=at) if present else {}
        out.append(
            (
                month,
                sum(
                    1
                    for uid in present
                    if SlotRole.PRIMARY in roles.get(uid, ()) and history.experienced(uid, at)
                ),
            )
        )
    return out


def bus_factor_words(points: list[tuple[date, int]], *, warn_below: int) -> str:
    """The chart's caption: 'From 1 in June 2026 to 3 in November 2026 (warning below 2).'"""
    if not points:
        return "No months in this range."
    (first, a), (last, b) = points[0], points[-1]
    trend = "rising" if b > a else "falling" if b < a else "steady"
    low = [f"{m:%B %Y}" for m, n in points if n < warn_below]
    text = (
        f"People ready for primary: {a} in {first:%B %Y}, {b} in {last:%B %Y} ({trend})"
        if len(points) > 1
        else f"People ready for primary in {first:%B %Y}: {a}"
    )
    if warn_below:
        text += f"; the rotation warns below {warn_below}"
        text += f", as in {', '.join(low)}." if low else ", never reached in this range."
    else:
        text += "."
    return text
