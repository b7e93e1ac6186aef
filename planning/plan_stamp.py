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

The *history stamp* is a narrower one, for what is worked out from the rotations' history
alone (who served which shifts, incidents, members, their profiles, the rotation's settings,
qualifications): the load report's figures, the plan's drafts table and the team's past load
and experience behind the plan's levels. It watches the rotation and incidents tables, the
users table and qualifications, not time away, preferences or project allocations, so the
plan's first view after someone marks time away does not work out a year of the whole team's
history again. Every table it watches is watched by the plan stamp too.
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
HISTORY_STAMP_KEY = "onehand:history-stamp"
HISTORY = ChangeStamp(
    key=HISTORY_STAMP_KEY,
    watched_apps=("rotation", "incidents"),
    watched_models=("availability.Qualification", "availability.DutyRequirement"),
    ignored_models=tuple(m for m in IGNORED_MODELS if m.startswith(("rotation.", "incidents."))),
    settings_names=("ONEHAND_PLAN_REMEMBER",),
    what="rotation history figures",
    # Plan rows and whole pages are made from what is kept under it: a reader that sees the
    # plan or page stamp renewed must see this one renewed too (it reads this one after them).
    renew_rank=0,
)
watch_history = HISTORY.watch
new_history_stamp = HISTORY.renew
changes_history = HISTORY.changes

watched_tables = PLAN.watched_tables
changes_plan = PLAN.changes
remembering = PLAN.remembering
new_stamp = PLAN.renew
watch = PLAN.watch
usable = PLAN.usable
remember = PLAN.remember

_NOT_PINNED = object()
_pinned: ContextVar = ContextVar("onehand_plan_stamp_pinned", default=_NOT_PINNED)
_pinned_history: ContextVar = ContextVar("onehand_history_stamp_pinned", default=_NOT_PINNED)


def pinned(view):
    """Read the stamp when the request starts, before the view loads anything, and use that
    stamp for everything the request remembers. A view that loads a row (the rotation and its
    ranking settings) and only then reads the stamp could compute a page from the row as it
    was before a write and keep it under the stamp renewed by that write (red-team finding: a
    plan computed during a settings change was served stale for a minute)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        token = _pinned.set(PLAN.current() if usable() else None)
        history_token = _pinned_history.set(HISTORY.current() if HISTORY.usable() else None)
        try:
            return view(request, *args, **kwargs)
        finally:
            _pinned_history.reset(history_token)
            _pinned.reset(token)

    return wrapper


def read(key: str) -> tuple[str | None, object | None]:
    """(the current stamp, what is remembered under `key` for it, or None), one round trip.
    Inside a `pinned` view the stamp is the one read when the request started."""
    stamp = _pinned.get()
    if stamp is not _NOT_PINNED:
        return PLAN.kept(key, stamp)
    return PLAN.read(key)


def read_history(key: str) -> tuple[str | None, object | None]:
    """`read` under the history stamp (pinned the same way)."""
    stamp = _pinned_history.get()
    if stamp is not _NOT_PINNED:
        return HISTORY.kept(key, stamp)
    return HISTORY.read(key)


def history_usable() -> bool:
    return HISTORY.usable()


def remember_history(key: str, stamp: str, value: object, seconds: int) -> None:
    HISTORY.remember(key, stamp, value, seconds)
