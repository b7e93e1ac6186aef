from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from rotation.permissions import SYSTEM

from . import services

#: Celery limits of one import: the fetch (30 s at most) plus the read in the worker
#: (20 s budget, killed at 21.5 s) plus the writes, with room to spare.  The soft limit
#: records the failure on the source; the hard one kills a worker that ignores it.
SOFT_TIME_LIMIT = 75
TIME_LIMIT = 90


@shared_task(
    name="availability.tasks.import_calendar_source",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def import_calendar_source(source_id: int) -> None:
    """Fetch and import one calendar address; the outcome is recorded on the source."""
    try:
        services.run_calendar_import(source_id, by=SYSTEM)
    except SoftTimeLimitExceeded:
        pass  # recorded on the source by run_calendar_import


@shared_task(
    name="availability.tasks.import_uploaded_calendar",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def import_uploaded_calendar(source_id: int) -> None:
    """Read a large uploaded calendar; the outcome is recorded on the source."""
    try:
        services.run_upload_import(source_id, by=SYSTEM)
    except SoftTimeLimitExceeded:
        pass  # recorded on the source by run_upload_import


@shared_task(name="availability.tasks.refresh_calendar_sources", ignore_result=True)
def refresh_calendar_sources() -> None:
    """Beat: mark imports that died as failed, then re-import every calendar address."""
    for source_id in services.url_sources_due():
        import_calendar_source.delay(source_id)
