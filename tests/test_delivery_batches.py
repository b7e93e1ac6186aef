"""Deliveries queued in chunks: fewer broker messages, a row is never claimed twice, one
failure never stops the rest of a chunk, one SMTP connection per chunk."""

import socket
from datetime import date

import pytest

from notifications import dispatch, mail, tasks
from notifications.models import Delivery
from rotation.models import Shift
from tests.notifications_support import FAST_HASHERS, make_team, publish

pytestmark = pytest.mark.django_db

WEEK = (date(2031, 3, 1), date(2031, 3, 8))  # 7 daily shifts x 2 slots = 14 invites


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def outbox(django_capture_on_commit_callbacks):
    """A published week whose 14 deliveries are written but not sent."""
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, *WEEK)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    assert len(ids) == 14
    return roster, ids


def test_chunks_are_at_most_fifty_ids_and_small_outboxes_are_spread():
    assert dispatch.batches([]) == []
    big = list(range(10_000))
    chunks = dispatch.batches(big)
    assert len(chunks) == 200 and {len(c) for c in chunks} == {50}
    assert [i for c in chunks for i in c] == big
    assert [len(c) for c in dispatch.batches(list(range(62)))] == [8] * 6 + [7] * 2
    assert dispatch.batches([1, 2, 3]) == [[1], [2], [3]]
    assert [len(c) for c in dispatch.batches(list(range(101)))] == [13] * 5 + [12] * 3


def test_enqueue_sends_one_message_per_chunk(monkeypatch, settings):
    sent = []
    monkeypatch.setattr(
        tasks.deliver_batch, "apply_async", lambda args, **kwargs: sent.append((args, kwargs))
    )
    assert dispatch.enqueue(range(1, 1001), countdown=5) == 1000
    assert len(sent) == 20
    assert [i for (chunk,), _ in sent for i in chunk] == list(range(1, 1001))
    assert {kwargs["countdown"] for _, kwargs in sent} == {5}


def test_a_chunk_run_twice_sends_nothing_twice(outbox, smtp_server):
    _, ids = outbox
    tasks.deliver_batch.delay(ids)
    tasks.deliver_batch.delay(ids)
    assert len(smtp_server.messages) == 14
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_one_broken_row_does_not_stop_the_chunk(outbox, smtp_server, monkeypatch, caplog):
    _, ids = outbox
    real = dispatch._deliver_claimed

    def sometimes_broken(delivery, *args):
        if delivery.pk == ids[3]:
            raise RuntimeError("database went away for a moment")
        return real(delivery, *args)

    monkeypatch.setattr(dispatch, "_deliver_claimed", sometimes_broken)
    dispatch.deliver_batch(ids)
    assert len(smtp_server.messages) == 13
    assert Delivery.objects.get(pk=ids[3]).status == "pending"  # the sweeper's, later
    assert f"delivery {ids[3]}: could not be processed" in caplog.text
    monkeypatch.undo()
    assert dispatch.sweep(grace=0) == 1
    assert len(smtp_server.messages) == 14


def test_a_chunk_uses_one_smtp_connection(outbox, smtp_server, monkeypatch):
    _, ids = outbox
    opened = []
    real = mail.get_connection

    def counting(*args, **kwargs):
        connection = real(*args, **kwargs)
        opened.append(connection)
        return connection

    monkeypatch.setattr(mail, "get_connection", counting)
    dispatch.deliver_batch(ids)
    assert len(opened) == 1
    assert len(smtp_server.messages) == 14
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 14


def test_a_connection_the_server_dropped_is_reopened_once(outbox, smtp_server, monkeypatch):
    _, ids = outbox
    real = dispatch._deliver_claimed
    dropped = []

    def drop_after_the_first(delivery, *args):
        outcome = real(delivery, *args)
        shared = mail._shared.get()
        if not dropped and shared.connection is not None:
            # The server timed the idle connection out.
            shared.connection.connection.sock.shutdown(socket.SHUT_RDWR)
            dropped.append(delivery.pk)
        return outcome

    opened = []
    real_connection = mail.get_connection

    def counting(*args, **kwargs):
        opened.append(real_connection(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(dispatch, "_deliver_claimed", drop_after_the_first)
    monkeypatch.setattr(mail, "get_connection", counting)
    dispatch.deliver_batch(ids)
    assert dropped and len(opened) == 2
    assert len(smtp_server.messages) == 14
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_transient_failures_in_a_chunk_are_queued_again_after_their_backoff(
    outbox, smtp_server, monkeypatch, settings
):
    settings.ONEHAND_DELIVERY_RETRY_BASE = 10
    _, ids = outbox
    smtp_server.refuse(2)
    requeued = []
    monkeypatch.setattr(
        dispatch, "enqueue", lambda ids, countdown=None: requeued.append((list(ids), countdown))
    )
    retries = dispatch.deliver_batch(ids)
    assert len(retries) == 2 and set(retries.values()) == {10}
    assert requeued == [(list(retries), 10)]
    assert len(smtp_server.messages) == 12
    assert Delivery.objects.filter(status="pending", attempts=1).count() == 2


def test_the_old_single_delivery_task_still_works(outbox, smtp_server):
    _, ids = outbox
    tasks.deliver.delay(ids[0])
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.get(pk=ids[0]).status == "sent"


def test_publishing_in_process_still_sends_every_invite_once(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *WEEK)
    assert len(smtp_server.messages) == 14
    assert set(Delivery.objects.filter(shift__roster=roster).values_list("status", flat=True)) == {
        "sent"
    }
    assert Shift.objects.filter(roster=roster).count() == 14


def test_a_421_on_a_reused_connection_is_tried_once_more_on_a_new_one(monkeypatch):
    import smtplib

    from django.core.mail import EmailMessage
    from django.core.mail.backends.smtp import EmailBackend

    connections = []

    class Limited(EmailBackend):
        """A server that takes two messages per connection, then answers 421."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.taken = []
            connections.append(self)

        def open(self):
            return True

        def close(self):
            pass

        def send_messages(self, messages):
            if len(self.taken) == 2:
                raise smtplib.SMTPDataError(421, b"4.7.0 Too many messages, try again")
            self.taken += messages
            return len(messages)

    monkeypatch.setattr(mail, "get_connection", lambda **kwargs: Limited(**kwargs))
    with mail.one_connection():
        for n in range(5):
            mail.send(EmailMessage(f"m{n}", "body", "a@example.com", ["b@example.com"]))
    assert [len(c.taken) for c in connections] == [2, 2, 1]

    # Without a message on it yet, a 421 is the server's answer: a transient failure.
    def busy(self, messages):
        raise smtplib.SMTPDataError(421, b"4.3.2 Busy")

    monkeypatch.setattr(Limited, "send_messages", busy)
    from notifications.errors import Transient

    with pytest.raises(Transient), mail.one_connection():
        mail.send(EmailMessage("m", "body", "a@example.com", ["b@example.com"]))
