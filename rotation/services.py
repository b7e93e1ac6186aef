"""Writes for the rotation app. Each public function is one transaction."""

from dataclasses import asdict
from datetime import UTC, date, datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import coverage, inputs
from . import recommender as rec
from .events import roster_published, shifts_reassigned
from .models import AuditEntry, Heartbeat, Person, Roster, Rotation, Shift
from .selectors import is_manager
from .shifts import ShiftWindow, shift_windows

User = get_user_model()


class NotAllowed(Exception):
    """The acting user may not do this (e.g. not a manager of the team)."""


class AssignmentRefused(Exception):
    """A manager's edit breaks a hard rule; the message says which."""


def ensure_person(user, **fields) -> Person:
    person, created = Person.objects.get_or_create(user=user, defaults=fields)
    if not created and fields:
        for key, value in fields.items():
            setattr(person, key, value)
        person.full_clean(exclude=["user", "mentor"])
        person.save()
    return person


def window_defs(rotation: Rotation) -> list[coverage.WindowDef]:
    return [
        coverage.WindowDef(key=str(w.pk), label=w.label, time_zone=w.time_zone, start=w.start, end=w.end)
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


def set_rotation_people(rotation: Rotation, users) -> None:
    """Who takes shifts; people keep their 'since' date (it pro-rates their past load)."""
    from .models import RotationMember

    wanted = {u.pk for u in users}
    RotationMember.objects.filter(rotation=rotation).exclude(user_id__in=wanted).delete()
    have = set(RotationMember.objects.filter(rotation=rotation).values_list("user_id", flat=True))
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user_id=uid, since=timezone.now().date()) for uid in wanted - have
    )


def _require_manager(user, rotation: Rotation) -> None:
    if user is not None and not is_manager(user, rotation.team_id):
        raise NotAllowed("Only a manager of this team can do that.")


def _audit(roster: Roster | None, rotation: Rotation, actor, action: str, summary: str, before=None, after=None):
    AuditEntry.objects.create(
        team_id=rotation.team_id,
        rotation=rotation,
        roster=roster,
        actor=actor,
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
    created_by=None,
    assignments: dict[tuple[datetime, str], int | None] | None = None,
) -> Roster:
    """A draft roster with one empty (or given) slot per role per shift of the period."""
    roster = Roster.objects.create(
        rotation=rotation, period_start=period_start, period_end=period_end, created_by=created_by
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


def _period_bounds(rotation: Rotation, period_start: date, period_end: date):
    windows = [w for w, _ in rotation_windows(rotation, period_start, period_end)]
    if not windows:
        return windows, None, None
    return windows, windows[0].start, windows[-1].end


def recommend_for(
    rotation: Rotation, period_start: date, period_end: date, *, now: datetime, mode: str = "greedy",
    pinned: dict[str, int] | None = None, **overrides,
) -> tuple[list[rec.Slot], list[rec.Candidate], rec.Recommendation]:
    half_life = overrides.pop("half_life_days", None)
    settings = inputs.recommender_settings(rotation, **overrides)
    windows, start, end = _period_bounds(rotation, period_start, period_end)
    slots = inputs.slots_for(windows, rotation.slot_roles)
    if not slots:
        return [], [], rec.recommend([], [], settings)
    candidates = inputs.candidates_for(rotation, start, end, now=now, settings=settings, half_life_days=half_life)
    # Shadow slots only exist where someone still needs shadowing; others stay out of the draft.
    return slots, candidates, rec.recommend(slots, candidates, settings, mode=mode, pinned=pinned)


def _summary(result: rec.Recommendation, candidates, settings_used: dict) -> dict:
    names = {c.person_id: c.name for c in candidates}
    return {
        "mode": result.mode,
        "status": result.status,
        "objective_max": result.objective_max,
        "objective_sq": result.objective_sq,
        "lower_bound": result.lower_bound,
        "optimum": result.optimum,
        "gap": result.gap,
        "fairness": asdict(result.fairness) if result.fairness else None,
        "uncovered": [
            {
                "slot": u.slot_key,
                "blocking": {names.get(pid, str(pid)): why for pid, why in u.blocking.items()},
            }
            for u in result.uncovered
        ],
        "people": {str(pid): asdict(p) | {"name": names.get(pid, "")} for pid, p in result.people.items()},
        "settings": settings_used,
    }


@transaction.atomic
def draft_roster(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    by=None,
    mode: str = "greedy",
    now: datetime | None = None,
    **overrides,
) -> Roster:
    """Ask the recommender for a fair roster and save it as a draft, reasons included."""
    _require_manager(by, rotation)
    now = now or timezone.now()
    if by is not None:
        from availability import services as availability

        # Drafting starts: from now on availability for the period changes through swaps, so
        # the draft the manager reviews stays true.
        availability.lock_availability(rotation.team, period_start, period_end, by=by)
    slots, candidates, result = recommend_for(
        rotation, period_start, period_end, now=now, mode=mode, **overrides
    )
    picks = {a.slot_key: a for a in result.assignments}
    roster = create_roster(rotation, period_start, period_end, created_by=by)
    shifts = list(roster.shifts.all())
    for shift in shifts:
        pick = picks.get(inputs.slot_key(shift.start, shift.role))
        if pick is not None:
            shift.assignee_id = pick.person_id
            shift.reason = pick.reason.as_dict()
        else:
            blocking = next(
                (u.blocking for u in result.uncovered if u.slot_key == inputs.slot_key(shift.start, shift.role)),
                None,
            )
            shift.reason = {"summary": "Nobody can take this slot" if blocking else "Not needed", "blocking": {str(k): v for k, v in (blocking or {}).items()}}
    Shift.objects.bulk_update(shifts, ["assignee", "reason"])
    if rotation.has_shadow:
        # A shadow slot nobody needs is not a gap: drop it rather than flag it.
        roster.shifts.filter(role="shadow", assignee__isnull=True).delete()
    settings_used = {"mode": mode, **{k: (str(v) if not isinstance(v, int | float | bool) else v) for k, v in overrides.items()}}
    roster.summary = _summary(result, candidates, settings_used)
    roster.save(update_fields=["summary"])
    _audit(
        roster, rotation, by, AuditEntry.Action.DRAFT,
        f"Drafted {period_start:%d %b}–{period_end:%d %b %Y} ({mode}); largest load {result.objective_max:.1f}, "
        f"{len(result.uncovered)} uncovered",
        after={"summary": {k: roster.summary[k] for k in ("objective_max", "lower_bound", "gap", "status")}},
    )
    return roster


def _display(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "nobody"


def check_slot(shift: Shift, user) -> str | None:
    """Why `user` may not hold `shift` (a hard rule), or None when the edit is fine."""
    roster = shift.roster
    rotation = roster.rotation
    settings = inputs.recommender_settings(rotation)
    others = list(roster.shifts.exclude(pk=shift.pk).filter(assignee__isnull=False))
    slots = [
        rec.Slot(key=inputs.slot_key(s.start, s.role), shift_key=s.start.isoformat(), role=s.role, start=s.start, end=s.end)
        for s in [*others, shift]
    ]
    current = {inputs.slot_key(s.start, s.role): s.assignee_id for s in others}
    candidates = inputs.candidates_for(
        rotation, shift.start, shift.end, now=timezone.now(), settings=settings
    )
    person = next((c for c in candidates if c.person_id == user.pk), None)
    if person is None:
        return f"{_display(user)} is not a member of the {rotation.name} rotation."
    return rec.check_assignment(slots[-1], person, current, slots, settings)


@transaction.atomic
def assign_slot(shift: Shift, user, *, by, override: bool = False, note: str = "") -> Shift:
    """A manager's edit of one slot. Breaking a hard rule needs an explicit, recorded override."""
    shift = Shift.objects.select_for_update().select_related("roster__rotation").get(pk=shift.pk)
    roster = shift.roster
    rotation = roster.rotation
    _require_manager(by, rotation)
    if roster.status == Roster.Status.SUPERSEDED:
        raise AssignmentRefused("This roster has been superseded; edit the current one.")
    previous_id = shift.assignee_id
    if user is not None and user.pk == previous_id:
        return shift
    problem = check_slot(shift, user) if user is not None else None
    if problem and not override:
        raise AssignmentRefused(problem)
    previous = shift.assignee
    shift.assignee = user
    shift.overridden = bool(problem)
    shift.reason = {
        "summary": f"Chosen by {_display(by)}" + (f" (override: {problem})" if problem else "") + (f": {note}" if note else ""),
        "manual": True,
        "override": problem or None,
    }
    if roster.status == Roster.Status.PUBLISHED:
        shift.sequence += 1
        roster.version += 1
        roster.save(update_fields=["version"])
    shift.save()
    action = AuditEntry.Action.OVERRIDE if problem else AuditEntry.Action.EDIT
    _audit(
        roster, rotation, by, action,
        f"{shift.get_role_display()} {shift.start:%a %d %b %H:%M} UTC: {_display(previous)} → {_display(user)}"
        + (f" (override: {problem})" if problem else ""),
        before={"shift": shift.pk, "assignee": previous_id},
        after={"shift": shift.pk, "assignee": user.pk if user else None, "override": problem, "note": note},
    )
    if roster.status == Roster.Status.PUBLISHED:
        shifts_reassigned.send(sender=Shift, changes=[(shift, previous_id)])
    return shift


@transaction.atomic
def publish_roster(roster: Roster, *, by=None) -> Roster:
    """Publish a draft once; earlier published rosters overlapping it are superseded.

    The row lock makes a double click or a second tab publish once: the second caller
    waits, then sees the roster already published and returns it unchanged.
    """
    roster = Roster.objects.select_for_update().select_related("rotation").get(pk=roster.pk)
    _require_manager(by, roster.rotation)
    if roster.status != Roster.Status.DRAFT:
        return roster
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
        _audit(old, roster.rotation, by, AuditEntry.Action.SUPERSEDE, f"Superseded by roster #{roster.pk}")
    roster.status = Roster.Status.PUBLISHED
    roster.published_at = timezone.now()
    roster.published_by = by
    roster.save(update_fields=["status", "published_at", "published_by"])
    gaps = roster.shifts.filter(assignee__isnull=True).count()
    _audit(
        roster, roster.rotation, by, AuditEntry.Action.PUBLISH,
        f"Published {roster.period_start:%d %b}–{roster.period_end:%d %b %Y}" + (f" with {gaps} uncovered slots" if gaps else ""),
        after={"version": roster.version, "superseded": [o.pk for o in superseded]},
    )
    roster_published.send(sender=Roster, roster=roster, superseded=superseded)
    return roster


def beat_heartbeat(now: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": now or datetime.now(UTC)})
