"""The plan page's change stamp: a random token in the shared cache (Redis) that changes after
every committed write that could change what the plan page says, so a page of the plan can be
remembered under it and served without ranking the whole team again.

The recommendation levels on the plan page rank everyone in the rotation, so each request
would otherwise compute every member's unavailability, qualifications, history, utilisation,
pages and experience: the one part of the page that grows with the team.

Which writes: any write to a table of the apps the levels are computed from (rotation,
availability, incidents, planning) or to the users table, seen at the database connection
(`onehand.change_stamps`, which also says when the stamp is read and renewed). Bookkeeping
tables that feed no figure of the page are left out (`IGNORED_MODELS`).
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import wraps

from onehand.change_stamps import ChangeStamp

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

PLAN = ChangeStamp(
    key=STAMP_KEY,
    watched_apps=WATCHED_APPS,
    ignored_models=IGNORED_MODELS,
    settings_names=("ONEHAND_PLAN_REMEMBER",),
    what="plan pages",
)
watched_tables = PLAN.watched_tables
changes_plan = PLAN.changes
remembering = PLAN.remembering
new_stamp = PLAN.renew
watch = PLAN.watch
usable = PLAN.usable
remember = PLAN.remember

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
        token = _pinned.set(PLAN.current() if usable() else None)
        try:
            return view(request, *args, **kwargs)
        finally:
            _pinned.reset(token)

    return wrapper


def read(key: str) -> tuple[str | None, object | None]:
    """(the current stamp, what is remembered under `key` for it, or None), one round trip.
    Inside a `pinned` view the stamp is the one read when the request started."""
    stamp = _pinned.get()
    if stamp is not _NOT_PINNED:
        return PLAN.kept(key, stamp)
    return PLAN.read(key)
