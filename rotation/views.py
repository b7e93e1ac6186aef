import logging
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from onehand.dates import local_day_bounds, next_month, parse_month, previous_month
from onehand.remembered_pages import remembered_page

from . import oncall, selectors, services
from .calendar import grid_bounds, month_grid
from .forms import TeamSettingsForm

log = logging.getLogger(__name__)


@login_required
@require_POST
def accept_invitation(request, pk):
    """The invited person joins the team (only they can: others get 404)."""
    invitation = get_object_or_404(selectors.invitations_for(user=request.user), pk=pk)
    services.accept_invitation(invitation, by=request.user)
    return redirect("team", slug=invitation.team.slug)


@login_required
@require_POST
def decline_invitation(request, pk):
    invitation = get_object_or_404(selectors.invitations_for(user=request.user), pk=pk)
    services.leave_team(invitation, by=request.user)
    return redirect("home")


@login_required
def team_detail(request, slug):
    team = selectors.teams_for(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team, or you are not in it.")
    team = selectors.team_with_members(team_id=team.pk)
    return render(
        request,
        "rotation/team.html",
        {
            "team": team,
            "rotations": team.rotations.all(),
            "is_manager": selectors.is_manager(user=request.user, team_id=team.pk),
            "settings_form": TeamSettingsForm(initial={"max_oncall_share": team.max_oncall_share}),
        },
    )


@login_required
@remembered_page
def rotation_detail(request, pk):
    rotation = selectors.rotations_for(user=request.user).filter(pk=pk).first()
    if rotation is None:
        raise Http404("No such rotation, or you are not in its team.")
    tz_name = request.time_zone
    tz = ZoneInfo(tz_name)
    today = timezone.now().astimezone(tz).date()
    month = parse_month(request.GET.get("month"), today)
    grid_start, grid_end = grid_bounds(month)
    start, _ = local_day_bounds(grid_start, tz)
    end, _ = local_day_bounds(grid_end, tz)
    grid = _month_grid_html(rotation, month, tz_name, today, start, end)
    previous = previous_month(month)
    following = next_month(month)
    return render(
        request,
        "rotation/rotation.html",
        {
            "rotation": rotation,
            "month": month,
            "grid": grid,
            "previous": previous,
            "following": following,
            "on_call": selectors.on_call(rotation=rotation, at=timezone.now()),
            "open_swaps": selectors.open_swaps_for_rotation(rotation=rotation),
            "coverage": selectors.coverage_deviations(rotation=rotation, today=today),
            "handovers": selectors.recent_handovers(rotation=rotation),
            "is_manager": selectors.is_manager(user=request.user, team_id=rotation.team_id),
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        },
    )


GRID_CACHE_SECONDS = 60


def _month_grid_html(rotation, month, tz_name, today, start, end) -> str:
    """The published month as HTML, rendered once per rotation, month, zone and day.

    It changes exactly when the on-call answer does (publishing, a slot edit or swap, the
    rotation's settings, a person's name), so it is kept under the answers' stamp; without a
    cache (or a stamp) it is rendered every time.
    """
    key = html = None
    stamp = oncall.answers_stamp()
    if stamp is not None:
        key = f"rotation-grid:{rotation.pk}:{stamp}:{month:%Y-%m}:{tz_name}:{today}"
        try:
            html = cache.get(key)
        except Exception:  # noqa: BLE001 - the cache is an optimisation
            log.warning("rotation grid cache unavailable", exc_info=True)
            key = None
    if html is None:
        slots = list(selectors.published_shifts(rotation_id=rotation.pk, start=start, end=end))
        html = render_to_string(
            "rotation/_month_grid.html",
            {
                "rotation": rotation,
                "weeks": month_grid(month, tz_name, slots, today),
                "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            },
        )
        if key is not None:
            try:
                cache.set(key, html, GRID_CACHE_SECONDS)
            except Exception:  # noqa: BLE001
                log.warning("could not cache the rotation grid", exc_info=True)
    return mark_safe(html)  # noqa: S308 - rendered by our own autoescaping template
