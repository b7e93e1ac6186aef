"""A signed-in reader's pages and answers are theirs alone: no proxy may keep them, and a
browser does not show them from its history after the reader signs out."""

import pytest
import time_machine
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-12-09 12:00Z"


@pytest.fixture
def team():
    with time_machine.travel(NOW, tick=False):
        yield published_team(size=4)


@pytest.mark.parametrize("page", ["/", "/rotations/{rotation}/", "/rotations/{rotation}/plan/"])
def test_a_signed_in_page_may_not_be_kept_by_anyone_else(client, team, page):
    client.force_login(team["boss"])

    response = client.get(page.format(rotation=team["rotation"].pk))

    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    assert "HX-Request" in response["Vary"] and "Cookie" in response["Vary"]


def test_the_on_call_answer_asked_with_a_token_may_not_be_kept(client, team):
    token = Token.objects.create(user=team["boss"])

    response = client.get(
        f"/api/rotations/{team['rotation'].pk}/oncall/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )

    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


def test_a_calendar_feed_keeps_its_own_caching(client, team):
    person = team["people"][0].person

    response = client.get(f"/calendar/{person.feed_token}.ics")

    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"]
    assert response.has_header("ETag")


def test_the_sign_in_page_is_not_marked_for_a_reader(client):
    response = client.get("/accounts/login/")

    assert "HX-Request" not in response.get("Vary", "")


def test_an_api_request_refused_for_its_csrf_token_may_not_be_kept(team):
    """DRF refuses a signed-in session's POST without a CSRF token and puts an anonymous user
    on the request: the answer is still the signed-in reader's own."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team["boss"])

    response = browser.post("/api/teams/", {"name": "Nope"})

    assert response.status_code == 403
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
