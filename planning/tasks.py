"""Celery tasks of the planning layer: thin wrappers around services."""

from celery import shared_task

from rotation.permissions import SYSTEM

from . import services, swaps


@shared_task(name="planning.tasks.sweep_swap_deadlines", ignore_result=True)
def sweep_swap_deadlines() -> dict[str, int]:
    """Beat: expire unanswered offers, ask the next people, tell the managers, and turn
    requests whose shift started uncovered into alerts."""
    return swaps.sweep_deadlines(by=SYSTEM)


@shared_task(name="planning.tasks.run_draft_job", ignore_result=True)
def run_draft_job(job_id: int) -> str | None:
    """A manager's draft, on the worker; a redelivered message for a finished job does nothing."""
    job = services.run_draft_job(job_id, by=SYSTEM)
    return job.state if job is not None else None


@shared_task(name="planning.tasks.fail_stuck_draft_jobs", ignore_result=True)
def fail_stuck_draft_jobs() -> int:
    """Beat: fail draft jobs whose worker stopped (no progress for ONEHAND_DRAFT_STUCK_SECONDS)."""
    return services.fail_stuck_draft_jobs(by=SYSTEM)
