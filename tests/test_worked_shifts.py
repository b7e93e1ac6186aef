"""A month published twice is one month worked: past load and the load report count it once."""

from datetime import UTC, date, datetime, timedelta

import pytest

from planning import inputs
from planning.selectors import load_report
from rotation.models import Roster, Shift
from tests.factories import build_team

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, tzinfo=UTC)
WORKED = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 9, 9, tzinfo=UTC))


def roster_with(setup, user, status, *, role="primary"):
    roster = Roster.objects.create(
        rotation=setup.rotation,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 1),
        status=status,
    )
    Shift.objects.create(roster=roster, role=role, start=WORKED[0], end=WORKED[1], assignee=user)
    return roster


def past_load_of(setup, user):
    settings = inputs.recommender_settings(setup.rotation)
    people = inputs.candidates_for(
        setup.rotation, NOW, NOW + timedelta(days=31), now=NOW, settings=settings
    )
    return next(c.past_load for c in people if c.person_id == user.pk)


def test_a_republished_month_counts_once_in_past_load():
    once, twice = build_team(2, prefix="once-"), build_team(2, prefix="twice-")
    roster_with(once, once.people[0], Roster.Status.PUBLISHED)
    roster_with(twice, twice.people[0], Roster.Status.SUPERSEDED)
    roster_with(twice, twice.people[0], Roster.Status.PUBLISHED)

    assert past_load_of(twice, twice.people[0]) == pytest.approx(past_load_of(once, once.people[0]))


def test_the_load_report_counts_a_republished_month_once():
    setup = build_team(2)
    roster_with(setup, setup.people[0], Roster.Status.SUPERSEDED)
    roster_with(setup, setup.people[0], Roster.Status.PUBLISHED)

    rows, _ = load_report(rotation=setup.rotation, start=datetime(2026, 11, 1, tzinfo=UTC), end=NOW)

    assert next(r for r in rows if r.user_id == setup.people[0].pk).hours == 168


def test_a_superseded_shift_nothing_replaced_still_counts():
    setup = build_team(2)
    roster_with(setup, setup.people[0], Roster.Status.SUPERSEDED)

    rows, _ = load_report(rotation=setup.rotation, start=datetime(2026, 11, 1, tzinfo=UTC), end=NOW)

    assert next(r for r in rows if r.user_id == setup.people[0].pk).hours == 168
