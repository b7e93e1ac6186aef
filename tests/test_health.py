from datetime import timedelta

import pytest
from django.utils import timezone

from rotation.models import Heartbeat
from rotation.tasks import beat_heartbeat

pytestmark = pytest.mark.django_db


def test_embedded_mode_is_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"]["ok"] is True
    assert response.json()["worker"]["mode"] == "in-process"


def test_a_load_balancer_probing_with_head_gets_the_same_status(client, settings):
    assert client.head("/healthz").status_code == 200
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(hours=1))
    assert client.head("/healthz").status_code == 503


def test_a_stale_heartbeat_is_unhealthy(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"]["ok"] is False


def test_no_heartbeat_yet_says_what_to_start(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "worker" in response.json()["worker"]["error"]


def test_heartbeat_task_records_the_time():
    beat_heartbeat.delay()
    assert Heartbeat.objects.get(name="beat").at > timezone.now() - timedelta(minutes=1)
