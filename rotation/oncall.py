"""Who is on call: the one answer alerting tools poll, with its cache.

`who_is_on_call(rotation)` answers "now" from the cache when it can (until the next handoff,
at most a minute) and from the database otherwise; any cache failure (Redis down) falls back to
the database, never to an error. `forget_who_is_on_call` is called by every change that alters
the answer: publishing, a slot edit or swap, a rotation's lead or mentor, and a person's phone,
mentor, name or e-mail (post_save receivers in rotation/signals.py). An answer is kept with the
per-rotation version and the global generation it was computed under, so forgetting is one INCR,
not a scan, and reading is one round trip (versions and answer together).

The fast path (`rotation.middleware.KeptOnCallResponseMiddleware`) keeps, beside the answer,
the whole response as bytes under the same versions, and for each token a grant ("this token
may read this rotation") under the API access stamp (`rotation.api_access`): a repeated poll is
one round trip (`kept_response`) and no query.
"""

import hashlib
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from onehand.change_stamps import ChangeStamp

from . import selectors
from .api_access import ACCESS
from .serializers import OnCallSerializer

log = logging.getLogger(__name__)

CACHE_SECONDS = 60
GENERATION_KEY = "oncall-generation"
# A token's grant is renewed by the access stamp; this bounds a revocation made outside Django.
GRANT_SECONDS = 60
# Change when what is kept as a response changes shape.
RESPONSE_FORMAT = 1

# The generation every answer is kept under is a change stamp: renewed after the commit of any
# write to what an answer is computed from (rotations, rosters, shifts, members, people, users,
# leave: the escalation chain skips whoever is away), seen at the database connection like the
# page stamp's, so a bulk `update()` in a shell or a command counts as much as a service's
# save (red-team finding: those left token polls and the rotation page's month grid naming the
# old person for a minute). The per-rotation versions below are the services' narrower events.
ANSWERS = ChangeStamp(
    key=GENERATION_KEY,
    watched_apps=("rotation",),
    watched_models=("availability.AvailabilityEntry",),
    # bookkeeping no answer shows (written by every audited write, each heartbeat, swaps
    # until one is accepted, which reassigns a shift)
    ignored_models=(
        "rotation.Heartbeat",
        "rotation.AuditEntry",
        "rotation.HandoverNote",
        "rotation.SwapRequest",
        "rotation.SwapOffer",
    ),
    settings_names=("ONEHAND_ONCALL_REMEMBER", "ONEHAND_PLAN_REMEMBER"),
    what="on-call answers",
    skip_unchanged=True,
    # pages show answers (the rotation page's grid): renewed before the page stamp
    renew_rank=1,
)
watch = ANSWERS.watch


def _version_key(rotation_id: int) -> str:
    return f"oncall-version:{rotation_id}"


def _answer_key(rotation_id: int) -> str:
    return f"oncall-answer:{rotation_id}"


def _response_key(rotation_id: int) -> str:
    return f"oncall-response:{RESPONSE_FORMAT}:{rotation_id}"


def _grant_key(token_key: str, rotation_id: int) -> str:
    """Named by a digest: the cache never holds a token in clear."""
    digest = hashlib.sha256(f"{token_key}\x1f{rotation_id}".encode()).hexdigest()
    return f"oncall-grant:{digest}"


def _read(rotation_id: int) -> tuple[tuple, dict | None]:
    """(the current versions, the answer kept under them or None), in one round trip."""
    keys = [GENERATION_KEY, _version_key(rotation_id), _answer_key(rotation_id)]
    found = cache.get_many(keys)
    versions = (found.get(keys[0], 1), found.get(keys[1], 1))
    kept = found.get(keys[2])
    if kept is not None and kept[0] == versions:
        return versions, kept[1]
    return versions, None


def cache_version(*, rotation_id: int) -> str:
    """The versions the on-call answer is kept under, as text: anything rendered from the same
    data (the rotation page's month grid) keys its cache on it and is forgotten with it by the
    same events. Raises when the cache is down (callers fall back to the database)."""
    keys = [GENERATION_KEY, _version_key(rotation_id)]
    found = cache.get_many(keys)
    return f"{found.get(keys[0], 1)}.{found.get(keys[1], 1)}"


def cached_now(*, rotation_id: int) -> dict | None:
    """The kept answer for "now", or None (not kept, or the cache is down): callers that
    hold only an id and a permission check answer without loading the rotation."""
    try:
        return _read(rotation_id)[1]
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        log.warning("on-call cache unavailable", exc_info=True)
        return None


def on_call_payload(*, rotation, at: datetime) -> dict:
    """The answer computed from the database, as the API returns it."""
    result = selectors.on_call(rotation=rotation, at=at)

    def contact(c):
        if c is None:
            return None
        data = asdict(c)
        data["local_time"] = at.astimezone(ZoneInfo(c.time_zone)).isoformat()
        return data

    payload = {
        "rotation": rotation.pk,
        "rotation_name": rotation.name,
        "at": at,
        "shift_start": result.shift_start,
        "shift_end": result.shift_end,
        "next_change": result.next_change,
        "primary": contact(result.primary),
        "secondary": contact(result.secondary),
        "shadow": contact(result.shadow),
        "escalation": [contact(c) for c in result.escalation],
    }
    return OnCallSerializer(payload).data


def who_is_on_call(*, rotation, at: datetime | None = None) -> dict:
    """At an instant (computed), or now (cached until the next handoff, at most a minute)."""
    if at is not None or ANSWERS.pending(connection):
        # an instant, or this transaction's own uncommitted writes: not what others see
        return on_call_payload(rotation=rotation, at=at or timezone.now())
    try:
        versions, payload = _read(rotation.pk)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; the database answers
        log.warning("on-call cache unavailable; answering from the database", exc_info=True)
        return on_call_payload(rotation=rotation, at=timezone.now())
    if payload is not None:
        return payload
    now = timezone.now()
    payload = on_call_payload(rotation=rotation, at=now)
    ttl = (answer_expires(payload=payload) - now).total_seconds()
    if ttl >= 1:
        try:
            cache.set(_answer_key(rotation.pk), (versions, payload), int(ttl))
        except Exception:  # noqa: BLE001
            log.warning("could not cache the on-call answer", exc_info=True)
    return payload


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        # A missing key reads as 1: start anywhere but there, so a version lost on its own (an
        # evicting Redis) never comes back to a value an answer still kept was stored under.
        cache.set(key, 2 + secrets.randbits(48), None)


def forget_who_is_on_call(*, rotation_ids=None) -> None:
    """The next answer is computed afresh: for these rotations, or (None) for all of them.

    Never raises: with the cache down nothing is cached either, and a stale entry left in a
    cache that comes back lives at most CACHE_SECONDS."""
    try:
        if rotation_ids is None:
            ANSWERS.renew()
        else:
            for rotation_id in set(rotation_ids):
                _bump(_version_key(rotation_id))
    except Exception:  # noqa: BLE001
        log.warning("could not clear the on-call cache (is Redis down?)", exc_info=True)


# --------------------------------------------------------------------------- the fast path


@dataclass(frozen=True)
class KeptResponse:
    """What one read of the cache found for a token's poll of a rotation."""

    rotation_id: int
    token_key: str
    stamp: str | None  # the access stamp; None: the cache is down or the stamp was just made
    versions: tuple
    granted: bool  # the token was seen reading this rotation under this stamp
    response: tuple[list[tuple[str, str]], bytes] | None  # (headers, body) for these versions

    @property
    def servable(self) -> bool:
        return self.granted and self.response is not None


def responses_remembered() -> bool:
    """Whether the fast path may read and fill the cache now (see `ChangeStamp.usable`)."""
    return ACCESS.usable()


def kept_response(*, rotation_id: int, token_key: str) -> KeptResponse:
    """The access stamp, the answer's versions, the token's grant and the kept response, in one
    round trip. It may be served (`servable`) when the token was granted under the current
    stamp and the response kept under the current versions. Read before the request is
    handled, so what the handling computes is remembered under versions and a stamp no later
    than its rows."""
    keys = [
        ACCESS.key,
        GENERATION_KEY,
        _version_key(rotation_id),
        _response_key(rotation_id),
        _grant_key(token_key, rotation_id),
    ]
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        log.warning("on-call cache unavailable", exc_info=True)
        return KeptResponse(rotation_id, token_key, None, (None, None), False, None)
    stamp = found.get(keys[0])
    if stamp is None:
        ACCESS.current()  # makes the stamp; nothing is remembered under one this call made
    versions = (found.get(keys[1], 1), found.get(keys[2], 1))
    granted = stamp is not None and found.get(keys[4]) == stamp
    kept = found.get(keys[3])
    response = kept[1] if kept is not None and kept[0] == versions else None
    return KeptResponse(rotation_id, token_key, stamp, versions, granted, response)


def answer_expires(*, payload: dict) -> datetime:
    """When an answer computed at `payload["at"]` stops being "now": a minute later, or at the
    next start or end of a slot of any role if that comes first (a gap's end, a secondary's
    part ending mid-shift: red-team finding), what `who_is_on_call` keeps it for."""
    expires = parse_datetime(payload["at"]) + timedelta(seconds=CACHE_SECONDS)
    if payload["next_change"]:
        expires = min(expires, parse_datetime(payload["next_change"]))
    return expires


def remember_response(
    *, kept: KeptResponse, payload: dict, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Keep the token's grant and the response (the answer `payload` as `body`) under what
    `kept` read before the request was handled."""
    if kept.stamp is None:
        return
    try:
        if not kept.granted:
            cache.set(_grant_key(kept.token_key, kept.rotation_id), kept.stamp, GRANT_SECONDS)
        seconds = int((answer_expires(payload=payload) - timezone.now()).total_seconds())
        if kept.response is None and seconds >= 1:
            cache.set(_response_key(kept.rotation_id), (kept.versions, (headers, body)), seconds)
    except Exception:  # noqa: BLE001
        log.warning("could not keep the on-call response", exc_info=True)
