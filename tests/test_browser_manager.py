"""In a real browser: a manager plans next month, drafts, edits, publishes; an engineer sees it."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from rotation.models import Roster
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_drafts_edits_and_publishes_then_engineer_sees_partner(live_server, page, login):
    team = TeamFactory(name="Payments")
    boss = manager(team, username="boss", first_name="Maya")
    people = [
        engineer(team, username=f"eng{i}", first_name=name, time_zone="Europe/London")
        for i, name in enumerate(["Amara", "Ben", "Chloe", "Dev"])
    ]
    rotation = RotationFactory(
        team=team, name="Payments API", time_zone="Europe/London", handoff_time=time(9), lead=boss
    )
    join_rotation(rotation, *people)

    login("boss")
    page.goto(f"{live_server.url}/rotations/{rotation.pk}/plan/")
    expect(page.get_by_role("heading", name="Team availability")).to_be_visible()
    expect(page.locator("table.plan tbody tr")).to_have_count(4)
    expect(page.locator("table.plan .badge").first).to_be_visible()

    page.get_by_role("button", name=re.compile("^Draft ")).click()
    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    expect(page.get_by_role("heading", name="Fairness")).to_be_visible()
    roster = Roster.objects.get(status="draft")

    # Forbidden: give the secondary of the first shift to its primary.
    first = roster.shifts.order_by("start", "role").first()
    secondary = roster.shifts.get(start=first.start, role="secondary")
    page.locator(f"#slot-{secondary.pk}").get_by_role("link", name="Change").click()
    row = page.locator(f"#slot-{secondary.pk}")
    row.get_by_role("combobox").select_option(str(first.assignee_id))
    row.get_by_role("button", name="Change").click()
    expect(page.locator(f"#slot-{secondary.pk} [role=alert]")).to_contain_text("Refused")
    secondary.refresh_from_db()
    assert secondary.assignee_id != first.assignee_id

    page.get_by_role("link", name="Preview changes and publish").click()
    page.get_by_role("button", name="Publish roster").click()
    expect(page.get_by_text("Published.")).to_be_visible()
    roster.refresh_from_db()
    assert roster.status == "published"

    # The engineer on the first shift sees it with their partner and escalation contacts.
    page.get_by_role("button", name="Log out").click()
    holder = first.assignee
    partner = secondary.assignee
    login(holder.username)
    shift = page.locator("li.my-shift").first
    expect(shift).to_contain_text("Primary")
    expect(shift).to_contain_text(f"With {partner.get_full_name()}")
    expect(shift.locator(".escalation")).to_contain_text("Maya")
