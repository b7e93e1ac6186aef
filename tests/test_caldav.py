"""CalDAV push against a real Radicale server on loopback: create, update, delete."""

import logging
from datetime import UTC, date

import caldav
import icalendar
import pytest

from notifications.crypto import decrypt
from notifications.models import CalendarConnection, Channel, Delivery
from notifications.selectors import entry_uid
from rotation.models import Shift
from tests.factories import reassign
from tests.notifications_support import FAST_HASHERS, make_team, publish
from tests.services import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.services]

DAYS = (date(2031, 3, 1), date(2031, 3, 4))  # three daily shifts


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.ONEHAND_CALDAV_ALLOW_PRIVATE = True


def stored_events(url: str, username: str, password: str) -> dict[str, icalendar.Event]:
    client = caldav.DAVClient(url=url, username=username, password=password, enable_rfc6764=False)
    found = {}
    for item in client.calendar(url=url).events():
        (event,) = icalendar.Calendar.from_ical(item.data).walk("VEVENT")
        found[str(event["UID"])] = event
    return found


def connect(client, user, url, username, password):
    client.force_login(user)
    return client.post(
        "/calendar/caldav/", {"url": url, "username": username, "password": password}
    )


def test_connecting_stores_the_password_encrypted_and_publishing_creates_events(
    client, radicale_calendar, django_capture_on_commit_callbacks
):
    url, username, password = radicale_calendar
    setup = make_team(4)
    me = setup.people[0]
    response = connect(client, me, url, username, password)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = CalendarConnection.objects.get(user=me)
    assert password not in connection.password_encrypted
    assert decrypt(connection.password_encrypted) == password
    assert password not in client.get("/calendar/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *DAYS)
    mine = Shift.objects.filter(roster=roster, assignee=me)
    assert mine.exists()
    events = stored_events(url, username, password)
    assert set(events) == {entry_uid(s.pk, me.pk) for s in mine}
    for shift in mine:
        event = events[entry_uid(shift.pk, me.pk)]
        assert event.start.astimezone(UTC) == shift.start
        assert str(event["DTSTART"].params["TZID"]) == "Europe/London"
        assert event["SEQUENCE"] == 0
        assert "ATTENDEE" not in event and "ORGANIZER" not in event  # no server-side invites
        assert str(event["X-ONEHAND-ROLE"]) == shift.role
    assert set(
        Delivery.objects.filter(channel=Channel.CALDAV).values_list("status", flat=True)
    ) == {"sent"}


def test_a_new_partner_updates_the_event_and_losing_the_slot_deletes_it(
    client, radicale_calendar, django_capture_on_commit_callbacks
):
    url, username, password = radicale_calendar
    setup = make_team(5)
    me = setup.people[0]
    assert connect(client, me, url, username, password).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *DAYS)
    primary = Shift.objects.get(roster=roster, assignee=me, role="primary")
    secondary = Shift.objects.get(roster=roster, role="secondary", start=primary.start)
    uid = entry_uid(primary.pk, me.pk)

    # Update: the partner (secondary) changes.
    new_partner = setup.people[4]
    with django_capture_on_commit_callbacks(execute=True):
        reassign(secondary, new_partner)
    event = stored_events(url, username, password)[uid]
    assert event["SEQUENCE"] == 1
    assert event["X-ONEHAND-PARTNER"] == f"mailto:{new_partner.email}"
    assert new_partner.get_full_name() in str(event["DESCRIPTION"])

    # Delete: the slot goes to someone else.
    with django_capture_on_commit_callbacks(execute=True):
        reassign(primary, setup.people[3])
    events = stored_events(url, username, password)
    assert uid not in events
    assert len(events) == Shift.objects.filter(roster=roster, assignee=me).count()


def test_a_wrong_password_fails_for_good_and_is_never_logged(
    radicale_server, radicale_calendar, django_capture_on_commit_callbacks, caplog
):
    from notifications import services

    url, username, _ = radicale_calendar
    secret = "not-the-right-app-password-5150"
    setup = make_team(3)
    me = setup.people[0]
    caplog.set_level(logging.DEBUG)
    services.connect_calendar(url=url, username=username, password=secret, by=me)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *DAYS)
    failed = Delivery.objects.filter(user=me, channel=Channel.CALDAV)
    assert set(failed.values_list("status", flat=True)) == {"failed"}
    assert all(
        "401" in e or "Authorization" in e for e in failed.values_list("last_error", flat=True)
    )
    assert "Authorization" in CalendarConnection.objects.get(user=me).last_error
    assert secret not in caplog.text
    assert secret not in radicale_server.log.read_text()
    # Email invites are not held up by a broken calendar.
    assert not Delivery.objects.filter(channel=Channel.EMAIL).exclude(status="sent").exists()


def test_the_connect_form_checks_the_calendar_before_saving(client, radicale_calendar):
    url, username, _ = radicale_calendar
    setup = make_team(3)
    response = connect(client, setup.people[0], url, username, "wrong-password")
    assert response.status_code == 400
    assert "Could not open that calendar" in response.content.decode()
    assert not CalendarConnection.objects.exists()


def test_a_server_that_is_down_is_a_transient_error(django_capture_on_commit_callbacks):
    from notifications import services

    setup = make_team(3)
    me = setup.people[0]
    url = f"http://127.0.0.1:{free_port()}/alice/cal/"
    services.connect_calendar(url=url, username="alice", password="x", by=me)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *DAYS)
    rows = Delivery.objects.filter(user=me, channel=Channel.CALDAV)
    assert set(rows.values_list("status", flat=True)) == {"pending"}
    assert all("connection" in e.lower() for e in rows.values_list("last_error", flat=True))


def test_private_addresses_are_refused_unless_allowed(client, settings):
    settings.ONEHAND_CALDAV_ALLOW_PRIVATE = False
    setup = make_team(3)
    for url in (
        "https://127.0.0.1/cal/",
        "http://caldav.example.com/cal/",
        "https://u:p@example.com/",
    ):
        response = connect(client, setup.people[0], url, "alice", "pw")
        assert response.status_code == 400, url
    assert not CalendarConnection.objects.exists()


def test_disconnecting_forgets_the_calendar(
    client, radicale_calendar, django_capture_on_commit_callbacks
):
    url, username, password = radicale_calendar
    setup = make_team(3)
    me = setup.people[0]
    connect(client, me, url, username, password)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *DAYS)
    assert client.post("/calendar/caldav/disconnect/").status_code == 302
    assert not CalendarConnection.objects.exists()
    assert not Delivery.objects.filter(channel=Channel.CALDAV).exists()


def test_connecting_later_pushes_upcoming_shifts(
    client, radicale_calendar, django_capture_on_commit_callbacks
):
    url, username, password = radicale_calendar
    setup = make_team(3)
    me = setup.people[0]
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *DAYS)
    with django_capture_on_commit_callbacks(execute=True):
        assert connect(client, me, url, username, password).status_code == 302
    expected = {entry_uid(s.pk, me.pk) for s in Shift.objects.filter(roster=roster, assignee=me)}
    assert set(stored_events(url, username, password)) == expected
