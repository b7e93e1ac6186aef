"""Hostile calendar files through upload (service, page, API) and URL import, with real limits.

Every shape in tests/hostile_calendars.py must be answered in under 5 s with the right
error, nothing written, and no more than 200 MB of extra memory, both in the child that
parses (its own VmHWM report) and in this process (VmHWM reset before each run). The
URL import fetches from a real http.server on loopback. Bounds are generous on purpose
(a loaded 2-core machine): the figures measured are ~0.2-1.2 s and < 15 MB.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from availability import ics_sandbox, services
from availability.ics import MAX_ICS_BYTES, CalendarImportError, parse_busy_intervals
from availability.models import AvailabilityEntry, CalendarSource
from tests.factories import TeamFactory, engineer
from tests.hostile_calendars import shapes

pytestmark = pytest.mark.django_db

SHAPES = shapes()
SECONDS = 5.0
MEGABYTES = 200
REPORT = Path(__file__).resolve().parent.parent / "var" / "hostile-calendars.txt"


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


class Measured:
    """Wall time and peak RSS growth of this process, plus the child's own report."""

    def __init__(self, monkeypatch):
        self.child: dict = {}
        real = ics_sandbox.parse_busy_intervals_isolated

        def spy(*args, **kwargs):
            kwargs["report"] = self.child
            return real(*args, **kwargs)

        monkeypatch.setattr(ics_sandbox, "parse_busy_intervals_isolated", spy)

    def __enter__(self):
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            pass
        self.baseline = _status("VmRSS")
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.started
        self.growth = max(_status("VmHWM") - self.baseline, 0)
        return False

    def check(self, name: str, path: str) -> None:
        child = self.child.get("rss_growth_bytes", 0)
        REPORT.parent.mkdir(exist_ok=True)
        with REPORT.open("a") as out:
            out.write(
                f"{path:7} {name:38} {self.seconds:5.2f} s  this process "
                f"+{self.growth / 2**20:5.1f} MB"
                f"  child +{child / 2**20:5.1f} MB\n"
            )
        assert self.seconds < SECONDS, f"{name}: {self.seconds:.2f} s"
        assert self.growth < MEGABYTES * 2**20, f"{name}: +{self.growth / 2**20:.0f} MB"
        assert child < MEGABYTES * 2**20, f"{name}: child +{child / 2**20:.0f} MB"


@pytest.fixture
def person():
    return engineer(TeamFactory(name="Payments"), username="hostile", time_zone="Europe/London")


def _expect(name: str, message: str) -> None:
    pattern = SHAPES[name][1]
    assert pattern is not None and re.search(pattern, message), (name, message)


def _read_by_the_worker(data: bytes) -> bool:
    """Uploads over the in-request size (and within the file limit) go to the worker."""
    return services.UPLOAD_IN_REQUEST_BYTES < len(data) <= MAX_ICS_BYTES


@pytest.mark.parametrize("name", SHAPES)
def test_upload_through_the_service(person, monkeypatch, django_capture_on_commit_callbacks, name):
    data, pattern = SHAPES[name]
    with Measured(monkeypatch) as measured:
        try:
            with django_capture_on_commit_callbacks(execute=True):
                source = services.upload_calendar(data, filename=f"{name}.ics", by=person)
            source.refresh_from_db()
            outcome = source.last_error or None
        except CalendarImportError as error:
            outcome = str(error)
    measured.check(name, "upload")
    if pattern is None:
        assert outcome is None, outcome
    else:
        _expect(name, outcome or "")
        if _read_by_the_worker(data):  # the source says why; nothing was imported
            assert CalendarSource.objects.get().status == CalendarSource.Status.ERROR
        else:
            assert not CalendarSource.objects.exists()  # all or nothing
        assert not AvailabilityEntry.objects.exists()


@pytest.mark.parametrize("name", [n for n, (_, p) in SHAPES.items() if p is not None])
def test_upload_through_the_page_and_the_api(
    client, person, settings, django_capture_on_commit_callbacks, name
):
    data = SHAPES[name][0]
    client.force_login(person)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/availability/calendars/upload/",
            {"file": SimpleUploadedFile(f"{name}.ics", data, content_type="text/calendar")},
            follow=True,
        )
    body = response.content.decode()
    if len(data) > settings.ONEHAND_MAX_REQUEST_BYTES:  # refused before it is read
        assert response.status_code == 413 and "too big" in body, body[:300]
    elif _read_by_the_worker(data):
        assert response.status_code == 200 and "being read in the background" in body
        _expect(name, CalendarSource.objects.get(user=person).last_error)
    else:
        assert response.status_code == 200
        assert "Nothing was imported" in body or "too big" in body, body[:500]
    api = APIClient()
    api.force_authenticate(person)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(
            "/api/calendar-sources/upload/",
            {"file": SimpleUploadedFile(f"{name}.ics", data, content_type="text/calendar")},
            format="multipart",
        )
    if len(data) > settings.ONEHAND_MAX_REQUEST_BYTES:
        assert answer.status_code == 413, answer.content[:300]
    elif _read_by_the_worker(data):
        assert answer.status_code == 202, answer.content[:300]
        _expect(name, CalendarSource.objects.get(user=person).last_error)
    else:
        assert answer.status_code == 400, answer.content[:300]
    assert time.monotonic() - started < 2 * SECONDS
    assert not AvailabilityEntry.objects.exists()


class _Serve(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        data = SHAPES[self.path.strip("/")][0]
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher stopped reading at its size limit


@pytest.fixture(scope="module")
def hostile_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Serve)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", SHAPES)
def test_url_import_through_the_worker_task(
    person, hostile_server, settings, monkeypatch, django_capture_on_commit_callbacks, name
):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True
    pattern = SHAPES[name][1]
    with Measured(monkeypatch) as measured:
        with django_capture_on_commit_callbacks(execute=True):
            source = services.add_calendar_url(f"{hostile_server}/{name}", by=person)
    measured.check(name, "url")
    source.refresh_from_db()
    if pattern is None:
        assert source.status == "ok", source.last_error
    else:
        assert source.status == "error"
        _expect(name, source.last_error)
        assert not AvailabilityEntry.objects.exists()


# --- the child's hard limits, for shapes the budgets don't know yet ------------------------


def _parse_isolated(data: bytes, **limits):
    return ics_sandbox.parse_busy_intervals_isolated(
        data,
        period_start=datetime(2025, 3, 1, tzinfo=UTC),
        period_end=datetime(2025, 6, 1, tzinfo=UTC),
        **limits,
    )


def test_the_child_is_killed_at_its_wall_time_limit(monkeypatch):
    monkeypatch.setattr(ics_sandbox, "START_SLACK_SECONDS", 0)
    started = time.monotonic()
    with pytest.raises(CalendarImportError, match=r"took too long to read \(the limit is 0.05"):
        _parse_isolated(SHAPES["daily_rule_from_1950"][0], seconds=0.05)
    assert time.monotonic() - started < SECONDS


def test_the_child_runs_out_of_memory_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(ics_sandbox, "MEMORY_BYTES", 2 * 2**20)
    with pytest.raises(CalendarImportError, match=r"needs more than 2 MB of memory"):
        _parse_isolated(SHAPES["line_flood"][0])


def test_a_good_calendar_comes_back_the_same_through_the_child():
    data = (Path(__file__).parent / "ics" / "google.ics").read_bytes()
    period = {
        "period_start": datetime(2025, 3, 1, tzinfo=UTC),
        "period_end": datetime(2025, 6, 1, tzinfo=UTC),
        "owner_emails": ["alice@example.com"],
    }
    assert ics_sandbox.parse_busy_intervals_isolated(data, **period) == parse_busy_intervals(
        data, **period
    )
