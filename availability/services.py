"""Writes for the availability app. Each public function is one transaction.

Errors a person can act on are raised as :class:`AvailabilityError` subclasses whose
message is safe to show as is; pages and the API turn them into messages and 4xx answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from onehand import limits
from onehand.dates import MAX_RANGE_DAYS, period_in_words
from onehand.errors import Invalid, NotAllowed, TooManyRequests
from rotation.models import Rotation, RotationMember, Team
from rotation.permissions import SYSTEM, Actor, SystemActor, require_manager
from rotation.selectors import is_active_member, is_manager, person_of

from . import events, ics_sandbox, selectors, tasks
from . import intervals as iv
from .ics import MAX_ICS_BYTES, BusyInterval, CalendarImportError, too_big
from .ics_fetch import fetch_ics
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

Kind = AvailabilityEntry.Kind
CLEAR = "clear"
# An imported calendar covers this month and the next ones: the periods rosters are made for.
IMPORT_MONTHS = 3
#: Each network step of a calendar fetch, and the whole fetch (all redirects, every byte).
FETCH_TIMEOUT_SECONDS = 10.0
FETCH_TOTAL_SECONDS = 30.0
#: Calendar addresses one person may connect.
MAX_CALENDAR_URLS = 10
#: Uploads up to this size are read while the request waits; larger ones by the worker.
UPLOAD_IN_REQUEST_BYTES = 256 * 1024
#: Uploads one person may make per minute (one at a time, besides).
UPLOADS_PER_MINUTE = 10
#: An import still "importing" this long after it started has died (a killed worker):
#: the next refresh marks it failed and tries again.
IMPORT_STUCK_AFTER = timedelta(minutes=5)
STUCK_MESSAGE = (
    "The last import did not finish (it was stopped after running too long). "
    "It is tried again at the next refresh."
)
UPLOAD_STUCK_MESSAGE = (
    "The uploaded calendar could not be read to the end (it was stopped after running too "
    "long). Upload it again, or export a shorter period."
)
REQUIREMENTS_REFUSAL = "Only a manager of this team can change its duty requirements."


# How far ahead a period's availability may be locked (drafting starts well before that).
LOCK_LEAD_DAYS = 5 * 366


class AvailabilityError(Invalid):
    """Something the person asked for can't be done; the message says why."""


class AvailabilityLocked(AvailabilityError):
    status = 409
    code = "locked"


@dataclass(frozen=True)
class Change:
    action: str  # "marked" or "cleared"
    kind: str  # "unavailable", "preferred" or "clear"
    start: datetime
    end: datetime
    entry: AvailabilityEntry | None = None  # the (possibly merged) entry a mark produced


def _time_zone(user) -> str:
    return person_of(user=user).time_zone


def _check_unlocked(user, start: datetime, end: datetime) -> None:
    spans = selectors.locks_affecting(user=user, start=start, end=end, time_zone=_time_zone(user))
    if spans:
        span = spans[0]
        raise AvailabilityLocked(lock_message(span))


def lock_message(span: selectors.LockSpan) -> str:
    days = period_in_words(span.lock.period_start, span.lock.period_end)
    return f"Availability for {days} is locked by {span.lock.team.name}: drafting has started. " + (
        "Changes now need a swap."
        if span.holds_shift
        else "You have no shift then, so nothing needs a swap; if you will be away, "
        "tell a manager of the team."
    )


def _check_span(start: datetime, end: datetime) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("availability times must be timezone-aware")
    if start >= end:
        raise AvailabilityError("The end must be after the start.")
    if end - start > timedelta(days=366):
        raise AvailabilityError("Mark at most a year at a time.")


def _changed(user_id: int, start: datetime, end: datetime) -> None:
    """Tell higher layers (escalation chains, the on-call answer) inside this transaction."""
    events.unavailability_changed.send(
        sender=AvailabilityEntry, user_id=user_id, start=start, end=end
    )


def unavailability_edited(*, spans: list[tuple[int, datetime, datetime]], by) -> None:
    """Entries changed outside these services (an admin edit): (user id, start, end) of each
    span before and after. Escalation chains and the on-call answer follow, as for a mark."""
    for user_id, start, end in spans:
        _changed(user_id, start, end)


def _manual_around(user, start: datetime, end: datetime) -> list[AvailabilityEntry]:
    """Manual entries overlapping or touching [start, end), locked against concurrent edits."""
    return list(
        AvailabilityEntry.objects.select_for_update()
        .filter(user=user, source=AvailabilityEntry.Source.MANUAL, start__lte=end, end__gte=start)
        .order_by("start", "id")
    )


def _remove_spans(entries: list[AvailabilityEntry], spans: list[tuple[datetime, datetime]]) -> None:
    """Remove `spans` from entries: shorten, split (copying every other field) or delete.

    A fixed number of queries however many entries change (one delete, one update, one
    insert): a re-import may replace thousands.
    """
    gone: list[int] = []
    shortened: list[AvailabilityEntry] = []
    added: list[AvailabilityEntry] = []
    for entry in entries:
        pieces = iv.subtract([(entry.start, entry.end)], spans)
        if pieces == [(entry.start, entry.end)]:
            continue
        if not pieces:
            gone.append(entry.pk)
            continue
        entry.start, entry.end = pieces[0]
        shortened.append(entry)
        added.extend(
            AvailabilityEntry(
                user_id=entry.user_id,
                start=piece_start,
                end=piece_end,
                kind=entry.kind,
                reason=entry.reason,
                source=entry.source,
                calendar_id=entry.calendar_id,
                all_day=entry.all_day,
            )
            for piece_start, piece_end in pieces[1:]
        )
    if gone:
        AvailabilityEntry.objects.filter(pk__in=gone).delete()
    if shortened:
        AvailabilityEntry.objects.bulk_update(shortened, ["start", "end"], batch_size=1000)
    if added:
        AvailabilityEntry.objects.bulk_create(added, batch_size=1000)


def _cut(entries: list[AvailabilityEntry], start: datetime, end: datetime) -> None:
    """Remove [start, end) from entries."""
    _remove_spans(entries, [(start, end)])


@transaction.atomic
def mark(
    start: datetime, end: datetime, kind: str, *, reason: str = "", enforce_lock: bool = True, by
) -> Change:
    """Mark [start, end) unavailable or preferred, replacing whatever was entered there.

    Adjacent or overlapping entries of the same kind and reason join into one, so marking
    day by day still reads as one range. Imported calendar entries are left alone.
    A swap request passes enforce_lock=False: a lock stops casual edits, and the swap is
    exactly the way around it.
    """
    user = by
    if kind not in Kind.values:
        raise AvailabilityError("Choose unavailable or preferred.")
    _check_span(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if enforce_lock:
        _check_unlocked(user, start, end)
    reason = reason.strip()[:200]
    around = _manual_around(user, start, end)
    joined = [e for e in around if e.kind == kind and e.reason == reason]
    new_start = min([start, *(e.start for e in joined)])
    new_end = max([end, *(e.end for e in joined)])
    _cut([e for e in around if e not in joined], start, end)
    keep = joined[0] if joined else AvailabilityEntry(user=user, kind=kind, reason=reason)
    for extra in joined[1:]:
        extra.delete()
    keep.start, keep.end = new_start, new_end
    keep.save()
    _changed(user.pk, start, end)
    return Change("marked", kind, start, end, keep)


@transaction.atomic
def clear(start: datetime, end: datetime, *, by) -> Change:
    """Remove every entered mark from [start, end)."""
    user = by
    _check_span(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    _check_unlocked(user, start, end)
    _cut(_manual_around(user, start, end), start, end)
    _changed(user.pk, start, end)
    return Change("cleared", CLEAR, start, end)


@transaction.atomic
def toggle_days(
    first: date, last: date, kind: str, *, reason: str = "", time_zone: str | None = None, by
) -> Change:
    """What a click on the month grid does: local days first..last, both included.

    If those days are already all marked with `kind`, they are cleared; otherwise they
    are marked. `kind` "clear" always clears.
    """
    user = by
    first, last = min(first, last), max(first, last)
    tz = ZoneInfo(time_zone or _time_zone(user))
    start, end = iv.local_days(first, last, tz)
    if kind == CLEAR:
        return clear(start, end, by=user)
    if kind not in Kind.values:
        raise AvailabilityError("Choose unavailable, preferred or clear.")
    marked = AvailabilityEntry.objects.filter(
        user=user, source=AvailabilityEntry.Source.MANUAL, kind=kind, start__lt=end, end__gt=start
    ).values_list("start", "end")
    if iv.covers(marked, start, end):
        return clear(start, end, by=user)
    return mark(start, end, kind, reason=reason, by=user)


@transaction.atomic
def change_entry(
    entry: AvailabilityEntry, *, start: datetime, end: datetime, kind: str, reason: str = "", by
) -> AvailabilityEntry:
    """Move or re-label one entered entry (the API's PUT/PATCH)."""
    user = by
    _own_manual(user, entry)
    _check_unlocked(user, entry.start, entry.end)
    entry.delete()
    _changed(user.pk, entry.start, entry.end)
    return mark(start, end, kind, reason=reason, by=user).entry


@transaction.atomic
def delete_entry(entry: AvailabilityEntry, *, by) -> None:
    user = by
    _own_manual(user, entry)
    _check_unlocked(user, entry.start, entry.end)
    entry.delete()
    _changed(user.pk, entry.start, entry.end)


def _own_manual(user, entry: AvailabilityEntry) -> None:
    if entry.user_id != user.pk:
        raise NotAllowed("You can only change your own availability.")
    if entry.source != AvailabilityEntry.Source.MANUAL:
        raise AvailabilityError(
            "This comes from your calendar: change it there, or disconnect the calendar."
        )


# --- Locks ------------------------------------------------------------------------------------


def check_lockable_period(period_start: date, period_end: date, *, by) -> None:
    """Refuse a period no lock may cover; drafting checks it before queueing any work (the
    actor is asked for like every service's, though no rule here depends on who asks)."""
    if period_start >= period_end:
        raise AvailabilityError("The period must end after it starts.", field="period_end")
    # A lock freezes shared members for every team: keep it to a drafting period, not years.
    if (period_end - period_start).days > MAX_RANGE_DAYS:
        raise AvailabilityError(
            f"A lock may span at most {MAX_RANGE_DAYS} days.", field="period_end"
        )
    if period_start > timezone.now().date() + timedelta(days=LOCK_LEAD_DAYS):
        raise AvailabilityError(
            f"A lock may start at most {LOCK_LEAD_DAYS // 366} years from today.",
            field="period_start",
        )


@transaction.atomic
def lock_availability(
    team: Team, period_start: date, period_end: date, *, by, note: str = ""
) -> AvailabilityLock:
    """Freeze a team's availability for a period (period_end exclusive); idempotent."""
    require_manager(by, team.pk, "Only a manager of this team can lock its availability.")
    check_lockable_period(period_start, period_end, by=by)
    lock, _ = AvailabilityLock.objects.get_or_create(
        team=team,
        period_start=period_start,
        period_end=period_end,
        defaults={"locked_by": by, "note": note[:200]},
    )
    return lock


@transaction.atomic
def unlock_availability(lock: AvailabilityLock, *, by) -> None:
    require_manager(by, lock.team_id, "Only a manager of this team can unlock its availability.")
    lock.delete()


# --- Requirements and qualifications ----------------------------------------------------------


@transaction.atomic
def claim_qualification(
    requirement: DutyRequirement,
    *,
    obtained_on: date,
    expires_on: date | None = None,
    evidence: str = "",
    evidence_url: str = "",
    by,
) -> Qualification:
    """Claim to meet a requirement; a manager then verifies or rejects it.

    A second claim while one is open replaces the open one (new evidence, same review).
    """
    user = by
    if requirement.is_automatic:
        raise AvailabilityError(
            "Shadow shifts count by themselves once they are done; there is nothing to claim."
        )
    if not RotationMember.objects.filter(rotation_id=requirement.rotation_id, user=user).exists():
        raise NotAllowed("Only members of this rotation can claim its requirements.")
    today = timezone.now().date()
    if obtained_on > today:
        raise AvailabilityError("The date you obtained it can't be in the future.")
    if expires_on is None and requirement.valid_days:
        expires_on = obtained_on + timedelta(days=requirement.valid_days)
    if expires_on is not None and expires_on <= obtained_on:
        raise AvailabilityError("It must expire after the date you obtained it.")
    if not (evidence.strip() or evidence_url.strip()):
        raise AvailabilityError("Add some evidence: a note, or a link to a certificate or ticket.")
    claim, _ = Qualification.objects.select_for_update().update_or_create(
        requirement=requirement,
        user=user,
        status=Qualification.Status.CLAIMED,
        defaults={
            "obtained_on": obtained_on,
            "expires_on": expires_on,
            "evidence": evidence.strip(),
            "evidence_url": evidence_url.strip(),
        },
    )
    return claim


@transaction.atomic
def review_qualification(
    qualification: Qualification, *, by, verify: bool, note: str = ""
) -> Qualification:
    """A manager of the rotation's team verifies or rejects a claim (twice is harmless)."""
    qualification = (
        Qualification.objects.select_for_update()
        .select_related("requirement__rotation")
        .get(pk=qualification.pk)
    )
    require_manager(
        by,
        qualification.requirement.rotation.team_id,
        "Only a manager of this team can verify qualifications.",
    )
    wanted = Qualification.Status.VERIFIED if verify else Qualification.Status.REJECTED
    if qualification.status == wanted:
        return qualification
    if qualification.status != Qualification.Status.CLAIMED:
        raise AvailabilityError(
            f"This claim was already {qualification.get_status_display().lower()}."
        )
    qualification.status = wanted
    qualification.reviewed_by = by
    qualification.reviewed_at = timezone.now()
    qualification.review_note = note.strip()[:300]
    qualification.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return qualification


@transaction.atomic
def withdraw_claim(qualification: Qualification, *, by) -> None:
    user = by
    if qualification.user_id != user.pk:
        raise NotAllowed("You can only withdraw your own claims.")
    if qualification.status != Qualification.Status.CLAIMED:
        raise AvailabilityError("Only a claim that is still waiting can be withdrawn.")
    qualification.delete()


@transaction.atomic
def save_requirement(requirement: DutyRequirement, *, by) -> DutyRequirement:
    """Create or change a rotation's requirement (managers of its team only)."""
    team_id = Rotation.objects.values_list("team_id", flat=True).get(pk=requirement.rotation_id)
    require_manager(by, team_id, REQUIREMENTS_REFUSAL)
    if requirement.kind != DutyRequirement.Kind.SHADOW_SHIFTS:
        requirement.shadow_shifts_needed = 0
    requirement.full_clean()
    requirement.save()
    return requirement


@transaction.atomic
def delete_requirement(requirement: DutyRequirement, *, by) -> None:
    require_manager(
        by,
        requirement.rotation.team_id,
        "Only a manager of this team can change its duty requirements.",
    )
    requirement.delete()


# --- Allocation -------------------------------------------------------------------------------


@transaction.atomic
def set_allocation(
    *,
    by,
    user,
    team: Team,
    period_start: date,
    period_end: date,
    percent: int,
    project: str = "",
) -> ProjectAllocation:
    """Set (or replace) the share of a period someone's projects take."""
    if not is_active_member(user_id=user.pk, team_id=team.pk):
        raise AvailabilityError("That person is not in this team.")
    allowed = is_manager(user=by, team_id=team.pk) or (
        by.pk == user.pk and selectors.can_set_own_allocation(user=by, team_id=team.pk)
    )
    if not allowed:
        raise NotAllowed("Only a manager of this team can set project allocation.")
    if not 0 <= percent <= 100:
        raise AvailabilityError("Allocation is a percentage from 0 to 100.")
    if period_start >= period_end:
        raise AvailabilityError("The period must end after it starts.")
    allocation, _ = ProjectAllocation.objects.update_or_create(
        user=user,
        team=team,
        project=project.strip()[:120],
        period_start=period_start,
        period_end=period_end,
        defaults={"percent": percent, "set_by": by},
    )
    return allocation


@transaction.atomic
def set_team_settings(
    team: Team, *, by, engineers_set_allocation: bool
) -> TeamAvailabilitySettings:
    require_manager(by, team.pk, "Only a manager of this team can change its settings.")
    found, _ = TeamAvailabilitySettings.objects.update_or_create(
        team=team, defaults={"engineers_set_allocation": engineers_set_allocation}
    )
    return found


# --- Calendar import --------------------------------------------------------------------------


def import_window(user, now: datetime | None = None) -> tuple[datetime, datetime]:
    """This month and the next ones, in the person's zone: the periods still to be planned."""
    tz = ZoneInfo(_time_zone(user))
    today = (now or timezone.now()).astimezone(tz).date()
    first = today.replace(day=1)
    last = first
    for _ in range(IMPORT_MONTHS):
        last = selectors.next_month(last)
    return iv.local_day_bounds(first, tz)[0], iv.local_day_bounds(last, tz)[0]


def _enqueue_import(source_id: int) -> None:
    tasks.import_calendar_source.delay(source_id)


@transaction.atomic
def add_calendar_url(url: str, *, name: str = "", by) -> CalendarSource:
    """Connect a calendar by its secret ICS address; the import runs on a worker."""
    user = by
    url = url.strip()
    if not url:
        raise AvailabilityError("Paste your calendar's secret iCal/ICS address.")
    if len(url) > 2000:
        raise AvailabilityError("That address is too long to be a calendar address.")
    if not url.lower().startswith(("http://", "https://", "webcal://")):
        raise AvailabilityError(
            "Only http://, https:// and webcal:// calendar addresses are supported."
        )
    # The person's row is the lock: two requests at once can't both pass the cap.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    connected = CalendarSource.objects.filter(user=user, kind=CalendarSource.Kind.URL)
    if connected.count() >= MAX_CALENDAR_URLS and not connected.filter(url=url).exists():
        raise AvailabilityError(
            f"You can connect at most {MAX_CALENDAR_URLS} calendar addresses. "
            "Disconnect one you no longer need first."
        )
    source, created = CalendarSource.objects.get_or_create(
        user=user,
        kind=CalendarSource.Kind.URL,
        url=url,
        defaults={"name": name.strip()[:120] or "My calendar"},
    )
    if not created and name.strip():
        source.name = name.strip()[:120]
        source.save(update_fields=["name"])
    return refresh_calendar(source, by=user)


@transaction.atomic
def refresh_calendar(source: CalendarSource, *, by: Actor) -> CalendarSource:
    """Fetch a URL source again now (in the worker); only its owner or the system asks."""
    if not isinstance(by, SystemActor) and by.pk != source.user_id:
        raise NotAllowed("You can only refresh your own calendars.")
    if source.kind != CalendarSource.Kind.URL:
        raise AvailabilityError("An uploaded file can't be refreshed: upload it again.")
    CalendarSource.objects.filter(pk=source.pk).update(status=CalendarSource.Status.PENDING)
    source.status = CalendarSource.Status.PENDING
    transaction.on_commit(partial(_enqueue_import, source.pk))
    return source


def _replace_imported(
    source: CalendarSource,
    busy: list[BusyInterval],
    window: tuple[datetime, datetime],
) -> int:
    """Make the source's entries inside `window` exactly `busy`, outside locked periods.

    Entries of other sources and entered ones are never touched; a locked period keeps
    what was imported before it was locked.
    """
    user = source.user
    locked = [
        (span.start, span.end)
        for span in selectors.locks_affecting(
            user=user, start=window[0], end=window[1], time_zone=_time_zone(user)
        )
    ]
    free = iv.subtract([window], locked)
    existing = list(
        AvailabilityEntry.objects.select_for_update()
        .filter(calendar=source, start__lt=window[1], end__gt=window[0])
        .order_by("start", "id")
    )
    new = [
        AvailabilityEntry(
            user=user,
            start=start,
            end=end,
            kind=Kind.UNAVAILABLE,
            # A fixed label, never the event's title: those are private.
            reason=IMPORTED_REASONS.get(interval.kind, IMPORTED_REASONS["busy"]),
            source=AvailabilityEntry.Source.CALENDAR,
            calendar=source,
            all_day=interval.all_day,
        )
        for interval in busy
        for start, end in iv.intersect([(interval.start, interval.end)], free)
    ]
    if not locked and sorted(map(_imported_fields, existing)) == sorted(map(_imported_fields, new)):
        # The hourly refresh of an unchanged calendar writes nothing: no rows replaced by equal
        # ones, and no cache stamp renewed for every team (red-team finding).
        return len(new)
    # Keep only what lies in locked periods: everything else is replaced by this import.
    _remove_spans(existing, free)
    AvailabilityEntry.objects.bulk_create(new)
    _changed(user.pk, window[0], window[1])
    return len(new)


def _imported_fields(entry: AvailabilityEntry) -> tuple:
    return (entry.start, entry.end, entry.kind, entry.reason, entry.source, entry.all_day)


def _parse(
    user, data: bytes, window: tuple[datetime, datetime], *, seconds: float
) -> list[BusyInterval]:
    # In a child process with memory, CPU and wall-time limits (see ics_sandbox), for
    # small uploads (the request waits, a few seconds at most) and in the worker (URL
    # imports and large uploads, a larger time budget).
    return ics_sandbox.parse_busy_intervals_isolated(
        data,
        period_start=window[0],
        period_end=window[1],
        default_tz=_time_zone(user),
        owner_emails=[user.email] if user.email else [],
        max_bytes=MAX_ICS_BYTES,
        seconds=seconds,
    )


def import_calendar_data(
    source: CalendarSource,
    data: bytes,
    *,
    by: Actor,
    window: tuple[datetime, datetime] | None = None,
) -> int:
    """Replace the source's imported busy times in the window with those in `data`.

    The file is read completely before anything is written, and the writes are one
    transaction, so a bad file (CalendarImportError) changes nothing.
    """
    window = window or import_window(source.user)
    busy = _parse(source.user, data, window, seconds=ics_sandbox.WORKER_SECONDS)
    with transaction.atomic():
        if CalendarSource.objects.select_for_update().filter(pk=source.pk).first() is None:
            return 0  # disconnected while we were fetching
        count = _replace_imported(source, busy, window)
        CalendarSource.objects.filter(pk=source.pk).update(
            status=CalendarSource.Status.OK,
            last_error="",
            last_imported_at=timezone.now(),
            imported_count=count,
        )
    source.refresh_from_db()
    return count


def upload_calendar(
    data: bytes, *, filename: str = "", window: tuple[datetime, datetime] | None = None, by
) -> CalendarSource:
    """Import an uploaded .ics file; uploading again replaces the last upload's entries.

    A small file is read now (the request waits, a few seconds at most); a larger one is
    stored and read by the worker with a larger time budget: the source then comes back
    "pending" and its status shows the outcome.  One upload at a time per person and
    :data:`UPLOADS_PER_MINUTE` a minute (429 beyond); at most
    ``ONEHAND_ICS_PARSES_PER_PROCESS`` read at once in one web process (503 beyond).
    """
    user = by
    if len(data) > MAX_ICS_BYTES:
        raise too_big(len(data), MAX_ICS_BYTES)
    name = (filename or "Uploaded calendar").strip()[:120]
    with limits.one_at_a_time(
        f"ics-upload:{user.pk}",
        "Your last upload is still being read. Wait for it to finish, then try again.",
    ):
        _check_no_upload_waiting(user)
        limits.per_minute(
            f"ics-upload:{user.pk}",
            UPLOADS_PER_MINUTE,
            f"You can upload at most {UPLOADS_PER_MINUTE} calendars a minute. "
            "Try again in a minute.",
        )
        if len(data) > UPLOAD_IN_REQUEST_BYTES:
            return _queue_upload(user, data, name)
        window = window or import_window(user)
        with limits.process_slot(
            "ics-parse",
            getattr(settings, "ONEHAND_ICS_PARSES_PER_PROCESS", 2),
            "The server is busy reading other calendars. Try again in a minute.",
        ):
            # Before any write: a bad file changes nothing.
            busy = _parse(user, data, window, seconds=ics_sandbox.UPLOAD_SECONDS)
        with transaction.atomic():
            source, _ = CalendarSource.objects.select_for_update().get_or_create(
                user=user, kind=CalendarSource.Kind.UPLOAD, defaults={"name": name}
            )
            count = _replace_imported(source, busy, window)
            now = timezone.now()
            CalendarSource.objects.filter(pk=source.pk).update(
                name=name,
                status=CalendarSource.Status.OK,
                last_error="",
                last_attempt_at=now,
                last_imported_at=now,
                imported_count=count,
                pending_data=b"",
            )
    source.refresh_from_db()
    return source


def _check_no_upload_waiting(user) -> None:
    waiting = CalendarSource.objects.filter(
        user=user,
        kind=CalendarSource.Kind.UPLOAD,
        status__in=[CalendarSource.Status.PENDING, CalendarSource.Status.IMPORTING],
        last_attempt_at__gte=timezone.now() - IMPORT_STUCK_AFTER,
    )
    if waiting.exists():
        raise TooManyRequests(
            "Your last upload is still being read. Wait for it to finish, then try again.",
            retry_after=10,
        )


def _queue_upload(user, data: bytes, name: str) -> CalendarSource:
    with transaction.atomic():
        source, _ = CalendarSource.objects.select_for_update().get_or_create(
            user=user, kind=CalendarSource.Kind.UPLOAD, defaults={"name": name}
        )
        CalendarSource.objects.filter(pk=source.pk).update(
            name=name,
            status=CalendarSource.Status.PENDING,
            last_error="",
            last_attempt_at=timezone.now(),
            pending_data=data,
        )
        transaction.on_commit(partial(_enqueue_upload, source.pk))
    return CalendarSource.objects.defer("pending_data").get(pk=source.pk)


def _enqueue_upload(source_id: int) -> None:
    tasks.import_uploaded_calendar.delay(source_id)


def run_upload_import(
    source_id: int, *, by: Actor, window: tuple[datetime, datetime] | None = None
) -> CalendarSource | None:
    """Read a large upload in the worker and import it, recording the outcome on the source.

    Returns None when there is nothing waiting (removed, or already read).
    """
    source = CalendarSource.objects.select_related("user").filter(pk=source_id).first()
    if source is None or source.kind != CalendarSource.Kind.UPLOAD or not source.pending_data:
        return None
    data = bytes(source.pending_data)
    CalendarSource.objects.filter(pk=source.pk).update(
        status=CalendarSource.Status.IMPORTING, last_attempt_at=timezone.now()
    )
    try:
        window = window or import_window(source.user)
        busy = _parse(source.user, data, window, seconds=ics_sandbox.WORKER_SECONDS)
        with transaction.atomic():
            if CalendarSource.objects.select_for_update().filter(pk=source.pk).first() is None:
                return None  # removed while we were reading
            count = _replace_imported(source, busy, window)
            CalendarSource.objects.filter(pk=source.pk).update(
                status=CalendarSource.Status.OK,
                last_error="",
                last_imported_at=timezone.now(),
                imported_count=count,
                pending_data=b"",
            )
    except CalendarImportError as error:
        fail_calendar_import(source.pk, str(error), by=by)
    except BaseException:
        fail_calendar_import(source.pk, UPLOAD_STUCK_MESSAGE, by=by)
        raise
    return CalendarSource.objects.defer("pending_data").filter(pk=source.pk).first()


def run_calendar_import(
    source_id: int, *, by: Actor, window: tuple[datetime, datetime] | None = None
) -> CalendarSource | None:
    """Fetch a URL source and import it, recording the outcome on the source.

    Safe to run twice or concurrently: each run replaces the same rows under a row lock.
    Returns None when the source was deleted in the meantime.
    """
    source = CalendarSource.objects.select_related("user").filter(pk=source_id).first()
    if source is None or source.kind != CalendarSource.Kind.URL:
        return None
    CalendarSource.objects.filter(pk=source.pk).update(
        status=CalendarSource.Status.IMPORTING, last_attempt_at=timezone.now()
    )
    try:
        data = fetch_ics(
            source.url,
            max_bytes=MAX_ICS_BYTES,
            timeout=FETCH_TIMEOUT_SECONDS,
            total_timeout=FETCH_TOTAL_SECONDS,
            allow_private=getattr(settings, "ONEHAND_ICS_ALLOW_PRIVATE", False),
        )
        import_calendar_data(source, data, by=by, window=window)
    except CalendarImportError as error:
        fail_calendar_import(source.pk, str(error), by=by)
    except BaseException:
        # A time limit or a crash: the source must not stay "importing" forever.
        fail_calendar_import(source.pk, STUCK_MESSAGE, by=by)
        raise
    return CalendarSource.objects.filter(pk=source.pk).first()


def fail_calendar_import(source_id: int, message: str, *, by: Actor) -> None:
    """Record that an import failed (nothing imported changes); the message is shown."""
    CalendarSource.objects.filter(pk=source_id).update(
        status=CalendarSource.Status.ERROR, last_error=message, pending_data=b""
    )


def recover_stuck_imports(*, by: Actor, now: datetime | None = None) -> int:
    """Mark imports that died while running (a killed worker) as failed, with a message.

    Returns how many; URL sources among them are then due again like any failed one.
    """
    started_before = (now or timezone.now()) - IMPORT_STUCK_AFTER
    stuck = CalendarSource.objects.filter(
        status__in=[CalendarSource.Status.IMPORTING, CalendarSource.Status.PENDING],
        last_attempt_at__lt=started_before,
    )
    Kind = CalendarSource.Kind
    return stuck.filter(kind=Kind.URL, status=CalendarSource.Status.IMPORTING).update(
        status=CalendarSource.Status.ERROR, last_error=STUCK_MESSAGE
    ) + stuck.filter(kind=Kind.UPLOAD).update(
        status=CalendarSource.Status.ERROR, last_error=UPLOAD_STUCK_MESSAGE, pending_data=b""
    )


@transaction.atomic
def remove_calendar(source: CalendarSource, *, by) -> None:
    """Disconnect a calendar and drop what it imported (entered marks stay)."""
    user = by
    if source.user_id != user.pk:
        raise NotAllowed("You can only remove your own calendars.")
    span = source.entries.aggregate(first=Min("start"), last=Max("end"))
    source.delete()
    if span["first"] is not None:
        _changed(user.pk, span["first"], span["last"])


def url_sources_due() -> list[int]:
    """URL sources for the periodic refresh (ones being imported right now are skipped;
    one that died while importing is first marked failed: :func:`recover_stuck_imports`)."""
    recover_stuck_imports(by=SYSTEM)
    return list(
        CalendarSource.objects.filter(kind=CalendarSource.Kind.URL)
        .exclude(status=CalendarSource.Status.IMPORTING)
        .values_list("pk", flat=True)
    )
