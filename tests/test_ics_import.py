"""Tests for availability.ics: parsing .ics exports and fetching feeds.

Plain pytest, no database and no Django settings:
    .venv/bin/python -m pytest tests/test_ics_import.py -p no:django -q
"""

from __future__ import annotations

import dataclasses
import http.server
import socket
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from availability import ics, ics_fetch
from availability.ics import BusyInterval, CalendarImportError, parse_busy_intervals
from availability.ics_fetch import fetch_ics
from onehand import fetch
from onehand.fetch import is_public_address

FIXTURES = Path(__file__).parent / "ics"


# tests/conftest.py has autouse fixtures that need pytest-django's `settings`.
# Nothing here touches Django, mail or Celery, so override them by name: the
# module then runs with `-p no:django` as well as in the full suite.
@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    yield


@pytest.fixture(autouse=True)
def _mail_in_memory():
    yield


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def busy(start: datetime, end: datetime, *, all_day: bool = False) -> BusyInterval:
    return BusyInterval(start, end, all_day, "busy")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def google(start=None, end=None, **kwargs):
    start, end = start or utc(3, 15), end or utc(4, 15)
    kwargs.setdefault("owner_emails", ["alice@example.com"])
    return parse_busy_intervals(fixture("google.ics"), period_start=start, period_end=end, **kwargs)


def outlook(start=None, end=None, **kwargs):
    start, end = start or utc(3, 1), end or utc(4, 6)
    kwargs.setdefault("owner_emails", ["bob.smith@example.com"])
    kwargs.setdefault("default_tz", "Europe/London")
    return parse_busy_intervals(
        fixture("outlook.ics"), period_start=start, period_end=end, **kwargs
    )


def apple(start=None, end=None, **kwargs):
    start, end = start or utc(3, 1), end or utc(4, 1)
    kwargs.setdefault("owner_emails", ["carol@example.com"])
    return parse_busy_intervals(fixture("apple.ics"), period_start=start, period_end=end, **kwargs)


def calendar(*body: str) -> bytes:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *body, "END:VCALENDAR", ""]).encode()


def event(*props: str, uid: str = "x@example.com") -> tuple[str, ...]:
    return ("BEGIN:VEVENT", f"UID:{uid}", *props, "END:VEVENT")


# --------------------------------------------------------------------------
# Whole exports
# --------------------------------------------------------------------------


def test_google_export_yields_expected_intervals():
    assert google() == [
        busy(utc(3, 17, 9, 30), utc(3, 17, 10)),  # weekly standup, GMT
        busy(utc(3, 20, 15), utc(3, 20, 16)),  # UTC event
        busy(utc(3, 26, 14), utc(3, 26, 15)),  # accepted; another guest declined
        busy(utc(3, 31, 8, 30), utc(3, 31, 9)),  # standup after the BST change
        busy(utc(4, 1, 23), utc(4, 2, 23), all_day=True),  # offsite, BST day
        busy(utc(4, 7, 13), utc(4, 7, 13, 30)),  # moved occurrence
    ]


def test_outlook_export_yields_expected_intervals():
    assert outlook() == [
        busy(utc(3, 4, 18), utc(3, 4, 18, 30)),  # Pacific, PST
        busy(utc(3, 11, 17), utc(3, 11, 17, 30)),  # Pacific, PDT after 9 March
        BusyInterval(utc(3, 13), utc(3, 15), True, "out_of_office"),
        busy(utc(3, 19, 9, 30), utc(3, 19, 10, 30)),  # Customized Time Zone +0530
        busy(utc(3, 20, 14), utc(3, 20, 15)),  # GMT Standard Time
        busy(utc(3, 21, 8), utc(3, 21, 9)),  # W. Europe, tentative
        busy(utc(3, 26, 20), utc(3, 26, 20, 30)),  # moved occurrence
        busy(utc(3, 27, 14), utc(3, 27, 15, 30)),  # two adjacent meetings merged
        busy(utc(4, 3, 13), utc(4, 3, 14)),  # GMT Standard Time after BST change
    ]


def test_apple_export_yields_expected_intervals():
    assert apple() == [
        busy(utc(3, 3, 23), utc(3, 4, 0)),  # floating 18:00 New York, EST
        busy(utc(3, 5, 14), utc(3, 5, 15)),
        busy(utc(3, 10, 22), utc(3, 10, 23)),  # floating 18:00, EDT
        busy(utc(3, 12, 13), utc(3, 12, 14)),
        busy(utc(3, 14, 4), utc(3, 15, 4), all_day=True),
        busy(utc(3, 17, 22), utc(3, 17, 23)),
        busy(utc(3, 26, 15), utc(3, 26, 16)),  # moved occurrence
    ]


# --------------------------------------------------------------------------
# One behaviour each
# --------------------------------------------------------------------------


def test_weekly_event_keeps_local_time_across_dst_change():
    # 09:30 Europe/London is 09:30Z before 30 March and 08:30Z after it.
    starts = [i.start for i in google(utc(3, 17), utc(4, 1)) if i.start.minute == 30]
    assert starts == [utc(3, 17, 9, 30), utc(3, 31, 8, 30)]


def test_exdate_occurrence_is_skipped():
    assert google(utc(3, 24), utc(3, 25)) == []


def test_recurrence_id_override_moves_the_occurrence():
    assert google(utc(4, 7), utc(4, 8)) == [busy(utc(4, 7, 13), utc(4, 7, 13, 30))]


def test_transparent_event_is_skipped():
    assert google(utc(3, 28), utc(3, 29)) == []


def test_cancelled_event_is_skipped():
    assert google(utc(4, 1, 10), utc(4, 1, 18)) == []


def test_event_declined_by_owner_is_skipped():
    assert google(utc(3, 27), utc(3, 28)) == []


def test_declined_event_counts_when_owner_is_unknown():
    assert google(utc(3, 27), utc(3, 28), owner_emails=()) == [busy(utc(3, 27, 11), utc(3, 27, 12))]


def test_declined_matches_owner_email_case_insensitively():
    assert outlook(utc(3, 24), utc(3, 25), owner_emails=["BOB.SMITH@example.COM"]) == []


def test_declined_matches_apple_email_parameter():
    # Apple writes ATTENDEE;EMAIL=carol@example.com;...:urn:uuid:...
    assert apple(utc(3, 24), utc(3, 25)) == []


def test_all_day_event_covers_the_local_day_in_x_wr_timezone():
    assert google(utc(4, 2), utc(4, 3)) == [busy(utc(4, 2), utc(4, 2, 23), all_day=True)]


def test_all_day_event_uses_default_tz_without_x_wr_timezone():
    result = outlook(utc(3, 12), utc(3, 16), default_tz="America/New_York")
    assert result == [BusyInterval(utc(3, 13, 4), utc(3, 15, 4), True, "out_of_office")]


def test_busystatus_oof_gives_out_of_office_kind():
    assert {i.kind for i in outlook(utc(3, 13), utc(3, 15))} == {"out_of_office"}


def test_busystatus_free_is_skipped():
    assert outlook(utc(3, 12), utc(3, 13)) == []


def test_windows_time_zone_names_map_to_iana():
    # "W. Europe Standard Time" 09:00 CET -> 08:00Z.
    assert outlook(utc(3, 21), utc(3, 22)) == [busy(utc(3, 21, 8), utc(3, 21, 9))]


def test_windows_zone_definition_in_a_file_cannot_poison_later_calendars():
    evil = calendar(
        "BEGIN:VTIMEZONE",
        "TZID:Pacific Standard Time",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0500",
        "TZOFFSETTO:+0500",
        "END:STANDARD",
        "END:VTIMEZONE",
        *event(
            "DTSTART;TZID=Pacific Standard Time:20250304T100000",
            "DTEND;TZID=Pacific Standard Time:20250304T110000",
        ),
    )
    own = parse_busy_intervals(evil, period_start=utc(3, 1), period_end=utc(3, 8))
    assert own == [busy(utc(3, 4, 18), utc(3, 4, 19))]  # tz database, not +0500
    assert outlook(utc(3, 4), utc(3, 5)) == [busy(utc(3, 4, 18), utc(3, 4, 18, 30))]


def test_custom_zone_definitions_do_not_leak_between_calendars():
    def custom(offset: str) -> bytes:
        return calendar(
            "BEGIN:VTIMEZONE",
            "TZID:Customized Time Zone",
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            f"TZOFFSETFROM:{offset}",
            f"TZOFFSETTO:{offset}",
            "END:STANDARD",
            "END:VTIMEZONE",
            *event(
                'DTSTART;TZID="Customized Time Zone":20250304T100000',
                'DTEND;TZID="Customized Time Zone":20250304T110000',
            ),
        )

    period = {"period_start": utc(3, 4), "period_end": utc(3, 5)}
    assert parse_busy_intervals(custom("+0300"), **period) == [busy(utc(3, 4, 7), utc(3, 4, 8))]
    assert parse_busy_intervals(custom("-0200"), **period) == [busy(utc(3, 4, 12), utc(3, 4, 13))]


def test_floating_times_use_x_wr_timezone():
    # Apple's floating 18:00 gym session, New York time, default_tz ignored.
    assert apple(utc(3, 3), utc(3, 4, 12), default_tz="Asia/Tokyo") == [
        busy(utc(3, 3, 23), utc(3, 4, 0))
    ]


def test_floating_times_use_default_tz_without_x_wr_timezone():
    data = calendar(*event("DTSTART:20250704T090000", "DTEND:20250704T100000"))
    result = parse_busy_intervals(
        data, period_start=utc(7, 1), period_end=utc(7, 8), default_tz="Europe/Berlin"
    )
    assert result == [busy(utc(7, 4, 7), utc(7, 4, 8))]


def test_intervals_are_clipped_to_the_period():
    assert google(utc(3, 17, 9, 45), utc(4, 2, 6)) == [
        busy(utc(3, 17, 9, 45), utc(3, 17, 10)),
        busy(utc(3, 20, 15), utc(3, 20, 16)),
        busy(utc(3, 26, 14), utc(3, 26, 15)),
        busy(utc(3, 31, 8, 30), utc(3, 31, 9)),
        busy(utc(4, 1, 23), utc(4, 2, 6), all_day=True),
    ]


def test_overlapping_intervals_of_one_kind_are_merged():
    data = calendar(
        *event("DTSTART:20250304T100000Z", "DTEND:20250304T110000Z"),
        *event("DTSTART:20250304T103000Z", "DTEND:20250304T120000Z", uid="b"),
        *event(
            "DTSTART:20250304T113000Z",
            "DTEND:20250304T130000Z",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
            uid="c",
        ),
    )
    assert parse_busy_intervals(data, period_start=utc(3, 4), period_end=utc(3, 5)) == [
        busy(utc(3, 4, 10), utc(3, 4, 12)),
        BusyInterval(utc(3, 4, 11, 30), utc(3, 4, 13), False, "out_of_office"),
    ]


def test_busy_intervals_carry_no_event_text():
    assert [f.name for f in dataclasses.fields(BusyInterval)] == [
        "start",
        "end",
        "all_day",
        "kind",
    ]


def test_naive_period_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_busy_intervals(
            fixture("google.ics"),
            period_start=datetime(2025, 3, 1),
            period_end=datetime(2025, 4, 1),
        )


# --------------------------------------------------------------------------
# Broken input
# --------------------------------------------------------------------------


def parse_error(data: bytes) -> str:
    with pytest.raises(CalendarImportError) as info:
        parse_busy_intervals(data, period_start=utc(3, 1), period_end=utc(4, 1))
    return str(info.value)


def test_html_page_is_refused():
    assert parse_error(fixture("not_a_calendar.ics")) == (
        'This file is not an iCalendar (.ics) file: it starts with "<!DOCTYPE html>".'
    )


def test_truncated_file_is_refused():
    message = parse_error(fixture("truncated.ics"))
    assert "incomplete" in message
    assert "BEGIN:VEVENT on line 12" in message


def test_broken_line_is_refused_with_its_line_number():
    assert parse_error(fixture("broken_lines.ics")).startswith(
        'Line 10 of the calendar is not valid iCalendar: "continuation lost'
    )


def test_empty_file_is_refused():
    assert parse_error(fixture("empty.ics")) == "The calendar file is empty."


def test_file_without_vcalendar_is_refused():
    message = parse_error(b"BEGIN:VEVENT\r\nDTSTART:20250301T100000Z\r\nEND:VEVENT\r\n")
    assert message == ('This file is not an iCalendar (.ics) file: it starts with "BEGIN:VEVENT".')


def test_unreadable_date_is_refused_with_its_line_number():
    data = calendar(*event("DTSTART:2025XX04T100000Z", "DTEND:20250304T110000Z"))
    assert parse_error(data).startswith(
        'Line 5: the DTSTART value "2025XX04T100000Z" could not be read'
    )


def test_event_with_two_starts_is_refused_with_its_line_number():
    data = calendar(
        *event("DTSTART:20250304T100000Z", "DTSTART:20250304T120000Z", "DTEND:20250304T130000Z")
    )
    assert parse_error(data).startswith(
        "Line 6: the event that starts on line 3 has a second DTSTART."
    )


def test_zip_archive_gets_a_hint_to_unzip():
    assert "Unzip it" in parse_error(b"PK\x03\x04" + b"\x00" * 100)


def test_twenty_megabyte_input_is_refused_quickly():
    data = b"BEGIN:VCALENDAR\r\n" + b"X" * (20 * 1024 * 1024)
    started = time.monotonic()
    message = parse_error(data)
    assert time.monotonic() - started < 0.5
    assert message == "The calendar is too big (20.0 MB). The limit is 2.0 MB."


def test_too_many_occurrences_are_refused(monkeypatch):
    monkeypatch.setattr(ics, "MAX_OCCURRENCES", 10)
    data = calendar(
        *event("DTSTART:20250301T100000Z", "DTEND:20250301T110000Z", "RRULE:FREQ=DAILY")
    )
    assert "too many events" in parse_error(data)


def test_minutely_repetition_is_refused():
    data = calendar(*event("DTSTART:20250301T100000Z", "RRULE:FREQ=MINUTELY"))
    assert "every second or minute" in parse_error(data)


# --------------------------------------------------------------------------
# Address classifier
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),  # cloud metadata, link-local
        ("127.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
        ("100.64.0.1", False),  # carrier-grade NAT
        ("224.0.0.1", False),  # multicast
        ("240.0.0.1", False),  # reserved
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:c0a8:1::1", False),  # 6to4 of 192.168.0.1
        ("93.184.215.14", True),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_address_classifier(address, public):
    assert is_public_address(address) is public


# --------------------------------------------------------------------------
# fetch_ics against a real local server
# --------------------------------------------------------------------------

CALENDAR = calendar(*event("DTSTART:20250304T100000Z", "DTEND:20250304T110000Z"))
BIG = 20 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def send(self, status: int, body: bytes = b"", content_type: str = "text/calendar"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        Handler.hosts.append(self.headers.get("Host", ""))
        port = self.server.server_address[1]
        try:
            if self.path == "/calendar.ics":
                self.send(200, CALENDAR, "text/calendar; charset=utf-8")
            elif self.path == "/page.html":
                self.send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
            elif self.path == "/disguised.ics":
                self.send(200, b"\n<html><body>Sign in</body></html>", "text/calendar")
            elif self.path == "/big-declared.ics":
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(BIG))
                self.end_headers()
            elif self.path == "/big-stream.ics":
                # No Content-Length: only the streaming limit can stop this.
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()
                self.close_connection = True
                chunk = b"X" * 65536
                for _ in range(BIG // len(chunk)):
                    self.wfile.write(chunk)
            elif self.path == "/redirect":
                self.redirect("/calendar.ics")
            elif self.path == "/redirect-private":
                self.redirect(f"http://127.0.0.2:{port}/calendar.ics")
            elif self.path.startswith("/loop"):
                self.redirect(f"/loop{len(self.path)}")
            else:
                self.send(404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose


def start_server(server: http.server.ThreadingHTTPServer):
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def server():
    srv = start_server(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def fetch_error(url: str, **kwargs) -> str:
    with pytest.raises(CalendarImportError) as info:
        fetch_ics(url, **kwargs)
    return str(info.value)


def test_fetch_returns_the_calendar(server):
    assert fetch_ics(f"{server}/calendar.ics", allow_private=True) == CALENDAR


def test_fetch_refuses_loopback_address(server):
    message = fetch_error(f"{server}/calendar.ics")
    assert message == (
        'The address "127.0.0.1" points to a private or local network, which is '
        "not allowed. Use a public calendar address."
    )


def test_fetch_refuses_localhost_name():
    assert "private or local network" in fetch_error("http://localhost:9/calendar.ics")


def test_fetch_refuses_html_content_type(server):
    assert fetch_error(f"{server}/page.html", allow_private=True) == ics_fetch.WEB_PAGE_MESSAGE


def test_fetch_refuses_html_body_with_calendar_content_type(server):
    assert fetch_error(f"{server}/disguised.ics", allow_private=True) == ics_fetch.WEB_PAGE_MESSAGE


def test_fetch_refuses_oversize_stream(server):
    started = time.monotonic()
    message = fetch_error(f"{server}/big-stream.ics", allow_private=True)
    assert message == "The calendar is too big. The limit is 2.0 MB."
    assert time.monotonic() - started < 1.5


def test_fetch_refuses_oversize_declared_length(server):
    message = fetch_error(f"{server}/big-declared.ics", allow_private=True)
    assert message == "The calendar is too big (20.0 MB). The limit is 2.0 MB."


def test_fetch_404_gives_clear_error(server):
    message = fetch_error(f"{server}/missing.ics", allow_private=True)
    assert message.startswith("No calendar was found at this address (HTTP 404 Not Found).")


def test_fetch_unreachable_port_gives_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = fetch_error(f"http://127.0.0.1:{port}/cal.ics", allow_private=True)
    assert message == 'Could not connect to "127.0.0.1" (connection refused). Check the address.'


def test_fetch_timeout_gives_clear_error():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        message = fetch_error(f"http://127.0.0.1:{port}/cal.ics", allow_private=True, timeout=0.2)
    assert message == 'The server "127.0.0.1" did not answer in time. Try again later.'


def test_fetch_encodes_spaces_in_pasted_addresses(server):
    message = fetch_error(f"{server}/my calendar.ics", allow_private=True)
    assert message.startswith("No calendar was found at this address (HTTP 404")


def test_fetch_follows_redirects(server):
    assert fetch_ics(f"{server}/redirect", allow_private=True) == CALENDAR


def test_fetch_refuses_redirect_to_private_address(server, monkeypatch):
    # Pretend the test server (127.0.0.1) is public; 127.0.0.2 stands in for a
    # private address, so a failing guard would still only touch loopback.
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1")
    assert fetch_ics(f"{server}/calendar.ics") == CALENDAR
    message = fetch_error(f"{server}/redirect-private")
    assert message.startswith('The address "127.0.0.2" points to a private or local network')


def test_fetch_gives_up_after_three_redirects(server):
    message = fetch_error(f"{server}/loop", allow_private=True)
    assert message.startswith("The address redirected more than 3 times")


def test_fetch_refuses_other_schemes():
    for url in ("file:///etc/passwd", "ftp://example.com/cal.ics", "gopher://x/"):
        assert fetch_error(url).startswith("Only http://, https:// and webcal://")


def test_fetch_connects_to_the_vetted_address_with_the_original_host(server, monkeypatch):
    # DNS rebinding: a second lookup would answer differently, so the fetch
    # must resolve once per hop and connect to exactly the vetted address.
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        return next(answers)

    monkeypatch.setattr(fetch, "_resolve", resolve)
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1")
    port = server.rsplit(":", 1)[1]
    Handler.hosts.clear()
    assert fetch_ics(f"http://calendar.example.test:{port}/calendar.ics") == CALENDAR
    assert lookups == ["calendar.example.test"]
    assert Handler.hosts == [f"calendar.example.test:{port}"]


def test_webcal_is_fetched_over_https(server):
    # The local server only speaks plain HTTP, so an https attempt fails TLS.
    message = fetch_error(
        server.replace("http://", "webcal://") + "/calendar.ics", allow_private=True
    )
    assert message == 'The secure connection to "127.0.0.1" failed.'


def test_https_checks_the_certificate_of_the_name_not_the_address(tmp_path, monkeypatch):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
             str(cert), "-days", "1", "-subj", "/CN=calendar.example.test",
             "-addext", "subjectAltName=DNS:calendar.example.test"],
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is not available to make a test certificate")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.socket = server_context.wrap_socket(srv.socket, server_side=True)
    start_server(srv)
    try:
        monkeypatch.setattr(fetch, "_resolve", lambda host, port: ["127.0.0.1"])
        monkeypatch.setattr(fetch, "_ssl_context", lambda: ssl.create_default_context(cafile=cert))
        port = srv.server_address[1]
        url = f"webcal://calendar.example.test:{port}/calendar.ics"
        assert fetch_ics(url, allow_private=True) == CALENDAR
        message = fetch_error(f"https://127.0.0.1:{port}/calendar.ics", allow_private=True)
        assert "certificate could not be verified" in message
    finally:
        srv.shutdown()
        srv.server_close()
