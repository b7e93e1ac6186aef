import re
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from . import oncall


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


# A poll of "who is on call now" by an alerting tool: this path, a token, nothing else.
_ON_CALL_PATH = re.compile(r"/api/rotations/([1-9][0-9]{0,17})/oncall/")
# What DRF answers with JSON (a browser's text/html gets the browsable API: the full path).
_JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


def _token_poll(request) -> tuple[int, str] | None:
    """(rotation id, token key) for `GET /api/rotations/<id>/oncall/` with `Authorization:
    Token <key>`, no query string, no cookie (a session would be tried first by DRF) and a
    JSON answer; None for anything else."""
    if request.method != "GET" or request.META.get("QUERY_STRING"):
        return None
    if request.META.get("HTTP_COOKIE") or request.META.get("HTTP_ACCEPT", "") not in _JSON_ACCEPTS:
        return None
    match = _ON_CALL_PATH.fullmatch(request.path_info)  # not `$`: it allows a final newline
    if match is None:
        return None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.isascii():  # str.split() would also split on NBSP or NEL, which DRF refuses
        return None
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "token":
        return None
    return int(match.group(1)), parts[1]


class KeptOnCallResponseMiddleware:
    """The on-call answer polled with a token, served from one cache round trip and no query.

    Placed before the session, CSRF, authentication and every other middleware a token poll
    does not need. A poll is answered with the response kept for the rotation (its headers and
    bytes, as the full path made them, under the answer's versions: any change that alters the
    answer forgets it) when this token was seen reading this rotation under the current API
    access stamp (renewed by any write to tokens, users, memberships, teams or rotations:
    a revoked token or a member who left is refused at once). Anything else takes the full
    path, whose answer is then kept; an outage of the cache only makes every poll take it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        poll = _token_poll(request)
        if poll is None or not oncall.responses_remembered():
            return self.get_response(request)
        request.get_host()  # an unknown Host is refused (400) here as on the full path
        rotation_id, token_key = poll
        kept = oncall.kept_response(rotation_id=rotation_id, token_key=token_key)
        if kept.servable:
            headers, body = kept.response
            response = HttpResponse(body)
            for name, value in headers:
                response.headers[name] = value
            return response
        response = self.get_response(request)
        token = getattr(request, "auth", None)
        if (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and isinstance(getattr(response, "data", None), dict)
            and response.get("Content-Type", "").startswith("application/json")
            and isinstance(token, Token)
            and token.key == token_key
        ):
            oncall.remember_response(
                kept=kept,
                payload=response.data,
                headers=list(response.items()),
                body=response.content,
            )
        return response
