"""Build the recommender's plain inputs from the database (the thin adapter's read half)."""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from typing import NamedTuple

import holidays as holiday_calendars
from django.db.models import Exists, OuterRef, Q, QuerySet

from availability import selectors as availability
from incidents.selectors import interruption_load
from onehand.people import display_name_of
from rotation.coverage import outside_working_hours
from rotation.models import Roster, Rotation, RotationMember, Shift, SlotRole
from rotation.shifts import ShiftWindow

from . import recommender as rec
from .experience import Experience, Thresholds, experience_by_person
from .recommender.rules import static_reason

HISTORY_WINDOW_DAYS = 365
# Superseded rosters still count: a shift someone worked is load, whatever replaced the plan.
HISTORY_STATUSES = (Roster.Status.PUBLISHED, Roster.Status.SUPERSEDED, Roster.Status.IMPORTED)


def worked_shifts() -> QuerySet[Shift]:
    """The record of who held what: published and imported slots, and slots of superseded
    rosters where no published roster of the rotation has the same role at that time. (A
    republished month keeps the past days; counting both versions would count them twice.)"""
    replaced = Shift.objects.filter(
        roster__rotation_id=OuterRef("roster__rotation_id"),
        roster__status=Roster.Status.PUBLISHED,
        role=OuterRef("role"),
        start__lt=OuterRef("end"),
        end__gt=OuterRef("start"),
    )
    return Shift.objects.filter(roster__status__in=HISTORY_STATUSES).exclude(
        Q(roster__status=Roster.Status.SUPERSEDED) & Exists(replaced)
    )


@lru_cache(maxsize=64)
def public_holidays(country: str, first_year: int, last_year: int) -> frozenset[date]:
    try:
        calendar = holiday_calendars.country_holidays(
            country, years=range(first_year, last_year + 1)
        )
    except NotImplementedError:
        return frozenset()
    return frozenset(calendar.keys())


def recommender_settings(rotation: Rotation, **overrides) -> rec.Settings:
    values = {
        "weekend_weight": float(rotation.weekend_weight),
        "holiday_weight": float(rotation.holiday_weight),
        "min_rest": timedelta(hours=rotation.min_rest_hours),
        "no_back_to_back": rotation.no_back_to_back,
        # Issue 16: pairing with experience and the team's cap on anyone's share of a period.
        "pairing": rotation.pairing,
        "pairing_weight": float(rotation.pairing_weight),
        "first_primaries_paired": Thresholds.of(rotation).first_primaries_paired,
        "max_share": rotation.team.max_oncall_share / 100,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return rec.Settings(**values)


def slots_for(windows: list[ShiftWindow], roles: list[str]) -> list[rec.Slot]:
    return [
        rec.Slot(
            key=f"{w.start.isoformat()}|{role}",
            shift_key=w.start.isoformat(),
            role=role,
            start=w.start,
            end=w.end,
        )
        for w in windows
        for role in roles
    ]


def outside_working_hours_of(person, start: datetime, end: datetime):
    """Follow the sun: time outside someone's working hours counts as unavailable (hard rule)."""

    days = {int(d) for d in person.work_days.split(",") if d.strip().isdigit()}
    return outside_working_hours(
        person.time_zone, person.work_start, person.work_end, days, start, end
    )


def slot_key(start: datetime, role: str) -> str:
    return f"{start.astimezone(UTC).isoformat()}|{role}"


def candidates_for(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    settings: rec.Settings,
    half_life_days: float | None = None,
    experience: dict[int, Experience] | None = None,
    count_published_ahead: bool = False,
) -> list[rec.Candidate]:
    """Everyone in the rotation, with availability, qualifications, history, utilisation and
    experience (as of `now`; pass `experience` when the caller already has it).

    `count_published_ahead` (drafting): a period that starts after `now` also counts the
    published shifts between now and its start as load, since the person will have carried
    them by then (published rosters only, never drafts), so one person does not top two
    consecutive months."""
    candidates, _ = candidates_with_commitments(
        rotation,
        start,
        end,
        now=now,
        settings=settings,
        half_life_days=half_life_days,
        experience=experience,
        count_published_ahead=count_published_ahead,
    )
    return candidates


class _Member(NamedTuple):
    """A rotation member as the candidates need them: plain columns, no models (a team of
    800 would otherwise build 2,400 model instances for a handful of fields each)."""

    user_id: int
    since: date
    first_name: str
    last_name: str
    username: str
    country: str
    time_zone: str
    work_start: time
    work_end: time
    work_days: str


@dataclass(frozen=True)
class TeamHistory:
    """What the candidates take from the rotation's history and people alone (members and
    their profiles, shifts worked here and published elsewhere, pages, experience), not from
    time away, preferences or allocations. Plain values, so a page can keep it under the
    history stamp (`plan_stamp.HISTORY`) across writes that do not touch any of it."""

    members: tuple[_Member, ...]
    fte: dict[int, float]
    busy: dict[int, tuple[tuple[datetime, datetime], ...]]
    past_load: dict[int, float]  # pages included
    last_end: dict[int, datetime]
    interruptions: dict[int, tuple[int, int, float]]  # pages, night pages, hours equivalent
    experience: dict[int, Experience]
    no_record: bool  # nobody is primary-ready: everyone counts as experienced
    holidays: dict[str, frozenset[date]]  # country -> public holidays of the years concerned


def team_history(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    settings: rec.Settings,
    half_life_days: float | None = None,
    experience: dict[int, Experience] | None = None,
    count_published_ahead: bool = False,
) -> TeamHistory:
    """The history half of `candidates_with_commitments` (see there)."""
    members = tuple(
        _Member(*row)
        for row in RotationMember.objects.filter(rotation=rotation)
        .order_by("user_id")
        .values_list(
            "user_id",
            "since",
            "user__first_name",
            "user__last_name",
            "user__username",
            "user__person__country",
            "user__person__time_zone",
            "user__person__work_start",
            "user__person__work_end",
            "user__person__work_days",
        )
    )
    user_ids = [m.user_id for m in members]
    # The rotation's people as a subquery: an IN list of 800 ids costs more to send than to run.
    member_ids = RotationMember.objects.filter(rotation=rotation).values("user_id")
    fte = {
        uid: float(value)
        for uid, value in rotation.team.memberships.filter(user_id__in=member_ids).values_list(
            "user_id", "fte"
        )
    }

    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for uid, s, e in (
        Shift.objects.filter(
            assignee_id__in=member_ids,
            roster__status=Roster.Status.PUBLISHED,
            start__lt=end + timedelta(days=8),
            end__gt=start - timedelta(days=8),
        )
        .exclude(roster__rotation=rotation)
        .values_list("assignee_id", "start", "end")
    ):
        busy[uid].append((s, e))

    as_of = max(now, start) if count_published_ahead else now
    window_start = as_of - timedelta(days=HISTORY_WINDOW_DAYS)
    history: dict[int, list[rec.PastShift]] = defaultdict(list)
    last_end: dict[int, datetime] = {}
    for uid, s, e, role in (
        worked_shifts()
        .filter(
            roster__rotation=rotation,
            assignee_id__in=member_ids,
            end__gt=window_start,
            start__lt=as_of,
        )
        # Ahead of now only what is published will be carried (not a superseded plan).
        .exclude(Q(start__gte=now) & ~Q(roster__status=Roster.Status.PUBLISHED))
        .values_list("assignee_id", "start", "end", "role")
    ):
        history[uid].append(rec.PastShift(start=s, end=e, role=role))
        if role != SlotRole.SHADOW and (uid not in last_end or e > last_end[uid]):
            last_end[uid] = e
    total_hours = sum(
        (min(p.end, as_of) - max(p.start, window_start)).total_seconds() / 3600
        for shifts in history.values()
        for p in shifts
        if p.role != SlotRole.SHADOW
    )
    team_rate = total_hours / HISTORY_WINDOW_DAYS / max(1, len(members))

    if experience is None:
        experience = experience_by_person(rotation=rotation, as_of=now, people=user_ids)
    # A rotation where nobody is primary-ready yet (new to Onehand, or in its first weeks)
    # cannot pair anyone with experience: hard pairing would leave every shift empty. Everyone
    # counts as experienced instead, and the draft's note says pairing was not applied.
    no_record = nobody_experienced(experience)

    # Pages count as load too: a week of night pages is not a quiet week.
    paged = {
        uid: (load.pages, load.night_pages, load.hours_equivalent)
        for uid, load in interruption_load(
            rotation_id=rotation.pk, start=now - timedelta(days=HISTORY_WINDOW_DAYS), end=now
        ).items()
    }

    years = (window_start.year, end.year)
    holidays = {m.country: public_holidays(m.country, *years) for m in members}
    half_life = float(half_life_days or rotation.history_half_life_days)
    past_load = {}
    for person in members:
        uid = person.user_id
        past_load[uid] = rec.past_load(
            history.get(uid, ()),
            as_of=as_of,
            half_life_days=half_life,
            weekend_weight=settings.weekend_weight,
            holiday_weight=settings.holiday_weight,
            time_zone=person.time_zone,
            holidays=holidays[person.country],
            member_since=datetime.combine(person.since, datetime.min.time(), tzinfo=UTC),
            team_average_rate=team_rate,
            window_days=HISTORY_WINDOW_DAYS,
            shadow_weight=settings.shadow_weight,
        ) + (paged[uid][2] if uid in paged else 0.0)
    return TeamHistory(
        members=members,
        fte=fte,
        busy={uid: tuple(spans) for uid, spans in busy.items()},
        past_load=past_load,
        last_end=last_end,
        interruptions=paged,
        experience=experience,
        no_record=no_record,
        holidays=holidays,
    )


def candidates_with_commitments(
    rotation: Rotation,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    settings: rec.Settings,
    half_life_days: float | None = None,
    experience: dict[int, Experience] | None = None,
    count_published_ahead: bool = False,
    team: TeamHistory | None = None,
    availability_of=None,
) -> tuple[list[rec.Candidate], dict[int, availability.Utilisation]]:
    """`candidates_for`, with what each person is committed to in the period (availability's
    utilisation: named projects, time off, other rotations) behind their `utilisation`, so a
    page that shows both works them out once for the whole team.

    `team`: the history half (`team_history`) with the same arguments, when the caller kept
    it; only availability (time away, qualifications, utilisation) is read here then.
    `availability_of(user_ids)`: (unavailable spans, utilisation) by person, when the caller
    keeps them (`team_availability`); worked out here for the whole team otherwise."""
    if team is None:
        team = team_history(
            rotation,
            start,
            end,
            now=now,
            settings=settings,
            half_life_days=half_life_days,
            experience=experience,
            count_published_ahead=count_published_ahead,
        )
    user_ids = [m.user_id for m in team.members]
    unavailable, utilisation = (availability_of or partial(team_availability, rotation))(
        user_ids, start, end
    )
    roles = availability.qualified_roles(rotation=rotation, user_ids=user_ids, at=start)
    shadow = availability.shadow_needs(rotation=rotation, user_ids=user_ids)

    follow_the_sun = rotation.pattern == Rotation.Pattern.FOLLOW_THE_SUN
    no_pages = (0, 0, 0.0)
    out = []
    for person in team.members:
        uid = person.user_id
        pages, night_pages, hours_equivalent = team.interruptions.get(uid, no_pages)
        out.append(
            rec.Candidate(
                person_id=uid,
                name=display_name_of(person.first_name, person.last_name, person.username),
                roles=frozenset(roles.get(uid, frozenset())),
                time_zone=person.time_zone,
                holidays=team.holidays[person.country],
                unavailable=tuple(unavailable.get(uid, ()))
                + (tuple(outside_working_hours_of(person, start, end)) if follow_the_sun else ()),
                busy=team.busy.get(uid, ()),
                past_load=team.past_load[uid],
                fte=team.fte.get(uid, 1.0),
                utilisation=utilisation[uid].total if uid in utilisation else 0.0,
                last_shift_end=team.last_end.get(uid),
                needs_shadow=shadow.get(uid, 0),
                pages=pages,
                night_pages=night_pages,
                interruption_hours=hours_equivalent,
                **_experience_fields(team.experience.get(uid), no_record=team.no_record),
            )
        )
    return out, utilisation


def team_availability(
    rotation: Rotation, user_ids: list[int], start: datetime, end: datetime
) -> tuple[dict[int, list[tuple[datetime, datetime]]], dict[int, availability.Utilisation]]:
    """Each person's unavailable spans and utilisation in [start, end) (commitments in other
    rotations than this one). Each person's figures depend on their own rows alone, so a
    caller may work them out for some people and keep the others'."""
    unavailable = availability.unavailability_by_person(user_ids=user_ids, start=start, end=end)
    utilisation = availability.utilisation_for(
        user_ids=user_ids,
        start=start,
        end=end,
        exclude_rotation_id=rotation.pk,
        unavailable=unavailable,
        named_for_teams=(rotation.team_id,),
    )
    return unavailable, utilisation


def nobody_experienced(experience: dict[int, Experience]) -> bool:
    """True when none of these people is primary-ready in the rotation yet."""
    return not any(e.experienced for e in experience.values())


def pairing_waived(*, rotation: Rotation, now: datetime) -> bool:
    """Pairing is on but cannot apply: nobody in the rotation is primary-ready yet, so everyone
    counts as experienced (the draft's note says so)."""
    if rotation.pairing == Rotation.Pairing.OFF:
        return False
    return nobody_experienced(experience_by_person(rotation=rotation, as_of=now))


def _experience_fields(found: Experience | None, *, no_record: bool) -> dict:
    found = found or Experience()
    return {
        "experienced": found.experienced or no_record,
        "primary_served": found.primary,
        "level": found.level,
    }


def slot_of(shift: Shift, whole_start: datetime | None = None) -> rec.Slot:
    """A saved slot as the recommender sees it. `whole_start` puts a part being covered into
    its whole shift, so pairing sees the partner it will have."""
    return rec.Slot(
        key=slot_key(shift.start, shift.role),
        shift_key=(whole_start or shift.start).isoformat(),
        role=shift.role,
        start=shift.start,
        end=shift.end,
    )


@dataclass(frozen=True)
class SlotRules:
    """Everything the hard rules need to judge who may hold one saved slot: the whole roster
    (empty slots too, so "the next shift" of the rest rule and the period of the cap are the
    real ones), who holds the others, the team (for pairing) and the rotation's settings."""

    target: rec.Slot
    slots: list[rec.Slot]
    current: dict[str, int]
    candidates: list[rec.Candidate]
    settings: rec.Settings
    # person_id -> Candidate, built once per SlotRules (not once per person judged), so
    # judging the whole team costs team size, not team size squared.
    people: Mapping[int, rec.Candidate] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "people", {c.person_id: c for c in self.candidates})

    def problem(self, person: rec.Candidate, *, reader_zone: str | None = None) -> str | None:
        """The hard rule `person` would break, or None. Rules are judged in the person's zone;
        with `reader_zone` a rule about their own time (away, another shift, rest) is worded in
        the zone of whoever reads it (a manager), named."""
        verdict = rec.check_assignment(
            self.target,
            person,
            self.current,
            self.slots,
            self.settings,
            people=self.people,
            period=self.slots,
        )
        if verdict is None or reader_zone is None or reader_zone == person.time_zone:
            return verdict
        if verdict != static_reason(self.target, person, self.settings):
            return verdict
        # Only the wording depends on the zone: overlaps and gaps are between instants.
        return static_reason(self.target, replace(person, time_zone=reader_zone), self.settings)


def slot_rules(
    *, shift: Shift, now: datetime, part: tuple[datetime, datetime] | None = None
) -> SlotRules:
    """The one way a manager's pick, the slot editor's list and a swap's replacements are
    judged, so they cannot disagree with each other or with the draft.

    `part` (partial cover) judges only that part of the slot: availability, other shifts,
    rest and the cap are checked against the part's times."""
    rotation = shift.roster.rotation
    settings = recommender_settings(rotation)
    roster = list(Shift.objects.filter(roster_id=shift.roster_id))
    starts = {s.pk: s.start for s in roster}

    def whole_start(s: Shift) -> datetime:
        return starts.get(s.split_from_id, s.start) if s.split_from_id else s.start

    target = slot_of(shift, whole_start(shift))
    if part is not None:
        target = rec.Slot(
            key=slot_key(part[0], shift.role),
            shift_key=target.shift_key,
            role=shift.role,
            start=part[0],
            end=part[1],
        )
    start, end = part or (shift.start, shift.end)
    if part is not None and part[0] > shift.start and part[1] < shift.end:
        # A stint inside the shift is nobody's neighbour: "back-to-back" is about the shifts
        # before and after the whole one, so it applies only to a part touching its start or
        # end. Rest and overlap are still judged on the part's own times.
        settings = replace(settings, no_back_to_back=False)
    return SlotRules(
        target=target,
        # Pieces already split off stand as shifts of their own: one person holds two pieces
        # of one primary slot (before and after the cover) without breaking "one slot a shift".
        slots=[target if s.pk == shift.pk else slot_of(s) for s in roster],
        current={
            slot_key(s.start, s.role): s.assignee_id
            for s in roster
            if s.assignee_id is not None and s.pk != shift.pk
        },
        candidates=candidates_for(rotation, start, end, now=now, settings=settings),
        settings=settings,
    )
