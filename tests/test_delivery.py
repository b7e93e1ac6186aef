"""The outbox: rows written with the publish, sent over real SMTP once, retried, swept."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications import dispatch, outbox
from notifications.models import Channel, Delivery, EntryTombstone
from notifications.selectors import entry_uid
from rotation.models import Shift
from tests.factories import reassign
from tests.notifications_support import FAST_HASHERS, make_team, parsed_event, publish

pytestmark = pytest.mark.django_db

MARCH = (date(2031, 3, 1), date(2031, 3, 8))  # a week of daily shifts, two slots each


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def test_publishing_writes_one_email_row_per_assignee_per_slot_in_the_same_transaction(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        roster = publish(setup, *MARCH)
        # Written with the publish, nothing sent before commit.
        rows = Delivery.objects.filter(shift__roster=roster)
        assert rows.count() == 14
        assert set(rows.values_list("channel", "action", "status")) == {
            ("email", "request", "pending")
        }
        assert smtp_server.messages == []
    # One after-commit callback queues the whole outbox (other apps may add their own).
    assert len([c for c in callbacks if c.__module__.startswith("notifications.")]) == 1


def test_a_failed_publish_leaves_no_outbox_rows():
    setup = make_team()
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(setup, *MARCH)
        raise RuntimeError("publish blew up after the event")
    assert not Delivery.objects.exists()


def test_each_assignee_gets_one_itip_request_per_shift_over_smtp(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *MARCH)
    assert len(smtp_server.messages) == 14
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    first = Shift.objects.filter(roster=roster, role="primary").order_by("start").first()
    (message,) = [
        m
        for m in smtp_server.messages
        if m["Message-ID"]
        and m["To"] == first.assignee.email
        and "Mar 2031 09:00" in m["Subject"]
        and " 1 Mar" in m["Subject"]
    ]
    assert message.get_content_type() == "multipart/mixed"
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds[:5] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert kinds.count("text/calendar") == 2  # inline, and attached as invite.ics
    part = [p for p in message.walk() if p.get_content_type() == "text/calendar"][0]
    assert part.get_param("method") == "REQUEST"
    calendar, event = parsed_event(message)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == entry_uid(first.pk, first.assignee_id)
    assert event["SEQUENCE"] == 0
    assert event.start == datetime(2031, 3, 1, 9, tzinfo=UTC)  # GMT in March before the change
    assert str(event["X-ONEHAND-ROLE"]) == "primary"
    body = message.get_body(("plain",)).get_content()
    assert "You are on call as primary" in body
    assert f"/shifts/{first.pk}/cant-make-it/?t=" in body
    assert f"/rotations/{setup.rotation.pk}/?month=2031-03" in body


def test_html_alternative_escapes_names(django_capture_on_commit_callbacks, smtp_server):
    setup = make_team(size=3)
    evil = setup.people[1]
    evil.first_name = '<script>alert("x")</script>'
    evil.save()
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    htmls = [m.get_body(("html",)).get_content() for m in smtp_server.messages]
    assert htmls and all("<script>" not in html for html in htmls)
    assert any("&lt;script&gt;" in html for html in htmls)


def test_running_the_outbox_again_sends_nothing_more(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *MARCH)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.queue_roster_by_id(roster.pk)
    for pk in Delivery.objects.values_list("pk", flat=True):
        dispatch.deliver(pk)
    assert len(smtp_server.messages) == 14
    assert Delivery.objects.count() == 14


def test_reassignment_updates_the_new_person_cancels_for_the_old_and_updates_the_partner(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team()
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *MARCH)
    smtp_server.reset()
    primary = Shift.objects.filter(roster=roster, role="primary").order_by("start").first()
    secondary = Shift.objects.get(roster=roster, role="secondary", start=primary.start)
    old, new = primary.assignee, setup.people[6]
    with django_capture_on_commit_callbacks(execute=True):
        reassign(primary, new)
    got = {m["To"]: parsed_event(m) for m in smtp_server.messages}
    assert set(got) == {old.email, new.email, secondary.assignee.email}
    calendar, event = got[old.email]
    assert (calendar["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("CANCEL", "CANCELLED", 1)
    assert str(event["UID"]) == entry_uid(primary.pk, old.pk)
    calendar, event = got[new.email]
    assert (calendar["METHOD"], event["SEQUENCE"]) == ("REQUEST", 1)
    calendar, event = got[secondary.assignee.email]
    assert (calendar["METHOD"], event["SEQUENCE"]) == ("REQUEST", 1)
    assert str(event["UID"]) == entry_uid(secondary.pk, secondary.assignee_id)
    assert event["X-ONEHAND-PARTNER"] == f"mailto:{new.email}"  # the new primary
    subjects = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert subjects[secondary.assignee.email].startswith("Updated:")
    assert subjects[old.email].startswith("Cancelled:")
    assert EntryTombstone.objects.filter(user=old, shift=primary, sequence=1).exists()


def test_a_request_overtaken_by_a_cancellation_is_never_sent(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team(size=4)
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
        primary = Shift.objects.get(roster=roster, role="primary")
        old = primary.assignee
        reassign(primary, setup.people[3])
    for pk in Delivery.objects.order_by("pk").values_list("pk", flat=True):
        dispatch.deliver(pk)
    assert old.email not in [m["To"] for m in smtp_server.messages]
    assert set(
        Delivery.objects.filter(user=old, shift=primary).values_list("action", "status")
    ) == {("request", "skipped"), ("cancel", "skipped")}


def test_republishing_a_period_cancels_the_superseded_entries(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = make_team(size=5)
    with django_capture_on_commit_callbacks(execute=True):
        first = publish(setup, date(2031, 3, 1), date(2031, 3, 3))
    smtp_server.reset()
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, date(2031, 3, 1), date(2031, 3, 3), offset=2)
    first.refresh_from_db()
    assert first.status == "superseded"
    methods = [parsed_event(m)[0]["METHOD"] for m in smtp_server.messages]
    assert methods.count("CANCEL") == 4 and methods.count("REQUEST") == 4


def test_claiming_makes_a_second_run_a_no_op(django_capture_on_commit_callbacks, smtp_server):
    setup = make_team(size=3)
    with django_capture_on_commit_callbacks(execute=False):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    delivery = Delivery.objects.first()
    dispatch.deliver(delivery.pk)
    dispatch.deliver(delivery.pk)
    assert len(smtp_server.messages) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_a_row_stuck_in_sending_is_sent_again_by_the_sweeper_after_its_lease(
    django_capture_on_commit_callbacks, smtp_server, settings
):
    setup = make_team(size=3)
    with django_capture_on_commit_callbacks(execute=False):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    delivery = Delivery.objects.first()
    now = timezone.now()
    # A worker claimed it and died before sending.
    assert dispatch._claim(delivery.pk, now)
    dispatch.deliver(delivery.pk)  # the redelivered message: the lease still holds
    assert smtp_server.messages == []
    assert dispatch.sweep() == 0  # still leased
    # Time passes beyond the lease.
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=now - timedelta(seconds=1))
    assert dispatch.sweep() == 1
    assert len(smtp_server.messages) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_transient_smtp_refusals_are_retried_with_backoff_then_delivered_once(
    django_capture_on_commit_callbacks, smtp_server, settings
):
    settings.ONEHAND_DELIVERY_RETRY_BASE = 10
    setup = make_team(size=3)
    smtp_server.refuse(2)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    delivery = Delivery.objects.get(user=Shift.objects.get(role="primary").assignee)
    delivery.refresh_from_db()
    assert smtp_server.refused == 2
    # Both rows met a 451 once; each is pending with its first backoff.
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error.startswith("SMTP 451")
    assert dispatch.deliver(delivery.pk) is None  # not due yet: nothing happens
    later = timezone.now() + timedelta(seconds=11)
    for pk in Delivery.objects.values_list("pk", flat=True):
        dispatch.deliver(pk, now=later)
    assert len(smtp_server.messages) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_backoff_doubles_and_is_capped(settings):
    settings.ONEHAND_DELIVERY_RETRY_BASE = 30
    assert [dispatch.backoff(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert dispatch.backoff(20) == 3600


def test_connection_refused_is_transient(django_capture_on_commit_callbacks, settings):
    from tests.services import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = (
        "127.0.0.1",
        free_port(),
        False,
    )
    setup = make_team(size=3)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert all("Connection" in e for e in Delivery.objects.values_list("last_error", flat=True))


def test_broker_down_at_publish_still_commits_and_the_sweeper_delivers_later(
    django_capture_on_commit_callbacks, smtp_server, monkeypatch, caplog
):
    from kombu.exceptions import OperationalError

    from notifications import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    setup = make_team(size=3)
    monkeypatch.setattr(tasks.deliver, "apply_async", broker_down)
    monkeypatch.setattr(tasks.deliver_batch, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    roster.refresh_from_db()
    assert roster.status == "published"
    assert Delivery.objects.filter(status="pending").count() == 2
    assert "the sweeper will send them" in caplog.text
    monkeypatch.undo()
    assert dispatch.sweep(grace=0) == 2
    assert len(smtp_server.messages) == 2


def test_permanent_failure_after_n_tries_is_shown_to_managers_with_a_working_retry(
    django_capture_on_commit_callbacks, smtp_server, settings, client
):
    from django.template import Context, Template
    from django.test import RequestFactory

    settings.ONEHAND_DELIVERY_MAX_ATTEMPTS = 3
    setup = make_team(size=3)
    smtp_server.refuse(100)
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    for attempt in range(1, 4):
        later = timezone.now() + timedelta(hours=attempt * 2)
        for pk in Delivery.objects.values_list("pk", flat=True):
            dispatch.deliver(pk, now=later)
    assert set(Delivery.objects.values_list("status", "attempts")) == {("failed", 3)}

    # What the roster page shows its managers (and nobody else).
    request = RequestFactory().get(f"/rotations/{setup.rotation.pk}/")
    template = Template("{% load onehand_notifications %}{% failed_deliveries_panel roster %}")
    request.user = setup.boss
    html = template.render(Context({"request": request, "roster": roster, "csrf_token": "t"}))
    assert html.count(">Retry</button>") == 2 and "SMTP 451" in html
    request.user = setup.people[0]
    assert "Retry" not in template.render(Context({"request": request, "roster": roster}))

    failed = Delivery.objects.first()
    client.force_login(setup.people[0])
    assert client.post(f"/deliveries/{failed.pk}/retry/").status_code == 403
    smtp_server.refuse(0)
    client.force_login(setup.boss)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/deliveries/{failed.pk}/retry/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    failed.refresh_from_db()
    assert failed.status == "sent"
    assert len(smtp_server.messages) == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/rosters/{roster.pk}/deliveries/retry/")
    assert response.status_code == 302
    assert len(smtp_server.messages) == 2
    assert not Delivery.objects.filter(status="failed").exists()


def test_a_recipient_refused_with_550_fails_at_once(settings):
    import smtplib

    from notifications import mail
    from notifications.errors import Permanent, Transient

    class Refusing:
        def __init__(self, error):
            self.error = error

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_messages(self, messages):
            raise self.error

    for error, kind in [
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}), Permanent),
        (smtplib.SMTPRecipientsRefused({"a@x": (450, b"greylisted")}), Transient),
        (smtplib.SMTPDataError(554, b"rejected"), Permanent),
        (smtplib.SMTPServerDisconnected("gone"), Transient),
        (ConnectionRefusedError(111, "refused"), Transient),
    ]:
        original = mail.get_connection
        mail.get_connection = lambda fail_silently, error=error: Refusing(error)
        try:
            with pytest.raises(kind):
                mail.send(None)
        finally:
            mail.get_connection = original


def test_people_without_email_get_no_email_rows(django_capture_on_commit_callbacks):
    setup = make_team(size=3)
    setup.people[0].email = ""
    setup.people[0].save()
    with django_capture_on_commit_callbacks(execute=False):
        publish(setup, date(2031, 3, 1), date(2031, 3, 4))
    assert not Delivery.objects.filter(user=setup.people[0]).exists()
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 6 - 2


def test_shifts_that_are_over_get_no_invitations(django_capture_on_commit_callbacks, smtp_server):
    setup = make_team(size=3)
    today = timezone.now().date()
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, today - timedelta(days=3), today + timedelta(days=2))
    shifts = Shift.objects.filter(roster=roster)
    ahead = shifts.filter(end__gt=timezone.now())
    assert ahead.count() < shifts.count()
    assert set(Delivery.objects.values_list("shift_id", flat=True)) == set(
        ahead.values_list("pk", flat=True)
    )
    assert len(smtp_server.messages) == ahead.count()
