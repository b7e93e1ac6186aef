"""In a real browser: a manager drafts twice, compares the drafts by person, previews the
publish with its notice list, and publishes."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from notifications.models import Delivery
from rotation.models import Roster
from tests.factories import build_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_drafts_twice_compares_previews_and_publishes(live_server, page, login):
    setup = build_team(
        4,
        names=["Amara", "Ben", "Chloe", "Dev"],
        boss_fields={"username": "boss", "first_name": "Maya"},
        name="Payments API",
        pattern="weekly",
        handoff_time=time(9),
    )
    login("boss")
    plan = f"{live_server.url}/rotations/{setup.rotation.pk}/plan/"

    page.goto(plan)
    page.get_by_role("button", name=re.compile("^Draft ")).click()
    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    page.goto(plan)
    page.get_by_label("Weekend weight").fill("3")
    page.get_by_role("button", name=re.compile("^Draft ")).click()
    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    first, second = Roster.objects.order_by("created_at")

    page.goto(plan)
    expect(page.get_by_role("heading", name=re.compile("side by side"))).to_be_visible()
    page.get_by_role("button", name="Compare by person").click()
    expect(page.get_by_role("heading", name=f"From #{first.pk} to #{second.pk}")).to_be_visible()
    expect(page.get_by_text("Largest load:").first).to_be_visible()

    page.goto(f"{live_server.url}/rosters/{second.pk}/")
    page.get_by_role("link", name="Preview changes and publish").click()
    expect(page.get_by_role("heading", name="Notices that will go out")).to_be_visible()
    invitations = second.shifts.filter(assignee__isnull=False).count()
    expect(page.locator("#notice-counts")).to_contain_text(f"{invitations} invitations")
    expect(page.locator("table.notices tbody tr")).to_have_count(invitations)
    expect(page.locator("table.notices").get_by_text("Amara Eng0").first).to_be_visible()

    page.get_by_role("button", name="Publish roster").click()
    expect(page.get_by_text("Published.")).to_be_visible()
    second.refresh_from_db()
    assert second.status == Roster.Status.PUBLISHED
    assert Delivery.objects.filter(kind="entry", action="request").count() == invitations
