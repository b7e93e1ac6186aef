"""In a real browser: an engineer claims a missing requirement, a manager verifies it."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import (
    DutyRequirementFactory,
    RotationFactory,
    TeamFactory,
    engineer,
    join_rotation,
    manager,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def payments():
    team = TeamFactory(name="Payments", slug="payments")
    manager(team, username="maya", first_name="Maya")
    amara = engineer(team, username="amara", first_name="Amara", last_name="Okafor")
    rotation = RotationFactory(team=team, name="Payments API", has_secondary=True)
    join_rotation(rotation, amara)
    DutyRequirementFactory(
        rotation=rotation,
        name="Incident commander training",
        kind="training",
        description="How to run an incident call.",
        how_to_obtain="Take the two-hour IC course",
        how_to_url="https://learn.example.com/ic",
        valid_days=365,
    )
    return rotation


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def requirement_row(page):
    return page.locator("li.av-req", has_text="Incident commander training")


def test_claim_verify_and_the_dashboard_shows_it_met(live_server, page, login, payments):
    login("amara")
    row = requirement_row(page)
    expect(row.locator(".badge")).to_have_text("Missing")
    expect(row).to_contain_text("How to obtain it: Take the two-hour IC course")
    expect(row.get_by_role("link", name="https://learn.example.com/ic")).to_be_visible()
    expect(
        page.get_by_text("You are eligible now for secondary, not yet for primary.")
    ).to_be_visible()

    row.get_by_role("link", name="Claim Incident commander training with evidence").click()
    page.get_by_label("Obtained on").fill(f"{date.today() - timedelta(days=10):%Y-%m-%d}")
    page.get_by_label("Evidence", exact=True).fill("Completed the course, certificate IC-2231")
    page.get_by_role("button", name="Send claim").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("status").first).to_contain_text("Claim sent")
    expect(requirement_row(page).locator(".badge")).to_have_text("Claimed, waiting for a manager")
    log_out(page)

    login("maya")
    expect(page.get_by_text("1 claim to review")).to_be_visible()
    page.get_by_role("link", name="Payments: readiness and availability").click()
    expect(page.get_by_text("certificate IC-2231")).to_be_visible()
    page.get_by_role("button", name="Verify Incident commander training for Amara Okafor").click()
    expect(page.get_by_role("status").first).to_contain_text("verified")
    expect(page.locator("table.av-matrix")).to_contain_text("Met")
    log_out(page)

    login("amara")
    expect(requirement_row(page).locator(".badge")).to_have_text("Met")
    expect(requirement_row(page)).to_contain_text("Valid until")
    expect(page.get_by_text("You are eligible now for primary and secondary.")).to_be_visible()


def test_a_rejected_claim_shows_why(live_server, page, login, payments):
    login("amara")
    requirement_row(page).get_by_role("link", name=re.compile("Claim")).click()
    page.get_by_label("Obtained on").fill(f"{date.today() - timedelta(days=3):%Y-%m-%d}")
    page.get_by_label("Evidence", exact=True).fill("Did it")
    page.get_by_role("button", name="Send claim").click()
    log_out(page)

    login("maya")
    page.goto(f"{live_server.url}/teams/payments/readiness/")
    page.get_by_label("Note on Incident commander training for Amara Okafor").fill(
        "Please attach the certificate"
    )
    page.get_by_role("button", name=re.compile("^Reject Incident")).click()
    expect(page.get_by_role("status").first).to_contain_text("rejected")
    log_out(page)

    login("amara")
    row = requirement_row(page)
    expect(row.locator(".badge")).to_have_text("Missing")
    expect(row).to_contain_text("Please attach the certificate")
    expect(row.get_by_role("link", name=re.compile("Claim"))).to_be_visible()
