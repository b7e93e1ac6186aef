"""In a real browser: a person in Asia/Kolkata opens her offer link without a session and
reads her own times; a manager sees shifts at risk and deliveries that failed."""

import re

import pytest
from playwright.sync_api import expect

from availability import services as availability
from notifications.models import Delivery
from planning import swaps
from rotation.models import Person
from tests.swap_support import published_team

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def link_in(message, marker: str, live_url: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    url = next(line.strip().split()[-1] for line in body.splitlines() if marker in line)
    return re.sub(r"^https?://[^/]+", live_url, url)


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


def test_an_offer_link_opened_without_a_session_shows_the_readers_own_zone(
    live_server, page, smtp_server
):
    team = published_team(offers_at_once=1)
    shift = first_primary(team)  # Mon 7 Dec 2026 09:00 London = 14:30 in Kolkata
    candidate = swaps.rank_replacements(shift)[0][0]
    Person.objects.filter(user_id=candidate.user_id).update(time_zone="Asia/Kolkata")
    smtp_server.messages.clear()
    swaps.request_swap(shift, by=shift.assignee)
    (ask,) = [m for m in smtp_server.messages if m["Subject"].startswith("Can you take")]
    assert "14:30 IST" in ask["Subject"]

    page.goto(link_in(ask, "Decline:", live_server.url))
    card = page.locator("section.card").first
    expect(card).to_contain_text("Mon 7 Dec 2026, 14:30")
    expect(card).to_contain_text("(Asia/Kolkata)")
    expect(page.locator("p.deadline")).to_contain_text("Asia/Kolkata")
    # Opened from "Decline", the page offers Decline first, not Accept.
    expect(page.get_by_role("button", name="Decline")).to_have_class(re.compile("primary"))
    expect(page.get_by_role("button", name=re.compile("Accept"))).not_to_have_class(
        re.compile("primary")
    )


def test_the_manager_sees_shifts_at_risk_and_failed_deliveries_on_the_roster(
    live_server, page, login, settings
):
    settings.ONEHAND_AT_RISK_HOURS = 24 * 10  # the first shift starts within ten days
    team = published_team()
    shift = first_primary(team)
    holder = shift.assignee
    availability.mark(
        shift.start, shift.start.replace(day=10), "unavailable", enforce_lock=False, by=holder
    )  # e.g. off sick, entered after the roster was drafted
    Delivery.objects.filter(user=holder, shift=shift).update(
        status="failed", last_error="SMTP 550 mailbox unavailable", attempts=6
    )

    login(team["boss"].username)
    page.goto(f"{live_server.url}/rosters/{team['roster'].pk}/")
    at_risk = page.locator("section.at-risk")
    expect(at_risk).to_contain_text("At risk in the next 240 hours")
    expect(at_risk).to_contain_text(f"{holder.get_full_name()} is away 7 Dec")
    failed = page.locator("section.failed-deliveries")
    expect(failed).to_contain_text("SMTP 550 mailbox unavailable")
    expect(failed).to_contain_text(holder.get_full_name())

    page.goto(f"{live_server.url}/")
    expect(page.locator("section.at-risk")).to_contain_text(holder.get_full_name())
