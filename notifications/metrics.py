"""Operator metrics: task durations recorded by the worker, and the Prometheus collector that
/metrics serves (figures read from the database at scrape time, so every web process reports
the same numbers).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from planning import risk
from planning.models import DraftJob
from rotation.models import Heartbeat, Rotation, SwapRequest

from .models import Delivery, TaskRun

logger = logging.getLogger(__name__)
_started: dict[str, float] = {}


def task_started(task_id=None, task=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


def task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    """Celery task_postrun: count the run and its duration (never raises)."""
    began = _started.pop(task_id, None)
    if began is None or task is None:
        return
    seconds = time.monotonic() - began
    failed = 1 if state == "FAILURE" else 0
    try:
        updated = TaskRun.objects.filter(name=task.name).update(
            runs=F("runs") + 1,
            failures=F("failures") + failed,
            seconds_total=F("seconds_total") + seconds,
            last_seconds=seconds,
            last_finished_at=timezone.now(),
        )
        if not updated:
            TaskRun.objects.get_or_create(
                name=task.name,
                defaults={
                    "runs": 1,
                    "failures": failed,
                    "seconds_total": seconds,
                    "last_seconds": seconds,
                    "last_finished_at": timezone.now(),
                },
            )
    except Exception:  # noqa: BLE001 - metrics must never break a task
        logger.debug("could not record the run of %s", task.name, exc_info=True)


def stalled_after() -> timedelta:
    return timedelta(hours=settings.ONEHAND_SWAP_STALLED_HOURS)


class OnehandCollector:
    """Figures read at scrape time."""

    def collect(self):
        now = timezone.now()
        by_status = dict(
            Delivery.objects.values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        backlog = GaugeMetricFamily(
            "onehand_deliveries", "Outbox rows by status.", labels=["status"]
        )
        for status in Delivery.Status.values:
            backlog.add_metric([status], by_status.get(status, 0))
        yield backlog
        due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        yield GaugeMetricFamily(
            "onehand_delivery_backlog_age_seconds",
            "How long the oldest due pending delivery has waited (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        swaps = SwapRequest.objects.filter(status=SwapRequest.Status.OPEN)
        yield GaugeMetricFamily(
            "onehand_swaps_open", "Swap requests still looking for someone.", value=swaps.count()
        )
        yield GaugeMetricFamily(
            "onehand_swaps_pending_approval",
            "Accepted swaps waiting for a manager.",
            value=SwapRequest.objects.filter(status=SwapRequest.Status.PENDING_APPROVAL).count(),
        )
        stalled = swaps.filter(
            Q(created_at__lte=now - stalled_after()) | Q(managers_told_at__isnull=False)
        )
        yield GaugeMetricFamily(
            "onehand_swaps_stalled",
            "Open swaps older than ONEHAND_SWAP_STALLED_HOURS, or whose managers were told.",
            value=stalled.count(),
        )
        at_risk = risk.at_risk_shifts(Rotation.objects.values_list("pk", flat=True), now=now)
        yield GaugeMetricFamily(
            "onehand_shifts_at_risk",
            "Published shifts within the at-risk horizon that may go uncovered.",
            value=len(at_risk),
        )
        beat = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
        yield GaugeMetricFamily(
            "onehand_beat_heartbeat_age_seconds",
            "Seconds since beat last ran the heartbeat task (-1: never).",
            value=(now - beat).total_seconds() if beat else -1.0,
        )
        yield from _draft_job_metrics(now)
        runs = CounterMetricFamily(
            "onehand_task_runs", "Celery task runs seen by the worker.", labels=["task"]
        )
        failures = CounterMetricFamily(
            "onehand_task_failures", "Celery task runs that raised.", labels=["task"]
        )
        total = CounterMetricFamily(
            "onehand_task_duration_seconds",
            "Total seconds spent in each Celery task.",
            labels=["task"],
        )
        last = GaugeMetricFamily(
            "onehand_task_last_duration_seconds",
            "Duration of each task's latest run.",
            labels=["task"],
        )
        for row in TaskRun.objects.order_by("name"):
            runs.add_metric([row.name], row.runs)
            failures.add_metric([row.name], row.failures)
            total.add_metric([row.name], row.seconds_total)
            last.add_metric([row.name], row.last_seconds)
        yield from (runs, failures, total, last)


def _draft_job_metrics(now):
    """Drafts on the worker: how many in each state, and how long the oldest unfinished one
    has been asked for (a growing age means no worker, or a queue longer than the workers)."""
    by_state = dict(
        DraftJob.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    jobs = GaugeMetricFamily("onehand_draft_jobs", "Draft jobs by state.", labels=["state"])
    for state in DraftJob.State.values:
        jobs.add_metric([state], by_state.get(state, 0))
    yield jobs
    oldest = (
        DraftJob.objects.filter(state__in=DraftJob.UNFINISHED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    yield GaugeMetricFamily(
        "onehand_draft_job_oldest_unfinished_age_seconds",
        "Seconds since the oldest queued or running draft job was asked for (0 when none).",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )
