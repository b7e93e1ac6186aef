"""Change stamps: a random token in the shared cache (Redis), renewed right after the commit of
any write to a set of tables, so whatever is computed from those tables can be remembered under
it and served until the next such write (the plan stamp, `planning.plan_stamp`; the page stamp,
`onehand.remembered_pages`).

Which writes: any INSERT, UPDATE, DELETE, TRUNCATE or COPY naming a watched table, seen at the
database connection (`connection.execute_wrapper`), so bulk writes, ``QuerySet.update()``,
imports, restores and an operator's SQL through Django count as much as a service's ``save()``
does, without a list of domain events to keep complete. A login's own ``last_login`` update does
not count. Writes from outside Django (psql) are not seen: what is remembered lives at most its
own lifetime (README).

The new stamp is written right after the transaction commits (never before: another process
could otherwise read the new stamp, then the old rows, and remember a stale value under it).
A reader reads the stamp *before* the rows, so a value computed while a write commits is
remembered under the old stamp and never served as current. A reader whose own transaction has
uncommitted writes to watched tables neither reads nor fills the cache (`usable`): it sees rows
nobody else sees yet.

The stamp is a random token, never a counter, and never expires; if it is lost (a flushed or
restarted Redis) the next reader makes a new one, so nothing remembered before is served.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connections, transaction
from django.db.transaction import TransactionManagementError

logger = logging.getLogger(__name__)

# Any write keyword followed by a table name, anywhere in the statement: a leading comment, a
# CTE (WITH ... UPDATE), a schema-qualified, quoted or upper-case name, TRUNCATE and COPY ... FROM
# count as much as the ORM's own statements (red-team finding: an operator's fix-up SQL).
# Between the words: blanks, /* block */ and -- line comments (red-team finding: an operator's
# "UPDATE/**/auth_user" or "UPDATE -- ticket 42" newline "auth_user").
_GAP = r"(?:\s|/\*.*?\*/|--[^\n]*\n)+"
_WRITE = re.compile(
    rf"\b(?:INSERT{_GAP}INTO|MERGE{_GAP}INTO|UPDATE|DELETE{_GAP}FROM|TRUNCATE(?:{_GAP}TABLE)?|COPY)"
    rf'{_GAP}(?:ONLY{_GAP})?(?:"?\w+"?\s*\.\s*)?"?(\w+)"?',
    re.IGNORECASE | re.DOTALL,
)
_LAST_LOGIN_ONLY = re.compile(r'\s*UPDATE\s+"?auth_user"?\s+SET\s+"?last_login"?\s*=\s*%s\s+WHERE')


def written_tables(sql: str) -> set[str]:
    # One SELECT / SAVEPOINT / subquery: the common case, first. Several statements in one
    # call ("SET LOCAL ...; DELETE ...") are read whole (red-team finding).
    if not sql or (sql[0] in "sS(" and ";" not in sql):
        return set()
    return {m.group(1).lower() for m in _WRITE.finditer(sql)}


def _changed_nothing(sql: str, many: bool, cursor) -> bool:
    """A single statement that changed no row (an UPDATE or DELETE matching nothing, as the
    worker's sweeps often are). Several statements in one call report only the last one's
    count, so they always count as a change."""
    if many or ";" in sql.strip().rstrip(";"):
        return False
    return getattr(cursor, "rowcount", -1) == 0


# each stamp's commit hook and its rank (ChangeStamp.renew_rank)
_RANKS: dict = {}


def _order_renewals(hooks: list) -> None:
    """Sort the stamps' renewals among a transaction's commit hooks by rank, in place, leaving
    every other hook where it is. (Outside a transaction each renews as its statement returns:
    there the order is the watchers' nesting, set where they are installed.)"""
    places = [i for i, (_, func, _) in enumerate(hooks) if func in _RANKS]
    ranked = sorted((hooks[i] for i in places), key=lambda hook: _RANKS[hook[1]])
    for place, hook in zip(places, ranked, strict=True):
        hooks[place] = hook


class ChangeStamp:
    """One stamp: its cache key, the apps whose tables it watches (and the users table, and
    single models of other apps in `watched_models`), the models left out (bookkeeping shown
    nowhere it is used), the setting that forces it on or off (unset: on with a cache every
    process shares), and what it keeps (for log lines)."""

    def __init__(
        self,
        *,
        key: str,
        watched_apps: tuple[str, ...],
        ignored_models: tuple[str, ...],
        watched_models: tuple[str, ...] = (),
        settings_names: tuple[str, ...],
        what: str,
        skip_unchanged: bool = False,
        renew_rank: int = 1,
    ) -> None:
        self.key = key
        self.watched_apps = watched_apps
        self.watched_models = watched_models
        # The order of renewal within one commit, lowest first: a stamp whose values feed what
        # others keep renews before them (history before the plan, the plan before whole
        # pages), so a reader who sees a later stamp renewed sees the earlier ones renewed too.
        self.renew_rank = renew_rank
        self.ignored_models = ignored_models
        self.settings_names = settings_names
        self.what = what
        self.skip_unchanged = skip_unchanged
        self._tables: frozenset[str] | None = None

        # One function object per stamp, so a transaction asks for one renewal however many
        # statements it runs (`pending` looks for it among the commit hooks).
        def renew_after_commit() -> None:
            self.renew()

        self._renew_after_commit = renew_after_commit
        _RANKS[renew_after_commit] = renew_rank

    def watched_tables(self) -> frozenset[str]:
        if self._tables is None:
            ignored = {apps.get_model(label)._meta.db_table for label in self.ignored_models}
            tables = {get_user_model()._meta.db_table}
            for label in self.watched_apps:
                for model in apps.get_app_config(label).get_models(include_auto_created=True):
                    tables.add(model._meta.db_table)
            for label in self.watched_models:
                tables.add(apps.get_model(label)._meta.db_table)
            self._tables = frozenset(tables - ignored)
        return self._tables

    def changes(self, sql: str) -> bool:
        """Whether this statement writes a watched table."""
        if not written_tables(sql) & self.watched_tables():
            return False
        return not _LAST_LOGIN_ONLY.match(sql)

    def remembering(self) -> bool:
        """Only in a cache every process shares (a cache of one process would miss the stamps
        renewed by the others); the first of `settings_names` that is set forces it."""
        for name in self.settings_names:
            forced = getattr(settings, name, None)
            if forced is not None:
                return bool(forced)
        return not isinstance(caches["default"], LocMemCache)

    def renew(self) -> None:
        """Everything remembered under the stamp becomes stale (called after a commit)."""
        try:
            cache.set(self.key, uuid.uuid4().hex, None)
        except Exception:  # noqa: BLE001 - the write itself is committed; say so loudly
            logger.error(
                f"could not renew the {self.what} stamp: {self.what} may be stale until it "
                "expires (or until the next write)",
                exc_info=True,
            )

    def pending(self, connection) -> bool:
        return any(func is self._renew_after_commit for _, func, _ in connection.run_on_commit)

    def _watch(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if self.changes(sql) and not (
            self.skip_unchanged and _changed_nothing(sql, many, context.get("cursor"))
        ):
            connection = context["connection"]
            if not self.pending(connection):
                # Outside a transaction this runs at once, the row being written already.
                try:
                    transaction.on_commit(self._renew_after_commit, using=connection.alias)
                except TransactionManagementError:  # manual transaction management: no hooks
                    self.renew()
                else:
                    if connection.in_atomic_block:
                        _order_renewals(connection.run_on_commit)
        return result

    def watch(self, sender, connection, **kwargs) -> None:
        """`connection_created` receiver: every connection of every process reports writes."""
        if self._watch not in connection.execute_wrappers:
            connection.execute_wrappers.append(self._watch)

    def usable(self, alias: str = "default") -> bool:
        """Whether this request may read and fill what is remembered: remembering is on and
        its own transaction has no uncommitted write to the watched tables."""
        return self.remembering() and not self.pending(connections[alias])

    def current(self) -> str | None:
        """The stamp now, or None: the cache is down, or the stamp was missing (made now;
        nothing is remembered under a stamp this call made)."""
        try:
            stamp = cache.get(self.key)
            if stamp is None:
                cache.add(self.key, uuid.uuid4().hex, None)
            return stamp
        except Exception:  # noqa: BLE001 - a cache outage must not take the page down
            logger.warning(f"{self.what} cache unavailable", exc_info=True)
            return None

    def read(self, key: str) -> tuple[str | None, object | None]:
        """(the current stamp, what is remembered under `key` for it, or None), one round
        trip. A missing stamp is made here; nothing is remembered under a stamp this call made.
        """
        try:
            found = cache.get_many([self.key, key])
        except Exception:  # noqa: BLE001 - a cache outage must not take the page down
            logger.warning(f"{self.what} cache unavailable", exc_info=True)
            return None, None
        stamp = found.get(self.key)
        if stamp is None:
            try:
                cache.add(self.key, uuid.uuid4().hex, None)
            except Exception:  # noqa: BLE001
                logger.warning(f"{self.what} cache unavailable", exc_info=True)
            return None, None
        return stamp, _under(found.get(key), stamp)

    def kept(self, key: str, stamp: str | None) -> tuple[str | None, object | None]:
        """What is remembered under `key` for a stamp read earlier (see `planning.plan_stamp`'s
        pinned views)."""
        if stamp is None:
            return None, None
        try:
            remembered = cache.get(key)
        except Exception:  # noqa: BLE001
            logger.warning(f"{self.what} cache unavailable", exc_info=True)
            return None, None
        return stamp, _under(remembered, stamp)

    def remember(self, key: str, stamp: str, value: object, seconds: int) -> None:
        try:
            cache.set(key, (stamp, value), seconds)
        except Exception:  # noqa: BLE001
            logger.warning(f"{self.what} cache unavailable", exc_info=True)


def _under(remembered, stamp: str):
    """The value of a remembered (stamp, value) pair if it was kept under `stamp`."""
    if remembered is not None and remembered[0] == stamp:
        return remembered[1]
    return None


_FORCING_SETTINGS = ("ONEHAND_PLAN_REMEMBER", "ONEHAND_PAGE_REMEMBER", "ONEHAND_ONCALL_REMEMBER")


@checks.register(checks.Tags.caches)
def check_forced_remembering(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Remembering forced on over a cache of one process: a change (a revoked token, a new
    shift) made through another process is seen there only when what it kept expires, up to a
    minute later (red-team finding)."""
    if not isinstance(caches["default"], LocMemCache):
        return []
    forced = [name for name in _FORCING_SETTINGS if getattr(settings, name, None)]
    if not forced:
        return []
    return [
        checks.Warning(
            f"{', '.join(forced)} forces remembering on, but the cache belongs to this process "
            "alone (no REDIS_URL): changes made by another process are seen here up to a "
            "minute late.",
            hint="Set REDIS_URL so every process shares the cache, or unset the setting.",
            id="onehand.W001",
        )
    ]
