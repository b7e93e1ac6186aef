"""Reads for the availability app.

The recommender calls the first group of functions for a whole rotation at once, so each
runs a constant number of queries whatever the number of people: rows are fetched for
all ids in one go and grouped in Python. Querysets further down are scoped to what a
viewer may see: their own rows, plus their managed teams' members'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Func, Q, QuerySet
from django.utils import timezone

from onehand.dates import month_span, next_month  # noqa: F401 - used by views as selectors.*
from onehand.ids import among
from rotation.models import (
    Membership,
    Person,
    Roster,
    Rotation,
    RotationMember,
    Shift,
    SlotRole,
    Team,
)
from rotation.selectors import managed_teams, team_people, teams_for

from . import intervals as iv
from .models import (
    IMPORTED_REASONS,
    AvailabilityEntry,
    AvailabilityLock,
    CalendarSource,
    DutyRequirement,
    ProjectAllocation,
    Qualification,
    TeamAvailabilitySettings,
)

User = get_user_model()

EXPIRING_SOON_DAYS = 30
# Shadow shifts that happened count for good once their roster was published, even if a
# later version of the roster superseded it.
COUNTED_ROSTER_STATUSES = (Roster.Status.PUBLISHED, Roster.Status.SUPERSEDED)


# --- Availability for the recommender -----------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(field: str) -> Func:
    return Func(
        F(field),
        template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint",
        output_field=BigIntegerField(),
    )


def _utc_spans(entries: QuerySet[AvailabilityEntry]) -> Iterator[tuple[int, datetime, datetime]]:
    """(user id, start, end) of each entry, in UTC. On PostgreSQL the instants travel as whole
    microseconds since the epoch: Django loads each timestamptz through a Python loader (about
    3 us an instant, 1,600 of them for a team of 800 with one absence each), where an integer
    costs a tenth of that; the datetimes are the same to the microsecond."""
    if connection.vendor != "postgresql":
        for user_id, start, end in entries.values_list("user_id", "start", "end"):
            yield user_id, start.astimezone(UTC), end.astimezone(UTC)
        return
    rows = entries.annotate(start_us=_microseconds("start"), end_us=_microseconds("end"))
    for user_id, start_us, end_us in rows.values_list("user_id", "start_us", "end_us"):
        yield (
            user_id,
            _EPOCH + timedelta(microseconds=start_us),
            _EPOCH + timedelta(microseconds=end_us),
        )


def _entries_by_person(
    kind: str, user_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    ids = list(dict.fromkeys(user_ids))
    raw: dict[int, list[tuple[datetime, datetime]]] = {uid: [] for uid in ids}
    rows = AvailabilityEntry.objects.filter(
        user_id__in=among(ids), kind=kind, start__lt=end, end__gt=start
    )
    for user_id, entry_start, entry_end in _utc_spans(rows):
        raw[user_id].append((entry_start, entry_end))
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return {uid: iv.clip(iv.merge(spans), start, end) for uid, spans in raw.items()}


def unavailability_by_person(
    *, user_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each person's unavailable spans in [start, end): merged, clipped, UTC; one query.

    Entered and imported (calendar) spans count alike; every id gets a key.
    """
    return _entries_by_person(AvailabilityEntry.Kind.UNAVAILABLE, user_ids, start, end)


def leave_by_person(
    *, user_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each person's time away in [start, end): merged, clipped, UTC; one query.

    Away is what they marked unavailable by hand, and from an imported calendar what is out
    of office or all day; an imported busy time (a meeting) is not away: the person can still
    be phoned. This is what decides who an escalation chain may name.
    """
    ids = list(dict.fromkeys(user_ids))
    raw: dict[int, list[tuple[datetime, datetime]]] = {uid: [] for uid in ids}
    away = (
        Q(source=AvailabilityEntry.Source.MANUAL)
        | Q(all_day=True)
        | Q(reason=IMPORTED_REASONS["out_of_office"])
    )
    rows = AvailabilityEntry.objects.filter(
        away, user_id__in=ids, kind=AvailabilityEntry.Kind.UNAVAILABLE, start__lt=end, end__gt=start
    ).values_list("user_id", "start", "end")
    for user_id, entry_start, entry_end in rows:
        raw[user_id].append((entry_start.astimezone(UTC), entry_end.astimezone(UTC)))
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return {uid: iv.clip(iv.merge(spans), start, end) for uid, spans in raw.items()}


def preferences_by_person(
    *, user_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each person's preferred spans in [start, end): merged, clipped, UTC; one query."""
    return _entries_by_person(AvailabilityEntry.Kind.PREFERRED, user_ids, start, end)


# --- Requirements and qualifications ------------------------------------------------------


def qualification_counts(*, qualification: Qualification, on: date) -> bool:
    """A verified qualification counts from the day it was obtained until it expires."""
    return (
        qualification.status == Qualification.Status.VERIFIED
        and qualification.obtained_on <= on
        and (qualification.expires_on is None or qualification.expires_on > on)
    )


def _shadow_history(
    rotation_ids: Iterable[int], at: datetime
) -> dict[int, dict[int, list[datetime]]]:
    """rotation id -> user id -> end times of the shadow shifts they did before `at`.

    Only one slot per shift start counts: when a superseded roster and its replacement
    both hold the same shadow slot, the published one (else the newest) decides who
    actually shadowed.
    """
    rows = (
        Shift.objects.filter(
            roster__rotation_id__in=list(rotation_ids),
            role=SlotRole.SHADOW,
            roster__status__in=COUNTED_ROSTER_STATUSES,
            end__lte=at,
        )
        .values_list(
            "roster__rotation_id", "start", "end", "assignee_id", "roster__status", "roster_id"
        )
        .order_by()
    )
    winners: dict[tuple[int, datetime], tuple] = {}
    for rotation_id, start, end, assignee_id, status, roster_id in rows:
        rank = (status == Roster.Status.PUBLISHED, roster_id)
        key = (rotation_id, start)
        if key not in winners or rank > winners[key][0]:
            winners[key] = (rank, end, assignee_id)
    history: dict[int, dict[int, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for (rotation_id, _start), (_rank, end, assignee_id) in winners.items():
        if assignee_id is not None:
            history[rotation_id][assignee_id].append(end)
    return history


def shadow_shifts_done(*, requirement: DutyRequirement, ends: list[datetime], at: datetime) -> int:
    if requirement.valid_days:
        since = at - timedelta(days=requirement.valid_days)
        return sum(1 for end in ends if end > since)
    return len(ends)


def _verified_by(
    requirement_ids: list[int], user_ids: list[int]
) -> dict[tuple[int, int], list[Qualification]]:
    found: dict[tuple[int, int], list[Qualification]] = defaultdict(list)
    rows = Qualification.objects.filter(
        requirement_id__in=requirement_ids,
        user_id__in=among(user_ids),
        status=Qualification.Status.VERIFIED,
    )
    for qualification in rows:
        found[(qualification.requirement_id, qualification.user_id)].append(qualification)
    return found


def qualified_roles(
    *, rotation: Rotation, user_ids: Iterable[int], at: datetime
) -> dict[int, frozenset[str]]:
    """Slot roles (primary, secondary; never shadow) each person may hold at `at`.

    A role is open when every requirement gating it is met at `at`: verified and
    unexpired, or for shadow shifts enough past shadow shifts. A role no requirement
    gates is open to everyone asked about. At most three queries.
    """
    ids = list(dict.fromkeys(user_ids))
    roles = [r for r in rotation.slot_roles if r != SlotRole.SHADOW]
    requirements = list(DutyRequirement.objects.filter(rotation_id=rotation.pk))
    gating = {role: [r for r in requirements if r.gates(role)] for role in roles}
    needed = [r for r in requirements if any(r in gating[role] for role in roles)]
    if not needed:  # no role is gated: every role is open to everyone asked about
        return dict.fromkeys(ids, frozenset(roles))
    verified = _verified_by([r.pk for r in needed if not r.is_automatic], ids) if needed else {}
    history = (
        _shadow_history([rotation.pk], at).get(rotation.pk, {})
        if any(r.is_automatic for r in needed)
        else {}
    )
    on = at.date()

    def met(requirement: DutyRequirement, user_id: int) -> bool:
        if requirement.is_automatic:
            done = shadow_shifts_done(requirement=requirement, ends=history.get(user_id, []), at=at)
            return done >= requirement.shadow_shifts_needed
        return any(
            qualification_counts(qualification=q, on=on)
            for q in verified.get((requirement.pk, user_id), [])
        )

    return {
        uid: frozenset(role for role in roles if all(met(r, uid) for r in gating[role]))
        for uid in ids
    }


def shadow_needs(
    *, rotation: Rotation, user_ids: Iterable[int], at: datetime | None = None
) -> dict[int, int]:
    """How many more shadow shifts each person needs before every shadow requirement is met."""
    ids = list(dict.fromkeys(user_ids))
    at = at or timezone.now()
    requirements = list(
        DutyRequirement.objects.filter(
            rotation_id=rotation.pk, kind=DutyRequirement.Kind.SHADOW_SHIFTS
        )
    )
    if not requirements:
        return dict.fromkeys(ids, 0)
    history = _shadow_history([rotation.pk], at).get(rotation.pk, {})
    return {
        uid: max(
            max(
                0,
                r.shadow_shifts_needed
                - shadow_shifts_done(requirement=r, ends=history.get(uid, []), at=at),
            )
            for r in requirements
        )
        for uid in ids
    }


@dataclass(frozen=True)
class RequirementStatus:
    requirement: DutyRequirement
    state: str  # "met", "expiring", "pending" (claimed, not yet verified) or "missing"
    qualification: Qualification | None = None  # the one that counts now, if any
    pending: Qualification | None = None  # an open claim (a first claim or a renewal)
    rejected: Qualification | None = None  # the last decision, when it was a rejection
    shadow_done: int = 0

    @property
    def met(self) -> bool:
        return self.state in ("met", "expiring")

    @property
    def expires_on(self) -> date | None:
        return self.qualification.expires_on if self.qualification else None

    @property
    def can_claim(self) -> bool:
        return not self.requirement.is_automatic and self.pending is None and self.state != "met"

    @property
    def label(self) -> str:
        return {
            "met": "Met",
            "expiring": "Expiring soon",
            "pending": "Claimed, waiting for a manager",
            "missing": "Missing",
        }[self.state]


def requirement_status(
    *,
    requirement: DutyRequirement,
    qualifications: list[Qualification],
    shadow_ends: list[datetime],
    at: datetime,
) -> RequirementStatus:
    """One person's standing on one requirement (`qualifications`: theirs for it, any status)."""
    if requirement.is_automatic:
        done = shadow_shifts_done(requirement=requirement, ends=shadow_ends, at=at)
        state = "met" if done >= requirement.shadow_shifts_needed else "missing"
        return RequirementStatus(requirement, state, shadow_done=done)
    on = at.date()
    counting = [q for q in qualifications if qualification_counts(qualification=q, on=on)]
    # The longest-lasting verified qualification is the one that decides expiry.
    best = max(counting, key=lambda q: q.expires_on or date.max, default=None)
    pending = next((q for q in qualifications if q.status == Qualification.Status.CLAIMED), None)
    decided = sorted(
        (q for q in qualifications if q.reviewed_at is not None),
        key=lambda q: (q.reviewed_at, q.pk),
    )
    rejected = (
        decided[-1] if decided and decided[-1].status == Qualification.Status.REJECTED else None
    )
    if best is not None:
        soon = best.expires_on is not None and best.expires_on <= on + timedelta(
            days=EXPIRING_SOON_DAYS
        )
        state = "expiring" if soon else "met"
    else:
        state = "pending" if pending else "missing"
    return RequirementStatus(requirement, state, best, pending, rejected)


@dataclass(frozen=True)
class RotationReadiness:
    rotation: Rotation
    requirements: list[RequirementStatus]
    eligible_roles: tuple[str, ...]  # slot roles open now (shadow is always open)
    roles: tuple[str, ...]  # the rotation's slot roles other than shadow

    @property
    def missing(self) -> list[RequirementStatus]:
        return [s for s in self.requirements if not s.met]

    @property
    def summary(self) -> str:
        if not self.roles:
            return "This rotation has no on-call roles."
        if set(self.eligible_roles) == set(self.roles):
            return f"You are eligible now for {_join(self.eligible_roles)}."
        if self.eligible_roles:
            blocked = [r for r in self.roles if r not in self.eligible_roles]
            return (
                f"You are eligible now for {_join(self.eligible_roles)}, not yet for "
                f"{_join(blocked)}."
            )
        return f"You are not yet eligible for {_join(self.roles)}."


def _join(roles) -> str:
    roles = list(roles)
    return " and ".join([", ".join(roles[:-1]), roles[-1]]) if len(roles) > 1 else "".join(roles)


def _readiness(
    rotation: Rotation,
    requirements: list[DutyRequirement],
    qualifications: list[Qualification],
    shadow_ends: list[datetime],
    at: datetime,
) -> RotationReadiness:
    by_requirement: dict[int, list[Qualification]] = defaultdict(list)
    for qualification in qualifications:
        by_requirement[qualification.requirement_id].append(qualification)
    statuses = [
        requirement_status(
            requirement=r,
            qualifications=by_requirement.get(r.pk, []),
            shadow_ends=shadow_ends,
            at=at,
        )
        for r in requirements
    ]
    roles = tuple(r for r in rotation.slot_roles if r != SlotRole.SHADOW)
    eligible = tuple(
        role for role in roles if all(s.met for s in statuses if s.requirement.gates(role))
    )
    return RotationReadiness(rotation, statuses, eligible, roles)


def readiness_for(*, user: AbstractBaseUser, at: datetime | None = None) -> list[RotationReadiness]:
    """Every rotation the user is a member of, with their standing on each requirement.

    Four queries however many rotations and requirements there are.
    """
    at = at or timezone.now()
    rotations = [
        m.rotation
        for m in RotationMember.objects.filter(user=user)
        .select_related("rotation__team")
        .order_by("rotation__team__name", "rotation__name")
    ]
    if not rotations:
        return []
    requirements: dict[int, list[DutyRequirement]] = defaultdict(list)
    for requirement in DutyRequirement.objects.filter(rotation__in=rotations).order_by("name"):
        requirements[requirement.rotation_id].append(requirement)
    qualifications: dict[int, list[Qualification]] = defaultdict(list)
    for qualification in Qualification.objects.filter(
        user=user, requirement__rotation__in=rotations
    ).select_related("requirement"):
        qualifications[qualification.requirement.rotation_id].append(qualification)
    automatic = [r for rs in requirements.values() for r in rs if r.is_automatic]
    history = _shadow_history({r.rotation_id for r in automatic}, at) if automatic else {}
    return [
        _readiness(
            rotation,
            requirements.get(rotation.pk, []),
            qualifications.get(rotation.pk, []),
            history.get(rotation.pk, {}).get(user.pk, []),
            at,
        )
        for rotation in rotations
    ]


@dataclass
class MatrixRow:
    user: object
    cells: list[RequirementStatus]
    eligible_roles: tuple[str, ...]


@dataclass
class RotationMatrix:
    rotation: Rotation
    requirements: list[DutyRequirement]
    rows: list[MatrixRow] = field(default_factory=list)

    @property
    def pending(self) -> list[Qualification]:
        return [c.pending for row in self.rows for c in row.cells if c.pending]


def team_matrix(*, team: Team, at: datetime | None = None) -> list[RotationMatrix]:
    """People x requirements for every rotation of a team (what a manager reviews).

    Five queries whatever the size of the team.
    """
    at = at or timezone.now()
    rotations = list(Rotation.objects.filter(team=team).select_related("team").order_by("name"))
    if not rotations:
        return []
    members: dict[int, list] = defaultdict(list)
    for member in (
        RotationMember.objects.filter(rotation__in=rotations)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    ):
        members[member.rotation_id].append(member.user)
    requirements: dict[int, list[DutyRequirement]] = defaultdict(list)
    for requirement in DutyRequirement.objects.filter(rotation__in=rotations).order_by("name"):
        requirements[requirement.rotation_id].append(requirement)
    qualifications: dict[tuple[int, int], list[Qualification]] = defaultdict(list)
    for qualification in Qualification.objects.filter(
        requirement__rotation__in=rotations
    ).select_related("requirement", "user"):
        key = (qualification.requirement.rotation_id, qualification.user_id)
        qualifications[key].append(qualification)
    automatic = [r for rs in requirements.values() for r in rs if r.is_automatic]
    history = _shadow_history({r.rotation_id for r in automatic}, at) if automatic else {}
    matrices = []
    for rotation in rotations:
        matrix = RotationMatrix(rotation, requirements.get(rotation.pk, []))
        for user in members.get(rotation.pk, []):
            readiness = _readiness(
                rotation,
                matrix.requirements,
                qualifications.get((rotation.pk, user.pk), []),
                history.get(rotation.pk, {}).get(user.pk, []),
                at,
            )
            matrix.rows.append(MatrixRow(user, readiness.requirements, readiness.eligible_roles))
        matrices.append(matrix)
    return matrices


# --- Utilisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Utilisation:
    """Shares (0..1) of a person's working time in a period that are already committed."""

    allocation: float
    time_off: float
    on_call: float
    total: float  # the sum, capped at 1
    projects: tuple[str, ...] = ()  # the named project allocations behind `allocation`


OTHER_TEAMS_PROJECT = "another team's project"


@dataclass(frozen=True)
class _Hours:
    time_zone: str = "UTC"
    work_start: time = time(9)
    work_end: time = time(17)
    work_days: str = "0,1,2,3,4"


_DEFAULT_HOURS = _Hours()  # someone without a profile row yet: office hours in UTC


def utilisation_for(
    *,
    user_ids: Iterable[int],
    start: datetime,
    end: datetime,
    exclude_rotation_id: int | None = None,
    unavailable: dict[int, list[tuple[datetime, datetime]]] | None = None,
    named_for_teams: Collection[int] | None = None,
) -> dict[int, Utilisation]:
    """Project allocation, time off and on-call already held, as shares of working time.

    Every team's allocations count (a person's time is theirs across teams), but with
    `named_for_teams` only those teams' projects are named: another team's project is shown
    to the reader as OTHER_TEAMS_PROJECT, never by its name.

    Working time is each person's own working hours (Person.work_days, work_start..
    work_end in their zone). Time off is unavailable time inside those hours; on-call is
    published shifts of other rotations inside them. Four queries for any number of people;
    three when the caller already holds `unavailability_by_person` of the same span.
    """
    ids = list(dict.fromkeys(user_ids))
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    # Plain rows, not models, and the ids as one parameter (`among`): this runs for a whole
    # team on the plan page, so its cost per person is what makes the page grow with the team.
    people = {
        row[0]: _Hours(*row[1:])
        for row in Person.objects.filter(user_id__in=among(ids)).values_list(
            "user_id", "time_zone", "work_start", "work_end", "work_days"
        )
    }
    allocations: dict[int, list[ProjectAllocation]] = defaultdict(list)
    # Dates are local to each person, so fetch a day either side and clip precisely below.
    for allocation in ProjectAllocation.objects.filter(
        user_id__in=among(ids),
        period_start__lte=(end + timedelta(days=1)).date(),
        period_end__gte=(start - timedelta(days=1)).date(),
    ):
        allocations[allocation.user_id].append(allocation)
    off = (
        unavailable
        if unavailable is not None
        else unavailability_by_person(user_ids=ids, start=start, end=end)
    )
    shifts: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    held = Shift.objects.filter(
        assignee_id__in=among(ids),
        roster__status=Roster.Status.PUBLISHED,
        start__lt=end,
        end__gt=start,
    )
    if exclude_rotation_id is not None:
        held = held.exclude(roster__rotation_id=exclude_rotation_id)
    for assignee_id, shift_start, shift_end in held.values_list("assignee_id", "start", "end"):
        shifts[assignee_id].append((shift_start, shift_end))

    # A team shares a few working patterns: each one's hours are worked out once.
    patterns: dict[_Hours, tuple[tuple, float]] = {}
    result = {}
    for uid in ids:
        person = people.get(uid, _DEFAULT_HOURS)
        if person not in patterns:
            work = iv.working_intervals(
                start,
                end,
                time_zone=person.time_zone,
                work_start=person.work_start,
                work_end=person.work_end,
                work_days=iv.parse_work_days(person.work_days),
            )
            patterns[person] = (tuple(work), iv.seconds(work))
        work, working = patterns[person]
        if working <= 0:
            result[uid] = Utilisation(0.0, 0.0, 0.0, 0.0)
            continue
        tz = ZoneInfo(person.time_zone)
        allocated = 0.0
        projects: list[str] = []
        for allocation in allocations.get(uid, []):
            window = iv.local_days(
                allocation.period_start, allocation.period_end - timedelta(days=1), tz
            )
            share = allocation.percent / 100 * iv.seconds(iv.intersect_merged(work, [window]))
            allocated += share
            name = allocation.project
            if named_for_teams is not None and allocation.team_id not in named_for_teams:
                name = OTHER_TEAMS_PROJECT
            if share > 0 and name and name not in projects:
                projects.append(name)
        allocation_share = min(1.0, allocated / working)
        # Most people have neither time off nor other shifts: skip the interval arithmetic.
        spans = off.get(uid)
        time_off = iv.seconds(iv.intersect_merged(work, spans)) / working if spans else 0.0
        held_spans = shifts.get(uid)
        on_call = iv.seconds(iv.intersect_merged(work, held_spans)) / working if held_spans else 0.0
        result[uid] = Utilisation(
            allocation=round(allocation_share, 4),
            time_off=round(time_off, 4),
            on_call=round(on_call, 4),
            total=round(min(1.0, allocation_share + time_off + on_call), 4),
            projects=tuple(projects),
        )
    return result


def commitment_versions(
    *, user_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, str] | None:
    """For each person, a version of what `unavailability_by_person` and `utilisation_for`
    read from this app for [start, end): the ids and row versions (PostgreSQL's `xmin`, new on
    every UPDATE, even one that writes the same values) of their time away and project
    allocations in the span, hashed. One query, worked out in PostgreSQL; a person with none
    has no key. Any committed insert, update or delete of such a row gives its person a new
    version (a row moved out of the span leaves the set). None on a database without `xmin`
    (SQLite): nothing can be kept per person there.

    Work hours and shifts in other rotations, which utilisation reads too, are not in it:
    the caller keeps per-person figures under the history stamp, which those writes renew."""
    if connection.vendor != "postgresql":
        return None
    ids = list(dict.fromkeys(user_ids))
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    entries = AvailabilityEntry._meta.db_table
    allocations = ProjectAllocation._meta.db_table
    # Allocation dates are local days: the same day either side as `utilisation_for` reads.
    sql = f"""
        SELECT user_id, md5(string_agg(tag, ',' ORDER BY tag)) FROM (
            SELECT user_id, 'e' || id || ':' || xmin::text AS tag FROM "{entries}"
            WHERE user_id = ANY(%s) AND kind = %s AND start < %s AND "end" > %s
            UNION ALL
            SELECT user_id, 'a' || id || ':' || xmin::text FROM "{allocations}"
            WHERE user_id = ANY(%s) AND period_start <= %s AND period_end >= %s
        ) AS rows GROUP BY user_id
    """  # noqa: S608 - table names from the models, values as parameters
    params = (
        ids,
        AvailabilityEntry.Kind.UNAVAILABLE,
        end,
        start,
        ids,
        (end + timedelta(days=1)).date(),
        (start - timedelta(days=1)).date(),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


# --- Months, locks and the availability grid ------------------------------------------------


@dataclass(frozen=True)
class LockSpan:
    lock: AvailabilityLock
    start: datetime  # UTC, the lock's first local day in the person's zone
    end: datetime
    # The person holds a shift of a draft or published roster of the lock's team in the span
    # (only then does a change of plan need a swap).
    holds_shift: bool = False

    @property
    def period_last(self) -> date:
        return self.lock.period_end - timedelta(days=1)


def locks_affecting(
    *, user: AbstractBaseUser, start: datetime, end: datetime, time_zone: str
) -> list[LockSpan]:
    """Locks of the user's teams overlapping [start, end), their dates read in `time_zone`."""
    tz = ZoneInfo(time_zone)
    local_start = start.astimezone(tz).date()
    local_end = end.astimezone(tz).date()
    spans = []
    for lock in (
        AvailabilityLock.objects.filter(
            team__in=teams_for(user=user),
            period_start__lte=local_end,
            period_end__gte=local_start,
        )
        .select_related("team")
        .distinct()
    ):
        span_start, span_end = iv.local_days(
            lock.period_start, lock.period_end - timedelta(days=1), tz
        )
        if span_start < end and span_end > start:
            spans.append(LockSpan(lock, span_start, span_end))
    if not spans:
        return spans
    held = Shift.objects.filter(
        assignee=user,
        roster__status__in=[Roster.Status.DRAFT, Roster.Status.PUBLISHED],
        start__lt=max(s.end for s in spans),
        end__gt=min(s.start for s in spans),
    ).values_list("roster__rotation__team_id", "start", "end")
    held = list(held)
    return [
        LockSpan(
            s.lock,
            s.start,
            s.end,
            holds_shift=any(
                team == s.lock.team_id and a < s.end and b > s.start for team, a, b in held
            ),
        )
        for s in spans
    ]


def entries_of(
    *, user: AbstractBaseUser, start: datetime, end: datetime
) -> list[AvailabilityEntry]:
    return list(
        AvailabilityEntry.objects.filter(user=user, start__lt=end, end__gt=start)
        .select_related("calendar")
        .order_by("start", "id")
    )


def can_set_own_allocation(*, user: AbstractBaseUser, team_id: int) -> bool:
    return TeamAvailabilitySettings.objects.filter(
        team_id=team_id, engineers_set_allocation=True, team__in=teams_for(user=user)
    ).exists()


def team_settings(*, team: Team) -> TeamAvailabilitySettings:
    found = TeamAvailabilitySettings.objects.filter(team=team).first()
    return found or TeamAvailabilitySettings(team=team)


# --- Scoped querysets for pages and the API -------------------------------------------------


def managed_user_ids(*, viewer: AbstractBaseUser) -> QuerySet:
    """People with an ACTIVE membership of a team the viewer manages: whose availability they
    may read. An invitation not (yet) accepted shares nothing."""
    return Membership.objects.filter(
        team__in=managed_teams(user=viewer), status=Membership.Status.ACTIVE
    ).values("user_id")


def _own_or_managed(viewer, user_field: str) -> Q:
    return Q(**{user_field: viewer.pk}) | Q(
        **{f"{user_field}__in": managed_user_ids(viewer=viewer)}
    )


def entries_for(*, viewer: AbstractBaseUser) -> QuerySet[AvailabilityEntry]:
    if not viewer.is_authenticated:
        return AvailabilityEntry.objects.none()
    return AvailabilityEntry.objects.filter(_own_or_managed(viewer, "user_id")).select_related(
        "user", "calendar"
    )


def requirements_for(*, viewer: AbstractBaseUser) -> QuerySet[DutyRequirement]:
    return DutyRequirement.objects.filter(rotation__team__in=teams_for(user=viewer)).select_related(
        "rotation__team"
    )


def qualifications_for(*, viewer: AbstractBaseUser) -> QuerySet[Qualification]:
    """Own qualifications, plus all of those for requirements of managed teams."""
    if not viewer.is_authenticated:
        return Qualification.objects.none()
    return Qualification.objects.filter(
        Q(user_id=viewer.pk) | Q(requirement__rotation__team__in=managed_teams(user=viewer))
    ).select_related("requirement__rotation", "user", "reviewed_by")


def calendar_sources_for(*, viewer: AbstractBaseUser) -> QuerySet[CalendarSource]:
    """Only one's own: a calendar address is a secret, even from managers."""
    if not viewer.is_authenticated:
        return CalendarSource.objects.none()
    return CalendarSource.objects.filter(user_id=viewer.pk).defer("pending_data")


def allocations_for(*, viewer: AbstractBaseUser) -> QuerySet[ProjectAllocation]:
    if not viewer.is_authenticated:
        return ProjectAllocation.objects.none()
    return ProjectAllocation.objects.filter(
        Q(user_id=viewer.pk) | Q(team__in=managed_teams(user=viewer))
    ).select_related("user", "team")


def locks_for(*, viewer: AbstractBaseUser) -> QuerySet[AvailabilityLock]:
    return AvailabilityLock.objects.filter(team__in=teams_for(user=viewer)).select_related("team")


def visible_people(*, viewer: AbstractBaseUser, team: Team | None = None) -> QuerySet:
    """Whose utilisation and availability the viewer may read: self and managed teams."""
    if not viewer.is_authenticated:
        return User.objects.none()
    people = User.objects.filter(_own_or_managed(viewer, "pk"))
    if team is not None:
        people = people.filter(pk__in=team_people(team_id=team.pk))
    return people.distinct().order_by("first_name", "last_name", "username")


def pending_claims_count(*, viewer: AbstractBaseUser) -> int:
    return Qualification.objects.filter(
        status=Qualification.Status.CLAIMED,
        requirement__rotation__team__in=managed_teams(user=viewer),
    ).count()


def managed_teams_with_pending_claims(*, viewer: AbstractBaseUser) -> list[Team]:
    """Teams the viewer manages, each with `.pending_claims` (claims waiting for review)."""
    return list(
        managed_teams(user=viewer)
        .annotate(
            pending_claims=Count(
                "rotations__requirements__qualifications",
                filter=Q(
                    rotations__requirements__qualifications__status=Qualification.Status.CLAIMED
                ),
            )
        )
        .order_by("name")
    )


def teams_allowing_own_allocation(*, user: AbstractBaseUser) -> list[Team]:
    return list(
        teams_for(user=user).filter(availability_settings__engineers_set_allocation=True).distinct()
    )


def own_allocations(*, user: AbstractBaseUser, start: date, end: date) -> list[ProjectAllocation]:
    return list(
        ProjectAllocation.objects.filter(user=user, period_start__lt=end, period_end__gt=start)
        .select_related("team")
        .order_by("period_start", "project")
    )
