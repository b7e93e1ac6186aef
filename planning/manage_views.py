"""Manager pages: plan a period, draft, edit, publish, audit."""

import csv
from datetime import UTC, datetime, time, timedelta
from itertools import groupby

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from onehand.dates import next_month, parse_day_or_none, parse_month
from onehand.people import display_name
from onehand.spreadsheet import csv_safe
from rotation import selectors
from rotation.forms import AssignForm, DraftForm
from rotation.manage_views import roster_for
from rotation.models import Roster, Shift
from rotation.shifts import month_bounds

from . import escalation, risk
from . import selectors as planning_selectors
from . import services as planning_services
from .experience import bus_factor_by_month, bus_factor_of, bus_factor_words
from .reports import bar_chart, bus_factor_chart, gini, line_chart

User = get_user_model()
TREND_TITLE = "Gini of on-call hours per month (0 = perfectly even)"


def _rotation_for(user, pk, *, manager: bool):
    rotation = selectors.rotations_for(user=user).filter(pk=pk).first()
    if rotation is None:
        raise Http404("No such rotation, or you are not in its team.")
    if manager and not selectors.is_manager(user=user, team_id=rotation.team_id):
        raise Http404("Only managers of this team can plan its rotations.")
    return rotation


@login_required
def plan(request, pk):
    rotation = _rotation_for(request.user, pk, manager=True)
    now = timezone.now()
    today = now.astimezone(timezone.get_current_timezone()).date()
    month = (
        parse_month(request.GET.get("month"), next_month(today))
        if request.GET.get("month")
        else next_month(today)
    )
    start, end = month_bounds(month)
    rows = planning_selectors.plan_calendar(
        rotation=rotation, month_start=start, month_end=end, viewer_tz=request.time_zone, now=now
    )
    for row in rows:
        row.cells_html = mark_safe(planning_selectors.plan_cells_html(cells=row.cells))  # noqa: S308 - fixed markup only
    drafts = list(selectors.drafts_for(rotation=rotation, period_start=start, period_end=end))
    # From the rows already loaded: no query of its own.
    bus_factor = bus_factor_of(
        rotation=rotation,
        ready=(
            (r.name, bool(r.experience and r.experience.experienced), "primary" in r.roles)
            for r in rows
        ),
    )
    return render(
        request,
        "rotation/plan.html",
        {
            "rotation": rotation,
            "month": month,
            "previous": (month - timedelta(days=1)).replace(day=1),
            "following": next_month(month),
            "rows": rows,
            "days": [c.day for c in rows[0].cells] if rows else [],
            "drafts": drafts,
            "bus_factor": bus_factor,
            "form": DraftForm(),
        },
    )


@login_required
@require_POST
def draft(request, pk):
    rotation = _rotation_for(request.user, pk, manager=True)
    month = parse_month(request.POST.get("month"), next_month(timezone.now().date()))
    start, end = month_bounds(month)
    form = DraftForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "Check the draft settings: "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
        )
        return redirect(f"/rotations/{rotation.pk}/plan/?month={month:%Y-%m}")
    roster = planning_services.draft_roster(
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
                "people": selectors.ShiftPeople(
                    rotation, start, items[0].end, by_role.get("primary"), by_role.get("secondary")
                ),
            }
        )
    chains = escalation.escalation_chains(shifts=[g.pop("people") for g in groups])
    for group, chain in zip(groups, chains, strict=True):
        group["escalation"] = chain
    return groups


def assignee_options(people) -> str:
    """The <option>s of the assignee select, rendered once per page instead of once per slot."""
    return format_html_join(
        "", '<option value="{}">{}</option>', ((p.pk, display_name(p)) for p in people)
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
        int(
            pid
        ): f"{p['name']} is above their fair share (L={p['projected']:.1f} vs team mean {mean:.1f})"
        for pid, p in people.items()
        if p["projected"] > mean * 1.25 and p.get("draft_load", 0) > 0
    }


@login_required
def roster_view(request, pk):
    roster = roster_for(request.user, pk)
    roster, slots = selectors.roster_detail(roster_id=roster.pk)
    is_manager = selectors.is_manager(user=request.user, team_id=roster.rotation.team_id)
    gaps = [s for s in slots if s.assignee_id is None]
    people = selectors.rotation_people(rotation=roster.rotation) if is_manager else []
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
            "audit": list(selectors.audit_for(roster=roster)[:50]) if is_manager else [],
            "at_risk": (
                risk.at_risk_shifts([roster.rotation_id], zone=request.time_zone)
                if is_manager
                else []
            ),
            "at_risk_hours": settings.ONEHAND_AT_RISK_HOURS,
        },
    )


@login_required
@require_POST
def assign(request, shift_pk):
    shift = Shift.objects.select_related("roster__rotation").filter(pk=shift_pk).first()
    if shift is None or not selectors.is_manager(
        user=request.user, team_id=shift.roster.rotation.team_id
    ):
        raise Http404("No such slot, or you are not a manager of its team.")
    form = AssignForm(request.POST)
    error = None
    if form.is_valid():
        user_id = form.cleaned_data["assignee"]
        user = User.objects.filter(pk=user_id).first() if user_id else None
        try:
            shift = planning_services.assign_slot(
                shift,
                user,
                by=request.user,
                override=form.cleaned_data["override"],
                note=form.cleaned_data["note"],
            )
        except planning_services.AssignmentRefused as exc:
            error = str(exc)
    else:
        error = "Choose a person."
    if request.htmx:
        shift = Shift.objects.select_related("assignee__person", "roster__rotation").get(
            pk=shift.pk
        )
        people = selectors.rotation_people(rotation=shift.roster.rotation)
        attempted = request.POST.get("assignee")
        shift.options_html = select_option(
            assignee_options(people),
            int(attempted) if error and attempted and attempted.isdigit() else shift.assignee_id,
        )
        return render(
            request,
            "rotation/_slot.html",
            {
                "slot": shift,
                "people": selectors.rotation_people(rotation=shift.roster.rotation),
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


def _date_param(raw, default):
    return parse_day_or_none(raw) or default


@login_required
def report(request, pk):
    rotation = _rotation_for(request.user, pk, manager=False)
    today = timezone.now().date()
    default_from = (today.replace(day=1) - timedelta(days=180)).replace(day=1)
    start_day = _date_param(request.GET.get("from"), default_from)
    end_day = _date_param(request.GET.get("to"), today + timedelta(days=1))
    if end_day <= start_day:
        end_day = start_day + timedelta(days=1)
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    end = datetime.combine(end_day, time(0), tzinfo=UTC)
    rows, trend = planning_selectors.load_report(rotation=rotation, start=start, end=end)
    ready = bus_factor_by_month(rotation=rotation, start=start, end=end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{rotation.pk}-load-{start_day}-{end_day}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(["person", "shifts", "hours", "weekend_hours", "holiday_hours"])
        for r in rows:
            writer.writerow(
                [
                    csv_safe(r.name),
                    r.shifts,
                    f"{r.hours:.2f}",
                    f"{r.weekend_hours:.2f}",
                    f"{r.holiday_hours:.2f}",
                ]
            )
        return response
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
            "trend": mark_safe(line_chart(trend, title=TREND_TITLE)),  # noqa: S308
            "gini": gini([r.hours for r in rows]),
            "bus_factor": ready,
            "bus_factor_chart": mark_safe(  # noqa: S308 - numbers and month names only
                bus_factor_chart(ready, warn_below=rotation.bus_factor_warning)
            ),
            "bus_factor_caption": bus_factor_words(ready, warn_below=rotation.bus_factor_warning),
            "is_manager": selectors.is_manager(user=request.user, team_id=rotation.team_id),
        },
    )
