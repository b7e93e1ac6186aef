from zoneinfo import ZoneInfo

from django.utils import timezone


class PersonTimezoneMiddleware:
    """Show every page in the viewer's own time zone (Person.time_zone)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone_name = "UTC"
        if user is not None and user.is_authenticated:
            person = getattr(user, "person", None)
            if person is not None:
                zone_name = person.time_zone
        request.time_zone = zone_name
        timezone.activate(ZoneInfo(zone_name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
