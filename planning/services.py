"""Writes of the planning layer: drafting a roster with the recommender, and editing slots.

Each public function is one transaction and takes the acting person as a required `by`.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from availability import services as availability
from onehand.dates import FIRST_YEAR, LAST_YEAR, MAX_RANGE_DAYS, MONTH_PROBLEM
from onehand.errors import DomainError, Invalid, NotAllowed, RuleBroken
from onehand.people import display_name
from rotation.events import shifts_reassigned
from rotation.models import AuditEntry, Roster, Rotation, Shift
from rotation.permissions import Actor, actor_name, require_actor, require_manager
from rotation.selectors import is_active_member
from rotation.services import audit, create_roster, rotation_windows

from . import escalation, inputs, tasks
from . import recommender as rec
from . import selectors as planning_selectors
from .models import DraftJob

logger = logging.getLogger(__name__)

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
    progress: Callable[[str, float], None] | None = None,
    **overrides,
) -> tuple[list[rec.Slot], list[rec.Candidate], rec.Recommendation]:
    _check_period(period_start, period_end)
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
    refused = rec.too_big_to_draft(len(slots), len(candidates))
    if refused:
        raise Invalid(refused[0].upper() + refused[1:] + ".", field="period_end")
    # Shadow slots only exist where someone still needs shadowing; others stay out of the draft.
    return (
        slots,
        candidates,
        rec.recommend(slots, candidates, settings, mode=mode, pinned=pinned, progress=progress),
    )


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


def _check_period(period_start: date, period_end: date) -> None:
    """Refused before any work (a job is not even queued): a period outside the years, empty,
    or longer than a drafting period (a lock spans at most MAX_RANGE_DAYS)."""
    if not (FIRST_YEAR <= period_start.year and period_end.year <= LAST_YEAR) or (
        period_end <= period_start
    ):
        raise Invalid(MONTH_PROBLEM, field="month")
    if (period_end - period_start).days > MAX_RANGE_DAYS:
        raise Invalid(
            f"A draft may span at most {MAX_RANGE_DAYS} days: draft a shorter period.",
            field="period_end",
        )


@transaction.atomic
def draft_roster(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    by: Actor,
    mode: str = "greedy",
    now: datetime | None = None,
    progress: Callable[[str, float], None] | None = None,
    **overrides,
) -> Roster:
    """Ask the recommender for a fair roster and save it as a draft, reasons included.
    ``progress(stage, fraction)`` is told how far the recommender is (it only observes)."""
    require_manager(by, rotation.team_id)
    _check_period(period_start, period_end)
    now = now or timezone.now()
    # Drafting starts: from now on availability for the period changes through swaps, so
    # the draft the manager reviews stays true.
    availability.lock_availability(rotation.team, period_start, period_end, by=by)
    slots, candidates, result = recommend_for(
        rotation, period_start, period_end, now=now, mode=mode, progress=progress, **overrides
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


# --------------------------------------------------------------------------- draft jobs
#
# A manager's draft runs on a worker (a tight month takes up to ~40 s of counted work): the
# page and the API ask for it (`request_draft`), the worker runs it (`run_draft_job`, through
# `draft_roster`, the one place a draft is made) and writes its progress, and beat fails a job
# whose worker stopped (`fail_stuck_draft_jobs`): nothing waits silently.

QUEUE_DOWN = "Could not hand the draft to a worker (the task queue did not answer); try again."
NO_REQUESTER = "The manager who asked for this draft no longer has an account; draft again."
UNEXPECTED = (
    "The draft stopped on an unexpected error (the details are in the worker's log); try again."
)
# how often a running draft writes its progress to the job row, at most (seconds)
PROGRESS_WRITE_SECONDS = 0.5
# how often a running draft says it is alive, progress or not (a solver stage reports only its
# start; without this a long one would look like a dead worker to the stuck sweep)
ALIVE_SECONDS = 30.0
# runs a job may start: a worker child that dies mid-draft (out of memory, killed) redelivers
# the task (acks_late); the third death ends the job instead of looping forever
MAX_DRAFT_ATTEMPTS = 3
# a second click this soon after the same month's draft finished is the same click
DOUBLE_CLICK_SECONDS = 10
WORKER_DIED = (
    "The worker drafting this month stopped {attempts} times before it finished (it may have "
    "run out of memory or been restarted); try again, or draft a shorter period."
)


def _stuck_words(state: str, limit: float) -> str:
    minutes = f"{limit:g} seconds" if limit < 120 else f"{round(limit / 60):g} minutes"
    if state == DraftJob.State.QUEUED:
        return (
            f"No worker started this draft within {minutes}: no draft was running meanwhile, "
            "so the Celery workers are stopped or busy with other work; try again."
        )
    return (
        f"This draft gave no sign of life for {minutes} (its worker probably stopped "
        "or restarted); try again."
    )


def _asked_of(overrides: dict) -> dict:
    """The draft settings as JSON: numbers as given, a duration in seconds."""
    out = {}
    for key, value in overrides.items():
        if isinstance(value, timedelta):
            out[f"{key}_seconds"] = value.total_seconds()
        else:
            out[key] = value
    return out


def _enqueue(job_id: int) -> None:
    """After commit: hand the job to a worker (in-process when tasks run eagerly)."""
    try:
        tasks.run_draft_job.delay(job_id)
    except Exception:  # noqa: BLE001 - broker down: say so on the job page rather than wait
        logger.warning("could not queue draft job %s", job_id, exc_info=True)
        now = timezone.now()
        DraftJob.objects.filter(pk=job_id, state=DraftJob.State.QUEUED).update(
            state=DraftJob.State.FAILED, error=QUEUE_DOWN, finished_at=now, updated_at=now
        )


def request_draft(
    rotation: Rotation,
    period_start: date,
    period_end: date,
    *,
    by: Actor,
    mode: str = "greedy",
    overrides: dict | None = None,
) -> tuple[DraftJob, bool]:
    """A manager asks for a draft: a queued job, run by a worker after commit. While a job for
    the same rotation and period is unfinished, asking again returns it (a double click drafts
    once). Returns (job, created)."""
    require_manager(by, rotation.team_id, "Only a manager of this team can draft rosters.")
    _check_period(period_start, period_end)
    # drafting locks the period: refuse now what the lock would refuse after queueing
    availability.check_lockable_period(period_start, period_end, by=by)
    if mode not in rec.MODES:
        raise Invalid(f"Choose a draft mode: {', '.join(rec.MODES)}.", field="mode")
    period = {"rotation": rotation, "period_start": period_start, "period_end": period_end}
    with transaction.atomic():
        unfinished = DraftJob.objects.filter(**period, state__in=DraftJob.UNFINISHED)
        existing = unfinished.first()
        if existing is None:
            # A fast draft can finish between the two clicks of a double click: the same ask
            # just after it is the same click (other settings are a new draft to compare).
            just_done = timezone.now() - timedelta(seconds=DOUBLE_CLICK_SECONDS)
            latest = (
                DraftJob.objects.filter(
                    **period, state=DraftJob.State.DONE, finished_at__gte=just_done
                )
                .order_by("-finished_at")
                .first()
            )
            if latest is not None and (latest.mode, latest.asked) == (
                mode,
                _asked_of(overrides or {}),
            ):
                existing = latest
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                job = DraftJob.objects.create(
                    **period,
                    mode=mode,
                    asked=_asked_of(overrides or {}),
                    requested_by=by if getattr(by, "pk", None) else None,
                    updated_at=timezone.now(),
                )
        except IntegrityError:
            # the same click twice at once: the other request's job (the partial unique index)
            existing = unfinished.first()
            if existing is None:
                raise
            return existing, False
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job, True


# the table name is the model's own, never input
PROGRESS_SQL = (
    f"UPDATE {DraftJob._meta.db_table} SET stage = %s, progress = %s, updated_at = %s "  # noqa: S608
    "WHERE id = %s AND state = %s AND attempts = %s"
)


ALIVE_SQL = (
    f"UPDATE {DraftJob._meta.db_table} SET updated_at = %s "  # noqa: S608
    "WHERE id = %s AND state = %s AND attempts = %s"
)


class _JobReporter:
    """While a draft runs, a thread of its own writes to the job's row, on one connection of
    its own (the draft runs in one transaction, so a write on its connection would be
    invisible until the end): the latest stage and fraction the draft reported, at most every
    PROGRESS_WRITE_SECONDS, and a sign of life (`updated_at`) at least every ALIVE_SECONDS, so
    a long solver stage that reports nothing is still a live worker. It dies with the
    worker's process, so a killed draft falls silent and the stuck sweep fails it. Reporting
    never blocks or fails the draft. PostgreSQL only (SQLite, the embedded mode, runs the
    draft in the request anyway)."""

    def __init__(self, job: DraftJob):
        self.job_id, self.attempt = job.pk, job.attempts
        self.latest: tuple[str, float] | None = None  # reported, not yet written
        self.news, self.stop = threading.Event(), threading.Event()
        self.thread = None
        if connections["default"].vendor == "postgresql":
            self.thread = threading.Thread(target=self._run, name=f"draft-{job.pk}", daemon=True)
            self.thread.start()

    def __call__(self, stage: str, fraction: float) -> None:
        """The draft's progress callback: keeps the latest report for the thread to write."""
        self.latest = (stage[:120], min(1.0, max(0.0, fraction)))
        self.news.set()

    def _run(self) -> None:
        connection = None
        # well inside the sweep's limit, whatever it is set to
        alive_every = min(ALIVE_SECONDS, float(django_settings.ONEHAND_DRAFT_STUCK_SECONDS) / 3)
        while not self.stop.is_set():
            self.news.wait(alive_every)
            if self.stop.is_set():
                break
            self.news.clear()  # before taking the report: a newer one sets it again
            report, self.latest = self.latest, None
            try:
                if connection is None:
                    connection = connections.create_connection("default")
                with connection.cursor() as cursor:
                    if report is None:
                        cursor.execute(
                            ALIVE_SQL,
                            [timezone.now(), self.job_id, DraftJob.State.RUNNING, self.attempt],
                        )
                    else:
                        stage, fraction = report
                        cursor.execute(
                            PROGRESS_SQL,
                            [
                                stage,
                                fraction,
                                timezone.now(),
                                self.job_id,
                                DraftJob.State.RUNNING,
                                self.attempt,
                            ],
                        )
            except Exception:  # noqa: BLE001 - the sweep may then fail a live draft; it says so
                logger.warning("draft job %s could not report", self.job_id, exc_info=True)
                if connection is not None:
                    connection.close()
                connection = None
                self.stop.wait(alive_every)  # a database away: try again later, not in a loop
            self.stop.wait(PROGRESS_WRITE_SECONDS)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.news.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class _NoLongerWanted(Exception):
    """The job was failed (stuck sweep) or re-run while this run drafted: drop this roster."""


def _fail(job_id: int, attempt: int, reason: str) -> None:
    now = timezone.now()
    DraftJob.objects.filter(pk=job_id, state__in=DraftJob.UNFINISHED, attempts=attempt).update(
        state=DraftJob.State.FAILED, error=reason, finished_at=now, updated_at=now
    )


def run_draft_job(job_id: int, *, by: Actor) -> DraftJob | None:
    """The worker's part: draft the roster the job asks for (as the manager who asked) and
    record how it ended. Safe to run twice: a finished job is left as it is; a job left
    running by a worker that died is run again (drafts are repeatable)."""
    require_actor(by)
    now = timezone.now()
    with transaction.atomic():
        job = (
            DraftJob.objects.select_for_update(of=("self",))
            .select_related("rotation", "requested_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.finished:
            return job
        if job.attempts >= MAX_DRAFT_ATTEMPTS:
            # every earlier run died mid-draft (a finished run would have ended the job)
            now = timezone.now()
            job.state, job.error = DraftJob.State.FAILED, WORKER_DIED.format(attempts=job.attempts)
            job.finished_at = job.updated_at = now
            job.save(update_fields=["state", "error", "finished_at", "updated_at"])
            return job
        job.state = DraftJob.State.RUNNING
        job.attempts += 1
        job.started_at = job.updated_at = now
        job.stage, job.progress = "Starting", 0.0
        job.save(
            update_fields=["state", "attempts", "started_at", "updated_at", "stage", "progress"]
        )
    reporter = _JobReporter(job)
    try:
        if job.requested_by is None:
            raise NotAllowed(NO_REQUESTER)
        with transaction.atomic():
            roster = draft_roster(
                job.rotation,
                job.period_start,
                job.period_end,
                by=job.requested_by,
                mode=job.mode,
                progress=reporter,
                **job.draft_settings(),
            )
            finished = timezone.now()
            done = DraftJob.objects.filter(
                pk=job.pk, state=DraftJob.State.RUNNING, attempts=job.attempts
            ).update(
                state=DraftJob.State.DONE,
                roster=roster,
                stage="Done",
                progress=1.0,
                finished_at=finished,
                updated_at=finished,
            )
            if not done:
                raise _NoLongerWanted
    except _NoLongerWanted:
        logger.info("draft job %s was failed or re-run meanwhile; its roster is dropped", job.pk)
    except DomainError as refused:
        _fail(job.pk, job.attempts, refused.message or str(refused) or UNEXPECTED)
    except Exception:
        logger.exception("draft job %s failed", job.pk)
        _fail(job.pk, job.attempts, UNEXPECTED)
    finally:
        reporter.close()
    return DraftJob.objects.get(pk=job.pk)


def fail_stuck_draft_jobs(*, by: Actor, now: datetime | None = None) -> int:
    """Beat: a job queued or running with no sign of life (`updated_at`: queued, started,
    progress written) for longer than ONEHAND_DRAFT_STUCK_SECONDS failed, and says why.
    A run still going finds its job failed at the end and drops its roster."""
    require_actor(by)
    now = now or timezone.now()
    limit = float(django_settings.ONEHAND_DRAFT_STUCK_SECONDS)
    cutoff = now - timedelta(seconds=limit)
    failed = 0
    # Running drafts say they are alive every ALIVE_SECONDS; while one does, the workers are
    # alive and queued drafts are only waiting their turn behind it.
    workers_drafting = DraftJob.objects.filter(
        state=DraftJob.State.RUNNING, updated_at__gte=cutoff
    ).exists()
    for state in DraftJob.UNFINISHED:
        if state == DraftJob.State.QUEUED and workers_drafting:
            continue
        failed += DraftJob.objects.filter(state=state, updated_at__lt=cutoff).update(
            state=DraftJob.State.FAILED,
            error=_stuck_words(state, limit),
            finished_at=now,
            updated_at=now,
        )
    if failed:
        logger.warning("%d draft job(s) failed: no progress for %g s", failed, limit)
    return failed
