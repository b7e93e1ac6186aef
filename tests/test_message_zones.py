"""Every time a message gives (subject and body) is in the reader's zone with the zone named:
an abbreviation alone is ambiguous ("IST" is India's and Ireland's summer time)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail as outbox

from notifications import dispatch, mail
from planning import swaps
from tests.swap_support import published_team

NOW = "2026-11-25 12:00Z"


def test_a_time_in_india_names_asia_kolkata():
    text = mail.local(datetime(2026, 12, 7, 9, tzinfo=UTC), "Asia/Kolkata")

    assert text == "Mon 7 Dec 2026 14:30 IST (Asia/Kolkata)"


def test_a_summer_time_in_ireland_names_europe_dublin():
    text = mail.local(datetime(2026, 7, 6, 8, tzinfo=UTC), "Europe/Dublin")

    assert text == "Mon 6 Jul 2026 09:00 IST (Europe/Dublin)"


def test_a_time_in_utc_is_just_utc():
    assert mail.local(datetime(2026, 12, 7, 9, tzinfo=UTC), "UTC") == "Mon 7 Dec 2026 09:00 UTC"


@pytest.mark.django_db
@time_machine.travel(NOW)
def test_a_swap_offer_subject_names_the_readers_zone():
    team = published_team()
    shift = team["roster"].shifts.filter(role="primary").order_by("start").first()
    offer = swaps.request_swap(shift, by=shift.assignee).offers.select_related("candidate__person")[
        0
    ]
    offer.candidate.person.time_zone = "Asia/Kolkata"
    offer.candidate.person.save()
    outbox.outbox.clear()

    dispatch.sweep(grace=0)

    subject = next(m.subject for m in outbox.outbox if m.to == [offer.candidate.email])
    assert subject.endswith("IST (Asia/Kolkata)?")
