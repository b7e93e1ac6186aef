"""Signed-in pages are remembered whole, per reader, under the page stamp: a repeated view is
served as bytes (no view, no template) with the reader's own CSRF token, flash messages are
shown once and never kept, a reader who loses access loses the page at once, and a repeated
view costs the same queries for 5 or 50 people."""

import re
from datetime import date, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from onehand import remembered_pages
from rotation import services as rotation_services
from rotation.models import Membership, Roster
from tests.factories import build_team, daily_roster, reassign

NOW = "2026-11-20 12:00Z"


@pytest.fixture
def remembering(settings):
    """Pages are remembered (on by default only with a shared cache)."""
    settings.ONEHAND_PLAN_REMEMBER = True


def published_roster(setup) -> Roster:
    first = date(2026, 11, 16)
    return daily_roster(setup, first, first + timedelta(days=7), Roster.Status.PUBLISHED)


def pages_of(setup, roster) -> dict[str, str]:
    rotation = setup.rotation.pk
    return {
        "home": "/",
        "rotation": f"/rotations/{rotation}/",
        "report": f"/rotations/{rotation}/report/",
        "plan": f"/rotations/{rotation}/plan/?month=2026-12",
        "roster": f"/rosters/{roster.pk}/",
    }


def view(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def remembered(response) -> bool:
    return getattr(response, "remembered_page", False)


def token_of(response) -> str:
    return re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()
    ).group(1)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("page", ["home", "rotation", "report", "plan", "roster"])
def test_a_repeated_view_is_served_remembered_and_reads_the_same(
    transactional_db, client, remembering, page
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    url = pages_of(setup, published_roster(setup))[page]
    client.force_login(setup.boss)

    first = view(client, url)
    again = view(client, url)

    assert not remembered(first)
    assert remembered(again)
    strip = lambda r: re.sub(r"\b[A-Za-z0-9]{64}\b", "(token)", r.content.decode())  # noqa: E731
    assert strip(first) == strip(again)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("page", ["home", "rotation", "report", "plan", "roster"])
def test_a_repeated_view_makes_the_same_few_queries_for_5_and_50_people(
    transactional_db, client, remembering, page
):
    counts = []
    for size in (5, 50):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        url = pages_of(setup, published_roster(setup))[page]
        client.force_login(setup.boss)
        view(client, url)
        with CaptureQueriesContext(connection) as ctx:
            assert remembered(view(client, url))
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[1], counts
    assert counts[0] <= 2, counts  # the session and the reader: nothing of the page itself


@time_machine.travel(NOW, tick=False)
def test_a_remembered_page_carries_the_readers_own_csrf_token_for_its_forms(
    transactional_db, remembering
):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    boss = Client(enforce_csrf_checks=True)
    boss.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/plan/?month=2026-12"
    view(boss, url)

    page = view(boss, url)
    assert remembered(page)

    # The draft form on the remembered plan page posts with the token it carries.
    answer = boss.post(
        f"/rotations/{setup.rotation.pk}/draft/",
        {"month": "2026-12", "mode": "greedy", "csrfmiddlewaretoken": token_of(page)},
    )
    # The draft's job page (the draft ran in-process after commit) sends the manager on.
    assert answer.status_code == 303 and answer.url.startswith("/draft-jobs/")
    job_page = boss.get(answer.url)
    assert job_page.status_code == 302
    assert job_page.url.startswith("/rosters/")


@time_machine.travel(NOW, tick=False)
def test_another_readers_remembered_page_token_is_not_theirs(transactional_db, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    boss, amara = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    boss.force_login(setup.boss)
    amara.force_login(setup.people[0])
    url = f"/rotations/{setup.rotation.pk}/"
    view(boss, url)
    view(amara, url)
    bosses_token = token_of(view(boss, url))

    # Amara's session does not accept the boss's token (nor the placeholder).
    for token in (bosses_token, "0" * 64):
        assert amara.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_a_flash_message_is_shown_once_and_never_remembered(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/plan/?month=2026-12"
    view(client, url)
    assert remembered(view(client, url))

    # A draft with settings out of range: back to the plan with the problem said once.
    answer = client.post(
        f"/rotations/{setup.rotation.pk}/draft/", {"month": "2026-12", "mode": "sideways"}
    )
    assert answer.status_code == 302 and answer.url == url

    with_message = view(client, url)
    assert "Check the draft settings" in with_message.content.decode()
    assert not remembered(with_message)
    after = view(client, url)
    assert "Check the draft settings" not in after.content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_member_removed_from_the_team_no_longer_sees_the_remembered_page(
    transactional_db, client, remembering
):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(amara)
    url = f"/rotations/{setup.rotation.pk}/"
    view(client, url)
    assert remembered(view(client, url))

    rotation_services.leave_team(Membership.objects.get(team=setup.team, user=amara), by=setup.boss)

    assert client.get(url).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_a_demoted_manager_no_longer_sees_the_remembered_plan(
    transactional_db, client, remembering
):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    deputy = setup.people[0]
    membership = Membership.objects.get(team=setup.team, user=deputy)
    rotation_services.change_membership(membership, by=setup.boss, role="manager")
    client.force_login(deputy)
    url = f"/rotations/{setup.rotation.pk}/plan/?month=2026-12"
    view(client, url)
    assert remembered(view(client, url))

    rotation_services.change_membership(membership, by=setup.boss, role="engineer")

    assert client.get(url).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_another_managers_change_shows_on_the_next_view_of_every_page(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    roster = published_roster(setup)
    newcomer = build_team(1, names=["Zelda"]).people[0]
    rotation_services.invite_member(setup.team, newcomer, by=setup.boss)
    client.force_login(setup.boss)
    pages = pages_of(setup, roster)
    for url in pages.values():
        view(client, url)
        assert remembered(view(client, url))

    reassign(roster.shifts.order_by("start").first(), newcomer)

    for url in (pages["roster"], pages["rotation"]):
        again = view(client, url)
        assert not remembered(again)
        assert "Zelda" in again.content.decode()


@time_machine.travel(NOW, tick=False)
def test_each_month_and_page_number_is_a_page_of_its_own(transactional_db, client, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    base = f"/rotations/{setup.rotation.pk}/plan/"
    december = view(client, base + "?month=2026-12").content.decode()
    january = view(client, base + "?month=2027-01").content.decode()
    assert "December 2026" in december and "January 2027" not in december
    assert "January 2027" in january
    assert "January 2027" in view(client, base + "?month=2027-01").content.decode()


def test_pages_are_served_fresh_when_remembering_is_off(db, client, settings):
    settings.ONEHAND_PLAN_REMEMBER = False
    setup = build_team(2, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    view(client, "/")
    assert not remembered(view(client, "/"))


def test_a_write_to_a_shown_table_renews_the_page_stamp_and_the_heartbeat_does_not(db):
    assert remembered_pages.changes_pages('UPDATE "rotation_swaprequest" SET "status" = %s')
    assert remembered_pages.changes_pages('INSERT INTO "rotation_auditentry" ("x") VALUES (1)')
    assert remembered_pages.changes_pages('UPDATE "notifications_delivery" SET "state" = %s')
    assert not remembered_pages.changes_pages('UPDATE "rotation_heartbeat" SET "at" = %s')
    assert not remembered_pages.changes_pages(
        'UPDATE "auth_user" SET "last_login" = %s WHERE "auth_user"."id" = %s'
    )
    assert not remembered_pages.changes_pages('SELECT 1 FROM "rotation_shift"')


def test_an_update_that_matches_no_row_leaves_the_remembered_pages_alone(
    transactional_db, remembering
):
    from django.core.cache import cache

    from rotation.models import SwapRequest

    remembered_pages.new_stamp()
    stamp = cache.get(remembered_pages.STAMP_KEY)

    SwapRequest.objects.filter(pk=-1).update(status="cancelled")  # as a sweep finding nothing
    assert cache.get(remembered_pages.STAMP_KEY) == stamp

    setup = build_team(1, pattern="daily", handoff_time=time(9))
    assert cache.get(remembered_pages.STAMP_KEY) != stamp  # rows written: renewed
    stamp = cache.get(remembered_pages.STAMP_KEY)
    Membership.objects.filter(team=setup.team).update(fte=0.5)
    assert cache.get(remembered_pages.STAMP_KEY) != stamp


@time_machine.travel(NOW, tick=False)
def test_a_name_that_looks_like_a_token_is_shown_as_typed(transactional_db, client, remembering):
    """Red-team finding: a rotation named with the fixed placeholder showed the reader's CSRF
    token in its title. The placeholder is random for each rendering and never sent."""
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    name = "CW " + "a1" * 32
    type(setup.rotation).objects.filter(pk=setup.rotation.pk).update(name=name)
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/"

    first, again = view(client, url), view(client, url)

    assert remembered(again)
    assert name in first.content.decode() and name in again.content.decode()


@time_machine.travel(NOW, tick=False)
def test_a_reader_keeps_a_bounded_number_of_pages_a_minute(transactional_db, client, remembering):
    """Red-team finding: every junk query string was a page of its own, kept two minutes."""
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/"
    budget = remembered_pages.PAGES_PER_READER_MINUTE

    for junk in range(budget):
        view(client, f"{url}?junk={junk}")
    past_the_budget = f"{url}?junk={budget}"
    view(client, past_the_budget)

    assert remembered(view(client, f"{url}?junk=0"))
    assert not remembered(view(client, past_the_budget))
    assert view(client, past_the_budget).status_code == 200
