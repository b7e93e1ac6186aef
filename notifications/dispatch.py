"""Dispatch: queueing outbox rows on Celery, claiming and sending them one at a time, retries
and the sweeper. What a row says and how it is sent per kind lives in `sending.py`; who
gets a row in `outbox.py`.

Outbox rows are written inside the transaction that makes the change; Celery is told about
them only after commit (`enqueue_on_commit`), and a failure to tell it is logged, never
raised: the sweeper finds rows nobody picked up.

Sending is at most once per row except in one window. A worker first *claims* a row with a
conditional UPDATE (pending -> sending, with a lease), sends, then marks it sent. Running the
task twice, or a message redelivered after a crash, finds the row already claimed or sent and
does nothing. If the worker dies after the SMTP server accepted the message but before the
"sent" UPDATE (a few milliseconds), the row stays "sending" until its lease ends and the
sweeper sends it again: at least once, in that window only. The re-send carries the same
Message-ID, so many receivers drop it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rotation.models import Roster

from . import mail, sending, tasks
from .errors import Permanent, Transient
from .models import Delivery, Kind

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


def _claim(delivery_id: int, now: datetime) -> bool:
    """pending (due) or sending-past-its-lease -> sending, atomically: one claimer wins."""
    claimable = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, lease_until__lt=now
    )
    return bool(
        Delivery.objects.filter(claimable, pk=delivery_id).update(
            status=Status.SENDING,
            lease_until=now + timedelta(seconds=settings.ONEHAND_DELIVERY_LEASE),
            attempts=F("attempts") + 1,
        )
    )


def _finish(delivery: Delivery, **fields) -> bool:
    """Record the outcome, unless another worker re-claimed the row in the meantime."""
    return bool(
        Delivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts
        ).update(lease_until=None, **fields)
    )


def _stale(delivery: Delivery) -> bool:
    """A newer change for the same entry exists, or a cancellation of something never sent."""
    if delivery.kind != Kind.ENTRY:
        return False
    same_entry = Delivery.objects.filter(
        user_id=delivery.user_id,
        shift_id=delivery.shift_id,
        channel=delivery.channel,
        kind=Kind.ENTRY,
    )
    if same_entry.filter(sequence__gt=delivery.sequence).exists():
        return True
    if delivery.action == Action.CANCEL:
        return not same_entry.filter(
            sequence__lt=delivery.sequence, status__in=[Status.SENT, Status.SENDING]
        ).exists()
    return False


def deliver(delivery_id: int, *, now: datetime | None = None) -> float | None:
    """Send one delivery if it is due and nobody else holds it.

    Returns the seconds until a retry is due after a transient failure, else None.
    """
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("user__person").get(pk=delivery_id)
    limit = settings.ONEHAND_DELIVERY_MAX_ATTEMPTS
    if delivery.attempts > limit:
        # Claimed again and again without an outcome: workers die while sending it.
        _finish(delivery, status=Status.FAILED, last_error=f"interrupted {limit} times")
        return None
    if _stale(delivery):
        _finish(delivery, status=Status.SKIPPED)
        return None
    try:
        outcome = sending.send(delivery, now)
    except Permanent as exc:
        logger.warning("delivery %s failed for good: %s", delivery.pk, exc)
        _finish(delivery, status=Status.FAILED, last_error=str(exc)[:300])
        return None
    except Exception as exc:  # noqa: BLE001 - Transient, or anything unexpected: retry
        if not isinstance(exc, Transient):
            logger.exception("delivery %s: unexpected error", delivery.pk)
        error = str(exc)[:300] or exc.__class__.__name__
        if delivery.attempts >= limit:
            _finish(delivery, status=Status.FAILED, last_error=error)
            return None
        delay = backoff(delivery.attempts)
        _finish(
            delivery,
            status=Status.PENDING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        return delay
    if outcome == Status.SKIPPED:
        _finish(delivery, status=Status.SKIPPED)
    else:
        _finish(delivery, status=Status.SENT, sent_at=timezone.now(), last_error="")
    return None


def deliver_batch(delivery_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, float]:
    """Send a batch of deliveries one by one over one SMTP connection.

    Each row is still claimed on its own (so running a batch twice sends nothing twice) and a
    failure of one row never stops the others: an unexpected error is logged and the row is
    left to the sweeper (still pending, or "sending" until its lease ends). Transient failures
    are re-queued after their backoff, grouped by delay. Returns {id: seconds} of those.
    """
    retries: dict[int, float] = {}
    with mail.one_connection():
        for delivery_id in delivery_ids:
            try:
                retry_in = deliver(delivery_id, now=now)
            except Exception:  # noqa: BLE001 - one bad row must not hold up the batch
                logger.exception(
                    "delivery %s: could not be processed; the sweeper will retry", delivery_id
                )
                continue
            if retry_in is not None:
                retries[delivery_id] = retry_in
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
