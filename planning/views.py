"""The engineer's home page: upcoming shifts, swaps, readiness and next month's commitment."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone, translation

from onehand.remembered_pages import remembered_page
from rotation import selectors

from . import risk
from .selectors import home_dashboard


@login_required
@remembered_page
def home(request):
    now = timezone.now()
    # Swaps and the next shifts are read live: swaps are not watched by the plan stamp, and
    # what is next or at risk moves with the clock. The rest is remembered per reader.
    swap_requests, swap_offers = selectors.my_swap_activity(user=request.user)
    dashboard = home_dashboard(
        user=request.user,
        zone=request.time_zone,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        now=now,
    )
    return render(
        request,
        "rotation/home.html",
        {
            "invitations": dashboard.invitations,
            "at_risk": risk.at_risk_shifts(
                dashboard.managed_rotation_ids, zone=request.time_zone, now=now
            ),
            "at_risk_hours": settings.ONEHAND_AT_RISK_HOURS,
            "rotations": dashboard.rotations,
            "upcoming": selectors.upcoming_with_partners(user=request.user, now=now),
            "swap_requests": swap_requests,
            "swap_offers": swap_offers,
            # The readiness dashboard: requirements per rotation, and how committed next
            # month is; experience and the next step towards primary, per rotation.
            "readiness": dashboard.readiness,
            "experience": dashboard.experience,
            "utilisation_month": dashboard.utilisation_month,
            "utilisation": dashboard.utilisation,
            "managed": dashboard.managed_teams,
            "own_allocation_teams": dashboard.own_allocation_teams,
            "own_allocations": dashboard.own_allocations,
        },
    )
