"""Builders shared by the notifications tests: a team, a rotation and a published roster."""

import email.message
from datetime import UTC, date, datetime

import icalendar

from rotation.models import Rotation
from rotation.services import create_roster, publish_roster, rotation_windows
from tests.factories import TeamSetup, build_team

FIRST_NAMES = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Frank",
    "Grace",
    "Hector",
    "Isha",
    "Jay",
    "Kavya",
    "Leo",
]


Setup = TeamSetup


def make_team(
    size: int = 12,
    *,
    pattern: str = Rotation.Pattern.DAILY,
    time_zone: str = "Europe/London",
    has_shadow: bool = False,
    prefix: str = "",
) -> Setup:
    setup = build_team(
        size,
        names=FIRST_NAMES,
        prefix=prefix,
        phones=True,
        boss_fields={"username": f"{prefix}maya", "first_name": "Maya", "last_name": "Manager"},
        pattern=pattern,
        time_zone=time_zone,
        has_secondary=True,
        has_shadow=has_shadow,
        runbook_url="https://wiki.example.com/runbooks/payments",
    )
    # The last engineer mentors the others (the escalation chain shows a mentor).
    Rotation.objects.filter(pk=setup.rotation.pk).update(mentor=setup.people[-1])
    setup.rotation.refresh_from_db()
    return setup


def windows(rotation: Rotation, start: date, end: date) -> list:
    """Shift windows of a period (rotation_windows may pair each with a coverage window id)."""
    return [w[0] if isinstance(w, tuple) else w for w in rotation_windows(rotation, start, end)]


def assignments(rotation: Rotation, people: list, start: date, end: date, offset: int = 0) -> dict:
    chosen = {}
    for number, window in enumerate(windows(rotation, start, end)):
        chosen[(window.start, "primary")] = people[(number + offset) % len(people)].pk
        chosen[(window.start, "secondary")] = people[(number + offset + 1) % len(people)].pk
        if rotation.has_shadow:
            chosen[(window.start, "shadow")] = people[(number + offset + 2) % len(people)].pk
    return chosen


def publish(setup: Setup, start: date, end: date, offset: int = 0):
    roster = create_roster(
        setup.rotation,
        start,
        end,
        by=setup.boss,
        assignments=assignments(setup.rotation, setup.people, start, end, offset),
    )
    return publish_roster(roster, by=setup.boss)


def calendar_part(message: email.message.EmailMessage) -> email.message.EmailMessage:
    """The inline text/calendar alternative (invite.ics, attached, carries the same bytes)."""
    (part,) = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_filename() is None
    ]
    return part


def parsed_event(message: email.message.EmailMessage) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(calendar_part(message).get_content())
    (event,) = calendar.walk("VEVENT")
    return calendar, event


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


#: Four days of a daily rotation, handoffs at 09:00 Europe/London (GMT in March).
NOTE_DAYS = (date(2031, 3, 1), date(2031, 3, 5))
FIRST_HANDOFF = datetime(2031, 3, 1, 9, tzinfo=UTC)


def published_days(capture):
    """Five people on a daily rotation published for NOTE_DAYS, its invitations already
    queued and sent (`capture`: django_capture_on_commit_callbacks). Returns (setup, roster)."""
    setup = make_team(5)
    with capture(execute=True):
        roster = publish(setup, *NOTE_DAYS)
    return setup, roster
