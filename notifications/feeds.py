"""Subscription feeds (personal and per rotation): entries -> one VCALENDAR, with validators.

A feed's ETag is weak and cheap: it hashes what the entries are built *from* (three small
queries, see `selectors.personal_feed_state`), never the entries themselves, so a poll that
changed nothing costs no entry building. It changes with anything an entry shows: a publish,
an edit or swap, a removal, a name, address, phone or mentor, a renamed rotation or team,
shifts leaving the window, the token, time away that changes an escalation chain (it gives
the shift a new SEQUENCE: outbox.queue_escalation_changes). DTSTAMP is the time the entry last
changed (publish or removal), not the request time, so an unchanged feed says the same thing
twice.

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
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from onehand.people import display_name

from . import entries, selectors
from .selectors import BuiltEntry, EntryRequest, shift_entries

logger = logging.getLogger(__name__)

# Bump when the rendering changes, so every feed gets a new ETag (and cache key).
# 3: VTIMEZONEs every client reads alike (see entries.py); an empty feed carries one.
FORMAT = 3
DEFAULT_CACHE_SECONDS = 24 * 3600


def cache_seconds() -> int:
    return int(getattr(settings, "ONEHAND_FEED_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


@dataclass(frozen=True)
class Rendered:
    body: bytes
    last_modified: datetime | None


@dataclass(frozen=True)
class Feed:
    kind: str  # "personal" or "team"
    token: str
    name: str
    etag: str
    requests: Callable[[], list[EntryRequest]]
    changed_at: Callable[[], datetime | None]
    # What an empty feed still carries (RFC 5545 wants one component): this zone's VTIMEZONE
    # for the year of the request and the next.
    time_zone: str = "UTC"
    year: int = 1970

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


def personal(user, now: datetime) -> Feed:
    """A person's feed: their slots in every rotation, and their removed entries."""
    name = f"On call: {display_name(user)}"
    state, gone = selectors.personal_feed_state(user, now)
    token = user.person.feed_token
    return Feed(
        kind="personal",
        token=token,
        name=name,
        etag=_etag("personal", token, name, state, (user.person.time_zone, now.year)),
        requests=lambda: selectors.personal_feed_requests(user, now, gone),
        changed_at=lambda: selectors.personal_feed_changed_at(user),
        time_zone=user.person.time_zone,
        year=now.year,
    )


def team(feed, now: datetime) -> Feed:
    """A rotation's feed (a RotationFeed with its rotation and team loaded)."""
    name = f"{feed.rotation.name} on call"
    state, gone = selectors.team_feed_state(feed, now)
    return Feed(
        kind="team",
        token=feed.token,
        name=name,
        etag=_etag("team", feed.token, name, state, (feed.rotation.time_zone, now.year)),
        requests=lambda: selectors.team_feed_requests(feed.rotation, now, gone),
        changed_at=lambda: feed.changed_at,
        time_zone=feed.rotation.time_zone,
        year=now.year,
    )


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
