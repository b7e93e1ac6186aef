"""Whole pages remembered per reader: the rendered body of a signed-in page, kept in the shared
cache (Redis) under the *page stamp* and served as bytes, so a repeated view skips the view's
queries, the context and the template engine.

The page stamp is a random token renewed after every committed write to any table a page can
show (every table of the domain apps and the users table; only the worker's own bookkeeping is
left out: `IGNORED_MODELS`), seen at the database connection like the plan stamp
(`planning.plan_stamp`), so bulk writes, imports and an operator's SQL count too. It watches
more than the plan stamp (swaps, handover notes, the audit log, deliveries are on pages).

A remembered page is keyed by everything it depends on: the reader (user id), their time zone,
the language, the host and scheme, the path and its raw query string (month, week, page...),
whether htmx asked, the minute (pages show who is on call now, what is at risk within hours,
today; handoffs and days start on whole minutes) and the page stamp. It is never shared between
readers, so roles, teams and zones cannot leak: a reader removed from a team, demoted or moved
to another zone is a write, which renews the stamp. Not remembered: anything but a GET, a
request with messages to show (flash messages are shown once), a response other than a 200
HTML page or one that sets cookies, and a request whose own transaction has uncommitted writes.

The CSRF token differs per response (Django masks it afresh): a page is rendered with a
placeholder for it (`csrf_placeholder`, a context processor) and the reader's own token is put
in when the page is served, so every form on a remembered page posts with a valid token.

The stamp is read before the page is computed, so a page computed while a write commits is
kept under the old stamp and never served as current. Pages are kept at most two minutes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from functools import partial, wraps

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections, transaction
from django.db.transaction import TransactionManagementError
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

logger = logging.getLogger(__name__)

STAMP_KEY = "onehand:page-stamp"
# Change when what is kept changes shape, or a remembered page's templates change meaning.
PAGE_FORMAT = 1
PAGE_SECONDS = 120
WATCHED_APPS = ("rotation", "availability", "incidents", "planning", "notifications")
# The worker's own bookkeeping, shown on no page (written every few seconds).
IGNORED_MODELS = ("rotation.Heartbeat", "notifications.TaskRun")
# Put in place of the CSRF token while a remembered page renders; the served page has the
# reader's own token instead. Letters and digits only, like a real token (nothing escapes it).
PLACEHOLDER = "onehandcsrfplaceholder0000000000000000000000000000000000000000000"
_PLACEHOLDER_BYTES = PLACEHOLDER.encode()
_RENDERING = "_onehand_remembering_page"

_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:ONLY\s+)?"
    r'(?:"?\w+"?\s*\.\s*)?"?(\w+)"?',
    re.IGNORECASE,
)
_LAST_LOGIN_ONLY = re.compile(r'\s*UPDATE\s+"?auth_user"?\s+SET\s+"?last_login"?\s*=\s*%s\s+WHERE')

_tables: frozenset[str] | None = None


def watched_tables() -> frozenset[str]:
    global _tables
    if _tables is None:
        ignored = {apps.get_model(label)._meta.db_table for label in IGNORED_MODELS}
        tables = {get_user_model()._meta.db_table}
        for label in WATCHED_APPS:
            for model in apps.get_app_config(label).get_models(include_auto_created=True):
                tables.add(model._meta.db_table)
        _tables = frozenset(tables - ignored)
    return _tables


def changes_pages(sql: str) -> bool:
    """Whether this statement writes a table a remembered page may show."""
    if not sql or sql[0] in "sS(":  # SELECT / SAVEPOINT / subqueries: the common case, first
        return False
    written = {m.group(1).lower() for m in _WRITE.finditer(sql)}
    if not written & watched_tables():
        return False
    return not _LAST_LOGIN_ONLY.match(sql)


def remembering() -> bool:
    """Only in a cache every process shares. ONEHAND_PAGE_REMEMBER forces it either way;
    unset, ONEHAND_PLAN_REMEMBER does (one switch for every remembered part)."""
    forced = getattr(settings, "ONEHAND_PAGE_REMEMBER", None)
    if forced is None:
        forced = getattr(settings, "ONEHAND_PLAN_REMEMBER", None)
    if forced is not None:
        return bool(forced)
    return not isinstance(caches["default"], LocMemCache)


def new_stamp() -> None:
    """Every remembered page becomes stale (called after a commit)."""
    try:
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - the write itself is committed; say so loudly
        logger.error(
            "could not renew the page stamp: remembered pages may be stale for up to "
            f"{PAGE_SECONDS} s (or until the next write)",
            exc_info=True,
        )


def _is_renewal(func) -> bool:
    return getattr(func, "func", None) is new_stamp or func is new_stamp


def _pending(connection) -> bool:
    return any(_is_renewal(func) for _, func, _ in connection.run_on_commit)


def _changed_nothing(sql: str, many: bool, cursor) -> bool:
    """A single statement that changed no row (an UPDATE or DELETE matching nothing, as the
    worker's sweeps often are): nothing a page shows changed. Several statements in one call
    report only the last one's count, so they always count as a change."""
    if many or ";" in sql.strip().rstrip(";"):
        return False
    return getattr(cursor, "rowcount", -1) == 0


def _watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if changes_pages(sql) and not _changed_nothing(sql, many, context.get("cursor")):
        connection = context["connection"]
        if not _pending(connection):
            try:
                transaction.on_commit(partial(new_stamp), using=connection.alias)
            except TransactionManagementError:  # manual transaction management: no hooks
                new_stamp()
    return result


def watch(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every connection of every process reports page writes."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)


def usable(alias: str = "default") -> bool:
    return remembering() and not _pending(connections[alias])


def csrf_placeholder(request) -> dict:
    """Context processor: while a page is rendered to be remembered, its CSRF token is the
    placeholder (listed after Django's own csrf processor, so it wins)."""
    if getattr(request, _RENDERING, False):
        return {"csrf_token": PLACEHOLDER}
    return {}


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


def _read(key: str) -> tuple[str | None, tuple | None]:
    """(the current stamp, the page kept under `key` for it, or None), one round trip."""
    try:
        found = cache.get_many([STAMP_KEY, key])
    except Exception:  # noqa: BLE001 - a cache outage must not take the page down
        logger.warning("page cache unavailable", exc_info=True)
        return None, None
    stamp = found.get(STAMP_KEY)
    if stamp is None:
        try:
            cache.add(STAMP_KEY, uuid.uuid4().hex, None)
        except Exception:  # noqa: BLE001
            logger.warning("page cache unavailable", exc_info=True)
        return None, None
    kept = found.get(key)
    if kept is not None and kept[0] == stamp:
        return stamp, kept
    return stamp, None


def _serve(request, content_type: str, body: bytes) -> HttpResponse:
    response = HttpResponse(
        body.replace(_PLACEHOLDER_BYTES, get_token(request).encode()),
        content_type=content_type,
    )
    response.remembered_page = True
    return response


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
        stamp, kept = _read(key)
        if kept is not None:
            _, content_type, body = kept
            return _serve(request, content_type, body)
        setattr(request, _RENDERING, True)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
        finally:
            setattr(request, _RENDERING, False)
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
        ):
            try:
                cache.set(key, (stamp, content_type, body), PAGE_SECONDS)
            except Exception:  # noqa: BLE001
                logger.warning("page cache unavailable", exc_info=True)
        if _PLACEHOLDER_BYTES in body:
            response.content = body.replace(_PLACEHOLDER_BYTES, get_token(request).encode())
        return response

    return wrapper
