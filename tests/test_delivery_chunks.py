"""A chunk of deliveries costs about what one does: claimed in one UPDATE, loaded in a few
queries whatever its size, sent over one SMTP connection; each message is still marked sent
as soon as the server took it, and a failure of one message touches that message only."""

from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import dispatch
from notifications.models import Delivery
from notifications.selectors import entry_uid, failed_deliveries
from rotation.models import Shift
from tests.notifications_support import FAST_HASHERS, make_team, parsed_event, publish

pytestmark = pytest.mark.django_db

MONTH = (date(2031, 3, 1), date(2031, 4, 1))  # 31 daily shifts x 2 slots = 62 invites


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def month(django_capture_on_commit_callbacks):
    """A published month for 12 people whose 62 invites are written but not sent yet."""
    setup = make_team(12)
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, *MONTH)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) == 62
    return roster, ids


def uids(sink) -> Counter:
    return Counter(str(parsed_event(m)[1]["UID"]) for m in sink.messages)


def is_sent_mark(query: dict) -> bool:
    sql = query["sql"]
    return sql.startswith("UPDATE") and "'sent'" in sql


def test_a_chunk_reads_the_same_number_of_queries_whatever_its_size(month, smtp_server):
    _, ids = month
    counted = {}
    for size, chunk in ((5, ids[:5]), (50, ids[5:55])):
        with CaptureQueriesContext(connection) as queries:
            dispatch.deliver_batch(chunk)
        marks = [q for q in queries.captured_queries if is_sent_mark(q)]
        # One "sent" mark per message, written as the server accepts it ...
        assert len(marks) == size
        # ... and everything else (claim, rows, history, entries) does not grow.
        counted[size] = len(queries.captured_queries) - len(marks)
    # (6 + the escalation chain's time-away and team-membership lookups for the chunk's shifts)
    assert counted[5] == counted[50] <= 8
    assert len(smtp_server.messages) == 55


def test_a_chunk_goes_out_over_one_smtp_connection(month, smtp_server):
    _, ids = month
    for chunk in dispatch.batches(ids):  # 8 chunks of 7 or 8
        dispatch.deliver_batch(chunk)
    assert len(smtp_server.messages) == 62
    assert len(set(smtp_server.peers)) == 8
    assert sorted(Counter(smtp_server.peers).values()) == [7, 7] + [8] * 6


def test_a_451_on_one_message_of_a_chunk_resends_only_that_message(
    month, smtp_server, monkeypatch, settings
):
    settings.ONEHAND_DELIVERY_RETRY_BASE = 10
    roster, ids = month
    chunk = ids[:20]
    smtp_server.refuse(1, after=7)  # the 8th message of the chunk: "try again later"
    requeued = []
    monkeypatch.setattr(
        dispatch, "enqueue", lambda ids, countdown=None: requeued.append((list(ids), countdown))
    )
    retries = dispatch.deliver_batch(chunk)
    assert list(retries) == [chunk[7]] and requeued == [([chunk[7]], 10)]
    assert len(smtp_server.messages) == 19
    refused = Delivery.objects.get(pk=chunk[7])
    assert (refused.status, refused.attempts) == ("pending", 1)
    assert refused.last_error.startswith("SMTP 451")

    # The retry (after its backoff) sends that one message and nothing else of the chunk.
    dispatch.deliver_batch(chunk, now=timezone.now() + timedelta(seconds=11))
    assert len(smtp_server.messages) == 20
    expected = {
        entry_uid(s.pk, s.assignee_id)
        for s in Shift.objects.filter(deliveries__pk__in=chunk).distinct()
    }
    assert uids(smtp_server) == dict.fromkeys(expected, 1)
    assert set(Delivery.objects.filter(pk__in=chunk).values_list("status", flat=True)) == {"sent"}
    assert Delivery.objects.get(pk=chunk[7]).attempts == 2


def test_a_permanent_refusal_of_one_message_shows_in_the_failed_list_and_the_rest_go_out(
    month, smtp_server
):
    roster, ids = month
    chunk = ids[:10]
    smtp_server.refuse(1, after=3, reply="550 5.1.1 No such mailbox")
    assert dispatch.deliver_batch(chunk) == {}
    assert len(smtp_server.messages) == 9
    failed = list(failed_deliveries(roster))
    assert [d.pk for d in failed] == [chunk[3]]
    assert failed[0].last_error.startswith("SMTP 550")
    assert Delivery.objects.filter(pk__in=chunk, status="sent").count() == 9


def test_a_chunk_holding_an_entry_and_its_newer_change_sends_only_the_newer(month, smtp_server):
    _, ids = month
    first = Delivery.objects.get(pk=ids[0])
    newer = Delivery.objects.create(
        user_id=first.user_id,
        shift_id=first.shift_id,
        channel=first.channel,
        kind=first.kind,
        sequence=first.sequence + 1,
        action=first.action,
        next_attempt_at=timezone.now(),
    )
    dispatch.deliver_batch([first.pk, newer.pk, ids[1]])
    statuses = dict(
        Delivery.objects.filter(pk__in=[first.pk, newer.pk, ids[1]]).values_list("pk", "status")
    )
    assert statuses == {first.pk: "skipped", newer.pk: "sent", ids[1]: "sent"}
    sequences = sorted(int(parsed_event(m)[1]["SEQUENCE"]) for m in smtp_server.messages)
    assert sequences == [0, first.sequence + 1]


def test_a_slow_chunk_renews_its_lease_and_leaves_alone_a_row_another_worker_took_over(
    month, smtp_server, monkeypatch, settings
):
    _, ids = month
    chunk = ids[:5]
    settings.ONEHAND_DELIVERY_LEASE = 0.001  # every message outlives half the lease
    real = dispatch._deliver_claimed

    def slow(delivery, *args):
        if delivery.pk == chunk[0]:
            # Meanwhile the sweeper handed the last row to another worker.
            Delivery.objects.filter(pk=chunk[4]).update(
                attempts=F("attempts") + 1, lease_until=timezone.now() + timedelta(minutes=5)
            )
        return real(delivery, *args)

    monkeypatch.setattr(dispatch, "_deliver_claimed", slow)
    dispatch.deliver_batch(chunk)
    assert len(smtp_server.messages) == 4
    assert Delivery.objects.filter(pk__in=chunk[:4], status="sent").count() == 4
    taken = Delivery.objects.get(pk=chunk[4])
    assert (taken.status, taken.attempts) == ("sending", 2)  # the other worker's to send


def test_the_sent_marker_writes_the_delivery_table():
    assert f"UPDATE {Delivery._meta.db_table} " in dispatch._MARK_SENT


@pytest.mark.django_db(transaction=True)
def test_a_chunk_marks_its_rows_sent_and_leaves_the_connection_waiting_for_the_disk_again(
    month, smtp_server
):
    _, ids = month
    dispatch.deliver_batch(ids[:10])
    assert Delivery.objects.filter(pk__in=ids[:10], status="sent").count() == 10
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_each_message_is_marked_sent_before_the_next_message_goes_out(
    month, smtp_server, monkeypatch, pipelining
):
    import smtplib

    _, ids = month
    smtp_server.pipelining = pipelining
    events = []
    real_send, real_mark = smtplib.SMTP.send, dispatch._mark_sent

    def send(self, data):
        data = data.encode() if isinstance(data, str) else data
        if data[:4].lower() == b"mail":
            events.append("envelope")
        elif data.startswith(b"Content-Type: multipart/mixed"):  # a message's content
            events.append("content")
        return real_send(self, data)

    def mark(delivery):
        events.append("marked")
        return real_mark(delivery)

    monkeypatch.setattr(smtplib.SMTP, "send", send)
    monkeypatch.setattr(dispatch, "_mark_sent", mark)
    dispatch.deliver_batch(ids[:10])
    assert len(smtp_server.messages) == 10
    assert set(Delivery.objects.filter(pk__in=ids[:10]).values_list("status", flat=True)) == {
        "sent"
    }
    # Pipelined or not: the envelope, the content after the server's 354, the marker after its
    # 250 - and only then the next message.
    assert events == ["envelope", "content", "marked"] * 10
