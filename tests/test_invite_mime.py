"""Invites as they go out over SMTP.

They are written out directly as bytes (`mail.InviteMail.as_bytes`), no longer through
Django's email objects and the email generator: the bytes must be exactly those Django
wrote (same boundaries and date), and what a receiver parses - headers, parts, the
calendar read with icalendar - the same. The Django objects themselves (still used by every
backend but SMTP) are written with compat32 remembering its folded headers: the bytes
compat32 itself writes.
"""

import email
import email.policy
from dataclasses import replace

import icalendar
import pytest
from django.core.mail import EmailMultiAlternatives

from notifications import dispatch, mail
from notifications.entries import Contact
from notifications.models import Delivery
from tests.test_entries import CAROL, EVIL, NOW, hostile_entry, make_entry

DATE = "Mon, 30 Nov 2026 12:16:51 -0000"

MANY = tuple(
    Contact(f"Escalation contact number {n}", f"c{n}@example.com", f"+44 20 7946 {n:04}", "lead")
    for n in range(12)
)

CASES = {
    "request": (make_entry(), False),
    "update": (make_entry(sequence=2), True),
    "cancelled": (make_entry(cancelled=True, sequence=3), False),
    "unicode-names": (
        make_entry(
            rotation_name='Zoë 🚨 李小龍 Ørsted-Ñúñez; "quoted" \\ back ' * 3,
            attendee=Contact('Zoë "Z" Ørsted, ^caret^', "zoe@example.com", "+44 ^1"),
            window_label="EMEA 08:00-16:00",
            escalation=(CAROL, Contact(EVIL, "mallory@example.com", EVIL, "lead")),
        ),
        False,
    ),
    "hostile": (hostile_entry(), False),
    # Twelve contacts make an HTML line longer than 998 bytes: Django sends that part
    # quoted-printable, and so does the direct path (through Django's objects).
    "long-html-line": (make_entry(escalation=MANY), False),
    "no-runbook-no-partner": (make_entry(runbook_url="", partner=None, escalation=()), True),
}


def _invite(case: str, to: str = "zoë@example.com") -> mail.InviteMail:
    entry, is_update = CASES[case]
    return mail.invite_mail(entry, to=to, delivery_id=42, is_update=is_update, now=NOW)


def _through_django(invite: mail.InviteMail) -> tuple[bytes, tuple[str, ...]]:
    """What Django's SMTP backend sent for this invite, and its boundaries."""
    message = invite.email_message().message()
    message.replace_header("Date", DATE)
    boundaries = tuple(part.get_boundary() for part in message.walk() if part.is_multipart())
    return message.as_bytes(linesep="\r\n"), boundaries


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_invite_is_written_byte_for_byte_as_django_wrote_it(case):
    invite = _invite(case)
    django_bytes, boundaries = _through_django(invite)
    assert invite.as_bytes(boundaries=boundaries, date=DATE) == django_bytes


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_receiver_reads_the_same_invite(case):
    invite = _invite(case)
    django_bytes, _ = _through_django(invite)
    ours = email.message_from_bytes(invite.as_bytes(), policy=email.policy.default)
    theirs = email.message_from_bytes(django_bytes, policy=email.policy.default)
    assert ours["Date"] and ours["Message-ID"].startswith("<onehand.delivery.42@")
    for header in ("Subject", "From", "To", "Message-ID", "MIME-Version"):
        assert str(ours[header]) == str(theirs[header])
    assert ours.get_content_type() == "multipart/mixed"
    ours_parts, theirs_parts = list(ours.walk()), list(theirs.walk())
    assert [p.get_content_type() for p in ours_parts] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "text/calendar",
    ]
    assert [p.get_content_type() for p in theirs_parts] == [
        p.get_content_type() for p in ours_parts
    ]
    method = "CANCEL" if case == "cancelled" else "REQUEST"
    for our, their in zip(ours_parts, theirs_parts, strict=True):
        assert our.get_content_disposition() == their.get_content_disposition()
        assert our.get_filename() == their.get_filename()
        assert our["Content-Transfer-Encoding"] == their["Content-Transfer-Encoding"]
        if not our.is_multipart():
            assert our.get_content() == their.get_content()
            assert our.get_param("charset") == "utf-8"
        if our.get_content_type() == "text/calendar":
            assert our.get_param("method") == method
            ours_calendar = icalendar.Calendar.from_ical(our.get_content())
            theirs_calendar = icalendar.Calendar.from_ical(their.get_content())
            assert ours_calendar == theirs_calendar
            assert ours_calendar.to_ical() == invite.calendar.encode()
    assert ours_parts[-1].get_filename() == "invite.ics"


def test_each_invite_gets_its_own_boundaries_and_the_envelope_django_gave():
    invite = _invite("unicode-names")
    first, second = invite.as_bytes(), invite.as_bytes()
    assert first != second  # fresh random boundaries each time
    assert invite.envelope() == ("Onehand <onehand@localhost>", "=?utf-8?q?zo=C3=AB?=@example.com")


def test_django_objects_are_written_byte_for_byte_as_compat32_writes_them():
    for n, name in enumerate(["Payments", "Zoë Payments with a much longer name, on call"] * 3):
        message = mail.invite_message(
            replace(make_entry(), rotation_name=name, sequence=n),
            to="zoë@example.com",
            delivery_id=n + 1,
            is_update=False,
            now=NOW,
        )
        remembering = message.message()
        plain = EmailMultiAlternatives.message(message)  # Django's own, compat32 as it comes
        for ours, theirs in zip(remembering.walk(), plain.walk(), strict=True):
            if ours.is_multipart():
                theirs.set_boundary(ours.get_boundary())
        assert remembering.as_bytes(linesep="\r\n") == plain.as_bytes(linesep="\r\n")
        assert b'text/calendar; method="REQUEST"' in remembering.as_bytes()


# --------------------------------------------------------------------------- over SMTP


@pytest.fixture
def _one_week(django_capture_on_commit_callbacks, settings):
    from tests.notifications_support import FAST_HASHERS, make_team, publish

    settings.PASSWORD_HASHERS = FAST_HASHERS
    from datetime import date

    with django_capture_on_commit_callbacks(execute=False):
        publish(make_team(), date(2031, 3, 1), date(2031, 3, 8))
    return list(Delivery.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_invites_arrive_whole_with_and_without_pipelining(_one_week, smtp_server, pipelining):
    smtp_server.pipelining = pipelining
    dispatch.deliver_batch(_one_week)
    assert len(smtp_server.messages) == 14
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    for message in smtp_server.messages:
        parts = [p.get_content_type() for p in message.walk()]
        assert parts[2:] == ["text/plain", "text/html", "text/calendar", "text/calendar"]
        calendar = icalendar.Calendar.from_ical(list(message.walk())[4].get_content())
        assert calendar["METHOD"] == "REQUEST"
        assert "On call" in str(message["Subject"])


@pytest.mark.django_db
def test_a_refused_recipient_in_a_pipelined_transaction_fails_only_that_invite(
    _one_week, smtp_server
):
    first = Delivery.objects.select_related("user").get(pk=_one_week[0])
    smtp_server.unknown = {first.user.email}
    dispatch.deliver_batch(_one_week)
    refused = Delivery.objects.filter(user=first.user)
    assert set(refused.values_list("status", flat=True)) == {"failed"}
    assert "recipient refused: 550" in refused.first().last_error
    others = Delivery.objects.exclude(user=first.user)
    assert set(others.values_list("status", flat=True)) == {"sent"}
    assert len(smtp_server.messages) == others.count()


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_lines_starting_with_a_dot_and_a_last_line_without_newline_arrive_intact(
    smtp_server, pipelining
):
    import smtplib

    smtp_server.pipelining = pipelining
    data = b"Subject: dots\r\n\r\n.one\r\n..two\r\nmiddle\r\n.\r\nlast line"
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as smtp:
        mail._transaction(smtp, "a@example.com", "b@example.com", data)
        mail._transaction(smtp, "a@example.com", "b@example.com", data + b"\r\n")
    assert [m.get_content() for m in smtp_server.messages] == [
        ".one\r\n..two\r\nmiddle\r\n.\r\nlast line\r\n"
    ] * 2
