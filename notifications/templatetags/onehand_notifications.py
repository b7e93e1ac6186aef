"""`{% load onehand_notifications %}{% failed_deliveries_panel roster %}` on a roster page:
the deliveries that gave up, with retry buttons, shown to the team's managers only."""

from django import template

from rotation.selectors import is_manager

from ..selectors import failed_deliveries

register = template.Library()


@register.inclusion_tag("notifications/_failed_deliveries.html", takes_context=True)
def failed_deliveries_panel(context, roster):
    request = context.get("request")
    user = getattr(request, "user", None)
    allowed = user is not None and is_manager(user=user, team_id=roster.rotation.team_id)
    return {
        "roster": roster,
        "failed_deliveries": list(failed_deliveries(roster)) if allowed else [],
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request else "",
    }
