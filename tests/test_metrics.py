"""Operators: /metrics for Prometheus (bearer token, or loopback when none is set) and
/healthz "degraded" while deliveries have failed."""

import pytest

from notifications.models import Delivery
from planning import swaps
from rotation.tasks import beat_heartbeat
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> tuple[int, str]:
    response = client.get("/metrics", **headers)
    return response.status_code, response.content.decode()


def test_metrics_need_the_bearer_token_when_one_is_set(client, settings):
    settings.ONEHAND_METRICS_TOKEN = "s3cret-scrape-token"
    assert scrape(client)[0] == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong")[0] == 401
    status, _ = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert status == 200


def test_without_a_token_only_loopback_may_scrape(client, settings):
    settings.ONEHAND_METRICS_TOKEN = ""
    assert scrape(client)[0] == 200  # the test client is 127.0.0.1
    assert scrape(client, REMOTE_ADDR="203.0.113.9")[0] == 401


def test_a_scrape_reports_backlog_failures_swaps_at_risk_heartbeat_and_task_durations(
    client, settings
):
    settings.ONEHAND_METRICS_TOKEN = ""
    settings.ONEHAND_AT_RISK_HOURS = 24 * 40
    team = published_team()
    shift = team["roster"].shifts.filter(role="primary").order_by("start").first()
    swaps.request_swap(shift, by=shift.assignee)
    Delivery.objects.filter(pk=Delivery.objects.order_by("pk").first().pk).update(
        status="failed", last_error="SMTP 550"
    )
    beat_heartbeat.delay()  # runs in-process here; durations are recorded all the same
    _, text = scrape(client)
    assert 'onehand_deliveries{status="failed"} 1.0' in text
    assert "onehand_swaps_open 1.0" in text
    assert "onehand_swaps_stalled 0.0" in text
    assert "onehand_shifts_at_risk 1.0" in text
    assert "onehand_beat_heartbeat_age_seconds" in text
    assert 'onehand_task_runs_total{task="rotation.tasks.beat_heartbeat"} 1.0' in text
    assert 'onehand_task_last_duration_seconds{task="rotation.tasks.beat_heartbeat"}' in text


def test_failed_deliveries_make_health_degraded_not_down(client):
    team = published_team(size=4)
    Delivery.objects.filter(shift__roster=team["roster"]).update(
        status="failed", last_error="SMTP 550", sent_at=None
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["deliveries"]["failed"] == Delivery.objects.filter(status="failed").count() > 0
