"""Dispatch: queueing outbox rows on Celery in chunks, claiming a chunk and sending its rows,
retries and the sweeper. What a row says and how it is sent per kind lives in `sending.py`; who
gets a row in `outbox.py`.

Outbox rows are written inside the transaction that makes the change; Celery is told about
them only after commit (`enqueue_on_commit`), and a failure to tell it is logged, never
raised: the sweeper finds rows nobody picked up.

Sending is at most once per row except in one window. A worker first *claims* a chunk's
rows with one conditional UPDATE (pending -> sending, with a lease), loads what they say in a
fixed number of queries (`sending.prepare`), then sends them one by one over one SMTP
connection, marking each sent as soon as the server accepted it (before the next message).
Running the task twice, or a message redelivered after a crash, finds the rows already
claimed or sent and does nothing. A worker killed mid-chunk leaves its unsent rows "sending"
until their lease ends; the sweeper then sends them. If it dies after the SMTP server accepted
a message but before that message's "sent" UPDATE (a few milliseconds), that one message is
sent again: at least once, in that window only. The re-send carries the same Message-ID, so
many receivers drop it. A chunk slower than half the lease renews the lease of its rows.
The markers are committed without waiting for the disk (`_commits_not_waiting_for_the_disk`):
only a crash of PostgreSQL itself can undo the last of them, and those rows are sent again.
Pipelining the SMTP commands (`mail._transaction`) changes none of this: a message's content
goes out only after the server's 354 to its DATA, and the next message's only after this
one's 250 and marker.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from rotation.models import Roster

from . import mail, sending, tasks
from .errors import Permanent, Transient, Unconfirmed
from .models import Delivery

logger = logging.getLogger(__name__)

Status = Delivery.Status
Action = Delivery.Action

SWEEP_BATCH = 5000
# Delivery ids per task message: a 10,000-row publish is 200 messages, not 10,000.
ENQUEUE_BATCH = 50
# ... but a small outbox still goes out as at least this many messages (worker parallelism).
ENQUEUE_SPREAD = 8


def batches(ids: list[int]) -> list[list[int]]:
    """Split ids into task messages of at most ENQUEUE_BATCH ids, of even sizes.

    A small outbox is spread over at least ENQUEUE_SPREAD messages (down to one id each), so
    that several worker processes share it instead of one process sending it all.
    """
    if not ids:
        return []
    count = max(math.ceil(len(ids) / ENQUEUE_BATCH), min(len(ids), ENQUEUE_SPREAD))
    size, extra = divmod(len(ids), count)
    out, start = [], 0
    for n in range(count):
        end = start + size + (1 if n < extra else 0)
        out.append(ids[start:end])
        start = end
    return out


def enqueue(ids: Iterable[int], *, countdown: float | None = None) -> int:
    """Tell Celery about deliveries, ENQUEUE_BATCH ids per task message; never raises (the
    sweeper catches up). Returns how many ids were queued."""
    ids = list(ids)
    sent = 0
    if not ids:
        return 0
    try:
        if tasks.deliver_batch.app.conf.task_always_eager:
            for chunk in batches(ids):
                tasks.deliver_batch.apply_async((chunk,), countdown=countdown)
                sent += len(chunk)
            return sent
        # One producer (one broker connection) for the whole batch, no publish retries:
        # if the broker is down we find out at once and leave the rest to the sweeper.
        with tasks.deliver_batch.app.producer_or_acquire() as producer:
            for chunk in batches(ids):
                tasks.deliver_batch.apply_async(
                    (chunk,), countdown=countdown, retry=False, producer=producer
                )
                sent += len(chunk)
    except Exception:  # noqa: BLE001 - broker down: rows stay pending for the sweeper
        logger.warning(
            "could not queue %d of %d deliveries (broker unavailable?); the sweeper will send them",
            len(ids) - sent,
            len(ids),
            exc_info=True,
        )
    return sent


def enqueue_on_commit(scope: Q) -> None:
    def run() -> None:
        try:
            ids = list(
                Delivery.objects.filter(scope, status=Status.PENDING).values_list("pk", flat=True)
            )
        except Exception:  # noqa: BLE001
            logger.warning(
                "could not list new deliveries; the sweeper will send them", exc_info=True
            )
            return
        enqueue(ids)

    transaction.on_commit(run)


# --------------------------------------------------------------------------- sending


def backoff(attempt: int) -> float:
    return min(settings.ONEHAND_DELIVERY_RETRY_BASE * 2 ** (attempt - 1), 3600.0)


def _claimable(now: datetime) -> Q:
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, lease_until__lt=now
    )


def _claim_rows(delivery_ids: list[int], now: datetime) -> list[Delivery]:
    """pending (due) or sending-past-its-lease -> sending, for a whole chunk in one UPDATE;
    one claimer wins each row. Returns the rows this call claimed (with their person), in
    the order asked. The lease instant is the claim's token: a row re-claimed by another
    worker after the lease ended carries a later one."""
    lease = now + timedelta(seconds=settings.ONEHAND_DELIVERY_LEASE)
    updated = Delivery.objects.filter(_claimable(now), pk__in=delivery_ids).update(
        status=Status.SENDING, lease_until=lease, attempts=F("attempts") + 1
    )
    if not updated:
        return []
    mine = {
        d.pk: d
        for d in Delivery.objects.filter(
            pk__in=delivery_ids, status=Status.SENDING, lease_until=lease
        ).select_related("user__person")
    }
    return [mine[pk] for pk in dict.fromkeys(delivery_ids) if pk in mine]


def _claim(delivery_id: int, now: datetime) -> bool:
    """Claim one row (see _claim_rows)."""
    return bool(_claim_rows([delivery_id], now))


def _extend(held: list[Delivery], now: datetime) -> list[Delivery]:
    """Renew the lease of rows still held (a slow chunk); returns those still ours."""
    lease = now + timedelta(seconds=settings.ONEHAND_DELIVERY_LEASE)
    renewed = []
    for delivery in held:
        if Delivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts
        ).update(lease_until=lease):
            delivery.lease_until = lease
            renewed.append(delivery)
    return renewed


def _finish(delivery: Delivery, **fields) -> bool:
    """Record the outcome, unless another worker re-claimed the row in the meantime."""
    return bool(
        Delivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts
        ).update(lease_until=None, **fields)
    )


# Delivery's table (checked by tests/test_delivery_chunks.py).
_MARK_SENT = (
    "UPDATE notifications_delivery SET status = %s, sent_at = %s, last_error = '', "
    "lease_until = NULL WHERE id = %s AND status = %s AND attempts = %s"
)


def _mark_sent(delivery: Delivery) -> bool:
    """`_finish(delivery, status=SENT, sent_at=now, last_error="")` as one plain statement:
    it runs after every message, and building it through the ORM each time was a tenth of
    the worker's CPU per invite."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_SENT,
            [Status.SENT, timezone.now(), delivery.pk, Status.SENDING, delivery.attempts],
        )
        return cursor.rowcount == 1


def _release(deliveries: list[Delivery]) -> None:
    """Hand claimed rows back (pending, due now) after an unexpected error, so that the
    sweeper sends them without waiting for the lease; if even that fails, the lease ends."""
    try:
        for delivery in deliveries:
            _finish(delivery, status=Status.PENDING, next_attempt_at=timezone.now())
    except Exception:  # noqa: BLE001 - the database is away: the lease runs out instead
        logger.warning("could not release %d claimed deliveries", len(deliveries), exc_info=True)


def _deliver_claimed(delivery: Delivery, prepared: sending.Prepared, now: datetime) -> float | None:
    """Send one claimed row; record its outcome. Returns seconds until a retry, or None."""
    limit = settings.ONEHAND_DELIVERY_MAX_ATTEMPTS
    if delivery.attempts > limit:
        # Claimed again and again without an outcome: workers die while sending it.
        _finish(delivery, status=Status.FAILED, last_error=f"interrupted {limit} times")
        prepared.record(delivery, Status.FAILED)
        return None
    if prepared.stale(delivery):
        _finish(delivery, status=Status.SKIPPED)
        prepared.record(delivery, Status.SKIPPED)
        return None
    try:
        outcome = sending.send(delivery, now, prepared=prepared)
    except Unconfirmed as exc:
        logger.warning("delivery %s sent but not confirmed: %s", delivery.pk, exc)
        _finish(delivery, status=Status.SENT, sent_at=timezone.now(), last_error=str(exc)[:300])
        prepared.record(delivery, Status.SENT)
        return None
    except Permanent as exc:
        logger.warning("delivery %s failed for good: %s", delivery.pk, exc)
        _finish(delivery, status=Status.FAILED, last_error=str(exc)[:300])
        prepared.record(delivery, Status.FAILED)
        return None
    except Exception as exc:  # noqa: BLE001 - Transient, or anything unexpected: retry
        if not isinstance(exc, Transient):
            logger.exception("delivery %s: unexpected error", delivery.pk)
        error = str(exc)[:300] or exc.__class__.__name__
        if delivery.attempts >= limit:
            _finish(delivery, status=Status.FAILED, last_error=error)
            prepared.record(delivery, Status.FAILED)
            return None
        delay = backoff(delivery.attempts)
        _finish(
            delivery,
            status=Status.PENDING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        prepared.record(delivery, Status.PENDING)
        return delay
    if outcome == Status.SKIPPED:
        _finish(delivery, status=Status.SKIPPED)
    else:
        # The marker: written right after the server accepted this message, before the next.
        _mark_sent(delivery)
    prepared.record(delivery, outcome)
    return None


@contextmanager
def _commits_not_waiting_for_the_disk() -> Iterator[None]:
    """Within this block the connection's commits do not wait for PostgreSQL to flush its
    log to disk (``synchronous_commit = off``, this session only, set back at the end).

    Each "sent" marker is its own commit, and a flush costs ~10 ms on a busy disk: more than
    everything else an invite costs. The marker is still written, and seen by every other
    worker, before the next message goes out, so a worker killed at any point re-sends at
    most the message in flight, as before. Only a crash of PostgreSQL itself (or of its
    machine) can lose the markers of the last fraction of a second (at most three times
    ``wal_writer_delay``): those rows fall back to their claim, "sending", and the sweeper
    sends them again after their lease. Never lost; sent twice only then.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
    except Exception:  # noqa: BLE001 - the database is away: each row's own error handling
        logger.warning("could not set synchronous_commit", exc_info=True)
        set_off = False
    else:
        set_off = True
    try:
        yield
    finally:
        if set_off:
            _reset_synchronous_commit()


def _reset_synchronous_commit() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    except Exception:  # noqa: BLE001 - never leave the setting on a reused connection
        logger.warning("could not reset synchronous_commit", exc_info=True)
        connection.close()


def _deliver_rows(delivery_ids: list[int], now: datetime | None) -> dict[int, float]:
    """Claim the rows in one UPDATE, load what they say in a few queries whatever their
    number (sending.prepare), then send them one by one, marking each as it goes.

    A failure of one row never stops the others: a transient one is retried after its
    backoff (returned as {id: seconds}), an unexpected error is logged and the row handed
    back to the sweeper."""
    started = time.monotonic()
    now = now or timezone.now()
    held = _claim_rows(delivery_ids, now)
    if not held:
        return {}
    try:
        prepared = sending.prepare(held)
    except Exception:  # noqa: BLE001 - e.g. the database went away: the sweeper retries
        logger.exception("deliveries %s: could not be loaded; the sweeper will retry", delivery_ids)
        _release(held)
        return {}
    with _commits_not_waiting_for_the_disk():
        return _send_held(held, prepared, now, started)


def _send_held(
    held: list[Delivery], prepared: sending.Prepared, now: datetime, started: float
) -> dict[int, float]:
    retries: dict[int, float] = {}
    renew_after = settings.ONEHAND_DELIVERY_LEASE / 2
    for position, delivery in enumerate(held):
        if time.monotonic() - started > renew_after:
            # A slow chunk (a server answering slowly): keep the rest out of the sweeper's
            # hands, or it could send them while they wait here.
            ours = {d.pk for d in _extend(held[position:], timezone.now())}
            held[position:] = [d for d in held[position:] if d.pk in ours]
            started = time.monotonic()
            if position >= len(held):
                break
            delivery = held[position]
        try:
            retry_in = _deliver_claimed(delivery, prepared, now)
        except Exception:  # noqa: BLE001 - one bad row must not hold up the batch
            logger.exception(
                "delivery %s: could not be processed; the sweeper will retry", delivery.pk
            )
            _release([delivery])
            continue
        if retry_in is not None:
            retries[delivery.pk] = retry_in
    return retries


def deliver(delivery_id: int, *, now: datetime | None = None) -> float | None:
    """Send one delivery if it is due and nobody else holds it (on its own SMTP connection).

    Returns the seconds until a retry is due after a transient failure, else None.
    """
    return _deliver_rows([delivery_id], now).get(delivery_id)


def deliver_batch(delivery_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, float]:
    """Send a chunk of deliveries over one SMTP connection.

    The chunk is claimed in one UPDATE (running it twice sends nothing twice) and loaded in
    a fixed number of queries; each row is marked sent as soon as the server accepted it.
    Transient failures are re-queued after their backoff, grouped by delay (only those rows:
    the rest of the chunk is done). Returns {id: seconds} of those.
    """
    with mail.one_connection():
        retries = _deliver_rows(list(delivery_ids), now)
    by_delay: dict[float, list[int]] = defaultdict(list)
    for delivery_id, delay in retries.items():
        by_delay[delay].append(delivery_id)
    for delay, ids in by_delay.items():
        enqueue(ids, countdown=delay)
    return retries


# --------------------------------------------------------------------------- sweeper, retries


def sweep(*, now: datetime | None = None, grace: float | None = None) -> int:
    """Queue again what nobody picked up: pending rows due for a while (their message was
    lost, or the broker was down at publish) and "sending" rows past their lease (a worker
    died mid-send). Returns how many were queued."""
    now = now or timezone.now()
    grace = settings.ONEHAND_DELIVERY_SWEEP_GRACE if grace is None else grace
    due = Q(status=Status.PENDING, next_attempt_at__lte=now - timedelta(seconds=grace)) | Q(
        status=Status.SENDING, lease_until__lt=now
    )
    ids = list(
        Delivery.objects.filter(due)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not ids:
        return 0
    # Not swept again before another grace period has passed.
    Delivery.objects.filter(pk__in=ids, status=Status.PENDING).update(next_attempt_at=now)
    return enqueue(ids)


@transaction.atomic
def retry_delivery(delivery: Delivery) -> bool:
    """A manager asks to try a failed delivery again (from zero attempts)."""
    updated = Delivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if updated:
        enqueue_on_commit(Q(pk=delivery.pk))
    return bool(updated)


@transaction.atomic
def retry_failed(roster: Roster) -> int:
    failed = Delivery.objects.filter(shift__roster=roster, status=Status.FAILED)
    ids = list(failed.values_list("pk", flat=True))
    updated = Delivery.objects.filter(pk__in=ids, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if updated:
        enqueue_on_commit(Q(pk__in=ids))
    return updated
