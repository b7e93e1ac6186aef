"""The mentor and the lead add leave for the same week at the same moment: the chain announced
is the real one (neither of them is in it), whichever transaction commits first."""

import threading

import pytest
from django.db import connection

from notifications.models import AnnouncedChain
from tests.notifications_support import publish
from tests.test_escalation import FIRST_WEEK, MARCH, on_leave, weekly_team

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def test_two_people_adding_leave_at_once_leave_the_real_chain_announced(postgres):
    setup = weekly_team()
    roster = publish(setup, *MARCH)
    mentor, lead = setup.people[-1], setup.boss
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def away(user):
        try:
            barrier.wait()
            on_leave(user)
        except Exception as exc:  # noqa: BLE001 - the test reports anything else
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=away, args=(u,)) for u in (mentor, lead)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    announced = AnnouncedChain.objects.get(roster=roster, start=FIRST_WEEK[0]).contact_ids
    assert mentor.pk not in announced
    assert lead.pk not in announced
