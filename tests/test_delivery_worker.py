"""Invites through a real Celery worker process, Redis and PostgreSQL, to a real SMTP server."""

import os
import signal
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from notifications import dispatch
from notifications.models import Delivery
from notifications.selectors import entry_uid
from notifications.tasks import queue_roster_deliveries
from rotation.models import Shift
from tests.notifications_support import FAST_HASHERS, make_team, parsed_event, publish
from tests.services import eventually

User = get_user_model()

pytestmark = [pytest.mark.worker, pytest.mark.services, pytest.mark.django_db(transaction=True)]

MONTH = (date(2031, 3, 1), date(2031, 4, 1))  # 31 daily shifts x (primary, secondary)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def received(sink) -> Counter:
    with sink.lock:
        messages = list(sink.messages)
    return Counter(
        (str(event["UID"]), int(event["SEQUENCE"]))
        for event in (parsed_event(m)[1] for m in messages)
    )


def expected_invites(roster) -> dict:
    return {(entry_uid(s.pk, s.assignee_id), 0): s for s in Shift.objects.filter(roster=roster)}


def all_sent(roster) -> bool:
    return not Delivery.objects.filter(shift__roster=roster).exclude(status="sent").exists()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_worker(process) -> None:
    """SIGKILL the worker and its pool processes, as an OOM killer or a lost machine would."""
    os.kill(process.pid, signal.SIGSTOP)  # no replacement children while we aim
    for child in children_of(process.pid):
        os.kill(child, signal.SIGKILL)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_publishing_a_month_sends_one_valid_invite_per_assignee_per_shift(celery_worker, smtp_sink):
    smtp_sink.reset()
    setup = make_team(12)
    roster = publish(setup, *MONTH)
    expected = expected_invites(roster)
    assert len(expected) == 62
    assert eventually(lambda: all_sent(roster), timeout=60), Delivery.objects.exclude(
        status="sent"
    ).values()
    parsed = [(m, *parsed_event(m)) for m in smtp_sink.messages]
    assert Counter((str(e["UID"]), int(e["SEQUENCE"])) for _, _, e in parsed) == dict.fromkeys(
        expected, 1
    )

    people = {u.pk: u for u in User.objects.select_related("person")}
    slots = {(s.start, s.role): people[s.assignee_id] for s in Shift.objects.filter(roster=roster)}
    mentor, lead = people[setup.rotation.mentor_id], people[setup.rotation.lead_id]
    for message, calendar, event in parsed:
        shift = expected[(str(event["UID"]), 0)]
        me = people[shift.assignee_id]
        primary, secondary = slots[(shift.start, "primary")], slots[(shift.start, "secondary")]
        assert calendar["METHOD"] == "REQUEST"
        assert message["To"] == me.email
        assert event["ATTENDEE"] == f"mailto:{me.email}"
        assert (event.start, event.end) == (shift.start, shift.end)
        assert str(event["X-ONEHAND-ROLE"]) == shift.role
        partner = secondary if shift.role == "primary" else primary
        assert event["X-ONEHAND-PARTNER"] == f"mailto:{partner.email}"
        assert event["X-ONEHAND-PARTNER"].params["X-ONEHAND-PHONE"] == partner.person.phone != ""
        # Secondary -> mentor -> lead, without repeats and without the attendee.
        chain = []
        for person in (secondary, mentor, lead):
            if person not in chain and person not in (primary, me):
                chain.append(person)
        escalation = event.get("X-ONEHAND-ESCALATION")
        escalation = escalation if isinstance(escalation, list) else [escalation]
        ordered = sorted(escalation, key=lambda p: int(p.params["X-ONEHAND-ORDER"]))
        assert [str(p) for p in ordered] == [f"mailto:{p.email}" for p in chain]
        assert [p.params["X-ONEHAND-PHONE"] for p in ordered] == [p.person.phone for p in chain]
        assert f"phone {partner.person.phone}" in message.get_body(("plain",)).get_content()

    # Re-running the publish task through the worker sends nothing more.
    queue_roster_deliveries.delay(roster.pk).get(timeout=30)
    time.sleep(0.5)
    assert len(smtp_sink.messages) == 62
    assert Delivery.objects.filter(shift__roster=roster).count() == 62


@pytest.mark.faults
def test_killing_the_worker_mid_delivery_still_delivers_every_invite_exactly_once(
    celery_worker, smtp_sink
):
    smtp_sink.reset()
    smtp_sink.hold_after(20)  # the 21st message onwards waits for its "250 OK"
    setup = make_team(12, prefix="k")
    roster = publish(setup, *MONTH)
    expected = expected_invites(roster)
    # Both pool processes are mid-send (DATA given, no reply yet) when the worker dies.
    assert eventually(lambda: smtp_sink.holding >= 2, timeout=30)
    kill_worker(celery_worker["process"])
    assert eventually(lambda: smtp_sink.holding == 0, timeout=10)  # the server saw them go
    smtp_sink.release()
    # Every message the server accepted is marked sent; what is left "sending" is the two
    # messages it never accepted and the rest of their two chunks (claimed together).
    rows = Delivery.objects.filter(shift__roster=roster)
    assert rows.filter(status="sent").count() == len(smtp_sink.messages) == 20
    stuck = set(rows.filter(status="sending").values_list("pk", flat=True))
    assert len(stuck) >= 2

    celery_worker["start"]()

    def settled():
        dispatch.sweep(grace=1)  # what beat does every minute
        return all_sent(roster)

    assert eventually(settled, timeout=90, interval=0.5)
    assert received(smtp_sink) == dict.fromkeys(expected, 1)
    assert set(rows.filter(attempts=2).values_list("pk", flat=True)) == stuck


def test_smtp_451_for_a_while_is_retried_by_the_worker_then_delivered_once(
    celery_worker, smtp_sink
):
    smtp_sink.reset()
    smtp_sink.refuse(3)
    setup = make_team(3, prefix="r")
    roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    assert eventually(lambda: all_sent(roster), timeout=30)
    assert smtp_sink.refused == 3
    time.sleep(0.5)
    assert received(smtp_sink) == dict.fromkeys(expected_invites(roster), 1)
    assert sum(Delivery.objects.values_list("attempts", flat=True)) == 2 + 3


def _worker_backends() -> set[int]:
    """The worker's PostgreSQL backends (its sessions are named, see conftest)."""
    from django.db import connection

    from tests.conftest import WORKER_APPLICATION_NAME

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            [WORKER_APPLICATION_NAME],
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_the_worker_keeps_its_database_connections_from_one_chunk_to_the_next(
    celery_worker, smtp_sink
):
    # Celery's Django fix-up used to close them around every task: a new backend per chunk.
    smtp_sink.reset()
    setup = make_team(12)
    first = publish(setup, date(2031, 5, 1), date(2031, 5, 8))  # 14 invites, 8 chunks
    assert eventually(lambda: all_sent(first), timeout=60)
    after_first = _worker_backends()
    assert 1 <= len(after_first) <= 2  # one per pool process that took a chunk
    second = publish(setup, date(2031, 5, 15), date(2031, 5, 22))
    assert eventually(lambda: all_sent(second), timeout=60)
    after_second = _worker_backends()
    assert after_first <= after_second and len(after_second) <= 2
    assert len(smtp_sink.messages) == 28
