"""Signed-in answers are the reader's own: no shared cache (a proxy, a CDN) may keep them, and
a browser should not show them from its history after the reader signs out."""

from django.contrib.auth import SESSION_KEY
from django.utils.cache import patch_cache_control, patch_vary_headers


class PrivateResponsesMiddleware:
    """`Cache-Control: private, no-store` on every response to a signed-in request (session or
    an ``Authorization`` header) that does not say how it may be cached itself. Calendar feeds
    and other token links set their own caching (ETag, max-age) and keep it.

    Signed-in pages also vary on ``HX-Request``: htmx asks some of them for a fragment (the slot
    editor's row) where a browser gets the whole page, so no cache may give one for the other."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        # DRF puts an anonymous user on a request it refuses (a CSRF failure), so the session
        # says too whether someone is signed in.
        session = getattr(request, "session", None)
        signed_in = (user is not None and user.is_authenticated) or (
            session is not None and SESSION_KEY in session
        )
        if signed_in:
            patch_vary_headers(response, ("HX-Request",))
        if (signed_in or "HTTP_AUTHORIZATION" in request.META) and not response.has_header(
            "Cache-Control"
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response
