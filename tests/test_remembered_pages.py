"""The home page's dashboard and the roster's slots are remembered under the plan stamp: a
repeated view costs the same few queries for 5 or 50 people, a change by anyone shows on the
next view, and each reader sees only what is theirs, in their own time zone and role."""

import re
from datetime import date, time, timedelta

import pytest
import time_machine

from availability import services as availability_services
from rotation import services as rotation_services
from rotation.models import Person, Roster
from tests.factories import build_team, daily_roster, manager, reassign
from tests.plan_support import queries_of

NOW = "2026-11-20 12:00Z"


@pytest.fixture
def remembering(settings):
    """Remembered parts are used (on by default only with a shared cache)."""
    settings.ONEHAND_PLAN_REMEMBER = True


def html_of(client, url) -> str:
    """The page without its CSRF tokens (masked afresh on every response, 64 characters)."""
    response = client.get(url)
    assert response.status_code == 200
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "(token)", response.content.decode())


def published_roster(setup, *, days: int = 7) -> Roster:
    """This week published: a primary and a secondary a day, the team taking turns."""
    first = date(2026, 11, 16)
    return daily_roster(setup, first, first + timedelta(days=days), Roster.Status.PUBLISHED)


def repeated_view_queries(client, url_of, sizes=(5, 50)) -> list[int]:
    """Queries of a repeated view (the second, remembered one) of the page ``url_of(setup,
    roster)`` names, for a team of each size with this week published; the first view must
    cost more (it computes what the second remembers)."""
    counts = []
    for size in sizes:
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        roster = published_roster(setup)
        client.force_login(setup.boss)
        url = url_of(setup, roster)
        first = queries_of(client, url)
        again = queries_of(client, url)
        assert again < first
        counts.append(again)
    return counts


# --------------------------------------------------------------------------- the home page


@time_machine.travel(NOW, tick=False)
def test_a_repeated_home_view_makes_the_same_queries_for_5_and_50_people(
    transactional_db, client, remembering
):
    counts = repeated_view_queries(client, lambda setup, roster: "/")

    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_the_home_page_reads_the_same_remembered_as_computed(transactional_db, client, remembering):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    published_roster(setup)
    client.force_login(setup.people[0])
    assert html_of(client, "/") == html_of(client, "/")


@time_machine.travel(NOW, tick=False)
def test_an_allocation_set_by_another_manager_is_seen_on_the_next_home_view(
    transactional_db, client, remembering
):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    other_manager = manager(setup.team)
    client.force_login(amara)
    assert "Apollo" not in html_of(client, "/")

    availability_services.set_allocation(
        by=other_manager,
        user=amara,
        team=setup.team,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 1, 1),
        percent=40,
        project="Apollo",
    )

    assert "Apollo 40%" in html_of(client, "/")


@time_machine.travel(NOW, tick=False)
def test_an_invitation_from_another_team_is_seen_on_the_next_home_view(
    transactional_db, client, remembering
):
    setup = build_team(2, pattern="daily", handoff_time=time(9))
    other = build_team(1, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(amara)
    assert "Invitations" not in html_of(client, "/")

    rotation_services.invite_member(other.team, amara, by=other.boss)

    assert other.team.name in html_of(client, "/").split("Your next shifts")[0]


@time_machine.travel(NOW, tick=False)
def test_a_remembered_home_page_is_never_shown_to_another_reader(
    transactional_db, client, remembering
):
    ours = build_team(2, pattern="daily", handoff_time=time(9), name="Payments rota")
    theirs = build_team(2, pattern="daily", handoff_time=time(9), name="Search rota")
    client.force_login(ours.people[0])
    assert ours.rotation.name in html_of(client, "/")

    client.force_login(theirs.people[0])
    page = html_of(client, "/")

    assert theirs.rotation.name in page
    assert ours.rotation.name not in page


@time_machine.travel(NOW, tick=False)
def test_next_months_commitment_follows_a_change_of_the_readers_time_zone(
    transactional_db, client, remembering
):
    """At 12:00 UTC on 30 November it is already December in Auckland: next month is January."""
    setup = build_team(1, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(amara)
    with time_machine.travel("2026-11-30 12:00Z", tick=False):
        assert "Your time in December 2026" in html_of(client, "/")
        Person.objects.filter(user=amara).update(time_zone="Pacific/Auckland")
        assert "Your time in January 2027" in html_of(client, "/")


# --------------------------------------------------------------------------- the roster page


@time_machine.travel(NOW, tick=False)
def test_a_repeated_roster_view_makes_the_same_queries_for_5_and_50_people(
    transactional_db, client, remembering
):
    counts = repeated_view_queries(client, lambda setup, roster: f"/rosters/{roster.pk}/")

    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_the_roster_reads_the_same_remembered_as_computed(transactional_db, client, remembering):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    roster = published_roster(setup)
    client.force_login(setup.boss)
    assert html_of(client, f"/rosters/{roster.pk}/") == html_of(client, f"/rosters/{roster.pk}/")


@time_machine.travel(NOW, tick=False)
def test_a_slot_changed_by_another_manager_is_seen_on_the_next_roster_view(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    roster = published_roster(setup)
    newcomer = build_team(1, names=["Zelda"]).people[0]
    client.force_login(setup.boss)
    assert "Zelda" not in html_of(client, f"/rosters/{roster.pk}/")

    reassign(roster.shifts.order_by("start").first(), newcomer)

    assert "Zelda" in html_of(client, f"/rosters/{roster.pk}/")


@time_machine.travel(NOW, tick=False)
def test_an_engineer_never_sees_the_managers_remembered_roster(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    roster = published_roster(setup)
    client.force_login(setup.boss)
    assert "edit-slot" in html_of(client, f"/rosters/{roster.pk}/")

    client.force_login(setup.people[0])

    assert "edit-slot" not in html_of(client, f"/rosters/{roster.pk}/")


@time_machine.travel(NOW, tick=False)
def test_each_reader_sees_the_remembered_roster_in_their_own_time_zone(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    roster = published_roster(setup)
    Person.objects.filter(user=setup.people[0]).update(time_zone="UTC")
    Person.objects.filter(user=setup.people[1]).update(time_zone="Asia/Tokyo")
    client.force_login(setup.people[0])
    assert "Mon 16 Nov, 09:00" in html_of(client, f"/rosters/{roster.pk}/")

    client.force_login(setup.people[1])
    page = html_of(client, f"/rosters/{roster.pk}/")

    assert "Mon 16 Nov, 18:00" in page
    assert "Mon 16 Nov, 09:00" not in page


# --------------------------------------------------------------------------- the load report


@time_machine.travel(NOW, tick=False)
def test_a_repeated_load_report_makes_the_same_queries_for_5_and_50_people(
    transactional_db, client, remembering
):
    counts = repeated_view_queries(
        client, lambda setup, roster: f"/rotations/{setup.rotation.pk}/report/"
    )

    assert counts[0] == counts[1], counts
