"""The engineer's home page: upcoming shifts, swaps, readiness and next month's commitment."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from availability import selectors as availability
from rotation import selectors
from rotation.models import Membership

from . import risk
from .experience import experience_across


@login_required
def home(request):
    now = timezone.now()
    swap_requests, swap_offers = selectors.my_swap_activity(user=request.user)
    memberships = (
        Membership.objects.filter(user=request.user, status=Membership.Status.ACTIVE)
        .select_related("team")
        .order_by("team__name")
    )
    # The readiness dashboard: requirements per rotation, and how committed next month is.
    tz = ZoneInfo(request.time_zone)
    month = availability.next_month(now.astimezone(tz).date())
    month_start, month_end = availability.month_span(month, tz)
    readiness = availability.readiness_for(user=request.user, at=now)
    return render(
        request,
        "rotation/home.html",
        {
            "memberships": memberships,
            "invitations": selectors.invitations_for(user=request.user),
            "at_risk": risk.at_risk_shifts(
                risk.managed_rotation_ids(request.user), zone=request.time_zone, now=now
            ),
            "at_risk_hours": settings.ONEHAND_AT_RISK_HOURS,
            "rotations": selectors.rotations_for(user=request.user),
            "upcoming": selectors.upcoming_with_partners(user=request.user, now=now),
            "swap_requests": swap_requests,
            "swap_offers": swap_offers,
            "readiness": readiness,
            # Experience and the next step towards primary, per rotation (two queries).
            "experience": experience_across(
                user_id=request.user.pk, rotations=[r.rotation for r in readiness], as_of=now
            ),
            "utilisation_month": month,
            "utilisation": availability.utilisation_for(
                user_ids=[request.user.pk], start=month_start, end=month_end
            )[request.user.pk],
            "managed": availability.managed_teams_with_pending_claims(viewer=request.user),
            "own_allocation_teams": availability.teams_allowing_own_allocation(user=request.user),
            "own_allocations": availability.own_allocations(
                user=request.user, start=month, end=availability.next_month(month)
            ),
        },
    )
