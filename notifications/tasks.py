"""Celery tasks: they take ids and are safe to run twice (see services for the claim)."""

from celery import shared_task

from . import services


@shared_task(name="notifications.tasks.deliver_batch", ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> None:
    """Send a chunk of deliveries (services.enqueue queues ~50 ids per message); each row is
    claimed on its own, so a chunk run twice sends nothing twice."""
    services.deliver_batch(delivery_ids)


@shared_task(name="notifications.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> None:
    """One delivery (messages queued before batches existed, or sent by hand)."""
    services.deliver_batch([delivery_id])


@shared_task(name="notifications.tasks.queue_roster_deliveries")
def queue_roster_deliveries(roster_id: int) -> None:
    """Write (again) the outbox of a published roster and queue what is still pending."""
    services.queue_roster_by_id(roster_id)


@shared_task(name="notifications.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> None:
    services.sweep()


@shared_task(name="notifications.tasks.queue_notes", ignore_result=True)
def queue_notes() -> None:
    services.queue_notes()
