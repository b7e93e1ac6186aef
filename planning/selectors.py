"""Reads of the planning layer: the plan calendar (people x days) and the load report."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import time as time_now
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.paginator import Page, Paginator

from availability import selectors as availability
from onehand.people import display_name, display_name_of
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Rotation, Shift, SlotRole

from . import inputs, plan_stamp, risk
from . import recommender as rec
from .changes import fair_shares, largest_load
from .experience import (
    Experience,
    bus_factor_by_month,
    bus_factor_of,
    experience_across,
)
from .inputs import public_holidays
from .models import DraftJob
from .reports import PersonLoad, gini, split_hours

T = TypeVar("T")

_CELL_HTML = {
    "un": '<td class="cell un{we}"><span title="Unavailable">✕</span></td>',
    "part": '<td class="cell part{we}"><span title="Partly unavailable">◐</span></td>',
    "pref": '<td class="cell pref{we}"><span title="Prefers this day">★</span></td>',
    "": '<td class="cell{we}"></td>',
}


@dataclass
class PlanCell:
    day: date
    unavailable: bool = False
    partial: bool = False
    preferred: bool = False
    weekend: bool = False


@dataclass
class PlanRow:
    user_id: int
    name: str
    time_zone: str
    roles: list[str]
    needs_shadow: int
    utilisation: float  # share of working time already committed (0..1)
    level: object
    cells: list[PlanCell]
    share: int | None = None  # past load as a percentage of a fair share (100 = fair)
    why: str = ""  # the level in one sentence
    commitments: object = None  # availability's utilisation (projects named), behind the level
    experience: Experience | None = None


_LEVEL_WORDS = {"High": "a good pick", "Medium": "an ordinary pick", "Low": "a poor pick"}


def level_in_words(*, level: str, share: int | None, utilisation) -> str:
    """Why someone is (or is not) a good pick, in a sentence a manager reads: the biggest
    reason first (busy with a named project, away, on call elsewhere), else their share."""
    reasons = []
    if utilisation is not None:
        if utilisation.allocation >= 0.3:
            projects = " and ".join(utilisation.projects) or "project work"
            reasons.append(f"busy: {utilisation.allocation:.0%} allocated to {projects}")
        if utilisation.time_off >= 0.3:
            reasons.append(f"away {utilisation.time_off:.0%} of their working time")
        if utilisation.on_call >= 0.2:
            reasons.append(f"on call elsewhere {utilisation.on_call:.0%} of their working time")
    if share is not None:
        if share > 120:
            reasons.append(f"carried more than their share over the past year ({share}%)")
        elif share < 80:
            reasons.append(f"carried less than their share over the past year ({share}%)")
        elif not reasons:
            reasons.append(f"carried about their fair share over the past year ({share}%)")
    text = "; ".join(reasons) or "no past load or commitments yet"
    return f"{_LEVEL_WORDS.get(level, level)}: {text}."


PLAN_PAGE_SIZE = 50


# Remembered plan pages: the format of what is kept (change it when PlanRow or a level changes
# shape) and how long: a minute, so a write whose stamp renewal could not reach Redis is seen
# within a minute anyway (the on-call answer's bound too); levels also decay with time, so the
# key names the hour they were made in.
PLAN_FORMAT = 2
PLAN_REMEMBER_SECONDS = 60


def _page_key(page: int | str | None) -> str:
    """The page number as Paginator.get_page reads it (int(): '+2', ' 2', '2_0' and other
    scripts' digits are numbers too), so one key always means one page; anything else is 1."""
    try:
        number = int(page if page is not None else 1)
    except (TypeError, ValueError, OverflowError):
        return "1"
    # below 1 or past the end, get_page gives the last page
    return str(number) if 1 <= number < 10**6 else "last"


def plan_calendar(
    *,
    rotation: Rotation,
    month_start,
    month_end,
    viewer_tz: str,
    now: datetime,
    page: int | str | None = 1,
    per_page: int = PLAN_PAGE_SIZE,
) -> Page:
    """One page of people x days of a period, with availability, eligibility, utilisation and
    level; people ordered by level, then name.

    Levels rank the whole team, so computing a page costs time in proportion to the team
    (`plan_calendar_computed`). A computed page is remembered in the shared cache under the
    plan stamp (`plan_stamp`: renewed after every committed write to what the page is made
    from) and the hour, so repeated views cost one cache round trip whatever the team size.
    """

    def compute():
        people = plan_calendar_computed(
            rotation=rotation,
            month_start=month_start,
            month_end=month_end,
            viewer_tz=viewer_tz,
            now=now,
            page=page,
            per_page=per_page,
        )
        return people.object_list, people.number, people.paginator.count, people.bus_factor

    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    key = (
        f"onehand:plan:{PLAN_FORMAT}:{rotation.pk}:{month_start:%Y-%m-%d}:{month_end:%Y-%m-%d}:"
        f"{viewer_tz}:{hour:%Y%m%d%H}:{per_page}:{_page_key(page)}"
    )
    rows, number, count, bus_factor = _remembered(key, compute)
    people = Paginator(range(count), per_page).page(number)
    people.object_list = rows
    people.bus_factor = bus_factor
    return people


def plan_calendar_computed(
    *,
    rotation: Rotation,
    month_start,
    month_end,
    viewer_tz: str,
    now: datetime,
    page: int | str | None = 1,
    per_page: int = PLAN_PAGE_SIZE,
) -> Page:
    """`plan_calendar` computed from the rows. A constant number of queries whatever the team
    size: everything is fetched per rotation and grouped in Python. Levels rank the whole
    team, so every candidate is computed once (utilisation included); day cells and
    preferences only for the people on this page."""

    tz = ZoneInfo(viewer_tz)
    start = datetime.combine(month_start, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(month_end, time(0), tzinfo=tz).astimezone(UTC)
    settings = inputs.recommender_settings(rotation)
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    candidates, commitments, experience = _plan_people(
        rotation=rotation, start=start, end=end, now=now, settings=settings, hour=hour
    )
    # The page shows each level's figures, never its sentence (`level_in_words` is its own).
    levels = rec.levels(candidates, settings, explained=False)
    # A fair share of the past load is proportional to capacity: share = L / (sum past / sum cap).
    total_past = sum(p.past_load for p in levels.values())
    total_cap = sum(p.capacity for p in levels.values())
    fair_l = total_past / total_cap if total_past > 0 and total_cap > 0 else None

    def rank(c):
        level = levels.get(c.person_id)
        return (level.rank if level else 0, c.name)

    people = Paginator(sorted(candidates, key=rank), per_page).get_page(page)
    shown = list(people.object_list)
    shown_ids = [c.person_id for c in shown]
    preferred = availability.preferences_by_person(user_ids=shown_ids, start=start, end=end)
    days = []
    day = month_start
    while day < month_end:
        day_start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        days.append((day, day_start, day_end))
        day += timedelta(days=1)

    def covers(intervals, a, b):
        overlap = sum(max(0.0, (min(e, b) - max(s, a)).total_seconds()) for s, e in intervals)
        return overlap, (b - a).total_seconds()

    rows = []
    for c in shown:
        cells = []
        for day, a, b in days:
            covered, total = covers(c.unavailable, a, b)
            pref, _ = covers(preferred.get(c.person_id, ()), a, b)
            cells.append(
                PlanCell(
                    day=day,
                    unavailable=covered >= total - 1,
                    partial=0 < covered < total - 1,
                    preferred=pref > 0,
                    weekend=day.weekday() >= 5,
                )
            )
        rows.append(
            PlanRow(
                user_id=c.person_id,
                name=c.name,
                time_zone=c.time_zone,
                roles=sorted(c.roles),
                needs_shadow=c.needs_shadow,
                utilisation=c.utilisation,
                level=levels.get(c.person_id),
                cells=cells,
                experience=experience.get(c.person_id),
            )
        )
        level = rows[-1].level
        rows[-1].commitments = commitments.get(c.person_id)
        if level is not None:
            rows[-1].share = round(100 * level.projected / fair_l) if fair_l else None
            rows[-1].why = level_in_words(
                level=level.level, share=rows[-1].share, utilisation=rows[-1].commitments
            )
    people.object_list = rows
    # The whole team's readiness, not this page's: who could take a primary shift.
    people.bus_factor = bus_factor_of(
        rotation=rotation,
        ready=((c.name, c.experienced, "primary" in c.roles) for c in candidates),
    )
    return people


@dataclass
class _PlanPeople:
    """The plan's candidates as kept: each person's with the version of their time away and
    allocations it was made from (`availability.commitment_versions`), what they are
    committed to, and how many of their unavailable spans are time away (the rest: outside
    their working hours, follow the sun); and the team's experience."""

    people: dict[int, tuple[str | None, rec.Candidate, availability.Utilisation, int]]
    experience: dict[int, Experience]
    # when the history part was worked out (epoch seconds): patching a person in does not
    # make it younger, so a history kept stale (a missed stamp renewal) still ends on time
    made_at: float = 0.0


def _plan_people(
    *,
    rotation: Rotation,
    start: datetime,
    end: datetime,
    now: datetime,
    settings: rec.Settings,
    hour: datetime,
) -> tuple[list[rec.Candidate], dict[int, availability.Utilisation], dict[int, Experience]]:
    """(the candidates, what each is committed to, the team's experience) for the plan.

    Kept under the history stamp (members, profiles, history, qualifications: the writes that
    renew it work everything out again) and, per person, under the version of their own time
    away and allocations: after a time-away or allocation write only the people whose rows
    were written get their availability worked out again, so the first view after such a
    write reads one person's availability, not the team's. The versions are read before the
    rows, so a candidate is never kept under a version older than what it was made from (a
    write committed in between only makes the next view work that person out again)."""
    key = (
        f"onehand:plan-people:{PLAN_FORMAT}:{rotation.pk}:{start:%Y%m%d%H%M}:"
        f"{end:%Y%m%d%H%M}:{hour:%Y%m%d%H}"
    )
    stamp, kept = None, None
    if plan_stamp.usable() and plan_stamp.history_usable():
        stamp, kept = plan_stamp.read_history(key)
    if kept is not None:
        versions = availability.commitment_versions(user_ids=kept.people, start=start, end=end)
        stale = [uid for uid, held in kept.people.items() if held[0] != versions.get(uid, "")]
        if stale:
            unavailable, utilisation = inputs.team_availability(rotation, stale, start, end)
            for uid in stale:
                _, candidate, _, own = kept.people[uid]
                spans = tuple(unavailable[uid])
                kept.people[uid] = (
                    versions.get(uid, ""),
                    replace(
                        candidate,
                        unavailable=spans + candidate.unavailable[own:],
                        utilisation=utilisation[uid].total,
                    ),
                    utilisation[uid],
                    len(spans),
                )
            left = kept.made_at + PLAN_REMEMBER_SECONDS - time_now()
            if left >= 1:
                plan_stamp.remember_history(key, stamp, kept, int(left))
        candidates = [held[1] for held in kept.people.values()]
        return (
            candidates,
            {uid: held[2] for uid, held in kept.people.items()},
            kept.experience,
        )

    # The team's history (past load, experience, pages, members) is kept under the history
    # stamp on its own too: the load report and the other months' plans read it.
    team = _remembered(
        f"onehand:plan-team:{PLAN_FORMAT}:{rotation.pk}:{start:%Y%m%d%H%M}:{end:%Y%m%d%H%M}:"
        f"{hour:%Y%m%d%H}",
        lambda: inputs.team_history(rotation, start, end, now=now, settings=settings),
        history=True,
    )
    user_ids = [m.user_id for m in team.members]
    versions = (
        availability.commitment_versions(user_ids=user_ids, start=start, end=end)
        if stamp is not None
        else None
    )
    seen_availability = {}

    def availability_of(ids, a, b):
        seen_availability["unavailable"], _ = found = inputs.team_availability(rotation, ids, a, b)
        return found

    # What each person is committed to (named projects, time off, other rotations) is worked
    # out once with the candidates (it is behind their utilisation) and reused for the level
    # in words of this page's people.
    candidates, commitments = inputs.candidates_with_commitments(
        rotation,
        start,
        end,
        now=now,
        settings=settings,
        team=team,
        availability_of=availability_of,
    )
    if versions is not None:
        unavailable = seen_availability["unavailable"]
        plan_stamp.remember_history(
            key,
            stamp,
            _PlanPeople(
                people={
                    c.person_id: (
                        versions.get(c.person_id, ""),
                        c,
                        commitments[c.person_id],
                        len(unavailable[c.person_id]),
                    )
                    for c in candidates
                },
                experience=team.experience,
                made_at=time_now(),
            ),
            PLAN_REMEMBER_SECONDS,
        )
    return candidates, commitments, team.experience


@dataclass
class DraftLine:
    """One roster of the plan's month, as its table shows it."""

    pk: int
    created_at: datetime
    status_display: str
    summary: dict  # the roster's summary without its per-person part (800 entries at 800 people)
    largest: str  # who carries the largest load, in words


def plan_drafts(*, rotation: Rotation, period_start: date, period_end: date) -> list[DraftLine]:
    """The rosters of a month, newest first, remembered under the history stamp: each roster's
    summary holds every member's load, so reading and parsing it grows with the team."""
    key = (
        f"onehand:plan-drafts:{PLAN_FORMAT}:{rotation.pk}:"
        f"{period_start:%Y-%m-%d}:{period_end:%Y-%m-%d}"
    )
    return _remembered(key, lambda: _draft_lines(rotation, period_start, period_end), history=True)


def _draft_lines(rotation: Rotation, period_start: date, period_end: date) -> list[DraftLine]:
    return [
        DraftLine(
            pk=roster.pk,
            created_at=roster.created_at,
            status_display=roster.get_status_display(),
            summary={k: v for k, v in (roster.summary or {}).items() if k != "people"},
            largest=largest_load(roster.summary),
        )
        for roster in Roster.objects.filter(
            rotation=rotation, period_start=period_start, period_end=period_end
        ).order_by("-created_at")
    ]


def _remembered(key: str, compute, *, history: bool = False):
    """`compute()`, remembered when usable under the plan stamp (see `plan_stamp`), or with
    `history` under the history stamp: for what is worked out from the rotation's history and
    people alone."""
    if history:
        usable, read, remember = (
            plan_stamp.history_usable,
            plan_stamp.read_history,
            plan_stamp.remember_history,
        )
    else:
        usable, read, remember = plan_stamp.usable, plan_stamp.read, plan_stamp.remember
    stamp = None
    if usable():
        stamp, kept = read(key)
        if kept is not None:
            return kept
    value = compute()
    if stamp is not None:
        remember(key, stamp, value, PLAN_REMEMBER_SECONDS)
    return value


def report_figures(*, rotation: Rotation, start: datetime, end: datetime, now: datetime):
    """(`load_report` rows, its Gini trend, `bus_factor_by_month`) for the load report page,
    remembered under the history stamp (shifts, members, qualifications; not time away) and
    the hour: the bus factor trend checks everyone's
    experience month by month, which grows with the team."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    key = (
        f"onehand:report:{PLAN_FORMAT}:{rotation.pk}:{start:%Y%m%d%H%M}:{end:%Y%m%d%H%M}:"
        f"{hour:%Y%m%d%H}"
    )

    def compute():
        rows, trend = load_report(rotation=rotation, start=start, end=end)
        return rows, trend, bus_factor_by_month(rotation=rotation, start=start, end=end)

    return _remembered(key, compute, history=True)


def plan_cells_html(*, cells: list[PlanCell]) -> str:
    """One row of day cells as fixed markup: 50 people x 31 days is 1,550 cells, too many
    for the template engine to render quickly; nothing user-supplied goes in here."""
    out = []
    for c in cells:
        state = "un" if c.unavailable else "part" if c.partial else "pref" if c.preferred else ""
        out.append(_CELL_HTML[state].format(we=" we" if c.weekend else ""))
    return "".join(out)


def load_report(*, rotation: Rotation, start: datetime, end: datetime):
    """Worked (or planned) load per person in [start, end), plus the monthly Gini of hours.

    Plain rows, no model instances: at 800 members building users and profiles cost more
    than the arithmetic.
    """
    name_fields = ("first_name", "last_name", "username")
    rows: dict[int, PersonLoad] = {
        uid: PersonLoad(user_id=uid, name=display_name_of(first, last, username))
        for uid, first, last, username in rotation.rotation_members.values_list(
            "user_id", *(f"user__{f}" for f in name_fields)
        )
    }
    shifts = (
        inputs.worked_shifts()
        .filter(
            roster__rotation=rotation,
            assignee__isnull=False,
            start__lt=end,
            end__gt=start,
        )
        .exclude(role=SlotRole.SHADOW)
        .values_list(
            "assignee_id",
            "start",
            "end",
            "assignee__person__time_zone",
            "assignee__person__country",
            *(f"assignee__{f}" for f in name_fields),
        )
    )
    months: dict[str, dict[int, float]] = {}
    for uid, shift_start, shift_end, zone, country, first, last, username in shifts:
        row = rows.get(uid)
        if row is None:
            row = rows[uid] = PersonLoad(user_id=uid, name=display_name_of(first, last, username))
        a, b = max(shift_start, start), min(shift_end, end)
        total, weekend, holiday = split_hours(
            a, b, zone or "UTC", public_holidays(country or "GB", a.year, b.year)
        )
        row.hours += total
        row.weekend_hours += weekend
        row.holiday_hours += holiday
        row.shifts += 1
        key = f"{a:%Y-%m}"
        months.setdefault(key, {})
        months[key][uid] = months[key].get(uid, 0.0) + total
    trend = [(key, gini([months[key].get(uid, 0.0) for uid in rows])) for key in sorted(months)]
    return sorted(rows.values(), key=lambda r: (-r.hours, r.name)), trend


# Rule reasons that read as a state of the person ("Amara is away ...").
STATE_REASONS = ("away", "not qualified", "on another shift")


def refusal_in_words(*, name: str, problem: str) -> str:
    """'Amara is away Tue 8 Dec 09:00 – Sat 12 Dec 09:00 (Europe/London)'."""
    if problem.startswith(STATE_REASONS):
        return f"{name} is {problem}."
    if problem.startswith("would be"):  # the cap: "would be on call 38% of December ..."
        return f"{name} {problem}."
    return f"{name}: {problem}."


def slot_problems(*, shift: Shift, now: datetime, reader_zone: str | None) -> dict[int, str | None]:
    """For each person of the rotation: why they may not hold `shift` (a hard rule, in
    words, times in `reader_zone`, else the person's own), or None when they may. A constant
    number of queries for any number of people."""
    rules = inputs.slot_rules(shift=shift, now=now)
    out = {}
    for person in rules.candidates:
        problem = rules.problem(person, reader_zone=reader_zone)
        out[person.person_id] = (
            refusal_in_words(name=person.name, problem=problem) if problem else None
        )
    return out


@dataclass(frozen=True)
class SlotChoice:
    user_id: int
    name: str
    problem: str | None  # None: eligible
    share: int | None  # percent of a fair share in this roster, when drafted


def slot_choices(
    *, shift: Shift, people: list, now: datetime, reader_zone: str
) -> list[SlotChoice]:
    """The slot editor's list: eligible people first (lightest share first), then the others
    with the rule each would break (a manager may still override, and it is recorded), with
    times in the reader's zone."""
    problems = slot_problems(shift=shift, now=now, reader_zone=reader_zone)
    shares = fair_shares(shift.roster.summary)
    choices = [
        SlotChoice(
            user_id=user.pk,
            name=display_name(user),
            problem=problems.get(user.pk, f"{display_name(user)} is not in this rotation."),
            share=shares.get(user.pk),
        )
        for user in people
    ]
    return sorted(
        choices,
        key=lambda c: (c.problem is not None, c.share if c.share is not None else 0, c.name),
    )


# The home page's dashboard, remembered per reader under the plan stamp: every part below is
# read from the watched tables (see `plan_stamp`), so any committed write by anyone is seen on
# the next view. Swaps (not watched), the reader's next shifts and the at-risk list (both move
# with the clock) stay live in the view. Readiness and experience are as of the minute, which
# is in the key. Change HOME_FORMAT when `HomeDashboard` or what it holds changes shape.
HOME_FORMAT = 1


@dataclass
class HomeDashboard:
    invitations: list
    rotations: list[Rotation]
    managed_rotation_ids: list[int]
    readiness: list
    experience: dict[int, Experience]
    utilisation_month: date
    utilisation: object
    managed_teams: list
    own_allocation_teams: list
    own_allocations: list


def home_dashboard(
    *, user: AbstractBaseUser, zone: str, language: str, now: datetime
) -> HomeDashboard:
    """The reader's dashboard on the home page: invitations, rotations, readiness and
    experience per rotation, next month's commitment in their zone, teams they manage.

    Remembered under the plan stamp, the reader, their zone and language and the minute
    (readiness and experience are computed as of that minute): ten queries on a miss, none
    on a hit.
    """
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    key = f"onehand:home:{HOME_FORMAT}:{user.pk}:{zone}:{language}:{minute:%Y%m%d%H%M}"

    def compute() -> HomeDashboard:
        tz = ZoneInfo(zone)
        month = availability.next_month(minute.astimezone(tz).date())
        month_start, month_end = availability.month_span(month, tz)
        readiness = availability.readiness_for(user=user, at=minute)
        return HomeDashboard(
            invitations=list(rotation_selectors.invitations_for(user=user)),
            rotations=list(rotation_selectors.rotations_for(user=user)),
            managed_rotation_ids=risk.managed_rotation_ids(user),
            readiness=readiness,
            experience=experience_across(
                user_id=user.pk, rotations=[r.rotation for r in readiness], as_of=minute
            ),
            utilisation_month=month,
            utilisation=availability.utilisation_for(
                user_ids=[user.pk], start=month_start, end=month_end
            )[user.pk],
            managed_teams=availability.managed_teams_with_pending_claims(viewer=user),
            own_allocation_teams=availability.teams_allowing_own_allocation(user=user),
            own_allocations=availability.own_allocations(
                user=user, start=month, end=availability.next_month(month)
            ),
        )

    return _remembered(key, compute)


def remembered(*, key: str, compute: Callable[[], T]) -> T:
    """`compute()` remembered under the plan stamp (see `plan_stamp`) when usable: for a part
    of a page read only from the watched tables; `key` names everything that changes it."""
    return _remembered(key, compute)


def draft_job(*, job_id: int) -> DraftJob | None:
    """One draft job with its rotation (the caller checks the reader manages its team)."""
    return DraftJob.objects.select_related("rotation", "requested_by").filter(pk=job_id).first()
