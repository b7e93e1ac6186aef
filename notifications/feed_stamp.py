"""The feeds' change stamp: one value in the shared cache that changes after every committed
write that could change what a feed says, so a feed's validators (ETag, Last-Modified) can be
remembered under it and a poll that changed nothing costs no content query.

Which writes: any INSERT, UPDATE or DELETE on the tables feed entries are built from (shifts,
rosters, rotations and their windows, teams, people and their profiles, removed entries, team
feeds), seen at the database connection (`connection.execute_wrapper`), so bulk writes,
``QuerySet.update()``, imports and restores count as much as a ``save()`` does, without a list
of domain events to keep complete. Only a login's own ``last_login`` update is left out (it is
shown nowhere). The new stamp is written after the transaction commits (never before: another
process could otherwise read the new stamp, then the old rows, and remember stale validators).

The stamp is a random token, never a counter: if the cache loses it (restart, eviction) a new
one is made, and validators remembered under the old one are never taken for current.
A feed that adds a table to what it shows adds it to `FEED_TABLES`.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.transaction import TransactionManagementError

from rotation.models import CoverageWindow, Person, Roster, Rotation, Shift, Team

from .models import AnnouncedChain, EntryTombstone, RotationFeed

logger = logging.getLogger(__name__)

STAMP_KEY = "onehand:feed-stamp"

_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# django.contrib.auth.models.update_last_login: `save(update_fields=["last_login"])`.
_LAST_LOGIN_ONLY = re.compile(r'\s*UPDATE\s+"?auth_user"?\s+SET\s+"?last_login"?\s*=\s*%s\s+WHERE')


def _models():
    return [
        get_user_model(),
        Person,
        Team,
        Rotation,
        CoverageWindow,
        Roster,
        Shift,
        EntryTombstone,
        RotationFeed,
        # The escalation chain an entry names (time away that changes it bumps the shift too).
        AnnouncedChain,
    ]


_tables: frozenset[str] | None = None


def feed_tables() -> frozenset[str]:
    global _tables
    if _tables is None:
        _tables = frozenset(model._meta.db_table for model in _models())
    return _tables


def changes_feeds(sql: str) -> bool:
    """Whether this statement writes a table feed entries are built from."""
    if not sql or sql[0] in "sS(":  # SELECT / SAVEPOINT / subqueries: the common case, first
        return False
    match = _WRITE.match(sql)
    if match is None or match.group(1) not in feed_tables():
        return False
    return not _LAST_LOGIN_ONLY.match(sql)


def new_stamp() -> None:
    """Every feed's remembered validators become stale (called after a commit)."""
    try:
        cache.set(STAMP_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - validators are remembered for an hour at most
        logger.warning("could not renew the feed stamp (is the cache down?)", exc_info=True)


def _watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if changes_feeds(sql):
        connection = context["connection"]
        if not any(func is new_stamp for _, func, _ in connection.run_on_commit):
            # Outside a transaction this runs at once, the row being written already.
            try:
                transaction.on_commit(new_stamp, using=connection.alias)
            except TransactionManagementError:  # manual transaction management: no hooks
                new_stamp()
    return result


def watch(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every connection of every process reports feed writes."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)
