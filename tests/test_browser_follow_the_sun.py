"""In a real browser: a manager creates a three-region rotation and drafts a month; each region's
people see only windows in their own daytime."""

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from rotation.models import Person, Roster, Rotation
from tests.factories import TeamFactory, engineer, manager

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REGIONS = [
    ("APAC", "Australia/Sydney", "10:00", "18:00"),
    ("EMEA", "Europe/London", "08:00", "16:00"),
    ("AMER", "America/New_York", "11:00", "19:00"),
]
HOURS = {
    "Australia/Sydney": (time(8), time(20)),
    "Europe/London": (time(7), time(17)),
    "America/New_York": (time(10), time(20)),
}


def test_manager_builds_a_follow_the_sun_rotation_and_people_see_their_daytime(
    live_server, page, login
):
    team = TeamFactory(name="Global", slug="global")
    manager(team, username="boss")
    for zone, (start, end) in HOURS.items():
        for i in range(3):
            user = engineer(
                team,
                username=f"{zone.split('/')[1].lower()}{i}",
                first_name=f"{zone.split('/')[1]}{i}",
                time_zone=zone,
            )
            Person.objects.filter(user=user).update(
                work_start=start, work_end=end, work_days="0,1,2,3,4,5,6"
            )

    login("boss")
    page.goto(f"{live_server.url}/teams/global/rotations/new/")
    page.get_by_label("Name").fill("Global edge")
    page.get_by_label("Pattern").select_option("follow_the_sun")
    page.get_by_label("Has secondary").uncheck()
    for i, (label, zone, start, end) in enumerate(REGIONS):
        page.locator(f"#id_windows-{i}-label").fill(label)
        page.locator(f"#id_windows-{i}-time_zone").fill(zone)
        page.locator(f"#id_windows-{i}-start").fill(start)
        page.locator(f"#id_windows-{i}-end").fill(end)
    for box in page.locator("input[name=people]").all():
        box.check()
    page.get_by_role("button", name="Save rotation").click()
    expect(page.get_by_role("heading", name=re.compile("Global edge"))).to_be_visible()
    expect(page.get_by_role("heading", name="Coverage across clock changes")).to_be_visible()

    rotation = Rotation.objects.get(name="Global edge")
    page.get_by_role("link", name="Plan next month").click()
    page.get_by_role("button", name=re.compile("^Draft ")).click()
    page.wait_for_url(re.compile(r"/rosters/\d+/$"))
    page.get_by_role("link", name="Preview changes and publish").click()
    page.get_by_role("button", name="Publish roster").click()
    expect(page.get_by_text("Published.")).to_be_visible()

    roster = Roster.objects.get(rotation=rotation, status="published")
    shifts = list(roster.shifts.select_related("assignee__person", "window").exclude(assignee=None))
    assert shifts
    for shift in shifts:
        person = shift.assignee.person
        tz = ZoneInfo(person.time_zone)
        start, last = shift.start.astimezone(tz), (shift.end - timedelta(seconds=1)).astimezone(tz)
        assert (
            person.work_start <= start.time()
            and last.time() < person.work_end
            and start.date() == last.date()
        )

    # A Sydney engineer's own home page shows their shifts in Sydney daytime.
    page.get_by_role("button", name="Log out").click()
    sydney = next(s.assignee for s in shifts if s.assignee.person.time_zone == "Australia/Sydney")
    login(sydney.username)
    times = page.locator("li.my-shift time").all_inner_texts()
    assert times
    for text in times:
        hour = int(re.search(r"(\d\d):\d\d$", text).group(1))
        assert 8 <= hour <= 20, text
