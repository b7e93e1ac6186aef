"""Manager pages: plan a period, draft, edit, publish, audit."""

import csv
from datetime import timedelta
from itertools import groupby

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from . import selectors, services
from .calendar import parse_month
from .forms import AssignForm, DraftForm
from .models import Roster, Shift
from .shifts import month_bounds

User = get_user_model()


def _rotation_for(user, pk, *, manager: bool):
    rotation = selectors.rotations_for(user).filter(pk=pk).first()
    if rotation is None:
        raise Http404("No such rotation, or you are not in its team.")
    if manager and not selectors.is_manager(user, rotation.team_id):
        raise Http404("Only managers of this team can plan its rotations.")
    return rotation


def _roster_for(user, pk) -> Roster:
    roster = selectors.rosters_for(user).filter(pk=pk).first()
    if roster is None:
        raise Http404("No such roster, or you are not in its team.")
    if roster.status == Roster.Status.DRAFT and not selectors.is_manager(user, roster.rotation.team_id):
        raise Http404("Drafts are visible to the team's managers only.")
    return roster


def _next_month(today):
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


@login_required
def plan(request, pk):
    rotation = _rotation_for(request.user, pk, manager=True)
    now = timezone.now()
    today = now.astimezone(timezone.get_current_timezone()).date()
    month = parse_month(request.GET.get("month"), _next_month(today)) if request.GET.get("month") else _next_month(today)
    start, end = month_bounds(month)
    rows = selectors.plan_calendar(rotation, start, end, request.time_zone, now)
    for row in rows:
        row.cells_html = mark_safe(selectors.plan_cells_html(row.cells))  # noqa: S308 - fixed markup only
    drafts = list(selectors.drafts_for(rotation, start, end))
    return render(
        request,
        "rotation/plan.html",
        {
            "rotation": rotation,
            "month": month,
            "previous": (month - timedelta(days=1)).replace(day=1),
            "following": _next_month(month),
            "rows": rows,
            "days": [c.day for c in rows[0].cells] if rows else [],
            "drafts": drafts,
            "form": DraftForm(),
        },
    )


@login_required
@require_POST
def draft(request, pk):
    rotation = _rotation_for(request.user, pk, manager=True)
    month = parse_month(request.POST.get("month"), _next_month(timezone.now().date()))
    start, end = month_bounds(month)
    form = DraftForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the draft settings: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect(f"/rotations/{rotation.pk}/plan/?month={month:%Y-%m}")
    roster = services.draft_roster(
        rotation, start, end, by=request.user, mode=form.cleaned_data["mode"], **form.overrides()
    )
    messages.success(request, "Draft ready. Check the picks and their reasons, then publish.")
    return redirect("roster", pk=roster.pk)


def _shift_groups(rotation, slots):
    groups = []
    for start, items in groupby(slots, key=lambda s: s.start):
        items = list(items)
        by_role = {s.role: s.assignee for s in items}
        groups.append(
            {
                "start": start,
                "end": items[0].end,
                "slots": items,
                "escalation": selectors.escalation_chain(rotation, by_role.get("primary"), by_role.get("secondary")),
            }
        )
    return groups


def assignee_options(people) -> str:
    """The <option>s of the assignee select, rendered once per page instead of once per slot."""
    return format_html_join(
        "", '<option value="{}">{}</option>', ((p.pk, p.get_full_name() or p.get_username()) for p in people)
    )


def select_option(options: str, user_id) -> str:
    if user_id is None:
        return mark_safe(options)  # noqa: S308 - built by format_html_join above
    marker = f'<option value="{user_id}">'
    return mark_safe(options.replace(marker, f'<option value="{user_id}" selected>', 1))  # noqa: S308


def _fair_share_flags(roster: Roster) -> dict[int, str]:
    """People whose projected load is above the team's fair share (a soft problem)."""
    people = (roster.summary or {}).get("people", {})
    if not people:
        return {}
    loads = [p["projected"] for p in people.values()]
    mean = sum(loads) / len(loads)
    return {
        int(pid): f"{p['name']} is above their fair share (L={p['projected']:.1f} vs team mean {mean:.1f})"
        for pid, p in people.items()
        if p["projected"] > mean * 1.25 and p.get("draft_load", 0) > 0
    }


@login_required
def roster_view(request, pk):
    roster = _roster_for(request.user, pk)
    roster, slots = selectors.roster_detail(roster.pk)
    is_manager = selectors.is_manager(request.user, roster.rotation.team_id)
    gaps = [s for s in slots if s.assignee_id is None]
    people = selectors.rotation_people(roster.rotation) if is_manager else []
    if is_manager:
        options = assignee_options(people)
        for slot in slots:
            slot.options_html = select_option(options, slot.assignee_id)
    flags = _fair_share_flags(roster)
    return render(
        request,
        "rotation/roster.html",
        {
            "roster": roster,
            "rotation": roster.rotation,
            "groups": _shift_groups(roster.rotation, slots),
            "people": people,
            "is_manager": is_manager,
            "gaps": gaps,
            "flags": flags,
            "summary": roster.summary or {},
            "audit": list(selectors.audit_for(roster)[:50]) if is_manager else [],
        },
    )


@login_required
@require_POST
def assign(request, shift_pk):
    shift = Shift.objects.select_related("roster__rotation").filter(pk=shift_pk).first()
    if shift is None or not selectors.is_manager(request.user, shift.roster.rotation.team_id):
        raise Http404("No such slot, or you are not a manager of its team.")
    form = AssignForm(request.POST)
    error = None
    if form.is_valid():
        user_id = form.cleaned_data["assignee"]
        user = User.objects.filter(pk=user_id).first() if user_id else None
        try:
            shift = services.assign_slot(
                shift, user, by=request.user, override=form.cleaned_data["override"], note=form.cleaned_data["note"]
            )
        except services.AssignmentRefused as exc:
            error = str(exc)
    else:
        error = "Choose a person."
    if request.htmx:
        shift = Shift.objects.select_related("assignee__person", "roster__rotation").get(pk=shift.pk)
        people = selectors.rotation_people(shift.roster.rotation)
        attempted = request.POST.get("assignee")
        shift.options_html = select_option(
            assignee_options(people), int(attempted) if error and attempted and attempted.isdigit() else shift.assignee_id
        )
        return render(
            request,
            "rotation/_slot.html",
            {
                "slot": shift,
                "people": selectors.rotation_people(shift.roster.rotation),
                "is_manager": True,
                "roster": shift.roster,
                "error": error,
                "attempted": request.POST.get("assignee"),
                "saved": error is None,
            },
        )
    if error:
        messages.error(request, f"Not changed: {error}")
    else:
        messages.success(request, "Saved.")
    return redirect("roster", pk=shift.roster_id)


@login_required
@require_POST
def publish(request, pk):
    roster = _roster_for(request.user, pk)
    try:
        roster = services.publish_roster(roster, by=request.user)
    except services.NotAllowed as exc:
        raise Http404(str(exc)) from None
    messages.success(request, "Published. Everyone on it gets calendar entries.")
    return redirect("roster", pk=roster.pk)


@login_required
def audit_csv(request, pk):
    roster = _roster_for(request.user, pk)
    if not selectors.is_manager(request.user, roster.rotation.team_id):
        raise Http404("Only managers can export the audit log.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{roster.pk}-audit.csv"'
    writer = csv.writer(response)
    writer.writerow(["at_utc", "actor", "action", "summary", "before", "after"])
    for entry in selectors.audit_for(roster).order_by("at", "id"):
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor.get_username() if entry.actor else "",
                entry.action,
                _csv_safe(entry.summary),
                entry.before,
                entry.after,
            ]
        )
    return response


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with these as formulas."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _date_param(raw, default):
    from datetime import date

    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


@login_required
def report(request, pk):
    from datetime import UTC, datetime, time

    from django.utils.safestring import mark_safe

    from .reports import bar_chart, line_chart

    rotation = _rotation_for(request.user, pk, manager=False)
    today = timezone.now().date()
    default_from = (today.replace(day=1) - timedelta(days=180)).replace(day=1)
    start_day = _date_param(request.GET.get("from"), default_from)
    end_day = _date_param(request.GET.get("to"), today + timedelta(days=1))
    if end_day <= start_day:
        end_day = start_day + timedelta(days=1)
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    end = datetime.combine(end_day, time(0), tzinfo=UTC)
    rows, trend = selectors.load_report(rotation, start, end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{rotation.pk}-load-{start_day}-{end_day}.csv"'
        writer = csv.writer(response)
        writer.writerow(["person", "shifts", "hours", "weekend_hours", "holiday_hours"])
        for r in rows:
            writer.writerow([_csv_safe(r.name), r.shifts, f"{r.hours:.2f}", f"{r.weekend_hours:.2f}", f"{r.holiday_hours:.2f}"])
        return response
    from .reports import gini

    return render(
        request,
        "rotation/report.html",
        {
            "rotation": rotation,
            "rows": rows,
            "start": start_day,
            "end": end_day,
            # Our own SVG: every text node is escaped in reports.py.
            "bars": mark_safe(bar_chart(rows)),  # noqa: S308
            "trend": mark_safe(line_chart(trend, title="Gini of on-call hours per month (0 = perfectly even)")),  # noqa: S308
            "gini": gini([r.hours for r in rows]),
            "is_manager": selectors.is_manager(request.user, rotation.team_id),
        },
    )


@login_required
def import_history(request, slug):
    from .forms import HistoryImportForm
    from .history import HistoryImportError
    from .history import import_history as run_import

    team = selectors.managed_teams(request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("Only managers of this team can import history.")
    errors: list[str] = []
    form = HistoryImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            count = run_import(team, form.cleaned_data["file"].read(), by=request.user)
        except HistoryImportError as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Imported {count} past shifts.")
            return redirect("team", slug=team.slug)
    return render(request, "rotation/import_history.html", {"team": team, "form": form, "errors": errors})


@login_required
def rotation_edit(request, slug, pk=None):
    """Create or change a rotation; follow-the-sun windows are checked across a year of DST."""
    from .coverage import WindowDef, check_coverage
    from .forms import RotationForm, window_formset
    from .models import Rotation

    team = selectors.managed_teams(request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("Only managers of this team can change its rotations.")
    rotation = None
    if pk is not None:
        rotation = Rotation.objects.filter(team=team, pk=pk).first()
        if rotation is None:
            raise Http404("No such rotation in this team.")
    form = RotationForm(request.POST or None, instance=rotation, team=team)
    windows = window_formset(request.POST or None, instance=rotation or Rotation(team=team))
    coverage_error = None
    if request.method == "POST" and form.is_valid() and windows.is_valid():
        kept = [
            f.cleaned_data for f in windows.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("label")
        ]
        if form.cleaned_data["pattern"] == Rotation.Pattern.FOLLOW_THE_SUN:
            defs = [WindowDef(str(i), w["label"], w["time_zone"], w["start"], w["end"]) for i, w in enumerate(kept)]
            today = timezone.now().date()
            worst = max(check_coverage(defs, today, today + timedelta(days=366)), key=lambda d: d.hours, default=None) if len(defs) >= 2 else None
            if len(defs) < 2:
                coverage_error = "A follow-the-sun rotation needs at least two regions' windows."
            elif worst is not None and worst.hours > 3:
                coverage_error = (
                    f"The windows leave a {worst.kind} of {worst.hours:.0f} hours between {worst.before} and "
                    f"{worst.after} (from {worst.start:%d %b %H:%M} UTC): together they must cover the day."
                )
        if coverage_error is None:
            from django.db import transaction

            with transaction.atomic():
                rotation = form.save(commit=False)
                rotation.team = team
                rotation.save()
                windows.instance = rotation
                windows.save()
                services.set_rotation_people(rotation, form.cleaned_data["people"])
            messages.success(request, f"Saved {rotation.name}.")
            return redirect("rotation", pk=rotation.pk)
    return render(
        request,
        "rotation/rotation_form.html",
        {"team": team, "rotation": rotation, "form": form, "windows": windows, "coverage_error": coverage_error},
        status=400 if request.method == "POST" else 200,
    )
