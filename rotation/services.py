"""Writes for the rotation app. Each public function is one transaction."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from onehand.dates import local_words
from onehand.errors import Conflict, Invalid, NotAllowed, RuleBroken
from onehand.people import display_name

from . import coverage
from .events import roster_published, swap_offers_closed, swap_settled
from .models import (
    AuditEntry,
    CoverageWindow,
    HandoverNote,
    Heartbeat,
    Membership,
    Person,
    Roster,
    Rotation,
    RotationMember,
    Shift,
    SwapOffer,
    SwapRequest,
    Team,
)
from .permissions import Actor, SystemActor, acting_user, require_actor, require_manager
from .selectors import active_memberships, holders_not_in_team, publish_clashes, publish_token
from .shifts import ShiftWindow, shift_windows

User = get_user_model()


def ensure_person(user, *, by: Actor, **fields) -> Person:
    """A user's profile (zone, country, phone...), created or changed."""
    require_actor(by)
    person, created = Person.objects.get_or_create(user=user, defaults=fields)
    if not created and fields:
        for key, value in fields.items():
            setattr(person, key, value)
        person.full_clean(exclude=["user", "mentor"])
        person.save()
    return person


def window_defs(rotation: Rotation) -> list[coverage.WindowDef]:
    return [
        coverage.WindowDef(
            key=str(w.pk), label=w.label, time_zone=w.time_zone, start=w.start, end=w.end
        )
        for w in rotation.windows.all()
    ]


def rotation_windows(rotation: Rotation, period_start: date, period_end: date):
    """The rotation's shifts in a period, each with its coverage window id (follow the sun)."""
    if rotation.pattern == Rotation.Pattern.FOLLOW_THE_SUN:
        return [
            (ShiftWindow(s.start, s.end), int(s.window.key))
            for s in coverage.region_shifts(window_defs(rotation), period_start, period_end)
        ]
    return [
        (window, None)
        for window in shift_windows(
            pattern=rotation.pattern,
            handoff_weekday=rotation.handoff_weekday,
            handoff_time=rotation.handoff_time,
            time_zone=rotation.time_zone,
            period_start=period_start,
            period_end=period_end,
        )
    ]


def _set_rotation_people(rotation: Rotation, users) -> None:
    """Who takes shifts; people keep their 'since' date (it pro-rates their past load)."""
    wanted = {u.pk for u in users}
    RotationMember.objects.filter(rotation=rotation).exclude(user_id__in=wanted).delete()
    have = set(RotationMember.objects.filter(rotation=rotation).values_list("user_id", flat=True))
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user_id=uid, since=timezone.now().date())
        for uid in wanted - have
    )


def audit(
    roster: Roster | None,
    rotation: Rotation,
    by: Actor,
    action: str,
    summary: str,
    before=None,
    after=None,
) -> None:
    AuditEntry.objects.create(
        team_id=rotation.team_id,
        rotation=rotation,
        roster=roster,
        actor=acting_user(by),
        action=action,
        summary=summary[:300],
        before=before or {},
        after=after or {},
    )


@transaction.atomic
def create_roster(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    by: Actor,
    assignments: dict[tuple[datetime, str], int | None] | None = None,
) -> Roster:
    """A draft roster with one empty (or given) slot per role per shift of the period."""
    require_manager(by, rotation.team_id)
    roster = Roster.objects.create(
        rotation=rotation,
        period_start=period_start,
        period_end=period_end,
        created_by=acting_user(by),
    )
    assignments = assignments or {}
    Shift.objects.bulk_create(
        Shift(
            roster=roster,
            role=role,
            start=window.start,
            end=window.end,
            assignee_id=assignments.get((window.start, role)),
            window_id=window_id,
        )
        for window, window_id in rotation_windows(rotation, period_start, period_end)
        for role in rotation.slot_roles
    )
    return roster


@transaction.atomic
def publish_roster(roster: Roster, *, by: Actor, previewed: str | None = None) -> Roster:
    """Publish a draft once; earlier published rosters overlapping it are superseded.

    `previewed`: the `selectors.publish_token` the manager's preview was computed from. If the
    draft or a roster it replaces changed since, the publish is refused (the preview would
    be wrong about who gets what).

    The row lock makes a double click or a second tab publish once: the second caller
    waits, then sees the roster already published and returns it unchanged.

    Locks are taken in one order, the rotation row first: two drafts of the same month
    published at once queue behind each other instead of deadlocking on the rosters.
    (FOR NO KEY UPDATE: rows that merely reference the rotation are not held up.)
    """
    rotation_id = Roster.objects.values_list("rotation_id", flat=True).get(pk=roster.pk)
    Rotation.objects.select_for_update(no_key=True).filter(pk=rotation_id).first()
    roster = Roster.objects.select_for_update().select_related("rotation").get(pk=roster.pk)
    require_manager(by, roster.rotation.team_id)
    if roster.status != Roster.Status.DRAFT:
        return roster
    if previewed is not None and previewed != publish_token(roster=roster):
        raise Conflict(
            "This draft or the published roster changed since you previewed it; "
            "nothing was published. Preview again to see the changes as they are now."
        )
    # Another rotation may have published this person's time since the draft was made: a
    # person on two overlapping shifts is a missed page. (A slot chosen by override stays.)
    if clashes := publish_clashes(roster=roster):
        listed = "; ".join(c.words() for c in clashes[:5])
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        raise RuleBroken(
            f"Not published: {listed}{more}. Change those slots (or choose them again with an "
            "override), then publish."
        )
    # Someone who left the team since the draft was made would hold shifts nobody in the team
    # can swap with (red-team finding): their slots go to someone else first.
    if gone := holders_not_in_team(roster=roster):
        raise RuleBroken(
            f"Not published: {', '.join(gone[:5])}{' and others' if len(gone) > 5 else ''} "
            "no longer in the team but holding slots of this draft. Give those slots to someone "
            "else, then publish."
        )
    superseded = list(
        Roster.objects.select_for_update().filter(
            rotation_id=roster.rotation_id,
            status=Roster.Status.PUBLISHED,
            period_start__lt=roster.period_end,
            period_end__gt=roster.period_start,
        )
    )
    for old in superseded:
        old.status = Roster.Status.SUPERSEDED
        old.save(update_fields=["status"])
        audit(
            old,
            roster.rotation,
            by,
            AuditEntry.Action.SUPERSEDE,
            f"Superseded by roster #{roster.pk}",
        )
    _close_requests_on(superseded, by=by)
    roster.status = Roster.Status.PUBLISHED
    roster.published_at = timezone.now()
    roster.published_by = acting_user(by)
    roster.save(update_fields=["status", "published_at", "published_by"])
    gaps = roster.shifts.filter(assignee__isnull=True).count()
    audit(
        roster,
        roster.rotation,
        by,
        AuditEntry.Action.PUBLISH,
        f"Published {roster.period_start:%d %b}–{roster.period_end:%d %b %Y}"
        + (f" with {gaps} uncovered slots" if gaps else ""),
        after={"version": roster.version, "superseded": [o.pk for o in superseded]},
    )
    roster_published.send(sender=Roster, roster=roster, superseded=superseded)
    return roster


def _close_requests_on(superseded: list[Roster], *, by: Actor) -> None:
    """Open swap requests on a replaced roster's shifts are moot (their shift is history):
    cancel them with the reason, withdraw their offers (holders told), tell the requester."""
    now = timezone.now()
    moot = list(
        SwapRequest.objects.select_for_update()
        .select_related("shift__roster__rotation")
        .filter(
            shift__roster__in=superseded,
            status__in=[SwapRequest.Status.OPEN, SwapRequest.Status.PENDING_APPROVAL],
        )
    )
    for request in moot:
        request.status = SwapRequest.Status.CANCELLED
        request.closed_reason = "republished"
        request.winner = None
        request.decided_at = now
        request.save(update_fields=["status", "closed_reason", "winner", "decided_at"])
        offers = list(
            request.offers.select_for_update().filter(
                status__in=[SwapOffer.Status.OFFERED, SwapOffer.Status.ACCEPTED]
            )
        )
        SwapOffer.objects.filter(pk__in=[o.pk for o in offers]).update(
            status=SwapOffer.Status.WITHDRAWN, decided_at=now
        )
        if offers:
            swap_offers_closed.send(
                sender=SwapOffer, request=request, offers=offers, reason="republished"
            )
        swap_settled.send(sender=SwapRequest, request=request)


def beat_heartbeat(*, by: Actor, now: datetime | None = None) -> None:
    """Beat is alive: /healthz and /metrics read this row's age."""
    require_actor(by)
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": now or datetime.now(UTC)})


@dataclass(frozen=True)
class WindowSpec:
    """One follow-the-sun region's daily window as a page or the API gives it."""

    label: str
    time_zone: str
    start: time
    end: time
    pk: int | None = None


# Gaps and overlaps up to this many hours are tolerated (handoff slack between regions).
COVERAGE_SLACK_HOURS = 3


def _window_problem(windows: list[WindowSpec]) -> str | None:
    """Why these windows cannot be saved at all: a label twice, or a window with no length."""
    labels = [w.label.strip().casefold() for w in windows]
    twice = next((w.label for w, label in zip(windows, labels) if labels.count(label) > 1), None)
    if twice is not None:
        return f"Each window needs its own label: “{twice}” is used twice."
    empty = next((w.label for w in windows if w.start == w.end), None)
    if empty is not None:
        return f"The window “{empty}” starts when it ends: give it a length."
    return None


def coverage_problem(pattern: str, windows: list[WindowSpec], *, today: date) -> str | None:
    """Why these windows cannot make a follow-the-sun rotation, checked over a year of DST."""
    if pattern != Rotation.Pattern.FOLLOW_THE_SUN:
        return None
    if len(windows) < 2:
        return "A follow-the-sun rotation needs at least two regions' windows."
    defs = [
        coverage.WindowDef(str(i), w.label, w.time_zone, w.start, w.end)
        for i, w in enumerate(windows)
    ]
    deviations = coverage.check_coverage(defs, today, today + timedelta(days=366))
    worst = max(deviations, key=lambda d: d.hours, default=None)
    if worst is not None and worst.hours > COVERAGE_SLACK_HOURS:
        return (
            f"The windows leave a {worst.kind} of {worst.hours:.0f} hours between {worst.before} "
            f"and {worst.after} (from {worst.start:%d %b %H:%M} UTC): together they must cover "
            "the day."
        )
    return None


@transaction.atomic
def save_rotation(
    *,
    by: Actor,
    team: Team,
    fields: dict,
    windows: list[WindowSpec] | None = None,
    people=None,
    rotation: Rotation | None = None,
    today: date | None = None,
) -> Rotation:
    """Create or change a rotation: the one place the coverage rule is checked.

    `windows=None` keeps the rotation's current windows; `people=None` keeps its people.
    """
    require_manager(by, team.pk)
    rotation = rotation or Rotation(team=team)
    for name, value in fields.items():
        setattr(rotation, name, value)
    rotation.team = team
    if windows is None:
        windows = [
            WindowSpec(w.label, w.time_zone, w.start, w.end, pk=w.pk)
            for w in (rotation.windows.all() if rotation.pk else [])
        ]
    problem = _window_problem(windows) or coverage_problem(
        rotation.pattern, windows, today=today or timezone.now().date()
    )
    if problem:
        raise Invalid(problem, field="windows")
    try:
        rotation.full_clean(exclude=["team"])
    except ValidationError as error:
        # A rule across fields (the level thresholds' order): a 400 with the rule in words.
        raise Invalid(" ".join(error.messages)) from None
    rotation.save()
    existing = {w.pk: w for w in rotation.windows.all()}
    kept = set()
    for spec in windows:
        window = existing.get(spec.pk) or CoverageWindow(rotation=rotation)
        window.label, window.time_zone = spec.label, spec.time_zone
        window.start, window.end = spec.start, spec.end
        window.save()
        kept.add(window.pk)
    rotation.windows.exclude(pk__in=kept).delete()
    if people is not None:
        _set_rotation_people(rotation, people)
    return rotation


def may_create_teams(by: Actor) -> bool:
    """Staff (the organisation's admins) create teams; everyone only when self-service is on."""
    if isinstance(by, SystemActor):
        return True
    if not getattr(by, "is_authenticated", False):
        return False
    return by.is_staff or by.is_superuser or settings.ONEHAND_SELF_SERVICE_TEAMS


@transaction.atomic
def create_team(*, by: Actor, name: str, slug: str) -> Team:
    """A new team; its creator becomes its first manager."""
    require_actor(by)
    if not may_create_teams(by):
        raise NotAllowed("Only an administrator can create teams.")
    team = Team(name=name, slug=slug)
    team.full_clean()
    team.save()
    user = acting_user(by)
    if user is not None:
        Membership.objects.create(
            team=team, user=user, role=Membership.Role.MANAGER, status=Membership.Status.ACTIVE
        )
    return team


@transaction.atomic
def set_team_settings(team: Team, *, by: Actor, max_oncall_share: int) -> Team:
    """A manager sets the team's cap: the largest share of a period one person is on call."""
    require_manager(by, team.pk, "Only a manager of this team can change its settings.")
    try:
        share = int(max_oncall_share)
    except (TypeError, ValueError):
        raise Invalid("Give the cap as a whole percent.", field="max_oncall_share") from None
    if not 1 <= share <= 100:
        raise Invalid("The cap is a percent from 1 to 100.", field="max_oncall_share")
    before = team.max_oncall_share
    team.max_oncall_share = share
    team.save(update_fields=["max_oncall_share"])
    AuditEntry.objects.create(
        team=team,
        actor=acting_user(by),
        action=AuditEntry.Action.EDIT,
        summary=f"On-call cap: {before}% → {share}% of a period",
        before={"max_oncall_share": before},
        after={"max_oncall_share": share},
    )
    return team


def _check_fte(fte) -> Decimal:
    try:
        value = Decimal(str(fte))
    except (InvalidOperation, ValueError):
        raise Invalid("Give the share of full time as a number, e.g. 0.8.", field="fte") from None
    if not (0 < value <= 1) or value.as_tuple().exponent < -2:
        raise Invalid("Share of full time is more than 0 and at most 1 (e.g. 0.5).", field="fte")
    return value


@transaction.atomic
def invite_member(
    team: Team, user, *, by: Actor, role: str = Membership.Role.ENGINEER, fte=1
) -> Membership:
    """A manager asks someone to join. Nothing of theirs is shared until they accept."""
    require_manager(by, team.pk)
    if role not in Membership.Role.values:
        raise Invalid("Role is engineer or manager.", field="role")
    fte = _check_fte(fte)
    if Membership.objects.filter(team=team, user=user).exists():
        raise Conflict("That person is already in this team or invited to it.", field="user")
    return Membership.objects.create(
        team=team,
        user=user,
        role=role,
        fte=fte,
        status=Membership.Status.INVITED,
        invited_by=acting_user(by),
    )


@transaction.atomic
def accept_invitation(membership: Membership, *, by: Actor) -> Membership:
    """The invited person agrees: from now on the team's managers see what members share."""
    require_actor(by)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if getattr(by, "pk", None) != membership.user_id:
        raise NotAllowed("Only the person invited can accept an invitation.")
    if membership.status != Membership.Status.ACTIVE:
        membership.status = Membership.Status.ACTIVE
        membership.save(update_fields=["status"])
    return membership


@transaction.atomic
def leave_team(membership: Membership, *, by: Actor) -> None:
    """Decline an invitation or leave a team (the person), or remove someone (a manager).

    Someone who still holds an upcoming or running shift of the team's rotations is not
    removed: the shift would stay theirs, on calendars and in the on-call answer, with nobody
    in the team to swap with (red-team finding). Their shifts are reassigned or covered first.
    Leaving takes them out of the team's rotations too, so no draft ranks them again, and off
    those rotations' lead and mentor."""
    require_actor(by)
    if getattr(by, "pk", None) != membership.user_id:
        require_manager(by, membership.team_id)
    # The rotation rows first, as publishing and slot edits lock them: a shift given to this
    # person while they leave waits for this check, or this check waits for it.
    list(Rotation.objects.select_for_update(no_key=True).filter(team_id=membership.team_id))
    if _last_manager(membership):
        raise Conflict(
            "This is the team's last manager: make someone else a manager first, so the team "
            "can still publish and invite; nothing was changed."
        )
    upcoming = list(
        Shift.objects.filter(
            assignee_id=membership.user_id,
            roster__rotation__team_id=membership.team_id,
            roster__status=Roster.Status.PUBLISHED,
            end__gt=timezone.now(),
        )
        .select_related("roster__rotation")
        .order_by("start")[:2]
    )
    if upcoming:
        first = upcoming[0]
        user = membership.user
        who = "You hold" if getattr(by, "pk", None) == user.pk else f"{display_name(user)} holds"
        raise Conflict(
            f"{who} {'shifts' if len(upcoming) > 1 else 'a shift'} of this team running or still "
            f"to come, the first {first.roster.rotation.name} {first.role} from "
            f"{local_words(first.start, _reader_zone(by))}: reassign "
            f"{'them' if len(upcoming) > 1 else 'it'} or ask for cover first; nothing was changed."
        )
    RotationMember.objects.filter(
        user_id=membership.user_id, rotation__team_id=membership.team_id
    ).delete()
    # nor are they the lead or mentor of the team's rotations any more: the escalation chain
    # would name them, with their phone (red-team finding); that step stays empty until a
    # manager picks someone (a personal mentor is the person's own choice, across teams: the
    # chain skips one who is not in the rotation's team)
    team_rotations = Rotation.objects.filter(team_id=membership.team_id)
    team_rotations.filter(lead_id=membership.user_id).update(lead=None)
    team_rotations.filter(mentor_id=membership.user_id).update(mentor=None)
    membership.delete()


def _last_manager(membership: Membership) -> bool:
    if membership.role != Membership.Role.MANAGER or membership.status != Membership.Status.ACTIVE:
        return False
    others = active_memberships().filter(team_id=membership.team_id, role=Membership.Role.MANAGER)
    return not others.exclude(pk=membership.pk).exists()


def _reader_zone(by: Actor) -> str:
    return getattr(getattr(by, "person", None), "time_zone", None) or "UTC"


@transaction.atomic
def change_membership(membership: Membership, *, by: Actor, role=None, fte=None) -> Membership:
    """A manager changes someone's role or share of full time (not who or which team)."""
    require_manager(by, membership.team_id)
    if role is not None:
        if role not in Membership.Role.values:
            raise Invalid("Role is engineer or manager.", field="role")
        membership.role = role
    if fte is not None:
        membership.fte = _check_fte(fte)
    membership.save(update_fields=["role", "fte"])
    return membership


HANDOVER_MAX_CHARS = 4000


@transaction.atomic
def write_handover(
    shift: Shift, *, by: Actor, open_incidents: str = "", notes: str = ""
) -> HandoverNote | None:
    """The outgoing person's note for the incoming one; only the shift's holder writes it.

    Text is trimmed to the field's limit and NUL bytes (which PostgreSQL refuses) are removed;
    an empty note is not saved.
    """
    require_actor(by)
    if getattr(by, "pk", None) != shift.assignee_id:
        raise NotAllowed("Only the person on this shift writes its handover.")
    open_incidents = open_incidents.replace("\x00", "").strip()[:HANDOVER_MAX_CHARS]
    notes = notes.replace("\x00", "").strip()[:HANDOVER_MAX_CHARS]
    if not (open_incidents or notes):
        return None
    return HandoverNote.objects.create(
        shift=shift, author=by, open_incidents=open_incidents, notes=notes
    )
