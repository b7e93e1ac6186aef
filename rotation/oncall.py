"""Who is on call: the one answer alerting tools poll, with its cache.

`who_is_on_call(rotation)` answers "now" from the cache when it can (until the next handoff,
at most a minute) and from the database otherwise; any cache failure (Redis down) falls back to
the database, never to an error. An answer is kept under the answers' change stamp (`ANSWERS`),
which every committed write to what an answer is made from renews: no list of events to keep
complete, and reading is one round trip (stamp and answer together).

The fast path (`rotation.middleware.KeptOnCallResponseMiddleware`) keeps, beside the answer,
the whole response as bytes under the same stamp, and for each token a grant ("this token
may read this rotation") under the API access stamp (`rotation.api_access`): a repeated poll is
one round trip (`kept_response`) and no query.
"""

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from onehand.change_stamps import ChangeStamp
from onehand.errors import NotFound

from . import selectors
from .api_access import ACCESS
from .models import Rotation
from .serializers import OnCallSerializer

log = logging.getLogger(__name__)

CACHE_SECONDS = 60
GENERATION_KEY = "oncall-generation"
# A token's grant is renewed by the access stamp; this bounds a revocation made outside Django.
GRANT_SECONDS = 60
# Change when what is kept as a response changes shape.
RESPONSE_FORMAT = 1

# Every answer is kept under a change stamp: renewed after the commit of any write to what an
# answer is computed from (rotations, rosters, shifts, members, people, users; leave, since the
# escalation chain skips whoever is away; duty requirements and qualifications, since its
# fallback names the rotation's experienced people), seen at the database connection like the
# page stamp's, so a bulk `update()` in a shell or a command counts as much as a service's
# save (red-team finding: those left token polls and the rotation page's month grid naming the
# old person for a minute). It replaced per-rotation versions bumped by model signals and
# domain events, which saw fewer writes than the stamp does.
ANSWERS = ChangeStamp(
    key=GENERATION_KEY,
    watched_apps=("rotation",),
    watched_models=(
        "availability.AvailabilityEntry",
        "availability.DutyRequirement",
        "availability.Qualification",
    ),
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


def _answer_key(rotation_id: int) -> str:
    return f"oncall-answer:{rotation_id}"


def _response_key(rotation_id: int) -> str:
    return f"oncall-response:{RESPONSE_FORMAT}:{rotation_id}"


def _grant_key(token_key: str, rotation_id: int) -> str:
    """Named by a digest: the cache never holds a token in clear."""
    digest = hashlib.sha256(f"{token_key}\x1f{rotation_id}".encode()).hexdigest()
    return f"oncall-grant:{digest}"


def answers_stamp() -> str | None:
    """The stamp answers are kept under, or None (the cache is down, or the stamp was just
    made): anything rendered from the same data (the rotation page's month grid) is kept under
    it too, so it changes exactly when the answer does. None as well inside a transaction
    with its own uncommitted writes: what it sees is not what others see."""
    if ANSWERS.pending(connection):
        return None
    return ANSWERS.current()


def cached_now(*, rotation_id: int) -> dict | None:
    """The kept answer for "now", or None (not kept, or the cache is down): callers that
    hold only an id and a permission check answer without loading the rotation. None too
    inside a transaction with its own uncommitted writes (what it sees, others do not)."""
    if ANSWERS.pending(connection):
        return None
    return ANSWERS.read(_answer_key(rotation_id))[1]


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
    # in UTC whoever asks: one answer is kept for every reader (red-team finding: the first
    # reader's zone, +05:30, went to everyone); each contact carries their own local time
    with timezone.override(UTC):
        return OnCallSerializer(payload).data


def who_is_on_call(*, rotation, at: datetime | None = None) -> dict:
    """At an instant (computed), or now (cached until the next handoff, at most a minute)."""
    if at is not None or ANSWERS.pending(connection):
        # an instant, or this transaction's own uncommitted writes: not what others see
        return on_call_payload(rotation=rotation, at=at or timezone.now())
    # read before the rows: an answer computed while a write commits is kept under the old
    # stamp, never served as current (a cache that is down reads as no stamp: nothing kept)
    stamp, payload = ANSWERS.read(_answer_key(rotation.pk))
    if payload is not None:
        return payload
    if stamp is not None:
        # the caller loaded the rotation (its name, lead, mentor) before the stamp was read: a
        # rename committed in between would be kept under the new stamp (red-team finding)
        rotation = Rotation.objects.filter(pk=rotation.pk).first()
        if rotation is None:
            raise NotFound("This rotation no longer exists.")
    now = timezone.now()
    payload = on_call_payload(rotation=rotation, at=now)
    ttl = int((answer_expires(payload=payload) - now).total_seconds())
    if stamp is not None and ttl >= 1:
        ANSWERS.remember(_answer_key(rotation.pk), stamp, payload, ttl)
    return payload


# --------------------------------------------------------------------------- the fast path


@dataclass(frozen=True)
class KeptResponse:
    """What one read of the cache found for a token's poll of a rotation."""

    rotation_id: int
    token_key: str
    stamp: str | None  # the access stamp; None: the cache is down or the stamp was just made
    answers: str | None  # the answers' stamp (`ANSWERS`), the same
    granted: bool  # the token was seen reading this rotation under this stamp
    response: tuple[list[tuple[str, str]], bytes] | None  # (headers, body) kept under `answers`

    @property
    def servable(self) -> bool:
        return self.granted and self.response is not None


def responses_remembered() -> bool:
    """Whether the fast path may read and fill the cache now (see `ChangeStamp.usable`): not
    with this connection's own uncommitted writes to what answers are made from either."""
    return ACCESS.usable() and not ANSWERS.pending(connection)


def kept_response(*, rotation_id: int, token_key: str) -> KeptResponse:
    """The access stamp, the answers' stamp, the token's grant and the kept response, in one
    round trip. It may be served (`servable`) when the token was granted under the current
    access stamp and the response kept under the current answers' stamp. Read before the
    request is handled, so what the handling computes is remembered under stamps no later
    than its rows."""
    keys = [
        ACCESS.key,
        ANSWERS.key,
        _response_key(rotation_id),
        _grant_key(token_key, rotation_id),
    ]
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        log.warning("on-call cache unavailable", exc_info=True)
        return KeptResponse(rotation_id, token_key, None, None, False, None)
    stamp, answers = found.get(keys[0]), found.get(keys[1])
    # a missing stamp is made now; nothing is remembered under one this call made
    if stamp is None:
        ACCESS.current()
    if answers is None:
        ANSWERS.current()
    granted = stamp is not None and found.get(keys[3]) == stamp
    kept = found.get(keys[2])
    response = kept[1] if answers is not None and kept is not None and kept[0] == answers else None
    return KeptResponse(rotation_id, token_key, stamp, answers, granted, response)


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
    if kept.stamp is None or kept.answers is None:
        return
    try:
        if not kept.granted:
            cache.set(_grant_key(kept.token_key, kept.rotation_id), kept.stamp, GRANT_SECONDS)
        seconds = int((answer_expires(payload=payload) - timezone.now()).total_seconds())
        if kept.response is None and seconds >= 1:
            cache.set(_response_key(kept.rotation_id), (kept.answers, (headers, body)), seconds)
    except Exception:  # noqa: BLE001
        log.warning("could not keep the on-call response", exc_info=True)
