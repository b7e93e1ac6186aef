"""A manager's draft on a real Celery worker (through Redis, on PostgreSQL): the click answers
at once, the job page shows the worker's progress, then sends the manager to the roster; and a
real beat fails a job whose worker died, with the reason on the page."""

import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from planning.models import DraftJob
from tests.factories import build_team, draft_job
from tests.services import eventually

pytestmark = [pytest.mark.worker, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_draft_runs_on_the_worker_with_progress_then_the_page_opens_the_roster(
    celery_worker, client
):
    # a daily month: long enough (several seconds) to watch
    setup = build_team(4, pattern="daily")
    client.force_login(setup.boss)

    posted = client.post(
        f"/rotations/{setup.rotation.pk}/draft/", {"month": "2026-12", "mode": "greedy"}
    )

    job = DraftJob.objects.get()
    assert posted.status_code == 303 and posted.url == f"/draft-jobs/{job.pk}/"
    seen = []

    def finished():
        row = DraftJob.objects.get(pk=job.pk)
        seen.append((row.state, row.stage, row.progress))
        return row.finished

    assert eventually(finished, timeout=180, interval=0.05), f"still {seen[-1]}"
    job.refresh_from_db()
    assert job.state == "done", job.error
    # the worker wrote where it was while it drafted (its own connection, outside the draft's
    # transaction), moving forward only
    running = [(stage, progress) for state, stage, progress in seen if state == "running"]
    assert any(stage not in ("", "Starting") for stage, _ in running), seen
    fractions = [p for _, p in running]
    assert fractions == sorted(fractions)
    assert all(0 <= p < 1 for p in fractions)

    page = client.get(posted.url)
    assert page.status_code == 302 and page.url == f"/rosters/{job.roster_id}/"


def test_beat_fails_a_job_whose_worker_died_and_the_page_says_why(
    celery_worker, celery_beat, client
):
    setup = build_team(2)
    now = timezone.now()
    # A worker took this draft, wrote 40% a minute ago and died (ONEHAND_DRAFT_STUCK_SECONDS
    # is 5 for the test worker).
    job = draft_job(
        setup,
        date(2026, 12, 1),
        state="running",
        attempts=1,
        stage="Evening out the load",
        progress=0.4,
        started_at=now - timedelta(minutes=2),
        updated_at=now - timedelta(minutes=1),
    )

    def failed():
        return DraftJob.objects.filter(pk=job.pk, state="failed").exists()

    assert eventually(failed, timeout=60), "beat never failed the stuck job"
    job.refresh_from_db()
    assert "gave no sign of life for 5 seconds" in job.error
    client.force_login(setup.boss)
    page = client.get(f"/draft-jobs/{job.pk}/").content.decode()
    assert "gave no sign of life" in page and "Try again" in page
    time.sleep(2)  # more beat ticks change nothing
    again = DraftJob.objects.get(pk=job.pk)
    assert (again.state, again.error, again.finished_at) == (
        "failed",
        job.error,
        job.finished_at,
    )
