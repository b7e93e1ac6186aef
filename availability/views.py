"""Pages: the availability grid, calendar import, claims and the manager's readiness page.

Every view parses input, calls one service or selector and renders; a person only ever
reaches their own rows (others' ids answer 404), and manager pages answer 404 to anyone
who does not manage the team.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from onehand.dates import next_month, parse_month_or_none
from onehand.errors import DomainError, NotAllowed
from onehand.people import display_name
from rotation.selectors import (
    is_manager,
    managed_teams,
    rotations_for,
    team_with_members,
    teams_for,
)

from . import selectors, services
from .forms import (
    AllocationForm,
    CalendarUploadForm,
    CalendarUrlForm,
    ClaimForm,
    DaysForm,
    EntryForm,
    LockForm,
    RequirementForm,
    ReviewForm,
    TeamSettingsForm,
)
from .grid import month_cells
from .ics import MAX_ICS_BYTES, CalendarImportError
from .models import AvailabilityEntry, CalendarSource, DutyRequirement, Qualification

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _today(request):
    return timezone.now().astimezone(ZoneInfo(request.time_zone)).date()


def _month_of(request, raw: str | None = None):
    return parse_month_or_none(raw if raw is not None else request.GET.get("month")) or next_month(
        _today(request)
    )


def _day(value) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def span_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """Whole local days as days ("Mon 7 Dec 2026 – Fri 11 Dec 2026"), anything else with times."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    if start.time() == end.time() == datetime.min.time():
        last = (end - timedelta(days=1)).date()
        return (
            _day(start.date()) if last == start.date() else f"{_day(start.date())} – {_day(last)}"
        )
    if start.date() == end.date():
        return f"{_day(start)} {start:%H:%M} – {end:%H:%M}"
    return f"{_day(start)} {start:%H:%M} – {_day(end)} {end:%H:%M}"


def describe(change: services.Change, time_zone: str) -> str:
    """What was saved, in the viewer's words and zone."""
    span = span_text(change.start, change.end, ZoneInfo(time_zone))
    if change.action == "cleared":
        return f"Saved: cleared {span} ({time_zone})."
    return f"Saved: {span} marked {change.kind} ({time_zone})."


def _grid_context(request, month):
    tz = ZoneInfo(request.time_zone)
    first_day, following = month, selectors.next_month(month)
    start, end = selectors.month_span(month, tz)
    # The grid shows whole weeks, so fetch a week either side of the month.
    entries = selectors.entries_of(
        user=request.user, start=start - timedelta(days=7), end=end + timedelta(days=7)
    )
    locks = selectors.locks_affecting(
        user=request.user, start=start, end=end, time_zone=request.time_zone
    )
    in_month = [e for e in entries if e.start < end and e.end > start]
    for entry in in_month:
        entry.span_label = span_text(entry.start, entry.end, tz)
    return {
        "month": month,
        "previous": (first_day - timedelta(days=1)).replace(day=1),
        "following": following,
        "weeks": month_cells(
            month, request.time_zone, entries, _today(request), [(s.start, s.end) for s in locks]
        ),
        "weekdays": WEEKDAYS,
        "entries": in_month,
        "locks": [services.lock_message(span) for span in locks],
        "time_zone": request.time_zone,
    }


@login_required
def availability(request):
    month = _month_of(request)
    context = _grid_context(request, month)
    today = _today(request)
    context.update(
        entry_form=EntryForm(initial={"start_date": month, "end_date": month}),
        kind_choices=DaysForm.base_fields["kind"].choices,
        sources=selectors.calendar_sources_for(viewer=request.user),
        today=today,
    )
    return render(request, "availability/availability.html", context)


def _grid_response(request, month, status: str, ok: bool):
    context = _grid_context(request, month)
    context.update(status=status, ok=ok)
    return render(request, "availability/_grid_update.html", context)


@login_required
@require_POST
def mark_days(request):
    """One click, drag or keyboard range on the grid; htmx gets the grid back."""
    form = DaysForm(request.POST)
    month = _month_of(request, request.POST.get("month", ""))
    if not form.is_valid():
        status, ok = " ".join(str(e) for errors in form.errors.values() for e in errors), False
    else:
        data = form.cleaned_data
        month = data.get("month") or month
        try:
            change = services.toggle_days(
                data["first"],
                data["last"],
                data["kind"],
                reason=data["reason"],
                time_zone=request.time_zone,
                by=request.user,
            )
            status, ok = describe(change, request.time_zone), True
        except DomainError as error:
            status, ok = str(error), False
    if request.htmx:
        return _grid_response(request, month, status, ok)
    (messages.success if ok else messages.error)(request, status)
    return redirect(f"{reverse('availability')}?month={month:%Y-%m}")


@login_required
@require_POST
def add_entry(request):
    """The plain form: a start and end date (and optional times), a kind and a reason."""
    form = EntryForm(request.POST)
    if not form.is_valid():
        month = _month_of(request, request.POST.get("start_date", "")[:7])
        context = _grid_context(request, month)
        context.update(
            entry_form=form,
            kind_choices=DaysForm.base_fields["kind"].choices,
            sources=selectors.calendar_sources_for(viewer=request.user),
        )
        return render(request, "availability/availability.html", context, status=400)
    data = form.cleaned_data
    start, end = form.span(request.time_zone)
    try:
        if data["kind"] == services.CLEAR:
            change = services.clear(start, end, by=request.user)
        else:
            change = services.mark(start, end, data["kind"], reason=data["reason"], by=request.user)
        messages.success(request, describe(change, request.time_zone))
    except DomainError as error:
        messages.error(request, str(error))
    return redirect(f"{reverse('availability')}?month={data['start_date']:%Y-%m}")


@login_required
@require_POST
def delete_entry(request, pk):
    entry = get_object_or_404(AvailabilityEntry, pk=pk, user=request.user)
    month = entry.start.astimezone(ZoneInfo(request.time_zone)).date().replace(day=1)
    try:
        services.delete_entry(entry, by=request.user)
        messages.success(request, "Saved: the entry was removed.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect(f"{reverse('availability')}?month={month:%Y-%m}")


# --- Calendar import ------------------------------------------------------------------------


@login_required
def calendars(request):
    return render(
        request,
        "availability/calendars.html",
        {
            "sources": selectors.calendar_sources_for(viewer=request.user),
            "url_form": CalendarUrlForm(),
            "upload_form": CalendarUploadForm(),
            "max_mb": MAX_ICS_BYTES // (1024 * 1024),
            "months": services.IMPORT_MONTHS,
        },
    )


@login_required
@require_POST
def calendar_add(request):
    form = CalendarUrlForm(request.POST)
    if form.is_valid():
        try:
            services.add_calendar_url(
                form.cleaned_data["url"], name=form.cleaned_data["name"], by=request.user
            )
        except DomainError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, "Paste your calendar's secret iCal/ICS address.")
    return redirect("calendars")


@login_required
@require_POST
def calendar_upload(request):
    form = CalendarUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an .ics file to upload.")
        return redirect("calendars")
    upload = form.cleaned_data["file"]
    try:
        if upload.size > MAX_ICS_BYTES:
            raise CalendarImportError(
                f"The calendar is too big. The limit is {MAX_ICS_BYTES // (1024 * 1024)} MB."
            )
        source = services.upload_calendar(upload.read(), filename=upload.name, by=request.user)
        if source.in_progress:
            messages.info(
                request,
                f"{source.name} is large: it is being read in the background. Its line below "
                "shows when it is done (reload the page if it doesn't update by itself).",
            )
        else:
            messages.success(
                request, f"Imported {source.imported_count} busy time(s) from {source.name}."
            )
    except CalendarImportError as error:
        messages.error(request, f"Nothing was imported: {error}")
    except DomainError as error:  # one upload at a time, a few a minute, server busy
        messages.error(request, f"Nothing was imported: {error.message}")
    return redirect("calendars")


def _own_source(request, pk) -> CalendarSource:
    return get_object_or_404(selectors.calendar_sources_for(viewer=request.user), pk=pk)


@login_required
def calendar_status(request, pk):
    """The status line of one source; htmx polls it while an import is running."""
    return render(request, "availability/_source_status.html", {"source": _own_source(request, pk)})


@login_required
@require_POST
def calendar_refresh(request, pk):
    source = _own_source(request, pk)
    try:
        services.refresh_calendar(source, by=request.user)
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("calendars")


@login_required
@require_POST
def calendar_remove(request, pk):
    source = _own_source(request, pk)
    services.remove_calendar(source, by=request.user)
    messages.success(request, f"Disconnected {source.name}; its busy times were removed.")
    return redirect("calendars")


# --- Requirements and claims ------------------------------------------------------------------


@login_required
def claim(request, pk):
    requirement = get_object_or_404(
        DutyRequirement.objects.select_related("rotation__team"),
        pk=pk,
        rotation__rotation_members__user=request.user,
    )
    form = ClaimForm(request.POST or None, initial={"obtained_on": _today(request)})
    if request.method == "POST" and form.is_valid():
        try:
            services.claim_qualification(requirement, **form.cleaned_data, by=request.user)
            messages.success(
                request,
                f"Claim sent: a manager of {requirement.rotation.team.name} will verify it.",
            )
            return redirect("home")
        except DomainError as error:
            form.add_error(None, str(error))
    return render(request, "availability/claim.html", {"requirement": requirement, "form": form})


@login_required
@require_POST
def withdraw(request, pk):
    qualification = get_object_or_404(Qualification, pk=pk, user=request.user)
    try:
        services.withdraw_claim(qualification, by=request.user)
        messages.success(request, "Claim withdrawn.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("home")


# --- The manager's page ---------------------------------------------------------------------


def _managed_team(request, slug):
    team = managed_teams(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team, or you do not manage it.")
    return team


@login_required
def team_readiness(request, slug):
    team = _managed_team(request, slug)
    team = team_with_members(team_id=team.pk)
    people = [m.user for m in team.memberships.all()]
    month = _month_of(request)
    start, end = selectors.month_span(month, ZoneInfo(request.time_zone))
    utilisation = selectors.utilisation_for(
        user_ids=[p.pk for p in people], start=start, end=end, named_for_teams=(team.pk,)
    )
    return render(
        request,
        "availability/team.html",
        {
            "team": team,
            "matrices": selectors.team_matrix(team=team),
            "month": month,
            "people": [(p, utilisation[p.pk]) for p in people],
            "locks": team.availability_locks.all(),
            "lock_form": LockForm(initial={"month": f"{month:%Y-%m}"}),
            "allocation_form": AllocationForm(people=people, initial={"month": f"{month:%Y-%m}"}),
            "settings_form": TeamSettingsForm(
                initial={
                    "engineers_set_allocation": selectors.team_settings(
                        team=team
                    ).engineers_set_allocation
                }
            ),
        },
    )


@login_required
@require_POST
def review(request, pk):
    qualification = get_object_or_404(
        Qualification.objects.select_related("requirement__rotation__team", "user").filter(
            requirement__rotation__team__in=managed_teams(user=request.user)
        ),
        pk=pk,
    )
    team = qualification.requirement.rotation.team
    form = ReviewForm(request.POST)
    if form.is_valid():
        verify = form.cleaned_data["decision"] == "verify"
        try:
            services.review_qualification(
                qualification, by=request.user, verify=verify, note=form.cleaned_data["note"]
            )
            who = display_name(qualification.user)
            word = "verified" if verify else "rejected"
            messages.success(request, f"{qualification.requirement.name} of {who} {word}.")
        except DomainError as error:
            messages.error(request, str(error))
    return redirect("team-readiness", slug=team.slug)


@login_required
def requirement_new(request, rotation_pk):
    rotation = rotations_for(user=request.user).filter(pk=rotation_pk).first()
    if rotation is None or not is_manager(user=request.user, team_id=rotation.team_id):
        raise Http404("No such rotation, or you do not manage it.")
    form = RequirementForm(request.POST or None, instance=DutyRequirement(rotation=rotation))
    return _save_requirement(request, form, rotation)


@login_required
def requirement_edit(request, pk):
    requirement = get_object_or_404(selectors.requirements_for(viewer=request.user), pk=pk)
    if not is_manager(user=request.user, team_id=requirement.rotation.team_id):
        raise Http404("No such requirement, or you do not manage its team.")
    form = RequirementForm(request.POST or None, instance=requirement)
    return _save_requirement(request, form, requirement.rotation)


def _save_requirement(request, form, rotation):
    if request.method == "POST" and form.is_valid():
        try:
            requirement = services.save_requirement(form.instance, by=request.user)
            messages.success(request, f"Saved the requirement {requirement.name}.")
            return redirect("team-readiness", slug=rotation.team.slug)
        except ValidationError as error:
            form.add_error(None, error)
    return render(
        request, "availability/requirement_form.html", {"form": form, "rotation": rotation}
    )


@login_required
@require_POST
def requirement_delete(request, pk):
    requirement = get_object_or_404(selectors.requirements_for(viewer=request.user), pk=pk)
    try:
        services.delete_requirement(requirement, by=request.user)
    except NotAllowed:
        raise Http404("No such requirement, or you do not manage its team.") from None
    messages.success(request, f"Removed the requirement {requirement.name}.")
    return redirect("team-readiness", slug=requirement.rotation.team.slug)


@login_required
@require_POST
def lock_create(request, slug):
    team = _managed_team(request, slug)
    form = LockForm(request.POST)
    if form.is_valid():
        month = form.cleaned_data["month"]
        services.lock_availability(
            team,
            month,
            selectors.next_month(month),
            by=request.user,
            note=form.cleaned_data["note"],
        )
        messages.success(request, f"Availability for {month:%B %Y} is locked for {team.name}.")
    else:
        messages.error(request, "Choose a month to lock.")
    return redirect("team-readiness", slug=team.slug)


@login_required
@require_POST
def lock_delete(request, slug, pk):
    team = _managed_team(request, slug)
    lock = get_object_or_404(team.availability_locks, pk=pk)
    services.unlock_availability(lock, by=request.user)
    messages.success(request, "Availability unlocked for that period.")
    return redirect("team-readiness", slug=team.slug)


@login_required
@require_POST
def allocation_set(request, slug):
    """Managers set anyone's allocation; engineers their own when the team allows it."""
    team = teams_for(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    people = [m.user for m in team_with_members(team_id=team.pk).memberships.all()]
    form = AllocationForm(request.POST, people=people)
    back = request.POST.get("next") or reverse("home")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("home")
    if form.is_valid():
        data = form.cleaned_data
        person = next(p for p in people if p.pk == data["user"])
        try:
            services.set_allocation(
                by=request.user,
                user=person,
                team=team,
                period_start=data["month"],
                period_end=selectors.next_month(data["month"]),
                percent=data["percent"],
                project=data["project"],
            )
            messages.success(
                request, f"Saved: {data['percent']}% project allocation for {data['month']:%B %Y}."
            )
        except NotAllowed:
            return HttpResponse(
                "Only a manager of this team can set project allocation.", status=403
            )
        except DomainError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, "Give a person, a month and a percentage from 0 to 100.")
    return redirect(back)


@login_required
@require_POST
def team_settings(request, slug):
    team = _managed_team(request, slug)
    form = TeamSettingsForm(request.POST)
    form.is_valid()
    services.set_team_settings(
        team,
        by=request.user,
        engineers_set_allocation=form.cleaned_data.get("engineers_set_allocation", False),
    )
    messages.success(request, "Team settings saved.")
    return redirect("team-readiness", slug=team.slug)
