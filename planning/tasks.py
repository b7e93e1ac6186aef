"""Celery tasks of the planning layer: thin wrappers around services."""

from celery import shared_task

from rotation.permissions import SYSTEM

from . import swaps


@shared_task(name="planning.tasks.sweep_swap_deadlines", ignore_result=True)
def sweep_swap_deadlines() -> dict[str, int]:
    """Beat: expire unanswered offers, ask the next people, tell the managers, and turn
    requests whose shift started uncovered into alerts."""
    return swaps.sweep_deadlines(by=SYSTEM)
