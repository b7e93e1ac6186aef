"""Celery tasks: they take ids and are safe to run twice (see services for the claim)."""

from celery import shared_task

from . import services


@shared_task(name="notifications.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> None:
    retry_in = services.deliver(delivery_id)
    if retry_in is not None:
        services.enqueue([delivery_id], countdown=retry_in)


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
