"""In a real browser, from real emails: 'I can't make it' -> first candidate declines -> second
accepts -> the roster changes and the right people get CANCEL and REQUEST updates."""

import re

import icalendar
import pytest
from playwright.sync_api import expect

from rotation.models import Shift, SwapOffer
from tests.swap_support import published_team

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def calendar_of(message):
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return icalendar.Calendar.from_ical(part.get_content())
    return None


def link_in(message, marker: str, live_url: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    url = next(line.strip().split()[-1] for line in body.splitlines() if marker in line)
    return re.sub(r"^https?://[^/]+", live_url, url)


def test_cant_make_it_from_the_invite_to_a_new_assignee(live_server, page, smtp_server, settings):
    settings.ONEHAND_SITE_URL = settings.SITE_URL = "http://onehand.test"
    team = published_team(size=10)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").last()
    holder = shift.assignee
    invite = next(
        m
        for m in smtp_server.messages
        if m["To"] == holder.email
        and calendar_of(m) is not None
        and any(
            str(e.get("UID")).startswith(f"shift-{shift.pk}-")
            for e in calendar_of(m).walk("VEVENT")
        )
    )
    cant = link_in(invite, "/cant-make-it/", live_server.url)
    smtp_server.messages.clear()

    page.goto(cant)
    expect(page.get_by_role("heading", name="Can't make it?")).to_be_visible()
    page.get_by_label("Reason (optional, your team sees it)").fill("Family wedding")
    page.get_by_role("button", name="Find a replacement").click()
    expect(page.get_by_text("We asked, fairest first")).to_be_visible()

    offers = list(
        SwapOffer.objects.filter(request__shift=shift).order_by("rank").select_related("candidate")
    )
    asks = {m["To"]: m for m in smtp_server.messages if m["Subject"].startswith("Can you take")}
    first, second = offers[0], offers[1]
    page.goto(link_in(asks[first.candidate.email], "Decline:", live_server.url))
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_text("Declined")).to_be_visible()

    smtp_server.messages.clear()
    page.goto(link_in(asks[second.candidate.email], "Accept:", live_server.url))
    page.get_by_role("button", name=re.compile("^Accept")).click()
    expect(page.get_by_text("You took the shift")).to_be_visible()
    assert Shift.objects.get(pk=shift.pk).assignee_id == second.candidate_id

    def method_and_sequence(email_address):
        for m in smtp_server.messages:
            cal = calendar_of(m)
            if m["To"] == email_address and cal is not None:
                for event in cal.walk("VEVENT"):
                    if str(event["UID"]).startswith(f"shift-{shift.pk}-"):
                        return str(cal["METHOD"]), int(event["SEQUENCE"])
        return None

    old = method_and_sequence(holder.email)
    new = method_and_sequence(second.candidate.email)
    assert old is not None and old[0] == "CANCEL" and old[1] >= 1
    assert new is not None and new[0] == "REQUEST" and new[1] >= 1

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(team["boss"].username)
    page.get_by_label("Password").fill("pw-for-tests-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/rosters/{team['roster'].pk}/")
    expect(page.locator(f"#slot-{shift.pk}")).to_contain_text(second.candidate.get_full_name())
