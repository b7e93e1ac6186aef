"""Subscription feeds (personal and per rotation): entries -> one VCALENDAR, with validators.

A feed's ETag is weak: it hashes what the entries *say*, not the bytes, because each request
signs fresh "Can't make it?" links (the signature carries its own timestamp). DTSTAMP is the
time the entry last changed (publish or removal), not the request time, so an unchanged feed
says the same thing twice.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from . import entries
from .selectors import BuiltEntry, EntryRequest, shift_entries


@dataclass(frozen=True)
class Feed:
    built: list[BuiltEntry]
    name: str
    etag: str

    def body(self) -> bytes:
        events = [entries.build_event(b.entry, now=b.stamp) for b in self.built]
        zones = {b.entry.time_zone for b in self.built}
        return entries.build_calendar(events, method=None, name=self.name, time_zones=zones)


def feed(requests: list[EntryRequest], *, name: str) -> Feed:
    built = shift_entries(requests)
    digest = hashlib.sha256(name.encode())
    for b in built:
        digest.update(repr((replace(b.entry, cant_make_it_url=""), b.stamp)).encode())
    return Feed(built=built, name=name, etag=f'W/"{digest.hexdigest()[:32]}"')


def last_modified(feed: Feed, changed_at: datetime | None) -> datetime | None:
    stamps = [b.stamp for b in feed.built] + ([changed_at] if changed_at else [])
    return max(stamps) if stamps else None
