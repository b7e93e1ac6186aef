"""Domain errors, and the one place they become HTTP answers.

Services raise these with a message a person can act on; the DRF exception handler (API) and
`DomainErrorMiddleware` (pages) translate them, so no view or viewset maps errors by hand.
This module is the bottom layer: it imports nothing of ours.
"""

from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A request the rules refuse. `status` is the HTTP answer, `code` a stable machine word."""

    status = 400
    code = "invalid"

    def __init__(self, message: str = "", *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Invalid(DomainError):
    """The input breaks a rule of its own (a bad value, a range too long)."""


class NotAllowed(DomainError):
    """The acting person may not do this (for example: not a manager of the team)."""

    status = 403
    code = "not_allowed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state refuses it (taken, locked, superseded)."""

    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    """Asked too often, or while the last request of the same kind is still running."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str = "", *, retry_after: int = 60, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(int(retry_after), 1)


class Busy(DomainError):
    """The server is at capacity for this kind of work: try again shortly (503)."""

    status = 503
    code = "busy"

    def __init__(self, message: str = "", *, retry_after: int = 60, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(int(retry_after), 1)


def _with_retry_after(response, error: DomainError):
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


class RuleBroken(Conflict):
    """A manager's edit breaks a hard rule; an explicit, recorded override may allow it."""

    code = "rule_broken"


def error_body(error: DomainError) -> dict:
    if error.field:
        return {error.field: [error.message], "detail": error.message, "code": error.code}
    return {"detail": error.message, "code": error.code}


def api_exception_handler(exc, context):
    """DRF's handler, plus domain errors: 400/403/404/409 with the service's own message."""
    if isinstance(exc, DomainError):
        return _with_retry_after(Response(error_body(exc), status=exc.status), exc)
    return drf_exception_handler(exc, context)


class DomainErrorMiddleware:
    """Pages: a domain error no view handled itself becomes a small page with its message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return _with_retry_after(
                render(
                    request, "error.html", {"message": exception.message}, status=exception.status
                ),
                exception,
            )
        return None
