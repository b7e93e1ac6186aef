"""The rotation page's month grid is kept under the on-call answers' stamp: served from the
cache the second time, and shown afresh after a publish or a rename.

Committed writes, as in production: a request inside a transaction with its own uncommitted
writes neither reads nor keeps the grid (it sees rows nobody else sees yet)."""

import logging
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rotation import services
from tests.factories import build_team

pytestmark = pytest.mark.django_db(transaction=True)
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def december_page(client, rotation):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/rotations/{rotation.pk}/?month=2026-12")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def publish_december(setup, person):
    roster = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)
    roster.shifts.update(assignee=person)
    services.publish_roster(roster, by=setup.boss)


def test_the_second_view_of_a_month_is_served_from_the_cache(client, caplog):
    setup = build_team(2, has_secondary=False)
    publish_december(setup, setup.people[0])
    client.force_login(setup.boss)
    caplog.set_level(logging.WARNING)

    _, first = december_page(client, setup.rotation)
    _, second = december_page(client, setup.rotation)

    assert second < first
    assert "grid cache unavailable" not in caplog.text


def test_the_cached_month_changes_after_a_rename(client, django_capture_on_commit_callbacks):
    setup = build_team(2, has_secondary=False)
    amara = setup.people[0]
    publish_december(setup, amara)
    client.force_login(setup.boss)
    december_page(client, setup.rotation)

    with django_capture_on_commit_callbacks(execute=True):
        amara.first_name = "Zanele"
        amara.save()
    html, _ = december_page(client, setup.rotation)

    assert "Zanele" in html


def test_the_cached_month_changes_after_a_publish(client, django_capture_on_commit_callbacks):
    setup = build_team(2, has_secondary=False)
    amara, ben = setup.people
    amara.first_name, ben.first_name = "Amara", "Benedikt"
    amara.save()
    ben.save()
    client.force_login(setup.boss)
    before, _ = december_page(client, setup.rotation)
    assert "Benedikt" not in before

    with django_capture_on_commit_callbacks(execute=True):
        publish_december(setup, ben)
    html, _ = december_page(client, setup.rotation)

    assert "Benedikt" in html
