"""Managers' pages of the core: create and change rotations, publish, audit, import history."""

import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from onehand.errors import Invalid
from onehand.spreadsheet import csv_safe

from . import selectors, services
from .forms import HistoryImportForm, RotationForm, TeamSettingsForm, window_formset
from .history import HistoryImportError
from .history import import_history as run_import
from .models import Roster, Rotation


def roster_for(user, pk) -> Roster:
    """A roster the user may see (drafts only for the team's managers), or 404."""
    roster = selectors.rosters_for(user=user).filter(pk=pk).first()
    if roster is None:
        raise Http404("No such roster, or you are not in its team.")
    if roster.status == Roster.Status.DRAFT and not selectors.is_manager(
        user=user, team_id=roster.rotation.team_id
    ):
        raise Http404("Drafts are visible to the team's managers only.")
    return roster


@login_required
@require_POST
def publish(request, pk):
    roster = roster_for(request.user, pk)
    roster = services.publish_roster(roster, by=request.user)
    messages.success(request, "Published. Everyone on it gets calendar entries.")
    return redirect("roster", pk=roster.pk)


@login_required
def audit_csv(request, pk):
    roster = roster_for(request.user, pk)
    if not selectors.is_manager(user=request.user, team_id=roster.rotation.team_id):
        raise Http404("Only managers can export the audit log.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{roster.pk}-audit.csv"'
    writer = csv.writer(response)
    writer.writerow(["at_utc", "actor", "action", "summary", "before", "after"])
    for entry in selectors.audit_for(roster=roster).order_by("at", "id"):
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor.get_username() if entry.actor else "",
                entry.action,
                csv_safe(entry.summary),
                # JSON, not Python's repr: a spreadsheet or a script can read it back.
                json.dumps(entry.before, sort_keys=True),
                json.dumps(entry.after, sort_keys=True),
            ]
        )
    return response


@login_required
def import_history(request, slug):
    team = selectors.managed_teams(user=request.user).filter(slug=slug).first()
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
    context = {"team": team, "form": form, "errors": errors}
    return render(request, "rotation/import_history.html", context)


@login_required
@require_POST
def team_settings(request, slug):
    team = selectors.managed_teams(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("Only managers of this team can change its settings.")
    form = TeamSettingsForm(request.POST)
    if form.is_valid():
        services.set_team_settings(
            team, by=request.user, max_oncall_share=form.cleaned_data["max_oncall_share"]
        )
        messages.success(request, f"Saved: nobody is on call more than {team.max_oncall_share}%.")
    else:
        messages.error(request, "Not saved: the cap is a whole percent from 1 to 100.")
    return redirect("team", slug=team.slug)


@login_required
def rotation_edit(request, slug, pk=None):
    """Create or change a rotation; the service checks follow-the-sun windows over a year."""
    team = selectors.managed_teams(user=request.user).filter(slug=slug).first()
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
            services.WindowSpec(
                f.cleaned_data["label"],
                f.cleaned_data["time_zone"],
                f.cleaned_data["start"],
                f.cleaned_data["end"],
                pk=f.instance.pk,
            )
            for f in windows.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("label")
        ]
        fields = {name: form.cleaned_data[name] for name in RotationForm.Meta.fields}
        try:
            rotation = services.save_rotation(
                by=request.user,
                team=team,
                fields=fields,
                windows=kept,
                people=form.cleaned_data["people"],
                rotation=rotation,
            )
        except Invalid as error:
            coverage_error = error.message
        else:
            messages.success(request, f"Saved {rotation.name}.")
            return redirect("rotation", pk=rotation.pk)
    context = {
        "team": team,
        "rotation": rotation,
        "form": form,
        "windows": windows,
        "coverage_error": coverage_error,
    }
    return render(
        request,
        "rotation/rotation_form.html",
        context,
        status=400 if request.method == "POST" else 200,
    )
