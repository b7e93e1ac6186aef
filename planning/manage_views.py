"""Manager pages: plan a period, draft, edit, publish, audit."""

import csv
import secrets
from datetime import UTC, datetime, time, timedelta
from itertools import groupby

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from onehand.dates import (
    MONTH_PROBLEM,
    next_month,
    parse_day_or_none,
    parse_month,
    parse_month_or_none,
)
from onehand.errors import Invalid
from onehand.people import display_name
from onehand.remembered_pages import remembered_page
from onehand.spreadsheet import csv_safe
from rotation import selectors
from rotation.forms import AssignForm, DraftForm
from rotation.manage_views import roster_for
from rotation.models import Roster, Shift, SlotRole
from rotation.shifts import month_bounds

from . import changes, escalation, plan_stamp, risk, tool_history
from . import selectors as planning_selectors
from . import services as planning_services
from .experience import bus_factor_words
from .reports import (
    bar_chart,
    bars_caption,
    bus_factor_chart,
    gini,
    line_chart,
    trend_caption,
)

User = get_user_model()
REPORT_PAGE_SIZE = 50
# the draft job page reloads itself this often (seconds) while the draft runs
DRAFT_PAGE_REFRESH_SECONDS = 2
TREND_TITLE = "Gini of on-call hours per month (0 = perfectly even)"


def _rotation_for(user, pk, *, manager: bool):
    rotation = selectors.rotations_for(user=user).filter(pk=pk).first()
    if rotation is None:
        raise Http404("No such rotation, or you are not in its team.")
    if manager and not selectors.is_manager(user=user, team_id=rotation.team_id):
        raise Http404("Only managers of this team can plan its rotations.")
    return rotation


@login_required
@remembered_page
@plan_stamp.pinned
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
    people = planning_selectors.plan_calendar(
        rotation=rotation,
        month_start=start,
        month_end=end,
        viewer_tz=request.time_zone,
        now=now,
        page=request.GET.get("page"),
    )
    rows = people.object_list
    for row in rows:
        row.cells_html = mark_safe(planning_selectors.plan_cells_html(cells=row.cells))  # noqa: S308 - fixed markup only
    drafts = planning_selectors.plan_drafts(rotation=rotation, period_start=start, period_end=end)
    bus_factor = people.bus_factor
    return render(
        request,
        "rotation/plan.html",
        {
            "rotation": rotation,
            "month": month,
            "previous": (month - timedelta(days=1)).replace(day=1),
            "following": next_month(month),
            "rows": rows,
            "pager": people,
            "pager_what": "people",
            "pager_keep": [("month", f"{month:%Y-%m}")],
            "days": [c.day for c in rows[0].cells] if rows else [],
            "drafts": drafts,
            "bus_factor": bus_factor,
            "form": DraftForm(rotation=rotation),
        },
    )


@login_required
def compare(request, pk):
    """Two rosters of one month, person by person: who gains and loses which shifts, and how
    each person's share of their fair share changes."""
    rotation = _rotation_for(request.user, pk, manager=True)
    chosen = []
    for name in ("a", "b"):
        raw = request.GET.get(name, "")
        if not raw:
            continue
        roster = (
            Roster.objects.filter(rotation=rotation, pk=int(raw)).first()
            if raw.isascii() and raw.isdigit() and len(raw) < 19
            else None
        )
        if roster is None:
            raise Invalid("Choose two rosters of this rotation to compare.", field=name)
        chosen.append(roster)
    if len(chosen) != 2:
        # Without a choice: the two newest rosters of the rotation, older first.
        chosen = list(Roster.objects.filter(rotation=rotation).order_by("-created_at", "-pk")[:2])
        chosen.reverse()
    if len(chosen) != 2:
        return render(request, "rotation/compare.html", {"rotation": rotation})
    old, new = chosen
    return render(
        request,
        "rotation/compare.html",
        {
            "rotation": rotation,
            "old": old,
            "new": new,
            "changes": changes.compare_rosters(old=old, new=new),
            "old_largest": changes.largest_load(old.summary),
            "new_largest": changes.largest_load(new.summary),
        },
    )


@login_required
@require_POST
def draft(request, pk):
    rotation = _rotation_for(request.user, pk, manager=True)
    month = parse_month_or_none(request.POST.get("month"))
    if month is None:
        raise Invalid(MONTH_PROBLEM, field="month")
    start, end = month_bounds(month)
    form = DraftForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "Check the draft settings: "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
        )
        return redirect(f"/rotations/{rotation.pk}/plan/?month={month:%Y-%m}")
    job, _ = planning_services.request_draft(
        rotation,
        start,
        end,
        by=request.user,
        mode=form.cleaned_data["mode"],
        overrides=form.overrides(),
    )
    # 303: the browser GETs the job's page, which shows progress and then the roster (with
    # in-process tasks the draft is already done and the page sends the manager straight on)
    return redirect_303(f"/draft-jobs/{job.pk}/")


def redirect_303(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _try_again_fields(job) -> list[tuple[str, str]]:
    """The draft form's fields as the job asked them, for its "Try again" button."""
    fields = [("month", f"{job.period_start:%Y-%m}"), ("mode", job.mode)]
    for key, value in job.draft_settings().items():
        if key == "min_rest":
            fields.append(("min_rest_hours", str(round(value.total_seconds() / 3600))))
        else:
            fields.append((key, f"{value:g}" if isinstance(value, float) else str(value)))
    return fields


@login_required
def draft_job(request, pk):
    """A draft's progress: refreshes itself until the draft is done (then on to the roster) or
    failed (the reason and "Try again")."""
    job = planning_selectors.draft_job(job_id=pk)
    if job is None:
        raise Http404("No such draft.")
    # the same refusal as every planning page: the rotation's managers only
    rotation = _rotation_for(request.user, job.rotation_id, manager=True)
    published_roster = None
    if job.state == job.State.DONE:
        # published_at stays when a later publish supersedes the roster: still "was published"
        if job.roster.published_at is None:
            # The page's script only learns of the redirect and then reloads: the message is
            # for that reload, or it would show twice.
            if not request.headers.get("X-Draft-Job-Poll"):
                messages.success(
                    request, "Draft ready. Check the picks and their reasons, then publish."
                )
            return redirect("roster", pk=job.roster_id)
        # "then publish" would be stale: say when it was published, with the roster's link
        published_roster = job.roster
    return render(
        request,
        "planning/draft_job.html",
        {
            "rotation": rotation,
            "job": job,
            "published_roster": published_roster,
            "refresh_seconds": DRAFT_PAGE_REFRESH_SECONDS,
            "try_again": _try_again_fields(job) if job.state == job.State.FAILED else [],
        },
    )


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


def choice_options(choices: list[planning_selectors.SlotChoice], user_id) -> str:
    """The slot editor's <option>s: eligible people first with their share, then the others
    with the rule they would break. Only the current holder is ever pre-selected."""

    def option(c, label):
        return format_html(
            '<option value="{}"{}>{}</option>',
            c.user_id,
            mark_safe(" selected") if c.user_id == user_id else "",  # noqa: S308 - fixed text
            label,
        )

    eligible = [c for c in choices if c.problem is None]
    others = [c for c in choices if c.problem is not None]
    html = []
    if eligible:
        html.append(format_html('<optgroup label="{}">', "Eligible (share of a fair share)"))
        html.extend(
            option(c, f"{c.name} · {c.share}%" if c.share is not None else c.name) for c in eligible
        )
        html.append(mark_safe("</optgroup>"))  # noqa: S308 - fixed markup
    if others:
        html.append(format_html('<optgroup label="{}">', "Not eligible (needs an override)"))
        html.extend(option(c, f"{c.name} — {c.problem}") for c in others)
        html.append(mark_safe("</optgroup>"))  # noqa: S308 - fixed markup
    return mark_safe("".join(html))  # noqa: S308 - every part escaped by format_html


def _named_ids(slots) -> set[int]:
    """Who the slots' stored reasons name by id: runners-up and people blocking a pick."""
    ids = set()
    for slot in slots:
        reason = slot.reason or {}
        if isinstance(reason.get("runner_up_id"), int):
            ids.add(reason["runner_up_id"])
        ids.update(
            int(who)
            for who in (reason.get("blocking") or {})
            if str(who).isascii() and str(who).isdigit()
        )
    return ids


def _current_names(rotation, ids) -> dict[int, str]:
    """These people of the rotation by id, as they are called now (one query)."""
    return selectors.rotation_names(rotation=rotation, user_ids=ids)


def _with_current_names(slots, names: dict[int, str]):
    """Stored reasons keep who they mean by id; pages name people as they are called now, so
    a rename shows at once (the stored name is only the fallback for someone who left)."""
    for slot in slots:
        reason = slot.reason or {}
        runner_up = reason.get("runner_up_id")
        slot.runner_up_name = names.get(runner_up) or reason.get("runner_up_name")
        slot.blocking_names = [
            (names.get(int(who), who) if str(who).isascii() and str(who).isdigit() else who, why)
            for who, why in (reason.get("blocking") or {}).items()
        ]
    return slots


def _overloaded(roster: Roster) -> dict[int, tuple[int, str]]:
    """People who carry well above their fair share of this roster (a soft problem): id ->
    (their share in percent, their name when drafted)."""
    people = (roster.summary or {}).get("people", {})
    shares = changes.fair_shares(roster.summary)
    return {
        int(pid): (shares[int(pid)], p["name"])
        for pid, p in people.items()
        if shares.get(int(pid), 0) > 125 and p.get("draft_load", 0) > 0
    }


def _fair_share_flags(overloaded: dict[int, tuple[int, str]], names: dict[int, str]):
    return {
        pid: f"{names.get(pid, name)} carries {share}% of their fair "
        "share of this roster (100% = fair given their capacity)."
        for pid, (share, name) in overloaded.items()
    }


@login_required
@remembered_page
def roster_view(request, pk):
    roster = roster_for(request.user, pk)
    is_manager = selectors.is_manager(user=request.user, team_id=roster.rotation.team_id)
    slots_html = planning_selectors.remembered(
        key=(
            f"onehand:roster-slots:{ROSTER_FORMAT}:{roster.pk}:{int(is_manager)}:"
            f"{request.time_zone}:{translation.get_language()}"
        ),
        compute=lambda: _roster_slots_html(roster.pk, is_manager=is_manager),
    )
    return render(
        request,
        "rotation/roster.html",
        {
            "roster": roster,
            "rotation": roster.rotation,
            "slots_html": {name: mark_safe(html) for name, html in slots_html.items()},  # noqa: S308
            "is_manager": is_manager,
            "summary": roster.summary or {},
            "largest": changes.largest_load(roster.summary),
            "audit": list(selectors.audit_for(roster=roster)[:50]) if is_manager else [],
            "at_risk": (
                risk.at_risk_shifts([roster.rotation_id], zone=request.time_zone)
                if is_manager
                else []
            ),
            "at_risk_hours": settings.ONEHAND_AT_RISK_HOURS,
        },
    )


# The roster's problems and shifts as HTML, remembered under the plan stamp per roster,
# manager or not, reader's zone and language: every part of them is read from watched tables
# (slots, reasons, names, escalation contacts) and none moves with the clock. Change
# ROSTER_FORMAT when the fragments' templates or what they are given change.
ROSTER_FORMAT = 1


def _roster_slots_html(roster_id: int, *, is_manager: bool) -> dict[str, str]:
    roster, slots = selectors.roster_detail(roster_id=roster_id)
    # Each slot's editor (a select of everyone in the rotation) is rendered on demand by
    # slot_editor: rendered for every slot it made the page grow with the team (2 MB at 800).
    # Names as people are called now, of only those the page names (not everyone in it).
    overloaded = _overloaded(roster)
    names = _current_names(roster.rotation, _named_ids(slots) | overloaded.keys())
    _with_current_names(slots, names)
    context = {
        "roster": roster,
        "is_manager": is_manager,
        "gaps": [s for s in slots if s.assignee_id is None],
        "flags": _fair_share_flags(overloaded, names),
        "groups": _shift_groups(roster.rotation, slots),
    }
    return {
        "problems": render_to_string("rotation/_roster_problems.html", context),
        "shifts": render_to_string("rotation/_roster_shifts.html", context),
    }


def _managed_slot(user, shift_pk, *related):
    shift = Shift.objects.select_related("roster__rotation", *related).filter(pk=shift_pk).first()
    if shift is None or not selectors.is_manager(user=user, team_id=shift.roster.rotation.team_id):
        raise Http404("No such slot, or you are not a manager of its team.")
    return shift


@login_required
@require_POST
def assign(request, shift_pk):
    shift = _managed_slot(request.user, shift_pk)
    form = AssignForm(request.POST)
    error = None
    if form.is_valid():
        # Only an explicit empty choice means "nobody"; an id that names no one is refused.
        user_id = form.cleaned_data["assignee"]
        user = User.objects.filter(pk=user_id).first() if user_id is not None else None
        if user_id is not None and user is None:
            error = "No such person."
        else:
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
        error = "No such person." if "assignee" in form.errors else "Choose a person."
    if request.htmx:
        shift = Shift.objects.select_related("assignee__person", "roster__rotation").get(
            pk=shift.pk
        )
        people = selectors.rotation_people(rotation=shift.roster.rotation)
        _with_current_names([shift], {u.pk: display_name(u) for u in people})
        # A refused pick is never left selected: the select shows who holds the slot now.
        shift.options_html = choice_options(
            planning_selectors.slot_choices(
                shift=shift, people=people, now=timezone.now(), reader_zone=request.time_zone
            ),
            shift.assignee_id,
        )
        return render(
            request,
            "rotation/_slot.html",
            {
                "slot": shift,
                "is_manager": True,
                "roster": shift.roster,
                "editing": error is not None,
                "error": error,
                "attempted": request.POST.get("assignee"),
                "saved": error is None,
            },
        )
    if error:
        messages.error(request, f"Not changed: {error}")
        return redirect("slot-editor", shift_pk=shift.pk)
    messages.success(request, "Saved.")
    return redirect("roster", pk=shift.roster_id)


@login_required
def slot_editor(request, shift_pk):
    """One slot's editor: eligible people first with their share, the others with the rule
    they would break. In place with htmx, or as a page of its own without JavaScript."""
    shift = _managed_slot(request.user, shift_pk, "assignee__person")
    people = selectors.rotation_people(rotation=shift.roster.rotation)
    _with_current_names([shift], {u.pk: display_name(u) for u in people})
    shift.options_html = choice_options(
        planning_selectors.slot_choices(
            shift=shift, people=people, now=timezone.now(), reader_zone=request.time_zone
        ),
        shift.assignee_id,
    )
    context = {
        "slot": shift,
        "roster": shift.roster,
        "is_manager": True,
        "editing": True,
        "editor": True,
    }
    if request.htmx:
        return render(request, "rotation/_slot.html", context)
    return render(
        request, "rotation/slot_editor.html", {**context, "rotation": shift.roster.rotation}
    )


REPORT_MAX_DAYS = 3 * 366


def _date_param(raw, default):
    return parse_day_or_none(raw) or default


@login_required
@remembered_page
@plan_stamp.pinned
def report(request, pk):
    rotation = _rotation_for(request.user, pk, manager=False)
    today = timezone.now().date()
    # By default the range ends with the latest published roster (the month just published
    # is in it), or today when nothing is published ahead.
    default_to = max(
        today + timedelta(days=1), selectors.latest_published_end(rotation=rotation) or today
    )
    default_from = (default_to.replace(day=1) - timedelta(days=180)).replace(day=1)
    start_day = _date_param(request.GET.get("from"), default_from)
    end_day = _date_param(request.GET.get("to"), default_to)
    if end_day <= start_day:
        end_day = start_day + timedelta(days=1)
    if (end_day - start_day).days > REPORT_MAX_DAYS:
        # each day of the range is read and weighed: a century-long range held a web worker
        # for 20 s (red-team finding)
        raise Invalid(
            f"A load report covers at most {REPORT_MAX_DAYS // 366} years; "
            "choose a later 'from' or an earlier 'to'.",
            field="to",
        )
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    end = datetime.combine(end_day, time(0), tzinfo=UTC)
    rows, trend, ready = planning_selectors.report_figures(
        rotation=rotation, start=start, end=end, now=timezone.now()
    )
    months = [(f"{datetime.strptime(key, '%Y-%m'):%b %Y}", value) for key, value in trend]
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
    # A page of people (busiest first) in the chart and the table; the CSV has everyone.
    people = Paginator(rows, REPORT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "rotation/report.html",
        {
            "rotation": rotation,
            "rows": people.object_list,
            "pager": people,
            "pager_what": "people",
            "pager_keep": [("from", f"{start_day:%Y-%m-%d}"), ("to", f"{end_day:%Y-%m-%d}")],
            "start": start_day,
            "end": end_day,
            # Our own SVG: every text node is escaped in reports.py.
            "bars": mark_safe(bar_chart(people.object_list)),  # noqa: S308
            "trend": mark_safe(line_chart(months, title=TREND_TITLE)),  # noqa: S308
            "bars_caption": bars_caption(rows),
            "trend_caption": trend_caption(months),
            "last_day": end_day - timedelta(days=1),
            "gini": gini([r.hours for r in rows]),
            "bus_factor": ready,
            "bus_factor_chart": mark_safe(  # noqa: S308 - numbers and month names only
                bus_factor_chart(ready, warn_below=rotation.bus_factor_warning)
            ),
            "bus_factor_caption": bus_factor_words(ready, warn_below=rotation.bus_factor_warning),
            "is_manager": selectors.is_manager(user=request.user, team_id=rotation.team_id),
        },
    )


# --------------------------------------------------------------------------- history from a tool

TOOL_UPLOAD_SECONDS = 3600  # how long a previewed file waits for its confirmation


@login_required
def import_from_tool(request, pk):
    """Past shifts from PagerDuty, Opsgenie or Grafana OnCall (iCal file or feed, or CSV):
    preview the people and unknown names first, then import all or nothing."""
    rotation = _rotation_for(request.user, pk, manager=True)
    people = sorted(selectors.team_people(team_id=rotation.team_id), key=display_name)
    context = {"rotation": rotation, "people": people, "roles": SlotRole.choices}
    if request.method != "POST":
        return render(request, "planning/import_from_tool.html", context)
    options = {
        "role": request.POST.get("role") or SlotRole.PRIMARY,
        "time_zone": (request.POST.get("time_zone") or "")[:64],
    }
    key = request.POST.get("key", "")
    data = cache.get(f"tool-history:{request.user.pk}:{key}") if key else None
    try:
        if data is None:
            upload = request.FILES.get("file")
            if upload is not None:
                tool_history.check_size(upload.size)
            data = tool_history.read_source(
                data=upload.read() if upload is not None else None,
                url=(request.POST.get("url") or "").strip()[:500],
                allow_private=getattr(settings, "ONEHAND_ICS_ALLOW_PRIVATE", False),
            )
            key = secrets.token_urlsafe(16)
            cache.set(f"tool-history:{request.user.pk}:{key}", data, TOOL_UPLOAD_SECONDS)
        mapping = _chosen_mapping(request.POST)
        if request.POST.get("action") == "import":
            count = tool_history.import_tool_history(
                rotation,
                data,
                by=request.user,
                mapping=mapping,
                tool=(request.POST.get("tool") or "")[:40],
                **options,
            )
            cache.delete(f"tool-history:{request.user.pk}:{key}")
            messages.success(request, f"Imported {count} past shifts into {rotation.name}.")
            return redirect("report", pk=rotation.pk)
        preview = tool_history.preview_tool_history(
            rotation, data, by=request.user, mapping=mapping, **options
        )
    except Invalid as error:
        context["error"] = str(error)
        return render(request, "planning/import_from_tool.html", context, status=400)
    context.update(
        preview=tool_history.preview_as_dict(preview),
        key=key,
        options=options,
        tool=request.POST.get("tool", ""),
    )
    return render(request, "planning/import_from_tool.html", context)


def _chosen_mapping(post) -> dict[str, int | None]:
    """The form's choices for unknown names: `map:<name>` = a user id or "skip"."""
    chosen: dict[str, int | None] = {}
    for field, value in list(post.items())[:600]:
        if not field.startswith("map:") or not value:
            continue
        label = field[4:]
        if value == "skip":
            chosen[label] = None
        elif value.isascii() and value.isdigit() and len(value) < 19:
            chosen[label] = int(value)
    return chosen
