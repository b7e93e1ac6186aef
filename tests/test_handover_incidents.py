"""The incoming person's handoff note lists the incidents of the outgoing shift by itself,
in the reader's zone; the outgoing person sees the same list on the handover form."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from incidents.services import record_incident
from notifications.tasks import queue_notes
from onehand.links import make_token
from rotation.models import Person, Shift
from tests.notifications_support import FAST_HASHERS, FIRST_HANDOFF, published_days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def night_with_pages(django_capture_on_commit_callbacks):
    setup, roster = published_days(django_capture_on_commit_callbacks)
    first = Shift.objects.get(roster=roster, start=FIRST_HANDOFF, role="primary")
    record_incident(
        setup.rotation,
        by=setup.boss,
        title="Card declines spike",
        severity="critical",
        started_at=datetime(2031, 3, 2, 3, 12, tzinfo=UTC),
        resolved_at=datetime(2031, 3, 2, 3, 40, tzinfo=UTC),
    )
    record_incident(
        setup.rotation,
        by=setup.boss,
        title="Ledger lag",
        started_at=datetime(2031, 3, 2, 7, 5, tzinfo=UTC),
    )
    record_incident(  # the next shift's, not listed
        setup.rotation, by=setup.boss, title="Later", started_at=first.end + timedelta(hours=1)
    )
    Person.objects.update(reminder_hours=0)
    mail.outbox.clear()
    return setup, first


def test_the_incoming_person_gets_the_outgoing_shifts_incidents_in_their_zone(
    night_with_pages, django_capture_on_commit_callbacks
):
    setup, first = night_with_pages
    following = Shift.objects.get(roster=first.roster, start=first.end, role="primary")
    Person.objects.filter(user=following.assignee).update(time_zone="America/New_York")
    with time_machine.travel(first.end + timedelta(minutes=3), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            queue_notes.delay()
    (note,) = [
        m for m in mail.outbox if m.to == [following.assignee.email] and "now on" in m.subject
    ]
    assert "Incidents during the last shift (2):" in note.body
    assert (
        "  - Sat 1 Mar 2031 22:12 EST (America/New_York): Card declines spike (critical), resolved "
        in note.body
    )
    assert "  - Sun 2 Mar 2031 02:05 EST (America/New_York): Ledger lag, still open" in note.body
    assert "Later" not in note.body


def test_the_handover_form_lists_the_shifts_incidents(night_with_pages, client):
    setup, first = night_with_pages
    token = make_token("handover", first.assignee_id, first.pk)
    page = client.get(f"/shifts/{first.pk}/handover/?t={token}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Incidents during this shift" in text
    assert "Card declines spike" in text and "still open" in text
    assert "Later" not in text
