from .selectors import teams_for


def navigation(request):
    user = getattr(request, "user", None)
    authenticated = user is not None and user.is_authenticated
    return {
        "viewer_time_zone": getattr(request, "time_zone", "UTC"),
        "nav_teams": teams_for(user=user).only("name", "slug") if authenticated else [],
    }
