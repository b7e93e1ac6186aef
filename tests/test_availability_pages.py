"""Pages: the month grid (htmx and plain), the dashboard, claims and the manager's page."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine

from availability import services
from availability.models import AvailabilityEntry, DutyRequirement, Qualification
from tests.factories import (
    DutyRequirementFactory,
    RotationFactory,
    TeamFactory,
    engineer,
    join_rotation,
    manager,
)

pytestmark = pytest.mark.django_db

NOW = "2026-11-20 12:00Z"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def team():
    team = TeamFactory(name="Payments", slug="payments")
    boss = manager(team, username="maya", first_name="Maya")
    amara = engineer(team, username="amara", first_name="Amara", time_zone="Europe/London")
    rotation = RotationFactory(team=team, name="Payments API", has_secondary=True)
    join_rotation(rotation, amara)
    ic = DutyRequirementFactory(
        rotation=rotation,
        name="Incident commander training",
        how_to_obtain="Take the IC course",
        how_to_url="https://learn.example.com/ic",
    )
    prod = DutyRequirementFactory(
        rotation=rotation,
        name="Prod access",
        kind="access",
        gates_primary=True,
        gates_secondary=True,
        how_to_obtain="Ask in #access",
    )
    return {
        "team": team,
        "boss": boss,
        "amara": amara,
        "rotation": rotation,
        "ic": ic,
        "prod": prod,
    }


def pressed_days(html: str) -> list[str]:
    return re.findall(r'data-day="([\d-]+)"\s+class="[^"]*"\s+aria-pressed="true"', html)


@time_machine.travel(NOW)
def test_the_grid_shows_next_month_in_the_viewers_zone(client, team):
    client.force_login(team["amara"])
    html = client.get("/availability/").content.decode()
    assert "December 2026" in html and "Europe/London" in html
    assert 'data-day="2026-12-31"' in html
    assert "availability.js" in html


@time_machine.travel(NOW)
def test_an_htmx_range_saves_and_answers_with_the_grid_and_a_status(client, team):
    client.force_login(team["amara"])
    response = client.post(
        "/availability/mark/",
        {
            "start_day": "2026-12-09",
            "end_day": "2026-12-07",
            "kind": "unavailable",
            "reason": "Wedding",
            "month": "2026-12",
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert pressed_days(html) == ["2026-12-07", "2026-12-08", "2026-12-09"]
    assert 'role="status"' in html and 'hx-swap-oob="true"' in html
    assert "Saved: Mon 7 Dec 2026 – Wed 9 Dec 2026 marked unavailable (Europe/London)." in html
    assert AvailabilityEntry.objects.get(user=team["amara"]).reason == "Wedding"


@time_machine.travel(NOW)
def test_without_javascript_a_day_button_toggles_that_day(client, team):
    client.force_login(team["amara"])
    response = client.post(
        "/availability/mark/",
        {"day": "2026-12-24", "kind": "unavailable", "month": "2026-12"},
        follow=True,
    )
    html = response.content.decode()
    assert pressed_days(html) == ["2026-12-24"]
    assert "Saved: Thu 24 Dec 2026 marked unavailable" in html
    client.post(
        "/availability/mark/", {"day": "2026-12-24", "kind": "unavailable", "month": "2026-12"}
    )
    assert not AvailabilityEntry.objects.exists()


@time_machine.travel(NOW)
def test_the_plain_form_marks_part_of_a_day(client, team):
    client.force_login(team["amara"])
    response = client.post(
        "/availability/entries/",
        {
            "start_date": "2026-12-03",
            "start_time": "13:30",
            "end_date": "2026-12-03",
            "end_time": "15:00",
            "kind": "unavailable",
            "reason": "Dentist",
        },
        follow=True,
    )
    entry = AvailabilityEntry.objects.get(user=team["amara"])
    assert (entry.start, entry.end) == (utc(2026, 12, 3, 13, 30), utc(2026, 12, 3, 15))
    html = response.content.decode()
    assert "Dentist" in html and "Thu 3 Dec 2026 13:30 – 15:00" in html
    assert 'aria-label="Thursday 3 December: Unavailable part of the day"' in html


@time_machine.travel(NOW)
def test_the_plain_form_reports_a_backwards_range(client, team):
    client.force_login(team["amara"])
    response = client.post(
        "/availability/entries/",
        {"start_date": "2026-12-05", "end_date": "2026-12-03", "kind": "unavailable"},
    )
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    assert not AvailabilityEntry.objects.exists()


@time_machine.travel(NOW)
def test_a_locked_month_says_drafting_has_started(client, team):
    services.lock_availability(team["team"], date(2026, 12, 1), date(2027, 1, 1), by=team["boss"])
    client.force_login(team["amara"])
    html = client.get("/availability/?month=2026-12").content.decode()
    assert "drafting has started" in html
    response = client.post(
        "/availability/mark/",
        {"day": "2026-12-24", "kind": "unavailable", "month": "2026-12"},
        HTTP_HX_REQUEST="true",
    )
    assert "locked by Payments" in response.content.decode()
    assert not AvailabilityEntry.objects.exists()


@time_machine.travel(NOW)
def test_the_dashboard_shows_what_is_missing_and_how_to_get_it(client, team):
    services.set_allocation(
        by=team["boss"],
        user=team["amara"],
        team=team["team"],
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=50,
        project="Ledger",
    )
    client.force_login(team["amara"])
    html = client.get("/").content.decode()
    assert "You are not yet eligible for primary and secondary." in html
    assert "Take the IC course" in html and "https://learn.example.com/ic" in html
    assert f'href="/requirements/{team["ic"].pk}/claim/"' in html
    assert "Your time in December 2026" in html and "Ledger 50%" in html
    assert 'href="/availability/"' in html


@time_machine.travel(NOW)
def test_claim_verify_and_the_dashboard_shows_it_met(client, team):
    client.force_login(team["amara"])
    assert "Obtained on" in client.get(f"/requirements/{team['prod'].pk}/claim/").content.decode()
    response = client.post(
        f"/requirements/{team['prod'].pk}/claim/",
        {"obtained_on": "2026-11-02", "evidence": "Ticket ACCESS-42"},
        follow=True,
    )
    assert "Claim sent" in response.content.decode()
    claim = Qualification.objects.get(user=team["amara"])

    client.force_login(team["boss"])
    home = client.get("/").content.decode()
    assert "1 claim to review" in home
    page = client.get("/teams/payments/readiness/").content.decode()
    assert "Ticket ACCESS-42" in page and f'action="/qualifications/{claim.pk}/review/"' in page
    client.post(f"/qualifications/{claim.pk}/review/", {"decision": "verify"})
    assert Qualification.objects.get(pk=claim.pk).status == "verified"

    client.force_login(team["amara"])
    html = client.get("/").content.decode()
    assert "You are eligible now for secondary, not yet for primary." in html


@time_machine.travel(NOW)
def test_a_manager_adds_a_requirement_and_locks_a_month(client, team):
    client.force_login(team["boss"])
    response = client.post(
        f"/rotations/{team['rotation'].pk}/requirements/new/",
        {
            "name": "Shadow twice",
            "kind": "shadow_shifts",
            "shadow_shifts_needed": 2,
            "roles": ["primary"],
            "description": "",
            "how_to_obtain": "Ask to shadow",
            "how_to_url": "",
            "valid_days": "",
        },
    )
    assert response.status_code == 302, response.content.decode()
    requirement = DutyRequirement.objects.get(name="Shadow twice")
    assert requirement.roles == ["primary"] and requirement.shadow_shifts_needed == 2
    client.post("/teams/payments/readiness/locks/", {"month": "2026-12"})
    assert team["team"].availability_locks.get().period_end == date(2027, 1, 1)


def test_manager_pages_are_not_for_engineers(client, team):
    client.force_login(team["amara"])
    assert client.get("/teams/payments/readiness/").status_code == 404
    assert client.get(f"/rotations/{team['rotation'].pk}/requirements/new/").status_code == 404
    assert client.post("/teams/payments/readiness/locks/", {"month": "2026-12"}).status_code == 404
    assert client.get(f"/requirements/{team['ic'].pk}/edit/").status_code == 404


@pytest.mark.parametrize("size", [5, 50])
def test_the_manager_page_takes_flat_queries(client, team, size, django_assert_max_num_queries):
    people = [engineer(team["team"]) for _ in range(size)]
    join_rotation(team["rotation"], *people)
    for person in people:
        Qualification.objects.create(
            requirement=team["prod"], user=person, obtained_on=date(2026, 1, 1)
        )
    client.force_login(team["boss"])
    with django_assert_max_num_queries(22):
        response = client.get("/teams/payments/readiness/")
    assert response.content.decode().count(">Verify</button>") == size


@pytest.mark.parametrize("size", [5, 50])
def test_the_home_page_takes_flat_queries(client, team, size, django_assert_max_num_queries):
    people = [engineer(team["team"]) for _ in range(size)]
    join_rotation(team["rotation"], *people)
    client.force_login(team["amara"])
    with django_assert_max_num_queries(24):
        assert client.get("/").status_code == 200
