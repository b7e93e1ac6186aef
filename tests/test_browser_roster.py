"""In a real browser: a demo engineer logs in and sees their rotation's roster in their own zone."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from planning.demo import DEMO_PASSWORD, seed_demo
from rotation.models import Rotation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_demo_engineer_sees_the_published_roster_in_their_time_zone(live_server, page, login):
    seed_demo(timezone.now().date(), months_of_history=1)
    login("elena", DEMO_PASSWORD)  # Elena works from New York
    expect(page.get_by_role("heading", name=re.compile("Hello, Elena"))).to_be_visible()
    rotation = Rotation.objects.get(name="Payments API")
    # The rotation's own link, in the list of rotations: on days when Elena has a shift coming up
    # her "next shifts" list links the same name to that shift's month first.
    rotations = page.get_by_role("region", name="Rotations")
    rotations.get_by_role("link", name="Payments API").click()
    page.wait_for_url(f"{live_server.url}/rotations/{rotation.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Published roster"))).to_be_visible()
    expect(page.get_by_text("America/New_York").first).to_be_visible()
    # Payments API hands off at 09:00 London, which is 04:00 or 05:00 in New York (DST).
    handoffs = page.locator("li.slot.primary small", has_text=re.compile(r"from 0[45]:00"))
    expect(handoffs.first).to_be_visible()
    assert page.locator("li.slot.gap").count() == 0


def test_the_roster_reads_on_a_phone(live_server, browser, login):
    seed_demo(timezone.now().date(), months_of_history=1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/accounts/login/")
    phone.get_by_label("Username").fill("isha")
    phone.get_by_label("Password").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.get_by_role("link", name="Payments API").first.click()
    expect(phone.get_by_role("heading", name=re.compile("Published roster"))).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page scrolls sideways on a phone"
    context.close()
