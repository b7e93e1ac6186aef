from celery import shared_task

from . import services
from .permissions import SYSTEM


@shared_task(name="rotation.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    services.beat_heartbeat(by=SYSTEM)
