"""Preview, then publish: the manager sees who gains and loses shifts and exactly which notices
will go out (the dry run of the outbox write publishing does), then publishes once."""

from datetime import date, time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from notifications import outbox
from notifications.models import Delivery
from onehand.errors import Conflict
from planning import changes
from planning import services as planning_services
from rotation import selectors, services
from rotation.models import Roster
from tests.factories import build_team

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def _identity(rows):
    return sorted((r.user_id, r.shift_id, r.channel, r.action, r.sequence) for r in rows)


def _draft(setup):
    return planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)


def _someone_else(setup, shift):
    taken = set(shift.roster.shifts.filter(start=shift.start).values_list("assignee_id", flat=True))
    return next(p for p in setup.people if p.pk not in taken)


@time_machine.travel("2026-11-20 12:00Z")
def test_the_first_preview_lists_exactly_the_invitations_publishing_sends():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    draft = _draft(setup)

    preview = outbox.publish_notices(roster=draft)
    services.publish_roster(draft, by=setup.boss, previewed=selectors.publish_token(roster=draft))

    assert preview
    assert {r.action for r in preview} == {Delivery.Action.REQUEST}
    assert _identity(preview) == _identity(Delivery.objects.filter(kind="entry"))


@time_machine.travel("2026-11-20 12:00Z")
def test_republishing_previews_the_cancellations_of_the_replaced_roster():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    services.publish_roster(_draft(setup), by=setup.boss)
    before = set(Delivery.objects.values_list("pk", flat=True))
    second = _draft(setup)

    preview = outbox.publish_notices(roster=second)
    services.publish_roster(second, by=setup.boss, previewed=selectors.publish_token(roster=second))

    written = Delivery.objects.exclude(pk__in=before)
    assert {r.action for r in preview} == {Delivery.Action.REQUEST, Delivery.Action.CANCEL}
    assert _identity(preview) == _identity(written)


@time_machine.travel("2026-11-20 12:00Z")
def test_the_preview_names_who_gains_and_who_loses_a_shift():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    published = services.publish_roster(_draft(setup), by=setup.boss)
    second = _draft(setup)
    first = second.shifts.order_by("start", "role").first()
    loser = first.assignee
    gainer = _someone_else(setup, first)
    planning_services.assign_slot(first, gainer, by=setup.boss, override=True)

    people = {p.user_id: p for p in changes.publish_changes(roster=second)}

    assert first.start in {s.start for s in people[gainer.pk].gained}
    was = published.shifts.get(start=first.start, role=first.role).assignee_id
    if was == loser.pk:
        assert first.start in {s.start for s in people[loser.pk].lost}


@time_machine.travel("2026-11-20 12:00Z")
def test_a_partner_change_is_named_for_the_person_who_keeps_the_shift():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    published = services.publish_roster(_draft(setup), by=setup.boss)
    primary = published.shifts.get(
        start=published.shifts.order_by("start").first().start, role="primary"
    )
    second = planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)
    same_primary = second.shifts.get(start=primary.start, role="primary")
    planning_services.assign_slot(same_primary, primary.assignee, by=setup.boss, override=True)
    partner = second.shifts.get(start=primary.start, role="secondary")
    planning_services.assign_slot(
        partner, _someone_else(setup, partner), by=setup.boss, override=True
    )

    keeper = {p.user_id: p for p in changes.publish_changes(roster=second)}[primary.assignee_id]

    assert primary.start in {c.start for c in keeper.partners}


@time_machine.travel("2026-11-20 12:00Z")
def test_a_stale_preview_is_refused_and_nothing_is_published():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    draft = _draft(setup)
    token = selectors.publish_token(roster=draft)
    slot = draft.shifts.order_by("start", "role").first()
    planning_services.assign_slot(slot, _someone_else(setup, slot), by=setup.boss, override=True)

    with pytest.raises(Conflict, match="Preview again"):
        services.publish_roster(draft, by=setup.boss, previewed=token)

    draft.refresh_from_db()
    assert draft.status == Roster.Status.DRAFT
    assert not Delivery.objects.exists()


@time_machine.travel("2026-11-20 12:00Z")
def test_confirming_the_same_preview_twice_publishes_once(client):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    draft = _draft(setup)
    token = selectors.publish_token(roster=draft)
    client.force_login(setup.boss)

    for _ in range(2):
        response = client.post(f"/rosters/{draft.pk}/publish/", {"previewed": token})
        assert response.status_code == 302

    assert Roster.objects.filter(status="published").count() == 1
    assert Delivery.objects.filter(kind="entry").count() == len(
        {(d.user_id, d.shift_id, d.channel) for d in Delivery.objects.all()}
    )


@time_machine.travel("2026-11-20 12:00Z")
def test_the_preview_page_lists_the_notices_and_changes(client):
    setup = build_team(3, pattern="weekly", handoff_time=time(9))
    draft = _draft(setup)
    client.force_login(setup.boss)

    page = client.get(f"/rosters/{draft.pk}/preview/").content.decode()

    assert "Notices that will go out" in page
    assert "Invitation" in page
    assert f'name="previewed" value="{selectors.publish_token(roster=draft)}"' in page
    assert "Europe/London" in page or "UTC" in page


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@time_machine.travel("2026-11-20 12:00Z")
def test_the_preview_page_costs_the_same_queries_for_5_and_50_people(client):
    counts = []
    for size in (5, 50):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        services.publish_roster(_draft(setup), by=setup.boss)
        second = _draft(setup)
        client.force_login(setup.boss)
        counts.append(_queries(client, f"/rosters/{second.pk}/preview/"))
    assert counts[0] == counts[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_compare_page_costs_the_same_queries_for_5_and_50_people(client):
    counts = []
    for size in (5, 50):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        first, second = _draft(setup), _draft(setup)
        client.force_login(setup.boss)
        counts.append(
            _queries(client, f"/rotations/{setup.rotation.pk}/compare/?a={first.pk}&b={second.pk}")
        )
    assert counts[0] == counts[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_api_refuses_a_publish_checked_against_a_stale_preview():
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    draft = _draft(setup)
    token = selectors.publish_token(roster=draft)
    slot = draft.shifts.order_by("start", "role").first()
    planning_services.assign_slot(slot, _someone_else(setup, slot), by=setup.boss, override=True)
    api = APIClient()
    api.force_authenticate(setup.boss)

    response = api.post(f"/api/rosters/{draft.pk}/publish/?previewed={token}")

    assert response.status_code == 409
    assert "Preview again" in response.json()["detail"]


@time_machine.travel("2026-11-20 12:00Z")
def test_comparing_a_roster_of_another_rotation_is_refused(client):
    setup = build_team(2, pattern="weekly", handoff_time=time(9))
    other = build_team(2, prefix="o-", pattern="weekly", handoff_time=time(9))
    mine, theirs = _draft(setup), _draft(other)
    client.force_login(setup.boss)

    response = client.get(
        f"/rotations/{setup.rotation.pk}/compare/", {"a": mine.pk, "b": theirs.pk}
    )

    assert response.status_code == 400
    assert client.get(f"/rotations/{setup.rotation.pk}/compare/", {"a": "²"}).status_code == 400
