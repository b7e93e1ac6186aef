"""Celery tasks: thin wrappers that take ids and are safe to run twice (see dispatch for the
claim). Every beat entry is listed in settings.CELERY_BEAT_SCHEDULE and the README."""

from celery import shared_task

from rotation.permissions import SYSTEM

from . import dispatch, outbox, watch


@shared_task(name="notifications.tasks.deliver_batch", ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> None:
    """Send a chunk of deliveries (dispatch.enqueue queues ~50 ids per message); each row is
    claimed on its own, so a chunk run twice sends nothing twice."""
    dispatch.deliver_batch(delivery_ids)


@shared_task(name="notifications.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> None:
    """One delivery (messages queued before batches existed, or sent by hand)."""
    dispatch.deliver_batch([delivery_id])


@shared_task(name="notifications.tasks.queue_roster_deliveries")
def queue_roster_deliveries(roster_id: int) -> None:
    """Write (again) the outbox of a published roster and queue what is still pending."""
    outbox.queue_roster_by_id(roster_id)


@shared_task(name="notifications.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> None:
    """Beat: queue again rows whose message was lost or whose worker died mid-send."""
    dispatch.sweep()


@shared_task(name="notifications.tasks.queue_notes", ignore_result=True)
def queue_notes() -> None:
    """Beat: reminders before shifts and handoff notes at handoffs."""
    outbox.queue_notes()


@shared_task(name="notifications.tasks.watch_at_risk", ignore_result=True)
def watch_at_risk() -> None:
    """Beat: e-mail the managers (once per shift) about shifts at risk within the horizon."""
    watch.alert_at_risk(by=SYSTEM)
