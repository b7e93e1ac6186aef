"""The feeds' change stamp: one row in PostgreSQL (`FeedStamp`) whose value changes after every
committed write that could change what a feed says, so a feed's validators (ETag,
Last-Modified) can be remembered under it and a poll that changed nothing costs no content
query. The feed views read it in the same query as the token (`selectors.with_feed_stamp`).

Which writes: any INSERT, UPDATE or DELETE on the tables feed entries are built from (shifts,
rosters, rotations and their windows, teams, people and their profiles, removed entries, team
feeds), seen at the database connection (`connection.execute_wrapper`), so bulk writes,
``QuerySet.update()``, imports and restores count as much as a ``save()`` does, without a list
of domain events to keep complete. Only a login's own ``last_login`` update is left out (it is
shown nowhere). The new stamp is written right after the transaction commits, on the same
database (never before: another process could otherwise read the new stamp, then the old rows,
and remember stale validators; never inside it: one row locked by every writing transaction
would serialise them and deadlock against their row locks). The stamp lives in the database the
write went to, so a process that cannot reach Redis still renews it.

The stamp is a random token, never a counter: after a restore from a backup a counter would
repeat values that validators were remembered under. A missing row (a fresh or flushed
database) is created by the next read; nothing is remembered until it exists.
A feed that adds a table to what it shows adds it to `FEED_TABLES`.
"""

from __future__ import annotations

import logging
import re
import uuid
from functools import partial

from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from rotation.models import CoverageWindow, Person, Roster, Rotation, Shift, Team

from .models import AnnouncedChain, EntryTombstone, RotationFeed

logger = logging.getLogger(__name__)

STAMP_ID = 1

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


_INSERT = "INSERT INTO notifications_feedstamp (id, value, changed_at) VALUES (%s, %s, %s) "
_RENEW = _INSERT + (
    "ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, changed_at = EXCLUDED.changed_at"
)
_CREATE = _INSERT + "ON CONFLICT (id) DO NOTHING RETURNING value"


def _write(alias: str, sql: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [STAMP_ID, uuid.uuid4().hex, timezone.now()])


def new_stamp(alias: str = "default") -> None:
    """Every feed's remembered validators become stale (called after a commit)."""
    try:
        _write(alias, _RENEW)
    except Exception:  # noqa: BLE001 - the write itself is committed; say so loudly
        logger.error(
            "could not renew the feed stamp: feeds may answer with stale validators until "
            "the next write or the next hour",
            exc_info=True,
        )


def create_stamp(alias: str = "default") -> str | None:
    """The row, when a fresh or flushed database has none yet (a reader's call): its value
    when this call made it (a reader may remember under it: any later write renews it), None
    when another process did (this poll then remembers nothing)."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(_CREATE, [STAMP_ID, uuid.uuid4().hex, timezone.now()])
            row = cursor.fetchone()
    except Exception:  # noqa: BLE001 - feeds are then computed, never remembered
        logger.warning("could not create the feed stamp", exc_info=True)
        return None
    return row[0] if row else None


def _is_renewal(func) -> bool:
    return getattr(func, "func", None) is new_stamp


def _watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if changes_feeds(sql):
        connection = context["connection"]
        if not any(_is_renewal(func) for _, func, _ in connection.run_on_commit):
            renew = partial(new_stamp, connection.alias)
            # Outside a transaction this runs at once, the row being written already.
            try:
                transaction.on_commit(renew, using=connection.alias)
            except TransactionManagementError:  # manual transaction management: no hooks
                renew()
    return result


def watch(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every connection of every process reports feed writes."""
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)
