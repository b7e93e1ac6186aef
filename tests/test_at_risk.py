"""The at-risk watch: shifts starting soon that may go uncovered, in words, e-mailed once."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from availability import services as availability
from notifications import dispatch, watch
from notifications.models import Delivery, Kind
from planning import risk, swaps
from rotation.permissions import SYSTEM
from tests.swap_support import published_team

pytestmark = pytest.mark.django_db
NOW = "2026-12-05 12:00Z"  # the first shift (Mon 7 Dec 09:00) is 45 hours away


def first_primary(team):
    return team["roster"].shifts.filter(role="primary").order_by("start").first()


@time_machine.travel(NOW)
def test_a_holder_now_away_puts_the_shift_at_risk_in_words():
    team = published_team()
    shift = first_primary(team)
    holder = shift.assignee
    availability.mark(
        shift.start - timedelta(hours=9),
        shift.start + timedelta(days=4, hours=15),
        "unavailable",
        enforce_lock=False,
        by=holder,
    )
    (item,) = risk.at_risk_shifts([team["rotation"].pk], zone="Europe/London")
    assert item.shift == shift
    assert item.reasons == [f"{holder.get_full_name()} is away 7–11 Dec"]


@time_machine.travel(NOW)
def test_an_open_swap_and_an_empty_slot_are_at_risk_and_later_shifts_are_not():
    team = published_team()
    shift = first_primary(team)
    secondary = team["roster"].shifts.get(start=shift.start, role="secondary")
    secondary.assignee = None
    secondary.save()
    swaps.request_swap(shift, by=shift.assignee)
    found = {i.shift.role: i.reasons for i in risk.at_risk_shifts([team["rotation"].pk])}
    assert found["secondary"] == ["nobody is assigned"]
    assert found["primary"][-1] == "swap open, no taker yet (3 people asked)"
    assert len(found) == 2  # the next week is beyond the 72-hour horizon


@time_machine.travel(NOW)
def test_the_managers_are_emailed_once_per_shift_at_risk():
    team = published_team()
    shift = first_primary(team)
    swaps.request_swap(shift, by=shift.assignee)
    watch.alert_at_risk(by=SYSTEM)
    watch.alert_at_risk(by=SYSTEM)  # beat runs it again and again
    rows = Delivery.objects.filter(kind=Kind.AT_RISK)
    assert [(r.user, r.shift) for r in rows] == [(team["boss"], shift)]
    mail.outbox.clear()
    dispatch.sweep(grace=0)
    (alert,) = [m for m in mail.outbox if m.subject.startswith("At risk:")]
    assert alert.to == [team["boss"].email]
    assert "swap open, no taker yet" in alert.body
