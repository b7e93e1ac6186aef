"""Booking e-mails say the shift's time in the reader's zone, named (F7); the calendar part keeps
the rotation's zone, which calendar apps convert themselves."""

import email
import email.policy
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from notifications.tasks import queue_notes
from rotation.models import Person
from tests.notifications_support import FAST_HASHERS, make_team, parsed_event, publish

pytestmark = pytest.mark.django_db

DAYS = (date(2031, 3, 1), date(2031, 3, 3))
FIRST = datetime(2031, 3, 1, 9, tzinfo=UTC)  # daily at 09:00 Europe/London (GMT)
ZONES = ("Asia/Kolkata", "America/Los_Angeles")
KOLKATA = "When: Sat 1 Mar 2031 14:30 – Sun 2 Mar 2031 14:30 IST (Asia/Kolkata)"
LOS_ANGELES = "When: Sat 1 Mar 2031 01:00 – Sun 2 Mar 2031 01:00 PST (America/Los_Angeles)"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def team(django_capture_on_commit_callbacks):
    """The first shift's primary reads in Kolkata, its secondary in Los Angeles."""
    setup = make_team(4)
    for person, zone in zip(setup.people, ZONES, strict=False):
        Person.objects.filter(user=person).update(time_zone=zone)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *DAYS)
    return setup


def _first_invite(user):
    (message,) = [m for m in mail.outbox if m.to == [user.email] and "Sat 1 Mar 2031" in m.subject]
    return message


def _html(message) -> str:
    (html,) = [content for content, kind in message.alternatives if kind == "text/html"]
    return html


def test_each_invitation_body_gives_the_time_in_its_readers_zone(team):
    kolkata, los_angeles = team.people[0], team.people[1]
    assert KOLKATA in _first_invite(kolkata).body
    assert LOS_ANGELES in _first_invite(los_angeles).body


def test_each_invitation_html_gives_the_time_in_its_readers_zone(team):
    kolkata, los_angeles = team.people[0], team.people[1]
    assert f"<p>{KOLKATA}</p>" in _html(_first_invite(kolkata))
    assert f"<p>{LOS_ANGELES}</p>" in _html(_first_invite(los_angeles))


def test_the_calendar_part_keeps_the_rotations_zone_named(team):
    sent = _first_invite(team.people[0]).message().as_bytes()
    _, event = parsed_event(email.message_from_bytes(sent, policy=email.policy.default))
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert "When: Sat 1 Mar 2031 09:00 – Sun 2 Mar 2031 09:00 GMT (Europe/London)" in str(
        event["DESCRIPTION"]
    )


def test_a_reminder_body_gives_the_time_in_its_readers_zone(
    team, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with (
        time_machine.travel(FIRST - timedelta(hours=23), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        queue_notes.delay()
    (reminder,) = [m for m in mail.outbox if m.to == [team.people[0].email]]
    assert KOLKATA in reminder.body
