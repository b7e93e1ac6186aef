"""In a real browser: a manager clicks Draft and lands on the roster; a draft still with the
worker shows its stage and percentage, refreshes itself (no JavaScript needed) and opens the
roster when done; a failed one says why and drafts again with one click. On a phone too."""

import re
from datetime import date, time

import pytest
from playwright.sync_api import expect

from planning import services
from planning.models import DraftJob
from rotation.permissions import SYSTEM
from tests.factories import build_team, draft_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_follows_a_draft_from_click_to_roster(live_server, page, login):
    setup = build_team(3, handoff_time=time(9), boss_fields={"username": "boss"})

    # Tasks run in-process here (as with `make run`): the click ends on the roster.
    login("boss")
    page.goto(f"{live_server.url}/rotations/{setup.rotation.pk}/plan/")
    page.get_by_role("button", name=re.compile("^Draft ")).click()
    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    expect(page.get_by_text("Draft ready")).to_be_visible()
    expect(page.get_by_role("heading", name="Fairness")).to_be_visible()

    # A draft the worker has not started yet (asked from another tab), seen on a phone.
    page.set_viewport_size({"width": 375, "height": 740})
    job = draft_job(setup)
    page.goto(f"{live_server.url}/draft-jobs/{job.pk}/")
    status = page.get_by_role("status").filter(has=page.locator("progress"))
    expect(status).to_contain_text("Waiting for a worker")
    expect(status).to_contain_text("0% done")
    bar = page.get_by_label("Waiting for a worker")
    expect(bar).to_have_attribute("value", "0")
    assert bar.bounding_box()["width"] <= 375

    # The worker takes it and reports: the page shows it on its next refresh.
    DraftJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, stage="Evening out the load", progress=0.4
    )
    expect(page.get_by_label("Evening out the load")).to_have_attribute(
        "value", "40", timeout=10_000
    )
    expect(status).to_contain_text("40% done")

    # The worker finishes (from the start: a fresh run of the queued job): on to the roster.
    DraftJob.objects.filter(pk=job.pk).update(state="queued", attempts=0, stage="", progress=0)
    services.run_draft_job(job.pk, by=SYSTEM)
    page.wait_for_url(re.compile(r"/rosters/\d+/$"), timeout=15_000)
    expect(page.get_by_text("Draft ready")).to_be_visible()


def test_a_failed_draft_says_why_and_try_again_drafts(live_server, page, login):
    setup = build_team(3, handoff_time=time(9), boss_fields={"username": "boss"})
    job = draft_job(
        setup,
        state="failed",
        error="No worker started this draft within 10 minutes (is the Celery worker running?); "
        "try again.",
    )

    login("boss")
    page.goto(f"{live_server.url}/draft-jobs/{job.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("No worker started this draft")
    page.get_by_role("button", name="Try again").click()

    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    retried = DraftJob.objects.exclude(pk=job.pk).get()
    assert retried.state == "done" and retried.period_start == date(2027, 1, 1)


def test_a_keyboard_users_focus_stays_put_while_the_progress_updates(live_server, page, login):
    setup = build_team(3, handoff_time=time(9), boss_fields={"username": "boss"})
    job = draft_job(setup)
    login("boss")
    page.goto(f"{live_server.url}/draft-jobs/{job.pk}/")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    back = page.get_by_role("link", name="Back to planning")
    for _ in range(30):  # a keyboard user tabs to the link
        if back.evaluate("link => link === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(back).to_be_focused()

    # The worker takes it and reports, twice: the status region changes, the page stays.
    status = page.get_by_role("status").filter(has=page.locator("progress"))
    DraftJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, stage="Evening out the load", progress=0.4
    )
    expect(status).to_contain_text("40% done", timeout=10_000)
    expect(page.get_by_label("Evening out the load")).to_have_attribute("value", "40")
    DraftJob.objects.filter(pk=job.pk).update(stage="Checking the rules", progress=0.7)
    expect(status).to_contain_text("70% done", timeout=10_000)
    expect(back).to_be_focused()
    assert page.evaluate("window.sameDocument") is True

    # It fails: the reason replaces the progress, and focus goes to it.
    DraftJob.objects.filter(pk=job.pk).update(state="failed", error="The worker ran out of memory")
    expect(page.get_by_role("alert").filter(has_text="ran out of memory")).to_be_visible(
        timeout=10_000
    )
    expect(page.get_by_role("heading", name="The draft failed")).to_be_focused()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True


def test_without_javascript_the_job_page_still_refreshes_itself(live_server, browser):
    setup = build_team(3, handoff_time=time(9))
    job = draft_job(setup)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(setup.boss.username)
    page.get_by_label("Password").fill("pw-for-tests-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/draft-jobs/{job.pk}/")
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()

    DraftJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, stage="Evening out the load", progress=0.4
    )
    expect(page.get_by_label("Evening out the load")).to_have_attribute(
        "value", "40", timeout=10_000
    )
    context.close()
