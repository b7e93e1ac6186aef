"""Operators: /metrics for Prometheus (bearer token, or loopback when none is set) and
/healthz "degraded" while deliveries have failed."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery
from planning import swaps
from planning.models import DraftJob
from rotation.tasks import beat_heartbeat
from tests.factories import build_team, draft_job
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


def test_a_scrape_counts_draft_jobs_by_state_and_ages_the_oldest_unfinished(client, settings):
    settings.ONEHAND_METRICS_TOKEN = ""
    team = build_team(2)
    asked = timezone.now() - timedelta(minutes=7)
    for month, state in [(1, "queued"), (2, "failed"), (3, "failed")]:
        draft_job(
            team,
            date(2027, month, 1),
            state=state,
            error="" if state == "queued" else "No worker started this draft",
        )
    DraftJob.objects.filter(state="queued").update(created_at=asked)
    _, text = scrape(client)
    assert 'onehand_draft_jobs{state="queued"} 1.0' in text
    assert 'onehand_draft_jobs{state="failed"} 2.0' in text
    assert 'onehand_draft_jobs{state="running"} 0.0' in text
    age = float(
        re.search(r"^onehand_draft_job_oldest_unfinished_age_seconds (\S+)$", text, re.M)[1]
    )
    assert 7 * 60 <= age < 8 * 60

    DraftJob.objects.filter(state="queued").update(state="failed", error="stuck")
    _, text = scrape(client)
    assert "onehand_draft_job_oldest_unfinished_age_seconds 0.0" in text
