"""Whole pages remembered per reader: the rendered body of a signed-in page, kept in the shared
cache (Redis) under the *page stamp* and served as bytes, so a repeated view skips the view's
queries, the context and the template engine.

The page stamp is a random token renewed after every committed write to any table a page can
show (every table of the domain apps and the users table; only the worker's own bookkeeping is
left out: `IGNORED_MODELS`), seen at the database connection like the plan stamp
(`planning.plan_stamp`), so bulk writes, imports and an operator's SQL through Django (a
shell, a command) count too; a write from outside Django (psql) is seen when its pages
expire. It watches more than the plan stamp (swaps, handover notes, the audit log,
deliveries are on pages).

A remembered page is keyed by everything it depends on: the reader (user id), their time zone,
the language, the host and scheme, the path and its raw query string (month, week, page...),
whether htmx asked, the minute (pages show who is on call now, what is at risk within hours,
today; handoffs and days start on whole minutes) and the page stamp. It is never shared between
readers, so roles, teams and zones cannot leak: a reader removed from a team, demoted or moved
to another zone is a write, which renews the stamp. Not remembered: anything but a GET, a
request with messages to show (flash messages are shown once), a response other than a 200
HTML page or one that sets cookies, and a request whose own transaction has uncommitted writes.

The CSRF token differs per response (Django masks it afresh): a page is rendered with a
placeholder for it (`csrf_placeholder`, a context processor), random for each rendering and
kept with the page, and the reader's own token is put in when the page is served, so every
form on a remembered page posts with a valid token. The placeholder is never sent, so no text a
user typed can match it (red-team finding: a rotation named with a fixed placeholder showed
the reader's token in its title).

A reader keeps at most `PAGES_PER_READER_MINUTE` pages a minute, compressed: every query
string is a page of its own, so junk parameters could otherwise fill Redis (red-team finding:
800 junk query strings took 44 MB for two minutes). Pages past the budget are served, not kept.

The stamp is read before the page is computed, so a page computed while a write commits is
kept under the old stamp and never served as current. Pages are kept at most two minutes.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

from .change_stamps import ChangeStamp

STAMP_KEY = "onehand:page-stamp"
# Change when what is kept changes shape, or a remembered page's templates change meaning.
PAGE_FORMAT = 3
PAGE_SECONDS = 120
PAGES_PER_READER_MINUTE = 30
WATCHED_APPS = ("rotation", "availability", "incidents", "planning", "notifications")
# The worker's own bookkeeping, shown on no page (written every few seconds).
IGNORED_MODELS = ("rotation.Heartbeat", "notifications.TaskRun")
# While a remembered page renders, this request attribute holds the placeholder put in place of
# the CSRF token: 64 random letters and digits, like a real token (nothing escapes it).
_RENDERING = "_onehand_page_placeholder"

PAGES = ChangeStamp(
    key=STAMP_KEY,
    watched_apps=WATCHED_APPS,
    ignored_models=IGNORED_MODELS,
    # Unset, ONEHAND_PLAN_REMEMBER decides (one switch for every remembered part).
    settings_names=("ONEHAND_PAGE_REMEMBER", "ONEHAND_PLAN_REMEMBER"),
    what="remembered pages",
    # A sweep whose UPDATE or DELETE matched nothing changed nothing a page shows.
    skip_unchanged=True,
    # Pages show what the plan and history stamps keep: renewed after them, so a reader that
    # sees this stamp renewed (read first) sees theirs renewed too.
    renew_rank=2,
)
watched_tables = PAGES.watched_tables
changes_pages = PAGES.changes
remembering = PAGES.remembering
new_stamp = PAGES.renew
watch = PAGES.watch
usable = PAGES.usable


def csrf_placeholder(request) -> dict:
    """Context processor: while a page is rendered to be remembered, its CSRF token is the
    placeholder (listed after Django's own csrf processor, so it wins)."""
    placeholder = getattr(request, _RENDERING, None)
    return {"csrf_token": placeholder} if placeholder else {}


def _has_messages(request) -> bool:
    storage = getattr(request, "_messages", None)
    if storage is None:
        return False
    try:
        return len(storage) > 0 or bool(getattr(storage, "_queued_messages", None))
    except Exception:  # noqa: BLE001 - unreadable messages: do not remember this page
        return True


def page_key(request) -> str:
    user = request.user
    now = timezone.now()
    parts = "\x1f".join(
        [
            str(user.pk),
            getattr(request, "time_zone", "UTC"),
            translation.get_language() or settings.LANGUAGE_CODE,
            request.scheme,
            request.get_host(),
            request.path,
            request.META.get("QUERY_STRING", ""),
            request.headers.get("HX-Request", ""),
            f"{now:%Y%m%d%H%M}",
        ]
    )
    digest = hashlib.sha256(parts.encode("utf-8", "surrogatepass")).hexdigest()
    return f"onehand:page:{PAGE_FORMAT}:{user.pk}:{digest}"


def _with_token(request, body: bytes, placeholder: bytes) -> bytes:
    return body.replace(placeholder, get_token(request).encode()) if placeholder in body else body


def _serve(request, content_type: str, packed: bytes, placeholder: bytes) -> HttpResponse:
    body = _with_token(request, zlib.decompress(packed), placeholder)
    response = HttpResponse(body, content_type=content_type)
    response.remembered_page = True
    return response


def _within_budget(user_pk: int) -> bool:
    """Whether the reader may keep one more page this minute (see the module's docstring)."""
    key = f"onehand:page-budget:{user_pk}:{timezone.now():%Y%m%d%H%M}"
    try:
        cache.add(key, 0, 120)
        return cache.incr(key) <= PAGES_PER_READER_MINUTE
    except Exception:  # noqa: BLE001 - no budget known, nothing kept
        return False


def remembered_page(view):
    """Keep the view's page per reader under the page stamp (see the module's docstring).
    Put it inside ``login_required``: only a signed-in reader's page is kept."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = getattr(request, "user", None)
        if (
            request.method != "GET"
            or user is None
            or not user.is_authenticated
            or not usable()
            or _has_messages(request)
        ):
            return view(request, *args, **kwargs)
        key = page_key(request)
        stamp, kept = PAGES.read(key)
        if kept is not None:
            return _serve(request, *kept)
        placeholder = secrets.token_hex(32)
        setattr(request, _RENDERING, placeholder)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
        finally:
            setattr(request, _RENDERING, None)
        if getattr(response, "streaming", False):
            return response
        body = response.content
        content_type = response.get("Content-Type", "")
        if (
            stamp is not None
            and response.status_code == 200
            and content_type.startswith("text/html")
            and not response.cookies
            and not _has_messages(request)
            and not getattr(getattr(request, "_messages", None), "used", False)
            and usable()
            and _within_budget(user.pk)
        ):
            packed = zlib.compress(body, 1)
            PAGES.remember(key, stamp, (content_type, packed, placeholder.encode()), PAGE_SECONDS)
        response.content = _with_token(request, body, placeholder.encode())
        return response

    return wrapper
