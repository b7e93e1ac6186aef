"""Reminders before shifts and notes at handoffs: once per person, shift and kind."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail

from notifications import dispatch, outbox
from notifications.models import Delivery, Kind
from notifications.tasks import queue_notes
from rotation.models import Person, Shift
from tests.notifications_support import FAST_HASHERS, FIRST_HANDOFF, published_days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def rota(django_capture_on_commit_callbacks):
    setup, roster = published_days(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    return setup, roster


def run_notes(at: datetime, capture) -> None:
    with time_machine.travel(at, tick=False), capture(execute=True):
        queue_notes.delay()


def test_each_person_gets_one_reminder_a_day_before_their_shift(
    rota, django_capture_on_commit_callbacks
):
    setup, roster = rota
    first = Shift.objects.filter(roster=roster, start=FIRST_HANDOFF)
    Person.objects.filter(user=first.get(role="primary").assignee).update(
        time_zone="America/New_York"
    )
    at = FIRST_HANDOFF - timedelta(hours=23)
    run_notes(at, django_capture_on_commit_callbacks)
    run_notes(at + timedelta(minutes=5), django_capture_on_commit_callbacks)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.assignee.email for s in first)
    message = next(m for m in mail.outbox if m.to == [first.get(role="primary").assignee.email])
    assert message.subject.startswith("Reminder: On call:")
    assert (
        "Reminder: your primary shift starts Sat 1 Mar 2031 04:00 EST (America/New_York)."
        in message.body
    )
    assert "Partner:" in message.body and "Can't make it?" in message.body
    assert Delivery.objects.filter(kind=Kind.REMINDER, status="sent").count() == 2


def test_reminder_hours_are_per_person_and_zero_means_none(
    rota, django_capture_on_commit_callbacks
):
    setup, roster = rota
    first = Shift.objects.filter(roster=roster, start=FIRST_HANDOFF)
    primary, secondary = first.get(role="primary").assignee, first.get(role="secondary").assignee
    Person.objects.filter(user=primary).update(reminder_hours=0)
    Person.objects.filter(user=secondary).update(reminder_hours=48)
    run_notes(FIRST_HANDOFF - timedelta(hours=47), django_capture_on_commit_callbacks)
    # 47 hours ahead: only the person who asked for 48 hours' notice hears about it.
    assert [m.to[0] for m in mail.outbox] == [secondary.email]
    run_notes(FIRST_HANDOFF - timedelta(hours=1), django_capture_on_commit_callbacks)
    assert primary.email not in [m.to[0] for m in mail.outbox]


def test_a_handoff_notes_the_incoming_and_outgoing_people_and_nobody_else(
    rota, django_capture_on_commit_callbacks
):
    setup, roster = rota
    second = FIRST_HANDOFF + timedelta(days=1)
    before = {s.role: s.assignee for s in Shift.objects.filter(roster=roster, start=FIRST_HANDOFF)}
    after = {s.role: s.assignee for s in Shift.objects.filter(roster=roster, start=second)}
    Person.objects.update(reminder_hours=0)
    run_notes(second + timedelta(minutes=3), django_capture_on_commit_callbacks)
    run_notes(second + timedelta(minutes=8), django_capture_on_commit_callbacks)
    sent = {(m.to[0], m.subject) for m in mail.outbox}
    name = setup.rotation.name
    assert sent == {
        (after["primary"].email, f"You are now on call: {name}, primary"),
        (after["secondary"].email, f"You are now on call: {name}, secondary"),
        (before["primary"].email, f"Handoff done: {name}, primary"),
        (before["secondary"].email, f"Handoff done: {name}, secondary"),
    }
    assert len(mail.outbox) == 4
    incoming = next(
        m for m in mail.outbox if m.subject.endswith("primary") and "now on call" in m.subject
    )
    assert "taking over from " + before["primary"].get_full_name() in incoming.body
    assert f"Primary: {after['primary'].get_full_name()}, phone +44 20 7946" in incoming.body
    assert f"Secondary: {after['secondary'].get_full_name()}" in incoming.body
    assert "Escalation, in order:" in incoming.body
    bystanders = {u.email for u in setup.people} - {
        u.email for u in (*before.values(), *after.values())
    }
    assert not bystanders & {m.to[0] for m in mail.outbox}


def test_an_old_handoff_is_not_noted_and_a_reassigned_reminder_is_skipped(
    rota, django_capture_on_commit_callbacks
):
    setup, roster = rota
    Person.objects.update(reminder_hours=0)
    run_notes(FIRST_HANDOFF + timedelta(days=1, hours=2), django_capture_on_commit_callbacks)
    assert mail.outbox == []

    Person.objects.update(reminder_hours=24)
    shift = Shift.objects.get(roster=roster, start=FIRST_HANDOFF, role="primary")
    with time_machine.travel(FIRST_HANDOFF - timedelta(hours=2), tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            outbox.queue_notes()
        # The slot changes hands before the reminder goes out.
        Shift.objects.filter(pk=shift.pk).update(assignee=setup.people[4])
        row = Delivery.objects.get(kind=Kind.REMINDER, shift=shift)
        dispatch.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "skipped"
    assert shift.assignee.email not in [m.to[0] for m in mail.outbox]


def test_the_reminder_links_a_handover_form_and_the_note_reaches_the_incoming_person(
    rota, django_capture_on_commit_callbacks, client
):
    setup, roster = rota
    first = Shift.objects.get(roster=roster, start=FIRST_HANDOFF, role="primary")
    run_notes(FIRST_HANDOFF - timedelta(hours=20), django_capture_on_commit_callbacks)
    reminder = next(
        m
        for m in mail.outbox
        if m.to[0] == first.assignee.email and m.subject.startswith("Reminder")
    )
    link = next(line for line in reminder.body.split() if "/handover/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    client.post(
        "/" + path.split("?")[0],
        {"t": path.split("t=")[1], "open_incidents": "INC-7 card declines"},
    )
    mail.outbox.clear()
    Person.objects.update(reminder_hours=0)
    run_notes(first.end + timedelta(minutes=3), django_capture_on_commit_callbacks)
    incoming = next(
        m for m in mail.outbox if "now on call" in m.subject and m.subject.endswith("primary")
    )
    assert "Open incidents: INC-7 card declines" in incoming.body
