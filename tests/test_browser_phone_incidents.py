"""On a 375 px phone the incidents page fits the screen and its tick boxes are big enough to
tap (F13)."""

from datetime import time

import pytest

from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def incidents_url(live_server):
    team = TeamFactory(name="Payments")
    boss = manager(team, username="boss", first_name="Maya")
    rotation = RotationFactory(
        team=team, name="Payments API", time_zone="Europe/London", handoff_time=time(9), lead=boss
    )
    join_rotation(rotation, engineer(team, username="eng0", first_name="Amara"))
    return f"{live_server.url}/rotations/{rotation.pk}/incidents/"


def test_the_incidents_page_does_not_scroll_sideways_at_375_px(page, login, incidents_url):
    page.set_viewport_size({"width": 375, "height": 800})
    login("boss")
    page.goto(incidents_url)
    assert page.get_by_text("title,started_at,resolved_at,severity,escalation").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("window.innerWidth")


def test_the_incidents_page_tick_boxes_are_at_least_24_px_at_375_px(page, login, incidents_url):
    page.set_viewport_size({"width": 375, "height": 800})
    login("boss")
    page.goto(incidents_url)
    boxes = page.locator("input[type=checkbox]")
    assert boxes.count() > 0
    for n in range(boxes.count()):
        box = boxes.nth(n).bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24
