import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onehand.settings")

app = Celery("onehand")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _connections_as_a_request_would(sender=None, **kwargs) -> None:
    """Close database connections that are too old or broken, before and after each task, as
    Django does around a web request (CELERY_DB_REUSE_MAX keeps Celery from closing them all
    every time). Not for a task run in-process (eager), which shares its caller's connection."""
    from django.db import close_old_connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return

    close_old_connections()
