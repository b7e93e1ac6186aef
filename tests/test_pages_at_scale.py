"""Pages that do not grow with the team: the same queries for 5 or 50 people, a page of people
on the plan and the load report, and each roster slot's editor loaded only when asked for."""

from datetime import date, time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services as planning_services
from rotation.models import Roster
from tests.factories import build_team, daily_roster, reassign

pytestmark = pytest.mark.django_db

NOW = "2026-11-20 12:00Z"


def _team_with_rosters(size):
    """A daily rotation with a past month imported, this month published, next month drafted."""
    setup = build_team(size, pattern="daily", handoff_time=time(9))
    rotations = {}
    for status, first, last in (
        (Roster.Status.IMPORTED, date(2026, 10, 1), date(2026, 11, 1)),
        (Roster.Status.PUBLISHED, date(2026, 11, 1), date(2026, 12, 1)),
    ):
        roster = daily_roster(setup, first, last, status)
        rotations[status] = roster
    draft = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    return setup, rotations[Roster.Status.PUBLISHED], draft


PAGES = {
    "home": lambda setup, published, draft: "/",
    "rotation page": lambda setup, published, draft: f"/rotations/{setup.rotation.pk}/",
    "load report": lambda setup, published, draft: f"/rotations/{setup.rotation.pk}/report/",
    "published roster": lambda setup, published, draft: f"/rosters/{published.pk}/",
    "draft roster": lambda setup, published, draft: f"/rosters/{draft.pk}/",
    "plan page": lambda setup, published, draft: (
        f"/rotations/{setup.rotation.pk}/plan/?month=2026-12"
    ),
}


def _queries(client, url):
    client.get(url)  # the first request may fill caches (on-call answer, sessions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("page", PAGES)
@time_machine.travel(NOW, tick=False)
def test_a_page_costs_the_same_queries_for_5_or_50_people(client, page):
    counts = []
    for size in (5, 50):
        setup, published, draft = _team_with_rosters(size)
        client.force_login(setup.boss)
        counts.append(_queries(client, PAGES[page](setup, published, draft)))
    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_the_plan_shows_a_page_of_people_and_links_to_the_rest(client):
    setup = build_team(60, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/plan/?month=2026-12"
    first = client.get(url)
    second = client.get(url + "&page=2")
    first_rows = first.context["rows"]
    second_rows = second.context["rows"]
    assert (len(first_rows), len(second_rows)) == (50, 10)
    assert {r.user_id for r in first_rows} | {r.user_id for r in second_rows} == {
        p.pk for p in setup.people
    }
    assert 'href="?month=2026-12&amp;page=2" rel="next"' in first.content.decode()
    assert "People 51–60 of 60" in second.content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_page_number_out_of_range_shows_the_last_page(client):
    setup = build_team(60, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    response = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12&page=99")
    assert response.status_code == 200
    assert len(response.context["rows"]) == 10


@time_machine.travel(NOW, tick=False)
def test_the_load_report_pages_people_but_its_csv_lists_everyone(client):
    setup, _, _ = _team_with_rosters(60)
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/report/?from=2026-10-01&to=2026-12-01"
    assert len(client.get(url).context["rows"]) == 50
    assert len(client.get(url + "&page=2").context["rows"]) == 10
    csv_lines = client.get(url + "&format=csv").content.decode().strip().splitlines()
    assert len(csv_lines) == 1 + 60


@time_machine.travel(NOW, tick=False)
def test_the_roster_links_to_each_slots_editor_instead_of_listing_everyone_per_slot(client):
    setup, _, draft = _team_with_rosters(20)
    client.force_login(setup.boss)
    html = client.get(f"/rosters/{draft.pk}/").content.decode()
    slot = draft.shifts.order_by("start", "role").first()
    assert "<select" not in html
    assert f'href="/slots/{slot.pk}/edit/"' in html


@time_machine.travel(NOW, tick=False)
def test_a_slots_editor_offers_everyone_in_the_rotation(client):
    setup, _, draft = _team_with_rosters(20)
    client.force_login(setup.boss)
    slot = draft.shifts.order_by("start", "role").first()
    html = client.get(f"/slots/{slot.pk}/edit/").content.decode()
    assert html.count("<option value=") == 1 + 20
    assert f'<option value="{slot.assignee_id}" selected>' in html
    assert f'action="/slots/{slot.pk}/assign/"' in html


@time_machine.travel(NOW, tick=False)
def test_an_engineer_cannot_open_a_slots_editor(client):
    setup, _, draft = _team_with_rosters(5)
    client.force_login(setup.people[0])
    slot = draft.shifts.first()
    assert client.get(f"/slots/{slot.pk}/edit/").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_rotation_page_shows_a_slot_edit_at_once(client, django_capture_on_commit_callbacks):
    setup, published, _ = _team_with_rosters(5)
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/?month=2026-11"
    newcomer = build_team(1).people[0]
    newcomer.first_name, newcomer.last_name = "Zelda", "Newcomer"
    newcomer.save()
    assert "Zelda Newcomer" not in client.get(url).content.decode()
    shift = published.shifts.order_by("start").first()
    with django_capture_on_commit_callbacks(execute=True):
        reassign(shift, newcomer)
    assert "Zelda Newcomer" in client.get(url).content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_rotation_page_shows_a_renamed_person_at_once(
    client, django_capture_on_commit_callbacks
):
    setup, published, _ = _team_with_rosters(5)
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/?month=2026-11"
    client.get(url)
    person = published.shifts.order_by("start").first().assignee
    with django_capture_on_commit_callbacks(execute=True):
        person.first_name = "Renamed"
        person.save()
    assert "Renamed" in client.get(url).content.decode()
