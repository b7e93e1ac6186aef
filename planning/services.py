"""Writes of the planning layer: drafting a roster with the recommender, and editing slots.

Each public function is one transaction and takes the acting person as a required `by`.
"""

from dataclasses import asdict, replace
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from availability import services as availability
from onehand.dates import FIRST_YEAR, LAST_YEAR, MONTH_PROBLEM
from onehand.errors import Invalid, RuleBroken
from onehand.people import display_name
from rotation.events import shifts_reassigned
from rotation.models import AuditEntry, Roster, Rotation, Shift
from rotation.permissions import Actor, actor_name, require_manager
from rotation.selectors import is_active_member
from rotation.services import audit, create_roster, rotation_windows

from . import escalation, inputs
from . import recommender as rec
from . import selectors as planning_selectors

NOT_A_MEMBER = "That person is not an active member of this team."


class AssignmentRefused(RuleBroken):
    """A manager's edit breaks a hard rule; the message says which."""


def _period_bounds(rotation: Rotation, period_start: date, period_end: date):
    windows = [w for w, _ in rotation_windows(rotation, period_start, period_end)]
    if not windows:
        return windows, None, None
    return windows, windows[0].start, windows[-1].end


def recommend_for(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    now: datetime,
    mode: str = "greedy",
    pinned: dict[str, int] | None = None,
    **overrides,
) -> tuple[list[rec.Slot], list[rec.Candidate], rec.Recommendation]:
    half_life = overrides.pop("half_life_days", None)
    settings = inputs.recommender_settings(rotation, **overrides)
    windows, start, end = _period_bounds(rotation, period_start, period_end)
    slots = inputs.slots_for(windows, rotation.slot_roles)
    if not slots:
        return [], [], rec.recommend([], [], settings)
    # Where nobody beyond the two on call can be reached, pairing asks for an experienced
    # secondary (issue 16: no primary left with nobody to turn to).
    reachable = escalation.reachable_escalation_by_shift(rotation=rotation, shifts=slots)
    slots = [replace(s, escalation_reachable=reachable.get((s.start, s.end), True)) for s in slots]
    candidates = inputs.candidates_for(
        rotation,
        start,
        end,
        now=now,
        settings=settings,
        half_life_days=half_life,
        count_published_ahead=True,
    )
    # Shadow slots only exist where someone still needs shadowing; others stay out of the draft.
    return slots, candidates, rec.recommend(slots, candidates, settings, mode=mode, pinned=pinned)


PAIRING_WAIVED = (
    "Pairing was not applied: nobody in this rotation is primary-ready yet, so everyone "
    "counted as experienced (pairing would have left every shift empty). Import past shifts, "
    "or let people serve secondary shifts, to pair newcomers with experience."
)


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
        "gap_pct": round(100 * result.gap, 1),
        # what the manager reads: "Optimal: ..." or "Within X% ...; run the exact mode ..."
        "note": result.note,
        "coverage_proven": result.coverage_proven,
        "fairness": asdict(result.fairness) if result.fairness else None,
        "uncovered": [
            {
                "slot": u.slot_key,
                "blocking": {names.get(pid, str(pid)): why for pid, why in u.blocking.items()},
            }
            for u in result.uncovered
        ],
        "people": {
            str(pid): asdict(p) | {"name": names.get(pid, "")} for pid, p in result.people.items()
        },
        "settings": settings_used,
    }


@transaction.atomic
def draft_roster(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    by: Actor,
    mode: str = "greedy",
    now: datetime | None = None,
    **overrides,
) -> Roster:
    """Ask the recommender for a fair roster and save it as a draft, reasons included."""
    require_manager(by, rotation.team_id)
    if not (FIRST_YEAR <= period_start.year and period_end.year <= LAST_YEAR) or (
        period_end <= period_start
    ):
        raise Invalid(MONTH_PROBLEM, field="month")
    now = now or timezone.now()
    # Drafting starts: from now on availability for the period changes through swaps, so
    # the draft the manager reviews stays true.
    availability.lock_availability(rotation.team, period_start, period_end, by=by)
    slots, candidates, result = recommend_for(
        rotation, period_start, period_end, now=now, mode=mode, **overrides
    )
    picks = {a.slot_key: a for a in result.assignments}
    roster = create_roster(rotation, period_start, period_end, by=by)
    shifts = list(roster.shifts.all())
    for shift in shifts:
        pick = picks.get(inputs.slot_key(shift.start, shift.role))
        if pick is not None:
            shift.assignee_id = pick.person_id
            shift.reason = pick.reason.as_dict()
        else:
            blocking = next(
                (
                    u.blocking
                    for u in result.uncovered
                    if u.slot_key == inputs.slot_key(shift.start, shift.role)
                ),
                None,
            )
            shift.reason = {
                "summary": "Nobody can take this slot" if blocking else "Not needed",
                "blocking": {str(k): v for k, v in (blocking or {}).items()},
            }
    Shift.objects.bulk_update(shifts, ["assignee", "reason"])
    if rotation.has_shadow:
        # A shadow slot nobody needs is not a gap: drop it rather than flag it.
        roster.shifts.filter(role="shadow", assignee__isnull=True).delete()
    settings_used = {
        "mode": mode,
        **{
            k: (str(v) if not isinstance(v, int | float | bool) else v)
            for k, v in overrides.items()
        },
    }
    roster.summary = _summary(result, candidates, settings_used)
    if inputs.pairing_waived(rotation=rotation, now=now):
        roster.summary["note"] = f"{roster.summary['note']} {PAIRING_WAIVED}".strip()
    roster.save(update_fields=["summary"])
    audit(
        roster,
        rotation,
        by,
        AuditEntry.Action.DRAFT,
        f"Drafted {period_start:%d %b}–{period_end:%d %b %Y} ({mode}); largest load "
        f"{result.objective_max:.1f}, "
        f"{len(result.uncovered)} uncovered",
        after={
            "summary": {
                k: roster.summary[k] for k in ("objective_max", "lower_bound", "gap", "status")
            }
        },
    )
    return roster


def check_slot(shift: Shift, user, *, reader_zone: str | None = None) -> str | None:
    """Why `user` may not hold `shift` (a hard rule), or None when the edit is fine. The slot
    editor's list marks people by the same rules (`selectors.slot_problems`). Times are
    worded in `reader_zone` (default: the person's own)."""
    problems = planning_selectors.slot_problems(
        shift=shift, now=timezone.now(), reader_zone=reader_zone
    )
    if user.pk not in problems:
        return f"{display_name(user)} is not a member of the {shift.roster.rotation.name} rotation."
    return problems[user.pk]


def _zone_of(by: Actor) -> str | None:
    """The zone a refusal is worded in: the acting manager's (None for the system)."""
    person = getattr(by, "person", None)
    return getattr(person, "time_zone", None)


@transaction.atomic
def assign_slot(shift: Shift, user, *, by: Actor, override: bool = False, note: str = "") -> Shift:
    """A manager's edit of one slot. Breaking a hard rule needs an explicit, recorded override."""
    shift = Shift.objects.select_for_update().select_related("roster__rotation").get(pk=shift.pk)
    roster = shift.roster
    rotation = roster.rotation
    require_manager(by, rotation.team_id)
    if roster.status == Roster.Status.SUPERSEDED:
        raise AssignmentRefused("This roster has been superseded; edit the current one.")
    previous_id = shift.assignee_id
    if user is not None and user.pk == previous_id:
        return shift
    if user is not None and not is_active_member(user_id=user.pk, team_id=rotation.team_id):
        # No override crosses the team boundary: the person never agreed to this team.
        # Named nowhere: the message must not tell a manager who an arbitrary user id is.
        raise Invalid(NOT_A_MEMBER, field="assignee")
    if user is not None and (
        Shift.objects.filter(roster=roster, start=shift.start, assignee=user)
        .exclude(pk=shift.pk)
        .exists()
    ):
        # A database rule, not a judgement call: no override gives one person two slots of
        # one shift (the partner would be themselves).
        raise AssignmentRefused(
            f"{display_name(user)} already holds another slot of this shift; "
            "give that slot to someone else first."
        )
    problem = check_slot(shift, user, reader_zone=_zone_of(by)) if user is not None else None
    if problem and not override:
        raise AssignmentRefused(problem)
    previous = shift.assignee
    shift.assignee = user
    shift.overridden = bool(problem)
    shift.reason = {
        "summary": f"Chosen by {actor_name(by)}"
        + (f" (override: {problem})" if problem else "")
        + (f": {note}" if note else ""),
        "manual": True,
        "override": problem or None,
    }
    if roster.status == Roster.Status.PUBLISHED:
        shift.sequence += 1
        roster.version += 1
        roster.save(update_fields=["version"])
    shift.save()
    action = AuditEntry.Action.OVERRIDE if problem else AuditEntry.Action.EDIT
    audit(
        roster,
        rotation,
        by,
        action,
        # The shift's time is in `after` as an instant; pages show it in the reader's zone.
        f"{shift.get_role_display()}: {display_name(previous)} → "
        f"{display_name(user)}" + (f" (override: {problem})" if problem else ""),
        before={"shift": shift.pk, "assignee": previous_id},
        after={
            "shift": shift.pk,
            "assignee": user.pk if user else None,
            "override": problem,
            "note": note,
            "shift_start": shift.start.isoformat(),
        },
    )
    if roster.status == Roster.Status.PUBLISHED:
        shifts_reassigned.send(sender=Shift, changes=[(shift, previous_id)])
    return shift
