"""A manager's draft runs as a job: asked for on the plan page, run by a worker, followed on
its own page, and never silent (a failed draft says why; beat fails one whose worker died).

Tasks run in-process here (after commit, as `make run` does); tests/test_draft_jobs_worker.py
runs them on a real worker and beat.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from onehand.errors import DomainError, Invalid, NotAllowed
from planning import services, tasks
from planning.models import DraftJob
from rotation.models import AuditEntry, Membership, Roster
from rotation.permissions import SYSTEM
from tests.factories import build_team, draft_job
from tests.services import eventually

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


@pytest.fixture
def team():
    return build_team(3, handoff_time=time(9))  # weekly: a draft of a few seconds


@pytest.fixture
def run_after_commit(django_capture_on_commit_callbacks):
    """What the web request's commit does: hand the job to the (in-process) worker."""

    def run(ask):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = ask()
        return result, callbacks

    return run


def handed_to_worker(callbacks) -> list:
    return [c for c in callbacks if "request_draft" in getattr(c, "__qualname__", "")]


def test_a_managers_draft_is_queued_then_drafted_as_the_manager(team, run_after_commit):
    (job, created), callbacks = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )

    assert created and len(handed_to_worker(callbacks)) == 1
    job.refresh_from_db()
    assert job.state == "done" and job.progress == 1.0 and job.error == ""
    assert job.requested_by == team.boss and job.attempts == 1
    assert job.started_at <= job.finished_at
    roster = job.roster
    assert (roster.rotation, roster.period_start, roster.status) == (
        team.rotation,
        DECEMBER[0],
        Roster.Status.DRAFT,
    )
    drafted = roster.audit_entries.get(action=AuditEntry.Action.DRAFT)
    assert drafted.actor == team.boss  # the manager who asked, not the worker


def test_the_settings_asked_are_the_settings_drafted(team, run_after_commit):
    (job, _), _ = run_after_commit(
        lambda: services.request_draft(
            team.rotation,
            *DECEMBER,
            by=team.boss,
            overrides={"weekend_weight": 2.5, "min_rest": timedelta(hours=36)},
        )
    )

    job.refresh_from_db()
    assert job.asked == {"weekend_weight": 2.5, "min_rest_seconds": 129600.0}
    assert job.draft_settings() == {"weekend_weight": 2.5, "min_rest": timedelta(hours=36)}
    assert job.roster.summary["settings"]["weekend_weight"] == 2.5


def test_a_double_click_drafts_once(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first, created_first = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
        again, created_again = services.request_draft(team.rotation, *DECEMBER, by=team.boss)

    assert first == again and (created_first, created_again) == (True, False)
    assert len(handed_to_worker(callbacks)) == 1  # one task for the worker
    assert DraftJob.objects.count() == 1


def test_the_database_allows_one_unfinished_job_per_month(team):
    services.request_draft(team.rotation, *DECEMBER, by=team.boss)

    with pytest.raises(Exception, match="draft_job_one_unfinished_per_period"):
        draft_job(team, DECEMBER[0])


def test_a_finished_job_lets_the_manager_draft_the_month_again(team, run_after_commit):
    (first, _), _ = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )
    # a minute later: no longer the same click
    DraftJob.objects.filter(pk=first.pk).update(finished_at=timezone.now() - timedelta(minutes=1))
    (second, created), _ = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )

    assert created and second != first
    second.refresh_from_db()
    assert second.state == "done" and second.roster != first.roster


def test_a_redelivered_task_for_a_done_job_does_nothing(team, run_after_commit):
    (job, _), _ = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )
    job.refresh_from_db()

    tasks.run_draft_job(job.pk)  # acks_late: the same message again after a worker restart

    again = DraftJob.objects.get(pk=job.pk)
    assert (again.state, again.roster_id, again.attempts) == ("done", job.roster_id, 1)
    assert Roster.objects.filter(rotation=team.rotation).count() == 1


def test_a_draft_the_rules_refuse_fails_with_the_reason(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    # By the time the worker starts, the manager is a manager no more.
    Membership.objects.filter(user=team.boss, team=team.team).update(role=Membership.Role.ENGINEER)

    for callback in handed_to_worker(callbacks):
        callback()

    job.refresh_from_db()
    assert job.state == "failed" and job.roster is None
    assert "Only a manager" in job.error
    assert not Roster.objects.filter(rotation=team.rotation).exists()


def test_a_junk_month_or_mode_is_refused_before_any_job(team):
    with pytest.raises(Invalid):
        services.request_draft(team.rotation, date(2027, 1, 1), date(2026, 12, 1), by=team.boss)
    with pytest.raises(Invalid, match="mode"):
        services.request_draft(team.rotation, *DECEMBER, by=team.boss, mode="sideways")
    assert not DraftJob.objects.exists()


def test_a_period_longer_than_a_drafting_period_is_refused_before_any_job_or_draft(team):
    ten_years = (date(2027, 1, 1), date(2037, 1, 1))

    with pytest.raises(Invalid, match="at most 400 days"):
        services.request_draft(team.rotation, *ten_years, by=team.boss)
    with pytest.raises(Invalid, match="at most 400 days"):
        services.draft_roster(team.rotation, *ten_years, by=team.boss)
    assert not DraftJob.objects.exists()
    assert not Roster.objects.filter(rotation=team.rotation).exists()


def test_another_teams_manager_can_neither_start_nor_see_it(team, client):
    other = build_team(1)
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)

    with pytest.raises(NotAllowed):
        services.request_draft(team.rotation, *DECEMBER, by=other.boss)

    client.force_login(other.boss)
    assert client.get(f"/draft-jobs/{job.pk}/").status_code == 404
    posted = client.post(f"/rotations/{team.rotation.pk}/draft/", {"month": "2026-12"})
    assert posted.status_code == 404
    api = APIClient()
    api.force_authenticate(other.boss)
    assert api.get(f"/api/draft-jobs/{job.pk}/").status_code == 404
    assert api.post(
        f"/api/rotations/{team.rotation.pk}/draft-jobs/", {"month": "2026-12"}, format="json"
    ).status_code in (403, 404)
    # and an engineer of the team neither
    client.force_login(team.people[0])
    assert client.get(f"/draft-jobs/{job.pk}/").status_code == 404
    assert DraftJob.objects.count() == 1


def test_the_stuck_sweep_fails_a_dead_workers_job_and_spares_a_live_one(team, settings):
    settings.ONEHAND_DRAFT_STUCK_SECONDS = 600
    now = timezone.now()
    died, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    alive, _ = services.request_draft(
        team.rotation, date(2027, 1, 1), date(2027, 2, 1), by=team.boss
    )
    # The first's worker died at 40%; the second said it was alive nine minutes ago.
    DraftJob.objects.filter(pk=died.pk).update(
        state="running", attempts=1, stage="Evening out the load", progress=0.4,
        started_at=now - timedelta(minutes=12), updated_at=now - timedelta(minutes=11),
    )  # fmt: skip
    DraftJob.objects.filter(pk=alive.pk).update(
        state="running", attempts=1, started_at=now, updated_at=now - timedelta(minutes=9)
    )

    assert services.fail_stuck_draft_jobs(by=SYSTEM, now=now) == 1

    died.refresh_from_db(), alive.refresh_from_db()
    assert died.state == "failed" and "gave no sign of life for 10 minutes" in died.error
    assert alive.state == "running"


def test_a_draft_no_worker_started_fails_and_says_why(team, settings):
    settings.ONEHAND_DRAFT_STUCK_SECONDS = 600
    now = timezone.now()
    waiting, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    DraftJob.objects.filter(pk=waiting.pk).update(updated_at=now - timedelta(minutes=11))

    assert services.fail_stuck_draft_jobs(by=SYSTEM, now=now) == 1

    waiting.refresh_from_db()
    assert waiting.state == "failed" and "No worker started this draft within 10 minutes" in (
        waiting.error
    )
    # The lost message turning up later changes nothing.
    tasks.run_draft_job(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.state == "failed" and not Roster.objects.exists()


def test_a_draft_waiting_behind_a_live_draft_keeps_waiting(team, settings):
    settings.ONEHAND_DRAFT_STUCK_SECONDS = 600
    now = timezone.now()
    waiting, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    drafting, _ = services.request_draft(
        team.rotation, date(2027, 1, 1), date(2027, 2, 1), by=team.boss
    )
    DraftJob.objects.filter(pk=waiting.pk).update(updated_at=now - timedelta(minutes=30))
    DraftJob.objects.filter(pk=drafting.pk).update(
        state="running", attempts=1, started_at=now, updated_at=now - timedelta(seconds=20)
    )

    assert services.fail_stuck_draft_jobs(by=SYSTEM, now=now) == 0

    waiting.refresh_from_db()
    assert waiting.state == "queued"


def test_a_draft_whose_worker_died_three_times_fails_instead_of_running_again(team):
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    # three runs started and none finished: each worker child died mid-draft
    DraftJob.objects.filter(pk=job.pk).update(state="running", attempts=3)

    tasks.run_draft_job(job.pk)  # the message redelivered a third time

    job.refresh_from_db()
    assert job.state == "failed" and "stopped 3 times before it finished" in job.error
    assert not Roster.objects.exists()


def test_a_second_click_just_after_a_fast_draft_finished_is_the_same_draft(team, run_after_commit):
    (first, _), _ = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )
    (again, created), callbacks = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )

    assert (again, created) == (first, False) and not handed_to_worker(callbacks)
    assert Roster.objects.filter(rotation=team.rotation).count() == 1


def test_a_draft_with_other_settings_just_after_is_a_new_draft_to_compare(team, run_after_commit):
    (first, _), _ = run_after_commit(
        lambda: services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    )
    (second, created), _ = run_after_commit(
        lambda: services.request_draft(
            team.rotation, *DECEMBER, by=team.boss, overrides={"weekend_weight": 3.0}
        )
    )

    assert created and second != first
    assert Roster.objects.filter(rotation=team.rotation).count() == 2


def test_a_month_too_far_ahead_to_lock_is_refused_before_any_job(team):
    too_far = date.today().year + 8

    with pytest.raises(DomainError, match="years from today"):
        services.request_draft(
            team.rotation, date(too_far, 1, 1), date(too_far, 2, 1), by=team.boss
        )

    assert not DraftJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_running_draft_says_it_is_alive_while_a_long_stage_reports_nothing(settings):
    settings.ONEHAND_DRAFT_STUCK_SECONDS = 0.3  # says it is alive every 0.1 s
    setup = build_team(2)
    long_ago = timezone.now() - timedelta(hours=1)
    job = draft_job(setup, DECEMBER[0], state="running", attempts=1, updated_at=long_ago)

    alive = services._JobReporter(job)
    try:
        assert eventually(lambda: DraftJob.objects.get(pk=job.pk).updated_at > long_ago, timeout=10)
    finally:
        alive.close()


# ---- the pages ------------------------------------------------------------------------------


def test_clicking_draft_shows_the_job_then_the_roster(team, client, run_after_commit):
    client.force_login(team.boss)

    posted, _ = run_after_commit(
        lambda: client.post(
            f"/rotations/{team.rotation.pk}/draft/", {"month": "2026-12", "mode": "greedy"}
        )
    )

    job = DraftJob.objects.get()
    assert posted.status_code == 303 and posted.url == f"/draft-jobs/{job.pk}/"
    page = client.get(posted.url, follow=True)
    assert page.redirect_chain == [(f"/rosters/{job.roster_id}/", 302)]
    assert "Draft ready" in page.content.decode()


def test_the_job_page_shows_stage_and_percentage_and_refreshes_itself(team, client):
    team.boss.person.time_zone = "America/New_York"
    team.boss.person.save()
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    client.force_login(team.boss)

    waiting = client.get(f"/draft-jobs/{job.pk}/").content.decode()
    assert '<meta http-equiv="refresh" content="2">' in waiting
    assert "Waiting for a worker" in waiting
    assert '<progress id="draft-bar" class="bar" max="100" value="0">0%</progress>' in waiting
    assert 'role="status" aria-live="polite"' in waiting
    assert "America/New_York" in waiting  # the reader's zone, named

    DraftJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, stage="Evening out the load", progress=0.42
    )
    running = client.get(f"/draft-jobs/{job.pk}/").content.decode()
    assert "Evening out the load" in running and 'value="42"' in running
    assert "<strong>42%</strong> done" in running


def test_a_failed_draft_shows_the_reason_and_try_again_drafts_the_same(
    team, client, run_after_commit
):
    job, _ = services.request_draft(
        team.rotation, *DECEMBER, by=team.boss, overrides={"min_rest": timedelta(hours=12)}
    )
    DraftJob.objects.filter(pk=job.pk).update(
        state="failed", error="No worker started this draft within 10 minutes; try again."
    )
    client.force_login(team.boss)

    page = client.get(f"/draft-jobs/{job.pk}/").content.decode()
    assert "http-equiv" not in page  # nothing left to wait for
    assert 'role="alert"' in page and "No worker started this draft" in page
    assert "Try again" in page
    for field in ('name="month" value="2026-12"', 'name="mode" value="greedy"'):
        assert field in page
    assert 'name="min_rest_hours" value="12"' in page

    again, _ = run_after_commit(
        lambda: client.post(
            f"/rotations/{team.rotation.pk}/draft/",
            {"month": "2026-12", "mode": "greedy", "min_rest_hours": "12"},
        )
    )
    retried = DraftJob.objects.exclude(pk=job.pk).get()
    assert again.url == f"/draft-jobs/{retried.pk}/"
    assert retried.state == "done" and retried.asked == {"min_rest_seconds": 43200.0}


# ---- the API --------------------------------------------------------------------------------


def test_the_api_answers_202_with_the_jobs_address_and_the_job_says_done(team, run_after_commit):
    api = APIClient()
    api.force_authenticate(team.boss)

    answer, _ = run_after_commit(
        lambda: api.post(
            f"/api/rotations/{team.rotation.pk}/draft-jobs/", {"month": "2026-12"}, format="json"
        )
    )

    assert answer.status_code == 202
    assert answer.data["state"] == "queued"  # as it was when answered
    status = api.get(answer["Location"])
    assert status.status_code == 200
    assert status.data["state"] == "done" and status.data["percent"] == 100
    assert Roster.objects.filter(pk=status.data["roster"]).exists()


def test_the_api_takes_weights_as_precise_as_the_draft_form_so_try_again_works(
    team, run_after_commit
):
    api = APIClient()
    api.force_authenticate(team.boss)
    address = f"/api/rotations/{team.rotation.pk}/draft-jobs/"

    too_fine = api.post(address, {"month": "2026-12", "weekend_weight": 1.333}, format="json")
    answer, _ = run_after_commit(
        lambda: api.post(address, {"month": "2026-12", "weekend_weight": 2.25}, format="json")
    )

    assert too_fine.status_code == 400 and "weekend_weight" in too_fine.json()
    assert answer.status_code == 202
    assert DraftJob.objects.get().asked == {"weekend_weight": 2.25}


def test_the_api_draft_endpoint_still_answers_with_the_roster(team):
    api = APIClient()
    api.force_authenticate(team.boss)

    answer = api.post(
        f"/api/rotations/{team.rotation.pk}/draft/", {"month": "2026-12"}, format="json"
    )

    assert answer.status_code == 201 and answer.data["status"] == "draft"
    assert not DraftJob.objects.exists()


def test_the_job_page_dates_its_times_and_updates_in_place_or_refreshes_without_script(
    team, client
):
    team.boss.person.time_zone = "Asia/Kolkata"
    team.boss.person.save()
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    started = datetime(2026, 11, 30, 19, 17, 5, tzinfo=UTC)  # after midnight in Kolkata
    DraftJob.objects.filter(pk=job.pk).update(state="running", attempts=1, started_at=started)
    client.force_login(team.boss)

    page = client.get(f"/draft-jobs/{job.pk}/").content.decode()
    assert "Tue 1 Dec 2026 00:47:05" in page  # Started: the date too, in the reader's zone
    # no script: the browser refreshes; with it, draft_job.js updates the status in place
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert "draft_job.js" in page and " defer>" in page


def test_after_publishing_the_job_page_says_so_and_links_the_roster(team, client):
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    services.run_draft_job(job.pk, by=SYSTEM)
    job.refresh_from_db()
    Roster.objects.filter(pk=job.roster_id).update(
        status="published", published_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    )
    client.force_login(team.boss)

    page = client.get(f"/draft-jobs/{job.pk}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "This draft was published on" in text and "Fri 20 Nov 2026" in text
    assert f'href="/rosters/{job.roster_id}/"' in text
    assert "then publish" not in text and "http-equiv" not in text


def test_the_page_script_learns_of_the_roster_without_spending_the_message(team, client):
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    services.run_draft_job(job.pk, by=SYSTEM)
    client.force_login(team.boss)

    polled = client.get(f"/draft-jobs/{job.pk}/", HTTP_X_DRAFT_JOB_POLL="1")
    assert polled.status_code == 302
    # the reload that follows shows "Draft ready" once
    page = client.get(f"/draft-jobs/{job.pk}/", follow=True).content.decode()
    assert page.count("Draft ready") == 1


def test_the_draft_job_list_address_answers_the_apis_json_404(team):
    api = APIClient()
    api.force_authenticate(team.boss)

    for address in ("/api/draft-jobs/", "/api/no-such-thing/"):
        answer = api.get(address)
        assert answer.status_code == 404
        assert answer["Content-Type"].startswith("application/json")
        assert answer.json() == {"detail": "Not found."}


def test_the_admin_lists_reasons_filters_by_state_and_changes_nothing(team, client):
    job, _ = services.request_draft(team.rotation, *DECEMBER, by=team.boss)
    DraftJob.objects.filter(pk=job.pk).update(state="failed", error="Could not hand the draft")
    operator = get_user_model().objects.create_superuser(
        "operator", "op@example.com", "pw-op-1234567"
    )
    client.force_login(operator)

    listing = client.get("/admin/planning/draftjob/?state__exact=failed")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "Could not hand the draft" in text
    assert "delete_selected" not in text
    assert (
        client.get("/admin/planning/draftjob/?state__exact=done")
        .content.decode()
        .count("Could not hand the draft")
        == 0
    )
    assert client.get("/admin/planning/draftjob/add/").status_code == 403
    assert (
        client.post(f"/admin/planning/draftjob/{job.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert (
        client.post(f"/admin/planning/draftjob/{job.pk}/change/", {"state": "done"}).status_code
        == 403
    )
    assert DraftJob.objects.get(pk=job.pk).state == "failed"
