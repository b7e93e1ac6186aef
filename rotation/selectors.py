"""Reads for the rotation app. Every queryset here is scoped to what a user may see."""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from onehand.people import display_name, display_name_of

from .coverage import WindowDef, check_coverage
from .models import (
    AuditEntry,
    HandoverNote,
    Membership,
    Person,
    Roster,
    Rotation,
    Shift,
    SlotRole,
    SwapOffer,
    SwapRequest,
    Team,
)

User = get_user_model()


ACTIVE = Membership.Status.ACTIVE


def active_memberships() -> QuerySet[Membership]:
    """Memberships the person accepted: the only ones that share anything of theirs."""
    return Membership.objects.filter(status=ACTIVE)


def teams_for(*, user: AbstractBaseUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(
        pk__in=active_memberships().filter(user=user).values("team_id")
    ).distinct()


def managed_teams(*, user: AbstractBaseUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(
        pk__in=active_memberships()
        .filter(user=user, role=Membership.Role.MANAGER)
        .values("team_id")
    ).distinct()


def is_manager(*, user: AbstractBaseUser, team_id: int) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return (
        active_memberships()
        .filter(user=user, team_id=team_id, role=Membership.Role.MANAGER)
        .exists()
    )


def is_member(*, user: AbstractBaseUser, team_id: int) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or active_memberships().filter(user=user, team_id=team_id).exists()


def is_active_member(*, user_id: int, team_id: int) -> bool:
    """Whether this person accepted a place in the team (the rule for taking its shifts)."""
    return active_memberships().filter(user_id=user_id, team_id=team_id).exists()


def team_people(*, team_id: int) -> QuerySet:
    """The team's active members: whom a manager may pick, see and schedule."""
    return User.objects.filter(
        pk__in=active_memberships().filter(team_id=team_id).values("user_id")
    )


def memberships_for(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    """Active memberships of the viewer's teams; the viewer's own invitations; and, for a
    manager, the invitations their team sent (shown without the person's details)."""
    if not user.is_authenticated:
        return Membership.objects.none()
    visible = Q(team__in=teams_for(user=user), status=ACTIVE) | Q(user=user)
    visible |= Q(team__in=managed_teams(user=user), status=Membership.Status.INVITED)
    return Membership.objects.filter(visible).select_related("team", "user")


def invitations_for(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, status=Membership.Status.INVITED).select_related(
        "team", "invited_by"
    )


def rotations_for(*, user: AbstractBaseUser) -> QuerySet[Rotation]:
    return Rotation.objects.filter(team__in=teams_for(user=user)).select_related(
        "team", "mentor__person", "lead__person"
    )


def rotation_visible(*, user: AbstractBaseUser, rotation_id: int) -> bool:
    """Whether the user may read this rotation (what `rotations_for` says), in one small
    query: the on-call answer checks this before handing out a cached answer."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return Rotation.objects.filter(pk=rotation_id).exists()
    return active_memberships().filter(user=user, team__rotations__pk=rotation_id).exists()


def rosters_for(*, user: AbstractBaseUser) -> QuerySet[Roster]:
    return Roster.objects.filter(rotation__team__in=teams_for(user=user)).select_related(
        "rotation__team"
    )


def shifts_for(*, user: AbstractBaseUser) -> QuerySet[Shift]:
    return Shift.objects.filter(roster__rotation__team__in=teams_for(user=user)).select_related(
        "roster__rotation", "assignee__person"
    )


def person_of(*, user: AbstractBaseUser) -> Person:
    person, _ = Person.objects.get_or_create(user=user)
    return person


def published_shifts(*, rotation_id: int, start: datetime, end: datetime) -> QuerySet[Shift]:
    """Slots of published rosters of a rotation overlapping [start, end)."""
    return (
        Shift.objects.filter(
            roster__rotation_id=rotation_id,
            roster__status=Roster.Status.PUBLISHED,
            start__lt=end,
            end__gt=start,
        )
        .select_related("assignee__person", "window")
        .order_by("start", "role")
    )


def upcoming_shifts_of(*, user: AbstractBaseUser, now: datetime, limit: int = 10) -> list[Shift]:
    return list(
        Shift.objects.filter(assignee=user, roster__status=Roster.Status.PUBLISHED, end__gt=now)
        .select_related("roster__rotation__team")
        .order_by("start")[:limit]
    )


@dataclass(frozen=True)
class Contact:
    role: str
    user_id: int
    name: str
    email: str
    phone: str
    time_zone: str


@dataclass(frozen=True)
class OnCall:
    rotation: Rotation
    at: datetime
    primary: Contact | None
    secondary: Contact | None
    shadow: Contact | None
    escalation: list[Contact]
    shift_start: datetime | None
    shift_end: datetime | None
    # the first instant after `at` at which a slot of any role ends or starts: the answer holds
    # until then (a secondary's part may end before the primary's shift, a gap ends at the next
    # shift's start); None when nothing is published after `at`
    next_change: datetime | None


# how long an answer given between shifts holds at most (see `on_call`)
GAP_RECHECK = timedelta(minutes=1)


def contact_of(*, role: str, user) -> Contact:
    """A user as a contact (name, e-mail, phone, time zone); `user.person` loaded."""
    return _contact(role, user)


def _contact(role: str, user) -> Contact | None:
    if user is None:
        return None
    person = getattr(user, "person", None)
    return Contact(
        role=role,
        user_id=user.pk,
        name=display_name(user),
        email=user.email,
        phone=person.phone if person else "",
        time_zone=person.time_zone if person else "UTC",
    )


@dataclass(frozen=True)
class ShiftPeople:
    """One shift's time and people, as an escalation chain is chosen for it. Users come with
    `person` (and the primary's `person.mentor.person`) loaded; the rotation with its mentor
    and lead (and their `person`)."""

    rotation: Rotation
    start: datetime
    end: datetime
    primary: object | None  # a user
    secondary: object | None  # a user


def named_chain(*, shift: ShiftPeople) -> list[Contact]:
    """The contacts as set, whether or not they can be reached: secondary, the primary's
    mentor (or the rotation's), then the lead; no repeats. Only the fallback until the
    planning layer installs the reachable chain (planning/escalation.py)."""
    primary, secondary, rotation = shift.primary, shift.secondary, shift.rotation
    chain: list[Contact] = []
    seen = {primary.pk} if primary else set()
    mentor = None
    if primary is not None and getattr(primary, "person", None) and primary.person.mentor_id:
        mentor = primary.person.mentor
    mentor = mentor or rotation.mentor
    for role, user in (("secondary", secondary), ("mentor", mentor), ("lead", rotation.lead)):
        if user is not None and user.pk not in seen:
            seen.add(user.pk)
            chain.append(_contact(role, user))
    return chain


def _named_chains(*, shifts: Sequence[ShiftPeople]) -> list[list[Contact]]:
    return [named_chain(shift=shift) for shift in shifts]


# Who an escalation chain names depends on availability and experience, which live in higher
# layers: planning/apps.py installs planning.escalation.escalation_chains here at start-up, so
# the on-call answer and every page below planning name the same people as invites and feeds.
_escalation_policy: Callable[..., list[list[Contact]]] = _named_chains


def install_escalation_policy(*, policy: Callable[..., list[list[Contact]]]) -> None:
    global _escalation_policy
    _escalation_policy = policy


def escalation_chains(*, shifts: Sequence[ShiftPeople]) -> list[list[Contact]]:
    """Each shift's escalation chain, in order, for many shifts at once (flat query count)."""
    return _escalation_policy(shifts=shifts)


def on_call(*, rotation: Rotation, at: datetime) -> OnCall:
    current = Shift.objects.filter(
        roster__rotation_id=rotation.pk,
        roster__status=Roster.Status.PUBLISHED,
        start__lte=at,
        end__gt=at,
    ).select_related("assignee__person__mentor__person")
    slots = {s.role: s for s in current}
    primary = slots.get(SlotRole.PRIMARY)
    secondary = slots.get(SlotRole.SECONDARY)
    shadow = slots.get(SlotRole.SHADOW)
    primary_user = primary.assignee if primary else None
    secondary_user = secondary.assignee if secondary else None
    any_slot = primary or secondary or shadow
    next_start = (
        Shift.objects.filter(
            roster__rotation_id=rotation.pk,
            roster__status=Roster.Status.PUBLISHED,
            start__gt=at,
        )
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    next_change = min([s.end for s in current] + ([next_start] if next_start else []), default=None)
    if any_slot is None:
        # Between shifts the chain is whoever is reachable at this instant, which time away
        # starting or ending changes with no slot boundary: look again within a minute
        # (red-team finding: a lead's leave starting in a gap of hours).
        recheck = at + GAP_RECHECK
        next_change = recheck if next_change is None else min(next_change, recheck)
    # The chain of the shift under way (the one its invites named); between shifts, the
    # people reachable at this instant.
    span = (any_slot.start, any_slot.end) if any_slot else (at, at + timedelta(seconds=1))
    (chain,) = escalation_chains(
        shifts=[ShiftPeople(rotation, span[0], span[1], primary_user, secondary_user)]
    )
    return OnCall(
        rotation=rotation,
        at=at,
        primary=_contact("primary", primary_user),
        secondary=_contact("secondary", secondary_user),
        shadow=_contact("shadow", shadow.assignee if shadow else None),
        escalation=chain,
        shift_start=any_slot.start if any_slot else None,
        shift_end=any_slot.end if any_slot else None,
        next_change=next_change,
    )


def team_with_members(*, team_id: int) -> Team:
    return Team.objects.prefetch_related(
        Prefetch(
            "memberships",
            queryset=active_memberships()
            .select_related("user__person")
            .order_by("user__first_name"),
        )
    ).get(pk=team_id)


# --- Planning: the manager's availability calendar and drafts ---------------------------------


def latest_published_end(*, rotation: Rotation) -> date | None:
    """The (exclusive) end of the rotation's latest published roster, if any."""
    return (
        Roster.objects.filter(rotation=rotation, status=Roster.Status.PUBLISHED)
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )


def superseded_by_publishing(*, roster: Roster) -> QuerySet[Roster]:
    """The published rosters that publishing this draft would supersede (same overlap rule
    as `services.publish_roster`)."""
    return Roster.objects.filter(
        rotation_id=roster.rotation_id,
        status=Roster.Status.PUBLISHED,
        period_start__lt=roster.period_end,
        period_end__gt=roster.period_start,
    ).exclude(pk=roster.pk)


def publish_token(*, roster: Roster) -> str:
    """What a publish preview was computed from: the assignees of the draft's slots and of the
    published rosters it replaces, with their versions. Any edit or swap since changes it."""
    replaced = list(
        superseded_by_publishing(roster=roster).order_by("pk").values_list("pk", "version")
    )
    slots = Shift.objects.filter(roster_id__in=[roster.pk, *(pk for pk, _ in replaced)])
    digest = hashlib.sha256(repr(replaced).encode())
    for row in slots.order_by("pk").values_list("pk", "assignee_id", "sequence").iterator():
        digest.update(repr(row).encode())
    return f"{roster.pk}-{digest.hexdigest()[:32]}"


@dataclass(frozen=True)
class PublishClash:
    """Someone this draft puts on a slot while they hold an overlapping published shift of
    another rotation (published after the draft was made, or an earlier override elsewhere)."""

    name: str
    role: str
    start: datetime
    other_rotation: str
    other_role: str
    other_start: datetime
    time_zone: str

    def words(self) -> str:
        tz = ZoneInfo(self.time_zone)
        return (
            f"{self.name} would be {self.role} from {self.start.astimezone(tz):%a %d %b %H:%M} "
            f"while also {self.other_role} in {self.other_rotation} from "
            f"{self.other_start.astimezone(tz):%a %d %b %H:%M} ({self.time_zone})"
        )


def holders_not_in_team(*, roster: Roster) -> list[str]:
    """Names of the people holding slots of `roster` who are no longer active members of its
    team (they left after the draft was made): such a roster is not published. One query."""
    members = active_memberships().filter(team_id=roster.rotation.team_id).values("user_id")
    gone = (
        get_user_model()
        .objects.filter(shifts__roster=roster)
        .exclude(pk__in=members)
        .distinct()
        .order_by("pk")
    )
    return [display_name(user) for user in gone]


def publish_clashes(*, roster: Roster) -> list[PublishClash]:
    """Slots of `roster` still ahead (not chosen by override) whose person holds an overlapping
    slot of another rotation's published roster. One query. (A clash already over is history:
    publishing it pages nobody.)"""
    others = Shift.objects.filter(
        roster__status=Roster.Status.PUBLISHED,
        assignee_id=OuterRef("assignee_id"),
        start__lt=OuterRef("end"),
        end__gt=OuterRef("start"),
    ).exclude(roster__rotation_id=roster.rotation_id)
    found = (
        Shift.objects.filter(
            roster=roster, assignee__isnull=False, overridden=False, end__gt=timezone.now()
        )
        .annotate(
            other_rotation=Subquery(others.values("roster__rotation__name")[:1]),
            other_role=Subquery(others.values("role")[:1]),
            other_start=Subquery(others.values("start")[:1]),
        )
        .filter(other_start__isnull=False)
        .select_related("assignee", "roster__rotation")
        .order_by("start", "role")
    )
    return [
        PublishClash(
            name=display_name(s.assignee),
            role=s.role,
            start=s.start,
            other_rotation=s.other_rotation,
            other_role=s.other_role,
            other_start=s.other_start,
            time_zone=s.roster.rotation.time_zone,
        )
        for s in found
    ]


def drafts_for(*, rotation: Rotation, period_start, period_end) -> QuerySet[Roster]:
    return (
        Roster.objects.filter(rotation=rotation, period_start=period_start, period_end=period_end)
        .select_related("created_by")
        .order_by("-created_at")
    )


def roster_detail(*, roster_id: int):
    """A roster with its slots grouped by shift, and the people who could be chosen."""
    roster = Roster.objects.select_related(
        "rotation__team", "rotation__lead__person", "rotation__mentor__person"
    ).get(pk=roster_id)
    slots = list(
        roster.shifts.select_related("assignee__person__mentor__person").order_by("start", "role")
    )
    return roster, slots


def rotation_people(*, rotation: Rotation):
    return [
        m.user
        for m in rotation.rotation_members.select_related("user__person").order_by(
            "user__first_name", "user__username"
        )
    ]


def rotation_names(*, rotation: Rotation, user_ids: Iterable[int]) -> dict[int, str]:
    """These people's names as they are called now (id -> name), members of the rotation only,
    from plain columns: one query that builds no users (a roster names few of 800 people)."""
    return {
        uid: display_name_of(first, last, username)
        for uid, first, last, username in rotation.rotation_members.filter(
            user_id__in=list(user_ids)
        ).values_list("user_id", "user__first_name", "user__last_name", "user__username")
    }


def audit_entries_for(*, user: AbstractBaseUser) -> QuerySet[AuditEntry]:
    """Audit rows of the teams the user manages (nobody else reads them)."""
    return AuditEntry.objects.filter(team__in=managed_teams(user=user)).select_related("actor")


def _audit_value(key: str, value, names: dict[int, str]) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if key == "assignee":
        return f"assignee {names.get(value, f'#{value}')}"
    if key == "shift_start":
        try:
            at = datetime.fromisoformat(value).astimezone(UTC)
        except (TypeError, ValueError):
            return f"shift start {value}"
        return f"shift starting {at:%a} {at.day} {at:%b %Y %H:%M} UTC"
    if key in {"shift", "request", "offer", "roster"}:
        return f"{'swap request' if key == 'request' else key} #{value}"
    if key == "trade":
        return f"traded for shift #{value}"
    if key == "superseded":
        return "superseded " + ", ".join(f"roster #{pk}" for pk in value)
    if key == "rows":
        return f"{value} rows"
    if key == "summary" and isinstance(value, dict):
        parts = [
            f"largest load {value['objective_max']:.1f}" if value.get("objective_max") else "",
            f"fairest possible at least {value['lower_bound']:.1f}"
            if value.get("lower_bound") is not None
            else "",
            f"status {value['status']}" if value.get("status") else "",
        ]
        return ", ".join(p for p in parts if p) or None
    if key == "override" and value:
        return f"override: {value}"
    if key == "note":
        return f"note: {value}"
    return f"{key.replace('_', ' ')} {value}"


def audit_in_words(*, entries: list[AuditEntry]) -> dict[int, tuple[str, str]]:
    """Each entry's before and after state as a sentence fragment a person reads ("assignee
    Amara Okafor; shift #12"), people named as everywhere else. One query for the names."""
    ids = {
        value
        for entry in entries
        for state in (entry.before, entry.after)
        for key, value in (state or {}).items()
        if key == "assignee" and isinstance(value, int)
    }
    names = {u.pk: display_name(u) for u in User.objects.filter(pk__in=ids)} if ids else {}

    def words(state) -> str:
        if not isinstance(state, dict):
            return str(state or "")
        parts = (_audit_value(key, value, names) for key, value in sorted(state.items()))
        return "; ".join(p for p in parts if p)

    return {entry.pk: (words(entry.before), words(entry.after)) for entry in entries}


def audit_for(*, roster: Roster) -> QuerySet:
    return AuditEntry.objects.filter(roster=roster).select_related("actor")


@dataclass(frozen=True)
class MyShift:
    shift: Shift
    partner: object | None  # a user
    partner_role: str
    escalation: list[Contact]


def with_whole_span(*, queryset: QuerySet[Shift]) -> QuerySet[Shift]:
    """Each slot annotated with the span of the whole shift it is a piece of after partial
    cover (`whole_start`, `whole_end`); `whole_end` is None for a slot never split. No extra
    query: a subquery and a join on the same rows."""
    last_piece = (
        Shift.objects.filter(split_from_id=Coalesce(OuterRef("split_from_id"), OuterRef("pk")))
        .order_by("-end")
        .values("end")[:1]
    )
    return queryset.annotate(
        whole_end=Subquery(last_piece), whole_start=Coalesce("split_from__start", "start")
    )


def whole_span_of(*, shift: Shift) -> tuple[datetime, datetime] | None:
    """(start, end) of the whole shift `shift` is a piece of, or None (annotated by
    `with_whole_span`)."""
    end = getattr(shift, "whole_end", None)
    return (shift.whole_start, end) if end is not None else None


def partner_role_for(*, role: str) -> str:
    return SlotRole.SECONDARY if role == SlotRole.PRIMARY else SlotRole.PRIMARY


def upcoming_with_partners(
    *, user: AbstractBaseUser, now: datetime, limit: int = 10
) -> list[MyShift]:
    """The viewer's next published shifts, each with their partner and escalation chain."""
    mine = upcoming_shifts_of(user=user, now=now, limit=limit)
    if not mine:
        return []
    # The slots held alongside (by overlap: a piece of a split shift starts when no other
    # slot does), keyed by each of mine and role.
    held_then = Q()
    for shift in mine:
        held_then |= Q(roster_id=shift.roster_id, start__lte=shift.start, end__gt=shift.start)
    siblings = list(
        Shift.objects.filter(held_then)
        .select_related("assignee__person__mentor__person")
        .order_by("start")
    )
    by_key = {}
    for shift in mine:
        for s in siblings:
            if s.roster_id == shift.roster_id and s.start <= shift.start < s.end:
                by_key.setdefault((shift.roster_id, shift.start, s.role), s)
    rotations = {
        r.pk: r
        for r in Rotation.objects.filter(
            pk__in={s.roster.rotation_id for s in mine}
        ).select_related("mentor__person", "lead__person")
    }
    people = []
    for shift in mine:
        primary = by_key.get((shift.roster_id, shift.start, SlotRole.PRIMARY))
        secondary = by_key.get((shift.roster_id, shift.start, SlotRole.SECONDARY))
        people.append(
            ShiftPeople(
                rotations[shift.roster.rotation_id],
                shift.start,
                shift.end,
                primary.assignee if primary else None,
                secondary.assignee if secondary else None,
            )
        )
    out = []
    for shift, chain in zip(mine, escalation_chains(shifts=people), strict=True):
        partner_role = partner_role_for(role=shift.role)
        partner_slot = by_key.get((shift.roster_id, shift.start, partner_role))
        out.append(
            MyShift(
                shift=shift,
                partner=partner_slot.assignee if partner_slot else None,
                partner_role=partner_role,
                # The secondary does not escalate to themselves.
                escalation=[c for c in chain if c.user_id != user.pk],
            )
        )
    return out


def my_swap_activity(*, user: AbstractBaseUser):
    """Open requests I made and offers waiting for my answer."""
    requests = list(
        SwapRequest.objects.filter(requester=user, status__in=["open", "pending"])
        .select_related("shift__roster__rotation", "winner")
        .prefetch_related("offers__candidate")
    )
    offers = list(
        SwapOffer.objects.filter(
            candidate=user, status="offered", request__status="open"
        ).select_related("request__shift__roster__rotation", "request__requester")
    )
    return requests, offers


def open_swaps_for_rotation(*, rotation: Rotation):
    return list(
        SwapRequest.objects.filter(shift__roster__rotation=rotation, status__in=["open", "pending"])
        .select_related("shift", "requester", "winner")
        .prefetch_related("offers__candidate")
        .order_by("shift__start")
    )


def coverage_deviations(*, rotation: Rotation, today: date, days: int = 366):
    """Follow the sun: where DST makes regions' windows overlap or leave a gap, grouped by run."""
    if rotation.pattern != Rotation.Pattern.FOLLOW_THE_SUN:
        return []
    defs = [
        WindowDef(str(w.pk), w.label, w.time_zone, w.start, w.end) for w in rotation.windows.all()
    ]
    if len(defs) < 2:
        return []
    runs: list[dict] = []
    for d in check_coverage(defs, today, today + timedelta(days=days)):
        key = (d.kind, d.before, d.after, round(d.hours, 2))
        if runs and runs[-1]["key"] == key and (d.start - runs[-1]["last"]).days <= 2:
            runs[-1]["last"] = d.start
            runs[-1]["days"] += 1
            continue
        runs.append({"key": key, "first": d.start, "last": d.start, "days": 1, "deviation": d})
    return runs


def recent_handovers(*, rotation: Rotation, limit: int = 5):
    return list(
        HandoverNote.objects.filter(shift__roster__rotation=rotation)
        .select_related("author", "shift__window")
        .order_by("-created_at")[:limit]
    )
