"""The plan page's change stamp: a random token in the shared cache (Redis) that changes after
every committed write that could change what the plan page says, so a page of the plan can be
remembered under it and served without ranking the whole team again.

The recommendation levels on the plan page rank everyone in the rotation, so each request
would otherwise compute every member's unavailability, qualifications, history, utilisation,
pages and experience: the one part of the page that grows with the team.

Which writes: any INSERT, UPDATE or DELETE on a table of the apps the levels are computed from
(rotation, availability, incidents, planning) or on the users table, seen at the database
connection (`connection.execute_wrapper`), so bulk writes, ``QuerySet.update()``, imports,
restores and the history import count as much as a service's ``save()`` does, without a list
of domain events to keep complete. Bookkeeping tables that feed no figure of the page are left
out (`IGNORED_MODELS`), as is a login's own ``last_login`` update.

The new stamp is written right after the transaction commits (never before: another process
could otherwise read the new stamp, then the old rows, and remember a stale page under it).
A reader reads the stamp *before* the rows, so a page computed while a write commits is
remembered under the old stamp and never served as current. A reader whose own transaction
has uncommitted writes to these tables neither reads nor fills the cache (`usable`): it sees
rows nobody else sees yet.

The stamp is a random token, never a counter, and never expires; if it is lost (a flushed or
restarted Redis) the next reader makes a new one, so nothing remembered before is served.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from functools import partial, wraps

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections, transaction
from django.db.transaction import TransactionManagementError

logger = logging.getLogger(__name__)

STAMP_KEY = "onehand:plan-stamp"
WATCHED_APPS = ("rotation", "availability", "incidents", "planning")
# Written often (the worker's heartbeat, every audited write, each calendar sync's status,
# locks, handover notes, swap bookkeeping, hook tokens) and shown nowhere on the plan page.
IGNORED_MODELS = (
    "rotation.Heartbeat",
    "rotation.AuditEntry",
    "rotation.HandoverNote",
    "rotation.SwapRequest",
    "rotation.SwapOffer",
    "availability.CalendarSource",
    "availability.AvailabilityLock",
    "incidents.HookToken",
)

# Any write keyword followed by a table name, anywhere in the statement: a leading comment, a
# CTE (WITH ... UPDATE), a schema-qualified, quoted or upper-case name, TRUNCATE and COPY ... FROM
# count as much as the ORM's own statements (red-team finding: an operator's fix-up SQL).
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


def changes_plan(sql: str) -> bool:
    """Whether this statement writes a table the plan page's figures are computed from."""
    if not sql or sql[0] in "sS(":  # SELECT / SAVEPOINT / subqueries: the common case, first
        return False
    tables = watched_tables()
    written = {m.group(1).lower() for m in _WRITE.finditer(sql)}
    if not written & tables:
        return False
    return not _LAST_LOGIN_ONLY.match(sql)


def remembering() -> bool:
    """Only in a cache every process shares (a cache of one process would miss the stamps
    renewed by the others). ONEHAND_PLAN_REMEMBER forces it either way (tests of one process)."""
    forced = getattr(settings, "ONEHAND_PLAN_REMEMBER", None)
    if forced is not None:
        return bool(forced)
    return not isinstance(caches["default"], LocMemCache)


def new_stamp() -> None:
    """Every remembered plan page becomes stale (called after a commit)."""
    try:
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - the write itself is committed; say so loudly
        logger.error(
            "could not renew the plan stamp: plan pages may show stale levels for up to a "
            "minute (or until the next write)",
            exc_info=True,
        )


def _is_renewal(func) -> bool:
    return getattr(func, "func", None) is new_stamp or func is new_stamp


def _pending(connection) -> bool:
    return any(_is_renewal(func) for _, func, _ in connection.run_on_commit)


def _watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if changes_plan(sql):
        connection = context["connection"]
        if not _pending(connection):
            # Outside a transaction this runs at once, the row being written already.
            try:
                transaction.on_commit(partial(new_stamp), using=connection.alias)
            except TransactionManagementError:  # manual transaction management: no hooks
                new_stamp()
    return result


def watch(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every connection of every process reports plan writes."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)


def usable(alias: str = "default") -> bool:
    """Whether this request may read and fill remembered plan pages: remembering is on and its
    own transaction has no uncommitted write to the watched tables."""
    return remembering() and not _pending(connections[alias])


_NOT_PINNED = object()
_pinned: ContextVar = ContextVar("onehand_plan_stamp_pinned", default=_NOT_PINNED)


def pinned(view):
    """Read the stamp when the request starts, before the view loads anything, and use that
    stamp for everything the request remembers. A view that loads a row (the rotation and its
    ranking settings) and only then reads the stamp could compute a page from the row as it
    was before a write and keep it under the stamp renewed by that write (red-team finding: a
    plan computed during a settings change was served stale for a minute)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        token = _pinned.set(_stamp_now() if usable() else None)
        try:
            return view(request, *args, **kwargs)
        finally:
            _pinned.reset(token)

    return wrapper


def _stamp_now() -> str | None:
    """The current stamp, or None: the cache is down, or the stamp was missing (made now;
    nothing is remembered under a stamp this request made)."""
    try:
        stamp = cache.get(STAMP_KEY)
        if stamp is None:
            cache.add(STAMP_KEY, uuid.uuid4().hex, None)
        return stamp
    except Exception:  # noqa: BLE001 - a cache outage must not take the page down
        logger.warning("plan cache unavailable", exc_info=True)
        return None


def read(key: str) -> tuple[str | None, object | None]:
    """(the current stamp, what is remembered under `key` for it, or None), one round trip.
    A missing stamp is made here; nothing is remembered under a stamp this call made. Inside a
    `pinned` view the stamp is the one read when the request started."""
    stamp = _pinned.get()
    if stamp is not _NOT_PINNED:
        return _kept(key, stamp)
    try:
        found = cache.get_many([STAMP_KEY, key])
    except Exception:  # noqa: BLE001 - a cache outage must not take the page down
        logger.warning("plan cache unavailable", exc_info=True)
        return None, None
    stamp = found.get(STAMP_KEY)
    if stamp is None:
        try:
            cache.add(STAMP_KEY, uuid.uuid4().hex, None)
        except Exception:  # noqa: BLE001
            logger.warning("plan cache unavailable", exc_info=True)
        return None, None
    remembered = found.get(key)
    if remembered is not None and remembered[0] == stamp:
        return stamp, remembered[1]
    return stamp, None


def _kept(key: str, stamp: str | None) -> tuple[str | None, object | None]:
    if stamp is None:
        return None, None
    try:
        remembered = cache.get(key)
    except Exception:  # noqa: BLE001
        logger.warning("plan cache unavailable", exc_info=True)
        return None, None
    if remembered is not None and remembered[0] == stamp:
        return stamp, remembered[1]
    return stamp, None


def remember(key: str, stamp: str, value: object, seconds: int) -> None:
    try:
        cache.set(key, (stamp, value), seconds)
    except Exception:  # noqa: BLE001
        logger.warning("plan cache unavailable", exc_info=True)
