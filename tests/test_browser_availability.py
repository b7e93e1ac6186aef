"""In a real browser: an engineer marks days unavailable by drag and by keyboard, and they stay."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from availability.models import AvailabilityEntry
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = ZoneInfo("Europe/London")


def next_month() -> date:
    today = datetime.now(LONDON).date()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


@pytest.fixture
def amara():
    team = TeamFactory(name="Payments", slug="payments")
    person = engineer(team, username="amara", first_name="Amara", time_zone="Europe/London")
    join_rotation(RotationFactory(team=team, name="Payments API"), person)
    return person


def day(page, when: date):
    return page.locator(f'button.av-day[data-day="{when:%Y-%m-%d}"]')


def open_availability(page, live_server):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Availability").click()
    page.wait_for_url(f"{live_server.url}/availability/")
    month = next_month()
    expect(page.get_by_role("heading", name=f"{month:%B %Y}", exact=True)).to_be_visible()
    expect(page.get_by_text("Europe/London").first).to_be_visible()
    return month


def expect_marked(page, days: list[date], unmarked: list[date]):
    for when in days:
        expect(day(page, when)).to_have_attribute("aria-pressed", "true")
        expect(day(page, when)).to_have_attribute("aria-label", re.compile("Unavailable"))
    for when in unmarked:
        expect(day(page, when)).to_have_attribute("aria-pressed", "false")


def test_drag_across_three_days_marks_them_and_they_stay(live_server, page, login, amara):
    login("amara")
    month = open_availability(page, live_server)
    first, last = month.replace(day=10), month.replace(day=12)
    start = day(page, first).bounding_box()
    end = day(page, last).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()
    expect(page.get_by_role("status").filter(has_text="Saved:")).to_contain_text(
        "marked unavailable"
    )
    expect_marked(
        page, [first, month.replace(day=11), last], [month.replace(day=9), month.replace(day=13)]
    )

    page.reload()
    expect_marked(
        page, [first, month.replace(day=11), last], [month.replace(day=9), month.replace(day=13)]
    )
    assert AvailabilityEntry.objects.filter(user=amara).count() == 1  # one range, not three days


def test_keyboard_marks_a_range_and_it_stays(live_server, page, login, amara):
    login("amara")
    month = open_availability(page, live_server)
    first = month.replace(day=17)
    day(page, first).focus()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Space")
    expect(page.get_by_role("status").filter(has_text="Saved:")).to_contain_text(
        "marked unavailable"
    )
    marked = [first, month.replace(day=18), month.replace(day=19)]
    expect_marked(page, marked, [month.replace(day=16), month.replace(day=20)])
    # Focus stays on the grid, so the keyboard user can carry on.
    expect(day(page, month.replace(day=19))).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(day(page, month.replace(day=26))).to_be_focused()

    page.reload()
    expect_marked(page, marked, [month.replace(day=16), month.replace(day=20)])

    # Enter on a marked day unmarks it.
    day(page, month.replace(day=18)).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved:")).to_contain_text("cleared")
    expect(day(page, month.replace(day=18))).to_have_attribute("aria-pressed", "false")


def test_shift_click_marks_a_range_as_preferred(live_server, page, login, amara):
    login("amara")
    month = open_availability(page, live_server)
    page.get_by_label("Preferred").check()
    day(page, month.replace(day=3)).click()
    expect(page.get_by_role("status").filter(has_text="Saved:")).to_contain_text("marked preferred")
    day(page, month.replace(day=5)).click(modifiers=["Shift"])
    expect(day(page, month.replace(day=4))).to_have_attribute("aria-label", re.compile("Preferred"))
    page.reload()
    for d in (3, 4, 5):
        expect(day(page, month.replace(day=d))).to_have_attribute("aria-pressed", "true")


def test_without_javascript_the_grid_and_the_form_still_work(live_server, browser, amara):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("amara")
    page.get_by_label("Password").fill("pw-for-tests-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/availability/")
    month = next_month()
    day(page, month.replace(day=8)).click()
    expect(page.get_by_role("status").first).to_contain_text("marked unavailable")
    expect(day(page, month.replace(day=8))).to_have_attribute("aria-pressed", "true")

    page.get_by_label("Start date").fill(f"{month.replace(day=20):%Y-%m-%d}")
    page.get_by_label("Start time").fill("13:00")
    page.get_by_label("End date").fill(f"{month.replace(day=20):%Y-%m-%d}")
    page.get_by_label("End time").fill("15:30")
    page.get_by_label("Reason", exact=True).fill("Dentist")
    page.get_by_role("button", name="Save range").click()
    expect(page.get_by_text("Dentist").first).to_be_visible()
    expect(day(page, month.replace(day=20))).to_have_attribute(
        "aria-label", re.compile("part of the day")
    )
    context.close()


def test_the_grid_works_on_a_phone(live_server, browser, amara):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    phone.goto(f"{live_server.url}/accounts/login/")
    phone.get_by_label("Username").fill("amara")
    phone.get_by_label("Password").fill("pw-for-tests-123")
    phone.get_by_role("button", name="Log in").click()
    phone.goto(f"{live_server.url}/availability/")
    month = next_month()
    day(phone, month.replace(day=15)).tap()
    expect(phone.get_by_role("status").filter(has_text="Saved:")).to_contain_text(
        "marked unavailable"
    )
    expect(day(phone, month.replace(day=15))).to_have_attribute("aria-pressed", "true")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the availability page scrolls sideways on a phone"
    phone.goto(f"{live_server.url}/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    context.close()
