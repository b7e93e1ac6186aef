from celery import shared_task

from rotation.permissions import SYSTEM

from . import services


@shared_task(name="availability.tasks.import_calendar_source", ignore_result=True)
def import_calendar_source(source_id: int) -> None:
    """Fetch and import one calendar address; the outcome is recorded on the source."""
    services.run_calendar_import(source_id, by=SYSTEM)


@shared_task(name="availability.tasks.refresh_calendar_sources", ignore_result=True)
def refresh_calendar_sources() -> None:
    """Beat: re-import every connected calendar address, one task each."""
    for source_id in services.url_sources_due():
        import_calendar_source.delay(source_id)
