"""Partial cover moves pay and the on-call answer with the hours each person holds: across
the March 2027 clock change and Good Friday (a public holiday in Great Britain)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from planning import swaps
from planning.inputs import candidates_for, recommender_settings
from planning.pay import pay_report, set_pay_rates
from planning.selectors import load_report
from rotation.models import Person, Shift
from tests.partial_support import MARCH_2027, published_team

pytestmark = pytest.mark.django_db

NOW = "2027-02-20 12:00Z"
WEEK_START = datetime(2027, 3, 22, 9, tzinfo=UTC)  # Mon 22 Mar 09:00 GMT
# Good Friday 18:00 GMT – Easter Sunday 18:00 BST: 6 holiday hours, then 24 + 17 weekend
# hours (the clocks go forward at 01:00 on Sunday: that day has 23 hours).
PART = (datetime(2027, 3, 26, 18, tzinfo=UTC), datetime(2027, 3, 28, 17, tzinfo=UTC))
LATER = datetime(2027, 6, 1, tzinfo=UTC)


@pytest.fixture
def week():
    with time_machine.travel(NOW):
        team = published_team(period=MARCH_2027)
        Person.objects.filter(user__in=team["people"]).update(
            time_zone="Europe/London", country="GB"
        )
        set_pay_rates(
            team=team["team"],
            by=team["boss"],
            currency="EUR",
            weekday_hour=Decimal("2.00"),
            weekend_hour=Decimal("3.00"),
            holiday_hour=Decimal("5.00"),
            per_incident=Decimal("20.00"),
        )
        shift = team["roster"].shifts.get(role="primary", start=WEEK_START)
        secondary = team["roster"].shifts.get(role="secondary", start=WEEK_START).assignee
        return {**team, "shift": shift, "requester": shift.assignee, "secondary": secondary}


def march(team, user):
    lines = pay_report(
        team=team["team"],
        viewer=team["boss"],
        first_month=date(2027, 3, 1),
        last_month=date(2027, 3, 1),
        now=LATER,
    )
    line = next(line for line in lines if line.person_id == user.pk)
    return (line.weekday_hours, line.weekend_hours, line.holiday_hours, line.amount)


def cover(team):
    with time_machine.travel(NOW):
        request = swaps.request_swap(team["shift"], part=PART, by=team["requester"])
        offer = request.offers.select_related("candidate").order_by("rank").first()
        swaps.accept_offer(offer, by=offer.candidate)
    return offer.candidate


def difference(after, before):
    return tuple(a - b for a, b in zip(after, before, strict=True))


def test_the_colleague_is_paid_the_parts_hours_across_the_holiday_and_the_clock_change(week):
    before = {p.pk: march(week, p) for p in week["people"]}
    colleague = cover(week)
    gained = difference(march(week, colleague), before[colleague.pk])
    # weekday, weekend (24 + 17: Sunday has 23 hours), holiday (Good Friday evening), amount
    assert gained == (Decimal("0"), Decimal("41"), Decimal("6"), Decimal("153.00"))


def test_the_requester_keeps_the_pay_of_the_rest_of_the_week(week):
    before = march(week, week["requester"])
    cover(week)
    lost = difference(before, march(week, week["requester"]))
    assert lost == (Decimal("0"), Decimal("41"), Decimal("6"), Decimal("153.00"))


def test_the_week_pays_the_same_hours_in_all_before_and_after_the_cover(week):
    def all_hours():
        return sum(sum(march(week, p)[:3]) for p in week["people"])

    before = all_hours()
    cover(week)
    assert all_hours() == before


def test_the_pieces_hold_the_real_hours_of_the_week_of_the_clock_change(week):
    cover(week)
    pieces = Shift.objects.filter(roster=week["roster"], role="primary", start__gte=WEEK_START)
    pieces = pieces.filter(start__lt=datetime(2027, 3, 29, 8, tzinfo=UTC)).order_by("start")
    # Mon 09:00 – Fri 18:00 GMT; the part; Sun 18:00 – Mon 09:00 BST. 167 hours in all.
    assert [p.hours for p in pieces] == [105.0, 47.0, 15.0]


# ------------------------------------------------------------------ the on-call answer


def oncall(team, at: str) -> dict:
    api = APIClient()
    api.force_authenticate(team["boss"])
    response = api.get(f"/api/rotations/{team['rotation'].pk}/oncall/", {"at": at})
    assert response.status_code == 200
    return response.json()


def test_the_oncall_answer_inside_the_part_names_the_colleague_until_the_part_ends(week):
    colleague = cover(week)
    body = oncall(week, "2027-03-27T12:00:00Z")
    assert body["primary"]["email"] == colleague.email
    assert body["shift_end"] == "2027-03-28T17:00:00Z"


def test_the_oncall_answer_outside_the_part_names_the_requester(week):
    cover(week)
    assert oncall(week, "2027-03-26T17:59:00Z")["primary"]["email"] == week["requester"].email
    assert oncall(week, "2027-03-28T17:00:00Z")["primary"]["email"] == week["requester"].email


def test_the_parts_escalation_chain_starts_with_the_weeks_secondary(week):
    cover(week)
    chain = oncall(week, "2027-03-27T12:00:00Z")["escalation"]
    assert chain[0]["user_id"] == week["secondary"].pk
    assert chain[0]["role"] == "secondary"


# ------------------------------------------------------------------ fairness


def load_hours(team, user) -> tuple[float, float, float]:
    rows, _ = load_report(
        rotation=team["rotation"],
        start=datetime(2027, 3, 1, tzinfo=UTC),
        end=datetime(2027, 4, 1, tzinfo=UTC),
    )
    row = next(r for r in rows if r.user_id == user.pk)
    return (row.hours, row.weekend_hours, row.holiday_hours)


def test_the_load_report_counts_the_hours_each_person_holds_after_the_cover(week):
    before = {p.pk: load_hours(week, p) for p in week["people"]}
    colleague = cover(week)
    gained = difference(load_hours(week, colleague), before[colleague.pk])
    lost = difference(before[week["requester"].pk], load_hours(week, week["requester"]))
    assert gained == lost == (47.0, 41.0, 6.0)


def test_past_load_counts_the_part_for_the_colleague_once_it_is_worked(week):
    colleague = cover(week)
    settings = recommender_settings(week["rotation"])

    def past_load(user):
        people = candidates_for(
            week["rotation"], LATER, LATER + timedelta(days=7), now=LATER, settings=settings
        )
        return next(c for c in people if c.person_id == user.pk).past_load

    with_cover = past_load(colleague)
    Shift.objects.filter(assignee=colleague, start=PART[0]).update(assignee=week["requester"])
    assert with_cover > past_load(colleague)
