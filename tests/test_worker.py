"""A real Celery worker process, through Redis, on PostgreSQL."""

import time

import pytest
from django.utils import timezone

from rotation.models import Heartbeat
from rotation.tasks import beat_heartbeat
from tests.services import eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_the_heartbeat_and_health_goes_green(celery_worker, client, settings):
    before = timezone.now()
    beat_heartbeat.delay()
    assert eventually(lambda: Heartbeat.objects.filter(name="beat", at__gte=before).exists())
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["broker"]["mode"] == "redis"


def test_health_reports_a_dead_broker(settings, client, celery_worker):
    from onehand.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        started = time.monotonic()
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert time.monotonic() - started < 15
