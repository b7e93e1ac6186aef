"""Calendar import through the service, the Celery task and the pages, with real .ics exports.

The ICS address import fetches from a real HTTP server on loopback (allowed in tests by
ONEHAND_ICS_ALLOW_PRIVATE).
"""

import functools
import http.server
import shutil
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from availability import services, tasks
from availability.ics import parse_busy_intervals
from availability.models import AvailabilityEntry, CalendarSource
from rotation.permissions import SYSTEM
from tests.factories import TeamFactory, engineer, manager

pytestmark = pytest.mark.django_db

ICS = Path(__file__).parent / "ics"
# The fixtures hold March and April 2025; the import covers this month and the next two.
MARCH_2025 = "2025-03-10 12:00Z"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def alice():
    # google.ics belongs to alice@example.com: her declined events must not count.
    return engineer(TeamFactory(name="Payments"), username="alice", time_zone="Europe/London")


def spans(user, **filters):
    return list(
        AvailabilityEntry.objects.filter(user=user, **filters)
        .order_by("start", "end")
        .values_list("start", "end")
    )


def expected(name: str, user) -> list[tuple[datetime, datetime]]:
    window = services.import_window(user)
    found = parse_busy_intervals(
        (ICS / name).read_bytes(),
        period_start=window[0],
        period_end=window[1],
        default_tz="Europe/London",
        owner_emails=[user.email],
    )
    return sorted((i.start, i.end) for i in found)


@time_machine.travel(MARCH_2025)
def test_an_uploaded_google_export_becomes_unavailability_without_titles(alice):
    source = services.upload_calendar(
        (ICS / "google.ics").read_bytes(), filename="google.ics", by=alice
    )
    assert source.status == "ok" and source.imported_count == len(expected("google.ics", alice))
    assert spans(alice, source="calendar") == expected("google.ics", alice)
    assert (utc(2025, 3, 20, 15), utc(2025, 3, 20, 16)) in spans(alice)  # the UTC event
    assert set(AvailabilityEntry.objects.values_list("reason", flat=True)) == {"Busy (calendar)"}
    assert set(AvailabilityEntry.objects.values_list("kind", flat=True)) == {"unavailable"}
    # Nothing of the event text is kept anywhere.
    stored = " ".join(str(v) for row in AvailabilityEntry.objects.values() for v in row.values())
    assert "standup" not in stored.lower() and "Platform" not in stored


@time_machine.travel(MARCH_2025)
def test_out_of_office_is_labelled_as_such(alice):
    services.upload_calendar((ICS / "outlook.ics").read_bytes(), by=alice)
    assert AvailabilityEntry.objects.filter(reason="Out of office (calendar)").exists()


@time_machine.travel(MARCH_2025)
def test_reimport_replaces_only_that_calendars_entries(alice):
    manual = services.mark(
        utc(2025, 3, 20, 15), utc(2025, 3, 20, 18), "unavailable", reason="Dentist", by=alice
    )
    other = CalendarSource.objects.create(
        user=alice, name="Home", kind="url", url="https://h.example/x.ics"
    )
    services.import_calendar_data(other, (ICS / "apple.ics").read_bytes(), by=SYSTEM)
    apple = spans(alice, calendar=other)
    assert apple

    upload = services.upload_calendar((ICS / "google.ics").read_bytes(), by=alice)
    services.upload_calendar((ICS / "outlook.ics").read_bytes(), by=alice)

    assert spans(alice, calendar=upload) == expected("outlook.ics", alice)
    assert spans(alice, calendar=other) == apple
    assert spans(alice, source="manual") == [(manual.start, manual.end)]


@time_machine.travel(MARCH_2025)
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("broken_lines.ics", "Line 10"),
        ("truncated.ics", "cut off"),
        ("not_a_calendar.ics", "not an iCalendar"),
        ("empty.ics", "empty"),
    ],
)
def test_a_bad_file_changes_nothing(alice, name, message):
    services.upload_calendar((ICS / "google.ics").read_bytes(), by=alice)
    before = spans(alice)
    with pytest.raises(services.CalendarImportError, match=message):
        services.upload_calendar((ICS / name).read_bytes(), by=alice)
    assert spans(alice) == before
    assert CalendarSource.objects.get(user=alice).status == "ok"


@time_machine.travel(MARCH_2025)
def test_a_bad_upload_shows_the_message_on_the_page_and_changes_nothing(client, alice):
    client.force_login(alice)
    with (ICS / "google.ics").open("rb") as f:
        response = client.post("/availability/calendars/upload/", {"file": f}, follow=True)
    assert "Imported" in response.content.decode()
    before = spans(alice)
    with (ICS / "broken_lines.ics").open("rb") as f:
        response = client.post("/availability/calendars/upload/", {"file": f}, follow=True)
    html = response.content.decode()
    assert "Nothing was imported" in html and "Line 10 of the calendar is not valid" in html
    assert spans(alice) == before


@time_machine.travel(MARCH_2025)
def test_a_locked_month_keeps_what_was_imported_before(alice):
    team = alice.teams.get()
    services.upload_calendar((ICS / "google.ics").read_bytes(), by=alice)
    march = [s for s in spans(alice) if s[0] < utc(2025, 4, 1)]
    services.lock_availability(team, date(2025, 3, 1), date(2025, 4, 1), by=manager(team))
    services.upload_calendar((ICS / "apple.ics").read_bytes(), by=alice)
    assert [s for s in spans(alice) if s[0] < utc(2025, 4, 1)] == march
    # April is open, so it now holds what apple.ics has there (nothing).
    assert [s for s in spans(alice) if s[0] >= utc(2025, 4, 1)] == [
        s for s in expected("apple.ics", alice) if s[0] >= utc(2025, 4, 1)
    ]


# --- by address, from a real HTTP server ------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def ics_server(tmp_path):
    """Serves files from a temporary folder on 127.0.0.1 (a free port)."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def publish(name: str):
        shutil.copy(ICS / name, tmp_path / "calendar.ics")

    yield f"http://127.0.0.1:{server.server_address[1]}/calendar.ics", publish
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_loopback(settings):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True


@time_machine.travel(MARCH_2025)
def test_an_ics_address_is_fetched_by_the_task_and_refreshed(
    alice, ics_server, allow_loopback, django_capture_on_commit_callbacks
):
    url, publish = ics_server
    publish("google.ics")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        source = services.add_calendar_url(url, name="Work", by=alice)
    assert len(queued) == 1  # the task is queued only once the source is committed
    source.refresh_from_db()
    assert source.status == "ok", source.last_error
    assert spans(alice, calendar=source) == expected("google.ics", alice)

    # The calendar changes; the periodic refresh picks it up and replaces the old entries.
    publish("outlook.ics")
    tasks.refresh_calendar_sources.delay()
    assert spans(alice, calendar=source) == expected("outlook.ics", alice)

    # Running the same import twice gives the same rows.
    tasks.import_calendar_source.delay(source.pk)
    assert spans(alice, calendar=source) == expected("outlook.ics", alice)

    # The calendar breaks: the error is recorded and the last good import stays.
    publish("truncated.ics")
    tasks.import_calendar_source.delay(source.pk)
    source.refresh_from_db()
    assert source.status == "error" and "cut off" in source.last_error
    assert spans(alice, calendar=source) == expected("outlook.ics", alice)


def test_loopback_addresses_are_refused_by_default(
    alice, ics_server, django_capture_on_commit_callbacks
):
    url, publish = ics_server
    publish("google.ics")
    with django_capture_on_commit_callbacks(execute=True):
        source = services.add_calendar_url(url, by=alice)
    source.refresh_from_db()
    assert source.status == "error" and "private or local network" in source.last_error
    assert not spans(alice)


@time_machine.travel(MARCH_2025)
def test_the_page_shows_importing_then_the_result(client, alice, ics_server, allow_loopback):
    url, publish = ics_server
    publish("google.ics")
    client.force_login(alice)
    response = client.post(
        "/availability/calendars/add/", {"url": url, "name": "Work"}, follow=True
    )
    source = CalendarSource.objects.get(user=alice)
    html = response.content.decode()
    # The test's transaction hasn't committed, so the task hasn't run: the page polls.
    assert "Importing…" in html and f'hx-get="/availability/calendars/{source.pk}/"' in html
    assert url not in html  # the secret address is never shown back
    tasks.import_calendar_source.delay(source.pk)
    fragment = client.get(
        f"/availability/calendars/{source.pk}/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f"Imported {len(expected('google.ics', alice))} busy times" in fragment
    assert "hx-get" not in fragment  # polling stops


def test_a_deleted_source_is_skipped_by_the_task(alice):
    source = CalendarSource.objects.create(
        user=alice, name="Gone", kind="url", url="https://x.example/a.ics"
    )
    source_id = source.pk
    source.delete()
    tasks.import_calendar_source.delay(source_id)  # no error


def test_disconnecting_removes_what_the_calendar_imported(client, alice):
    source = CalendarSource.objects.create(user=alice, name="Work", kind="upload")
    AvailabilityEntry.objects.create(
        user=alice, start=utc(2026, 1, 1), end=utc(2026, 1, 2), source="calendar", calendar=source
    )
    services.mark(utc(2026, 1, 5), utc(2026, 1, 6), "unavailable", by=alice)
    client.force_login(alice)
    client.post(f"/availability/calendars/{source.pk}/remove/")
    assert spans(alice) == [(utc(2026, 1, 5), utc(2026, 1, 6))]


@time_machine.travel(MARCH_2025)
def test_refreshing_an_unchanged_calendar_writes_no_entries(alice):
    """The hourly refresh of a calendar nobody changed rewrites nothing (and so renews no
    page stamp for every team)."""
    source = CalendarSource.objects.create(
        user=alice, name="Work", kind="url", url="https://w.example/x.ics"
    )
    data = (ICS / "google.ics").read_bytes()
    services.import_calendar_data(source, data, by=SYSTEM)
    kept = list(AvailabilityEntry.objects.filter(calendar=source).values_list("pk", flat=True))

    with CaptureQueriesContext(connection) as queries:
        count = services.import_calendar_data(source, data, by=SYSTEM)

    assert count == len(kept) > 0
    written = [q["sql"] for q in queries if "availability_availabilityentry" in q["sql"]]
    assert not [sql for sql in written if not sql.lstrip().upper().startswith("SELECT")]
    assert (
        list(AvailabilityEntry.objects.filter(calendar=source).values_list("pk", flat=True)) == kept
    )


@time_machine.travel(MARCH_2025)
def test_refreshing_a_changed_calendar_replaces_its_entries(alice):
    source = CalendarSource.objects.create(
        user=alice, name="Work", kind="url", url="https://w.example/x.ics"
    )
    services.import_calendar_data(source, (ICS / "google.ics").read_bytes(), by=SYSTEM)

    services.import_calendar_data(source, (ICS / "outlook.ics").read_bytes(), by=SYSTEM)

    assert spans(alice, calendar=source) == expected("outlook.ics", alice)
