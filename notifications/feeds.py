"""Subscription feeds (personal and per rotation): entries -> one VCALENDAR, with validators.

A feed's ETag is weak and cheap: it hashes what the entries are built *from* (three small
queries, see `selectors.personal_feed_state`), never the entries themselves, so a poll that
changed nothing costs no entry building. With a shared cache (Redis) even those queries are
skipped: the ETag and Last-Modified are remembered under the feed stamp (`feed_stamp`, one row
in PostgreSQL read with the token), which every committed write to what feeds show renews, for
the hour the feed is built for. It
changes with anything an entry shows: a publish, an edit or swap, a removal, a name, address,
phone or mentor, a renamed rotation or team, shifts leaving the window, the token, time away
that changes an escalation chain (it gives the shift a new SEQUENCE:
outbox.queue_escalation_changes). DTSTAMP is the time the entry last changed (publish or
removal), not the request time, so an unchanged feed says the same thing twice.
Last-Modified moves whenever the ETag does (`settled_last_modified`): a client that sends only
If-Modified-Since sees a rename or a new phone as soon as one that sends If-None-Match.

The rendered body is cached (Django's cache: Redis with REDIS_URL, else per process) under
the feed, its token and its ETag, with its Last-Modified, for FEED_CACHE_SECONDS: repeated
polls and 304s skip rendering. A cached body repeats the "Can't make it?" links signed when
it was rendered (they are valid for 120 days, the cache keeps a body for a day at most).
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, transaction
from django.utils import timezone

from onehand.people import display_name

from . import entries, feed_stamp, selectors
from .selectors import BuiltEntry, EntryRequest, shift_entries

logger = logging.getLogger(__name__)

# Bump when the rendering changes, so every feed gets a new ETag (and cache key).
# 3: VTIMEZONEs every client reads alike (see entries.py); an empty feed carries one.
FORMAT = 3
DEFAULT_CACHE_SECONDS = 24 * 3600
# Validators are remembered within one hour bucket of the feed window (see `window_time`).
VALIDATOR_SECONDS = 3600


def cache_seconds() -> int:
    return int(getattr(settings, "ONEHAND_FEED_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


@dataclass(frozen=True)
class Rendered:
    body: bytes
    last_modified: datetime | None


class Feed:
    """One feed at one time. Its ETag hashes the rows entries are built from (the content
    queries run on first use of `etag`); `validators` remembers it under the feed stamp."""

    def __init__(
        self,
        *,
        kind: str,
        token: str,
        name: str,
        state: Callable[[], tuple[list, list]],
        requests: Callable[[list], list[EntryRequest]],
        changed_at: Callable[[], datetime | None],
        time_zone: str = "UTC",
        year: int = 1970,
        bucket: datetime | None = None,
        stamp: str | None = None,
    ):
        self.kind = kind  # "personal" or "team"
        self.token = token
        self.name = name
        self._state = state
        self._requests = requests
        self.changed_at = changed_at
        # What an empty feed still carries (RFC 5545 wants one component): this zone's
        # VTIMEZONE for the year of the request and the next.
        self.time_zone = time_zone
        self.year = year
        self.bucket = bucket
        # The feed stamp read with the token (None: validators are not remembered).
        self.stamp = stamp
        self._etag: str | None = None
        self._gone: list | None = None

    def _load(self) -> None:
        state, gone = self._state()
        self._gone = gone
        self._etag = _etag(self.kind, self.token, self.name, state, (self.time_zone, self.year))

    @property
    def etag(self) -> str:
        if self._etag is None:
            self._load()
        return self._etag

    def requests(self) -> list[EntryRequest]:
        if self._gone is None:
            self._load()
        return self._requests(self._gone)

    def render(self) -> Rendered:
        built = shift_entries(self.requests())
        return Rendered(
            body=calendar(built, self.name, self.time_zone, self.year),
            last_modified=last_modified(built, self.changed_at()),
        )

    def cache_key(self, part: str) -> str:
        token = hashlib.sha256(self.token.encode()).hexdigest()[:32]
        return f"onehand:feed:{FORMAT}:{self.kind}:{token}:{self.etag[3:-1]}:{part}"


def calendar(built: list[BuiltEntry], name: str, time_zone: str = "UTC", year: int = 1970) -> bytes:
    """The feed's VCALENDAR. Without entries it holds one VTIMEZONE (``time_zone``, for
    ``year`` and the next), which every client accepts and which adds no event."""
    events = [entries.build_event(b.entry, now=b.stamp) for b in built]
    zones = {b.entry.time_zone for b in built} or {time_zone}
    return entries.build_calendar(
        events, method=None, name=name, time_zones=zones, years=(year, year + 1)
    )


def last_modified(built: list[BuiltEntry], changed_at: datetime | None) -> datetime | None:
    stamps = [b.stamp for b in built] + ([changed_at] if changed_at else [])
    return max(stamps) if stamps else None


def _etag(kind: str, token: str, name: str, state: list, empty: tuple[str, int]) -> str:
    """``empty`` is what an empty feed shows instead of events: (zone, year)."""
    digest = hashlib.sha256(
        repr(
            (
                FORMAT,
                kind,
                token,
                name,
                empty,
                settings.SITE_URL,
                settings.DEFAULT_FROM_EMAIL,
                settings.ONEHAND_FEED_PAST_DAYS,
                settings.ONEHAND_FEED_CANCELLED_DAYS,
                state,
            )
        ).encode()
    )
    return f'W/"{digest.hexdigest()[:32]}"'


def window_time(now: datetime) -> datetime:
    """The time a feed is built for: the start of the hour, so the feed (and its validators)
    stays the same within the hour; shifts leave the past window on the hour."""
    return now.replace(minute=0, second=0, microsecond=0)


def personal(user, now: datetime) -> Feed:
    """A person's feed: their slots in every rotation, and their removed entries."""
    now = window_time(now)
    return Feed(
        kind="personal",
        token=user.person.feed_token,
        name=f"On call: {display_name(user)}",
        state=lambda: selectors.personal_feed_state(user, now),
        requests=lambda gone: selectors.personal_feed_requests(user, now, gone),
        changed_at=lambda: selectors.personal_feed_changed_at(user),
        time_zone=user.person.time_zone,
        year=now.year,
        bucket=now,
        stamp=getattr(user, "feed_stamp", None),
    )


def team(feed, now: datetime) -> Feed:
    """A rotation's feed (a RotationFeed with its rotation and team loaded)."""
    now = window_time(now)
    return Feed(
        kind="team",
        token=feed.token,
        name=f"{feed.rotation.name} on call",
        state=lambda: selectors.team_feed_state(feed, now),
        requests=lambda gone: selectors.team_feed_requests(feed.rotation, now, gone),
        changed_at=lambda: feed.changed_at,
        time_zone=feed.rotation.time_zone,
        year=now.year,
        bucket=now,
        stamp=getattr(feed, "feed_stamp", None),
    )


# --------------------------------------------------------------------------- validators


def remembering_validators() -> bool:
    """Whether validators may be remembered: only in a cache every process shares (a cache of
    one process would miss the stamps renewed by the others). ONEHAND_FEED_REMEMBER_VALIDATORS
    forces it either way (tests of one process)."""
    forced = getattr(settings, "ONEHAND_FEED_REMEMBER_VALIDATORS", None)
    if forced is not None:
        return bool(forced)
    return not isinstance(caches["default"], LocMemCache)


def _validators_key(feed: Feed) -> str:
    configured = repr(
        (
            settings.SITE_URL,
            settings.DEFAULT_FROM_EMAIL,
            settings.ONEHAND_FEED_PAST_DAYS,
            settings.ONEHAND_FEED_CANCELLED_DAYS,
        )
    )
    token = hashlib.sha256(f"{feed.token}|{configured}".encode()).hexdigest()[:32]
    bucket = feed.bucket.isoformat() if feed.bucket else "-"
    return f"onehand:feed-validators:{FORMAT}:{feed.kind}:{token}:{bucket}"


def validators(feed: Feed) -> tuple[str, datetime | None, Rendered | None]:
    """(ETag, Last-Modified, the rendering when one was made) of the feed.

    Validators remembered under the feed stamp read with the token (`feed.stamp`, from
    PostgreSQL) answer a poll that changed nothing with one cache round trip and no content
    query. Otherwise the ETag is computed from the rows, the body rendered unless cached, and
    both remembered under that stamp (read *before* the rows: a write committed in between
    renews it, so what is remembered is never taken for current)."""
    key = None
    if feed.stamp is None and remembering_validators():
        feed.stamp = feed_stamp.create_stamp()  # a fresh or flushed database
    if feed.stamp is not None and remembering_validators():
        key = _validators_key(feed)
        try:
            remembered = cache.get(key)
            if remembered is not None and remembered[0] == feed.stamp:
                feed._etag = remembered[1]
                return remembered[1], remembered[2], None
        except Exception:  # noqa: BLE001 - a cache outage must not take the feeds down
            logger.warning("feed cache unavailable", exc_info=True)
            key = None
    with snapshot():
        found_body, modified = cached_last_modified(feed)
        rendered = None
        if not found_body:
            rendered = render_and_cache(feed)
            modified = rendered.last_modified
    modified = settled_last_modified(feed, modified)
    if key is not None:
        try:
            cache.set(key, (feed.stamp, feed.etag, modified), VALIDATOR_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("could not remember a feed's validators", exc_info=True)
    return feed.etag, modified, rendered


def snapshot():
    """One database snapshot for a feed's ETag and its rendering, so a body is never cached
    under an ETag computed from other rows (a write committed between the two would otherwise
    put the new body under the old ETag, served again if the data went back)."""
    if connection.in_atomic_block:  # the caller's transaction decides
        return nullcontext()
    return _repeatable_read()


@contextmanager
def _repeatable_read():
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def rendered_now(feed: Feed) -> tuple[str, datetime | None, Rendered]:
    """(ETag, Last-Modified, rendering) computed afresh, in one snapshot: for a body that left
    the cache, whatever was remembered."""
    feed._etag = feed._gone = None
    with snapshot():
        rendered = render_and_cache(feed)
    return feed.etag, settled_last_modified(feed, rendered.last_modified), rendered


def _last_modified_key(feed: Feed) -> str:
    token = hashlib.sha256(feed.token.encode()).hexdigest()[:32]
    return f"onehand:feed-last-modified:{FORMAT}:{feed.kind}:{token}"


def settled_last_modified(feed: Feed, changed: datetime | None) -> datetime:
    """Last-Modified for the feed's current ETag: moves whenever the ETag does.

    The data's change times (``changed``) miss some changes an entry shows (a rename, a phone,
    a mentor), so a new ETag is dated the later of them, the moment it was first computed and
    one second after the feed's previous Last-Modified (HTTP dates have whole seconds);
    remembered per feed with its ETag, so an unchanged feed keeps its date. Without the cache
    every answer is dated now: a client with only If-Modified-Since then gets the body."""
    now = timezone.now().replace(microsecond=0)
    key = _last_modified_key(feed)
    try:
        previous = cache.get(key)
    except Exception:  # noqa: BLE001
        logger.warning("feed cache unavailable", exc_info=True)
        return max(now, changed) if changed else now
    if previous is not None and previous[0] == feed.etag:
        return previous[1]
    candidates = [now] + ([changed] if changed else [])
    if previous is not None:
        candidates.append(previous[1] + timedelta(seconds=1))
    modified = max(candidates)
    try:
        cache.set(key, (feed.etag, modified), cache_seconds())
    except Exception:  # noqa: BLE001
        logger.warning("could not remember a feed's Last-Modified", exc_info=True)
    return modified


# --------------------------------------------------------------------------- cache


def cached_last_modified(feed: Feed) -> tuple[bool, datetime | None]:
    """(found, Last-Modified) of the body cached for this ETag."""
    try:
        found = cache.get(feed.cache_key("meta"))
    except Exception:  # noqa: BLE001 - a cache outage must not take the feeds down
        logger.warning("feed cache unavailable", exc_info=True)
        return False, None
    if found is None:
        return False, None
    return True, found[0]


def cached_body(feed: Feed) -> bytes | None:
    try:
        packed = cache.get(feed.cache_key("body"))
        return zlib.decompress(packed) if packed is not None else None
    except Exception:  # noqa: BLE001
        logger.warning("feed cache unavailable or its entry unreadable", exc_info=True)
        return None


def render_and_cache(feed: Feed) -> Rendered:
    rendered = feed.render()
    try:
        cache.set_many(
            {
                # zlib level 1: an .ics of ~1 MB is ~10x smaller, in a few milliseconds.
                feed.cache_key("body"): zlib.compress(rendered.body, 1),
                feed.cache_key("meta"): (rendered.last_modified,),
            },
            timeout=cache_seconds(),
        )
    except Exception:  # noqa: BLE001
        logger.warning("could not cache a feed", exc_info=True)
    return rendered
