"""Encryption at rest, the Shift -> entry adapter, the team view of an entry, the dev mail page."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from cryptography.fernet import Fernet

from notifications import crypto, entries
from notifications.models import Delivery
from notifications.selectors import EntryRequest, entry_uid, shift_entries
from rotation.models import Person, Shift
from tests.factories import UserFactory
from tests.notifications_support import FAST_HASHERS, make_team, publish

NOW = datetime(2031, 2, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


# --------------------------------------------------------------------------- crypto


def test_secrets_round_trip_and_are_not_stored_in_clear(settings):
    settings.ONEHAND_FIELD_KEY = ""
    token = crypto.encrypt("app-password")
    assert "app-password" not in token
    assert crypto.decrypt(token) == "app-password"


def test_field_keys_rotate_new_first_old_still_reads(settings):
    old, new = Fernet.generate_key().decode(), "a passphrase, stretched with HKDF"
    settings.ONEHAND_FIELD_KEY = old
    token = crypto.encrypt("secret")
    settings.ONEHAND_FIELD_KEY = f"{new},{old}"
    assert crypto.decrypt(token) == "secret"
    fresh = crypto.encrypt("secret")
    settings.ONEHAND_FIELD_KEY = new
    assert crypto.decrypt(fresh) == "secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_without_a_field_key_the_secret_key_is_used(settings):
    settings.ONEHAND_FIELD_KEY = ""
    token = crypto.encrypt("secret")
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789-abcdefghijklmnop"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


# --------------------------------------------------------------------------- adapter


@pytest.mark.django_db
def test_entries_for_many_shifts_take_a_constant_number_of_queries(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    setup = make_team(6, has_shadow=True)
    mentor_mentor = setup.people[2]
    Person.objects.filter(user=setup.people[0]).update(mentor=mentor_mentor)
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, date(2031, 3, 1), date(2031, 5, 1))
    shifts = list(Shift.objects.filter(roster=roster))
    assert len(shifts) == 61 * 3
    requests = [EntryRequest(s.pk, s.assignee_id) for s in shifts]
    # Shifts, their groups, the people, and the escalation contacts' time away and memberships.
    with django_assert_num_queries(5):
        built = shift_entries(requests)
    with django_assert_num_queries(5):
        shift_entries(requests[:2])
    assert len(built) == len(shifts)

    by_slot = {(b.shift.start, b.entry.role): b.entry for b in built}
    start = shifts[0].start
    primary, secondary, shadow = (
        by_slot[(start, role)] for role in ("primary", "secondary", "shadow")
    )
    assert primary.partner.email == secondary.attendee.email
    assert secondary.partner.email == primary.attendee.email
    assert shadow.partner.email == primary.attendee.email
    assert primary.escalation[0].email == secondary.attendee.email
    assert [c.role for c in primary.escalation] == ["secondary", "mentor", "lead"]
    assert all(c.email != secondary.attendee.email for c in secondary.escalation)
    assert primary.uid == entry_uid(shifts[0].pk, shifts[0].assignee_id)
    assert "/cant-make-it/?t=" in primary.cant_make_it_url
    assert primary.shift_url.endswith(f"/rotations/{setup.rotation.pk}/?month=2031-03")
    assert primary.runbook_url == "https://wiki.example.com/runbooks/payments"
    for b in built[:20]:
        entries.invite(b.entry, now=NOW)  # every entry builds


@pytest.mark.django_db
def test_the_cant_make_it_link_is_signed_for_that_person_and_shift(
    django_capture_on_commit_callbacks,
):
    from datetime import timedelta
    from urllib.parse import parse_qs, urlsplit

    from onehand.links import read_token

    setup = make_team(3)
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    shift = Shift.objects.get(roster=roster, role="primary")
    (built,) = shift_entries([EntryRequest(shift.pk, shift.assignee_id)])
    url = urlsplit(built.entry.cant_make_it_url)
    assert url.path == f"/shifts/{shift.pk}/cant-make-it/"
    claim = read_token(parse_qs(url.query)["t"][0], "cant-make-it", timedelta(days=90))
    assert (claim.user_id, claim.object_id) == (shift.assignee_id, shift.pk)


@pytest.mark.django_db
def test_people_without_email_still_build_entries(django_capture_on_commit_callbacks):
    setup = make_team(3)
    for user in setup.people:
        user.email = ""
        user.save()
    with django_capture_on_commit_callbacks(execute=False):
        roster = publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    assert not Delivery.objects.exists()
    built = shift_entries(
        [EntryRequest(s.pk, s.assignee_id) for s in Shift.objects.filter(roster=roster)]
    )
    data = entries.build_calendar(
        [entries.build_event(b.entry, now=NOW) for b in built], method=None, name="x", time_zones=[]
    )
    assert b"@onehand.invalid" in data


# --------------------------------------------------------------------------- team view


def test_the_team_view_names_the_person_and_has_no_personal_link():
    entry = entries.ShiftEntry(
        uid="shift-1@onehand",
        sequence=0,
        rotation_name="Payments",
        team_name="Platform",
        role="primary",
        start=datetime(2031, 3, 3, 9, tzinfo=UTC),
        end=datetime(2031, 3, 4, 9, tzinfo=UTC),
        time_zone="Europe/London",
        attendee=entries.Contact("Alice Archer", "alice@example.com"),
        partner=entries.Contact("Bob Baker", "", "+44 1"),  # no address: description only
        escalation=(entries.Contact("Erin Evans", "", "+44 2", "lead"),),
        organizer_email="onehand@example.com",
        shift_url="https://onehand.example.com/rotations/1/?month=2031-03",
        cant_make_it_url="https://onehand.example.com/shifts/1/cant-make-it/?t=x",
        team_view=True,
    )
    assert entries.summary(entry) == "On call: Payments, primary: Alice Archer"
    text = entries.describe(entry)
    assert text.startswith("Alice Archer is on call as primary for Payments")
    assert "Can't make it?" not in text
    assert "Partner: Bob Baker (secondary), phone +44 1" in text
    event = entries.build_event(entry, now=NOW)
    assert "X-ONEHAND-PARTNER" not in event and "X-ONEHAND-ESCALATION" not in event
    cancelled = entries.describe(replace(entry, cancelled=True))
    assert cancelled.startswith("Cancelled: Alice Archer is no longer on call")


# --------------------------------------------------------------------------- pages


@pytest.mark.django_db
def test_the_dev_mail_page_is_for_superusers_when_switched_on(
    client, settings, tmp_path, django_capture_on_commit_callbacks
):
    setup = make_team(3)
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, date(2031, 3, 1), date(2031, 3, 2))
    settings.DEBUG = True  # the default mode: still nobody's business but a superuser's
    settings.ONEHAND_DEV_MAIL_VIEWER = True
    client.force_login(setup.people[0])
    assert client.get("/dev/mail/").status_code == 404
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    settings.ONEHAND_DEV_MAIL_VIEWER = False
    assert client.get("/dev/mail/").status_code == 404
    settings.ONEHAND_DEV_MAIL_VIEWER = True
    page = client.get("/dev/mail/").content.decode()
    assert page.count("Calendar entry by email") == 2
    names = [p.name for p in tmp_path.glob("*.log")]
    assert len(names) == 2  # one file per message
    name = names[0]
    assert name in page
    raw = client.get(f"/dev/mail/{name}").content.decode()
    assert "method=" in raw and "BEGIN:VCALENDAR" in raw
    assert client.get("/dev/mail/..%2Fsettings.py").status_code == 404


@pytest.mark.django_db
def test_the_calendar_page_is_in_the_navigation(client):
    setup = make_team(2)
    client.force_login(setup.people[0])
    page = client.get("/").content.decode()
    assert 'href="/calendar/"' in page
    assert client.get("/calendar/").status_code == 200
    client.logout()
    assert client.get("/calendar/").status_code == 302
