"""Two colleagues take the same evening at the same moment: one wins, the week splits once."""

import threading

import pytest
import time_machine
from django.db import connection

from planning import swaps
from rotation.models import Shift
from tests.partial_support import THURSDAY_EVENING, published_team, week_shift

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_two_simultaneous_accepts_of_a_part_split_the_week_once(postgres):
    team = published_team(size=12, offers_at_once=6)
    shift = week_shift(team)
    request = swaps.request_swap(shift, part=THURSDAY_EVENING, by=shift.assignee)
    offers = list(request.offers.select_related("candidate"))[:6]
    barrier = threading.Barrier(len(offers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def accept(offer):
        try:
            barrier.wait()
            swaps.accept_offer(offer, by=offer.candidate)
            result = "won"
        except swaps.AlreadyTaken as exc:
            result = "taken: " + str(exc)
        except Exception as exc:  # noqa: BLE001 - the test reports anything else
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=accept, args=(o,)) for o in offers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert outcomes.count("won") == 1, outcomes
    assert all(o.startswith("taken: Already taken by") for o in outcomes if o != "won")
    request.refresh_from_db()
    pieces = Shift.objects.filter(roster=team["roster"], role="primary", split_from=shift)
    assert [p.assignee_id for p in pieces.order_by("start")] == [
        request.winner_id,
        shift.assignee_id,
    ]
