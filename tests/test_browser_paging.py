"""In a real browser: a manager of a large team pages through the plan with the keyboard, and
changes a roster slot with JavaScript turned off."""

import re
from datetime import date, time, timedelta

import pytest
from playwright.sync_api import expect

from planning import services as planning_services
from tests.factories import build_team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_pages_through_the_plan_with_the_keyboard(live_server, page, login):
    setup = build_team(55, pattern="daily", handoff_time=time(9))
    login(setup.boss.username)
    page.goto(f"{live_server.url}/rotations/{setup.rotation.pk}/plan/?month=2026-12")
    expect(page.locator("table.plan tbody tr")).to_have_count(50)
    expect(page.get_by_text("People 1–50 of 55")).to_be_visible()

    page.get_by_role("link", name="Next ›").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"month=2026-12&page=2$"))
    expect(page.locator("table.plan tbody tr")).to_have_count(5)

    page.get_by_role("spinbutton", name="Page").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"month=2026-12&page=1$"))
    expect(page.get_by_text("People 1–50 of 55")).to_be_visible()


def test_a_manager_changes_a_slot_without_javascript(live_server, browser):
    setup = build_team(8, pattern="daily", handoff_time=time(9))
    draft = planning_services.draft_roster(
        setup.rotation, date(2027, 1, 1), date(2027, 2, 1), by=setup.boss
    )
    slot = draft.shifts.order_by("start", "role").first()
    busy = set(
        draft.shifts.filter(
            start__lt=slot.end + timedelta(days=1), end__gt=slot.start - timedelta(days=1)
        ).values_list("assignee_id", flat=True)
    )
    other = next(p for p in setup.people if p.pk not in busy)

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(setup.boss.username)
    page.get_by_label("Password").fill("pw-for-tests-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/rosters/{draft.pk}/")

    page.locator(f"#slot-{slot.pk}").get_by_role("link", name="Change").click()
    page.wait_for_url(f"{live_server.url}/slots/{slot.pk}/edit/")
    page.get_by_role("combobox").select_option(str(other.pk))
    page.get_by_role("button", name="Change").click()
    page.wait_for_url(f"{live_server.url}/rosters/{draft.pk}/")
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.locator(f"#slot-{slot.pk}")).to_contain_text(other.get_full_name())
    context.close()


def test_on_a_phone_the_slot_editor_fits_the_screen(live_server, browser):
    setup = build_team(8, pattern="daily", handoff_time=time(9))
    draft = planning_services.draft_roster(
        setup.rotation, date(2027, 1, 1), date(2027, 2, 1), by=setup.boss
    )
    slot = draft.shifts.order_by("start", "role").first()
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(setup.boss.username)
    page.get_by_label("Password").fill("pw-for-tests-123")
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/slots/{slot.pk}/edit/")
    button = page.get_by_role("button", name="Change")
    box = button.bounding_box()

    assert box is not None and box["x"] + box["width"] <= 375
    context.close()
