"""Read busy times out of iCalendar (.ics) data, and fetch .ics feeds safely.

This module is deliberately free of the ORM: it turns bytes into a list of
:class:`BusyInterval` (aware UTC, no titles) and fetches feed URLs with a
server-side request forgery guard.  Every :class:`CalendarImportError` carries
a message that is safe and useful to show to the person who supplied the file
or address.

Library choices:

* ``icalendar`` parses the file.  It already maps Windows time zone names
  ("W. Europe Standard Time") to IANA ones (``icalendar.timezone.tzp``, using
  CLDR's windowsZones table), so there is no hand-written map here.
* ``x_wr_timezone`` applies a calendar's ``X-WR-TIMEZONE`` (Google, Apple).
* ``recurring_ical_events`` expands RRULE/RDATE with EXDATE and RECURRENCE-ID.

One icalendar behaviour is worked around (see :func:`_prepare_text`):
icalendar keeps the time zones defined by a file's VTIMEZONE blocks in a
process-wide cache keyed by TZID, first definition wins.  Without care, one
calendar's "Pacific Standard Time" or "Customized Time Zone" would silently
decide the times of every calendar parsed later by the same worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ipaddress
import re
import socket
import ssl
import time
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.prop import vBroken
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = [
    "MAX_ICS_BYTES",
    "MAX_OCCURRENCES",
    "MAX_REDIRECTS",
    "BusyInterval",
    "CalendarImportError",
    "fetch_ics",
    "is_public_address",
    "parse_busy_intervals",
]

MAX_ICS_BYTES = 2 * 1024 * 1024
#: Most event occurrences expanded for one period before the file is refused.
MAX_OCCURRENCES = 20_000
#: Wall-clock budget for expanding recurrences of one file, in seconds.
MAX_EXPAND_SECONDS = 15.0
MAX_REDIRECTS = 3

BUSY = "busy"
OUT_OF_OFFICE = "out_of_office"

WEB_PAGE_MESSAGE = (
    "The address answered with a web page, not a calendar. "
    "Use the calendar's secret iCal/ICS address."
)


class CalendarImportError(Exception):
    """A calendar could not be imported; the message is safe to show the user."""


@dataclass(frozen=True)
class BusyInterval:
    """A span of time in which the calendar's owner is unavailable.

    There is deliberately no title: private event titles are never stored.
    """

    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    all_day: bool
    kind: str  # BUSY ("busy") or OUT_OF_OFFICE ("out_of_office")


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\n|\r")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_PARAM = re.compile(r'[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*')
#: Properties whose unreadable value makes an event's time unknowable.
_TIME_PROPERTIES = frozenset(
    {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
)
#: Properties an event may have only once; a second one breaks expansion.
_SINGLE_PROPERTIES = frozenset(
    {"UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "STATUS", "TRANSP"}
)
#: The only event properties handed to icalendar: enough to place an event in
#: time and decide whether it blocks it.  Titles, descriptions, locations and
#: alarms are dropped unparsed (faster, and private text is never held).
_EVENT_PROPERTIES = frozenset(
    {
        *_SINGLE_PROPERTIES,
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "SEQUENCE",
        "ATTENDEE",
        "X-MICROSOFT-CDO-BUSYSTATUS",
    }
)
_TOO_FREQUENT = re.compile(r"(?:^|;)FREQ=(SECONDLY|MINUTELY)(?:;|$)", re.IGNORECASE)


@dataclass
class _Line:
    number: int  # physical line number (1-based) where the content line starts
    name: str  # upper-cased
    params: list[str]  # raw "NAME=value" strings
    value: str
    keep: bool = True  # whether it is handed to icalendar


def _wanted(path: list[str]) -> bool:
    """Whether a component at this nesting path matters for busy times."""
    return len(path) <= 1 or path[1] == "VTIMEZONE" or path[1:] == ["VEVENT"]


def _short(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_big(size: int | None, max_bytes: int) -> CalendarImportError:
    got = f" ({_megabytes(size)})" if size is not None else ""
    return CalendarImportError(
        f"The calendar is too big{got}. The limit is {_megabytes(max_bytes)}."
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old exporters write Windows-1252; titles are never used, so a lossy
        # decoding only ever touches text that is thrown away.
        return data.decode("cp1252", errors="replace")


def _check_looks_like_calendar(data: bytes, text: str) -> None:
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        raise CalendarImportError(
            "This is a ZIP archive, not an iCalendar (.ics) file. "
            "Unzip it and use the .ics file inside."
        )
    if head.startswith(b"%PDF"):
        raise CalendarImportError("This is a PDF document, not an iCalendar (.ics) file.")
    if b"\x00" in data[:1024]:
        raise CalendarImportError(
            "This file is not an iCalendar (.ics) file: it contains binary data."
        )
    stripped = text.lstrip()
    first = stripped.split("\n", 1)[0].strip()
    if not first.upper().startswith("BEGIN:VCALENDAR"):
        if first.startswith("<"):
            end = first.find(">")
            if 0 < end < 60:
                first = first[: end + 1]
        raise CalendarImportError(
            f'This file is not an iCalendar (.ics) file: it starts with "{_short(first)}".'
        )


def _split_params(rest: str) -> tuple[list[str], str] | None:
    """Split ';A=b;C="d:e":value' into params and value, honouring quotes."""
    params: list[str] = []
    i = 0
    while i < len(rest) and rest[i] == ";":
        j = i + 1
        quoted = False
        while j < len(rest):
            char = rest[j]
            if char == '"':
                quoted = not quoted
            elif not quoted and char in ";:":
                break
            j += 1
        param = rest[i + 1 : j]
        if not _PARAM.fullmatch(param):
            return None
        params.append(param)
        i = j
    if i >= len(rest) or rest[i] != ":":
        return None
    return params, rest[i + 1 :]


def _content_lines(text: str) -> list[_Line]:
    """Unfold and split content lines, checking structure and nesting.

    icalendar itself is lenient (it skips unreadable lines), so this is where a
    broken file is caught, with the line number to point at.
    """
    unfolded: list[list] = []  # [line number, text]
    for number, raw in enumerate(_NEWLINE.split(text), start=1):
        if raw[:1] in (" ", "\t") and unfolded:
            unfolded[-1][1] += raw[1:]
        elif raw.strip():
            unfolded.append([number, raw])

    lines: list[_Line] = []
    stack: list[tuple[str, int, set[str]]] = []  # (component, BEGIN line, properties)
    seen_end = False
    for number, raw in unfolded:
        match = _NAME.match(raw)
        split = _split_params(raw[match.end() :]) if match else None
        if split is None:
            raise CalendarImportError(
                f'Line {number} of the calendar is not valid iCalendar: "{_short(raw)}". '
                "The file may be damaged; export it again."
            )
        params, value = split
        line = _Line(number, match.group().upper(), params, value)
        if line.name == "BEGIN":
            if stack == [] and value.strip().upper() != "VCALENDAR":
                raise CalendarImportError(
                    f"Line {number}: expected BEGIN:VCALENDAR, found "
                    f'"{_short(raw)}". This is not a complete calendar.'
                )
            stack.append((value.strip().upper(), number, set()))
            line.keep = _wanted([entry[0] for entry in stack])
        elif line.name == "END":
            name = value.strip().upper()
            if not stack:
                raise CalendarImportError(
                    f'Line {number}: "{_short(raw)}" closes a block that was never opened.'
                )
            if stack[-1][0] != name:
                opened, opened_at, _seen = stack[-1]
                raise CalendarImportError(
                    f'Line {number}: "{_short(raw)}" does not match BEGIN:{opened} '
                    f"on line {opened_at}. The file may be damaged; export it again."
                )
            line.keep = _wanted([entry[0] for entry in stack])
            stack.pop()
            seen_end = seen_end or not stack
        elif not stack:
            if seen_end:
                continue  # trailing junk after END:VCALENDAR; harmless
            raise CalendarImportError(f'Line {number}: "{_short(raw)}" is outside of the calendar.')
        elif stack[-1][0] == "VEVENT" and line.name in _SINGLE_PROPERTIES:
            if line.name in stack[-1][2]:
                raise CalendarImportError(
                    f"Line {number}: the event that starts on line {stack[-1][1]} has a "
                    f"second {line.name}. The file may be damaged; export it again."
                )
            stack[-1][2].add(line.name)
        if stack and line.name not in ("BEGIN", "END"):
            path = [entry[0] for entry in stack]
            line.keep = _wanted(path) and (path[-1] != "VEVENT" or line.name in _EVENT_PROPERTIES)
        lines.append(line)
    if stack:
        opened, opened_at, _seen = stack[-1]
        raise CalendarImportError(
            f"The calendar is incomplete: BEGIN:{opened} on line {opened_at} is never "
            "closed. The file was probably cut off; download or export it again."
        )
    if not seen_end:
        raise CalendarImportError("The file contains no calendar (no BEGIN:VCALENDAR).")
    return lines


def _param_value(param: str) -> str:
    value = param.split("=", 1)[1]
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _is_known_zone(tzid: str) -> bool:
    """Whether the library data knows this zone (IANA or Windows name)."""
    cleaned = tzid.strip("/")
    if cleaned in WINDOWS_TO_OLSON:
        return True
    try:
        zoneinfo.ZoneInfo(cleaned)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _prepare_text(lines: list[_Line]) -> str:
    """Rebuild the calendar so icalendar's global zone cache can't leak.

    * VTIMEZONE blocks for zones the library knows (IANA, Windows names) are
      dropped: the tz database is more trustworthy than a file's copy, and
      a dropped block can't be cached.
    * Other VTIMEZONE blocks ("Customized Time Zone", "GMT+0100") are renamed,
      with every TZID that refers to them, to a name derived from a hash of
      their definition.  The cache then only ever maps a name to the one
      definition it was made from, whichever calendar came first.
    """
    blocks: list[tuple[int, int, str]] = []  # (first index, last index, TZID)
    start = None
    tzid = None
    for index, line in enumerate(lines):
        if line.name == "BEGIN" and line.value.strip().upper() == "VTIMEZONE":
            start, tzid = index, None
        elif start is not None and line.name == "TZID" and tzid is None:
            tzid = line.value
        elif line.name == "END" and line.value.strip().upper() == "VTIMEZONE":
            if start is not None and tzid is not None:
                blocks.append((start, index, tzid))
            start = None

    drop: set[int] = set()
    rename: dict[str, str] = {}
    for first, last, name in blocks:
        if _is_known_zone(name):
            drop.update(range(first, last + 1))
            continue
        definition = "\n".join(
            f"{line.name}:{line.value}" for line in lines[first : last + 1] if line.name != "TZID"
        )
        digest = hashlib.sha256(definition.encode()).hexdigest()[:16]
        rename[name] = f"onehand-{digest}"

    out = []
    for index, line in enumerate(lines):
        if index in drop or not line.keep:
            continue
        params = line.params
        value = line.value
        if rename:
            if line.name == "TZID" and value in rename:
                value = rename[value]
            params = [
                f"TZID={rename[_param_value(p)]}"
                if p[:5].upper() == "TZID=" and _param_value(p) in rename
                else p
                for p in params
            ]
        out.append(";".join([line.name, *params]) + ":" + value)
    return "\r\n".join(out) + "\r\n"


def _check_time_properties(calendar: icalendar.Calendar, lines: list[_Line]) -> None:
    for component in calendar.walk("VEVENT"):
        for prop, message in component.errors:
            if prop is None or prop.upper() not in _TIME_PROPERTIES:
                continue
            values = component.get(prop)
            values = values if isinstance(values, list) else [values]
            broken = next((v for v in values if isinstance(v, vBroken)), None)
            raw_text = "" if broken is None else str(broken)
            number = next(
                (
                    line.number
                    for line in lines
                    if line.name == prop.upper() and line.value == raw_text
                ),
                None,
            )
            where = f"Line {number}: " if number else ""
            raise CalendarImportError(
                f'{where}the {prop.upper()} value "{_short(raw_text)}" could not be read '
                f"({_short(message, 80)}). The file may be damaged; export it again."
            )
    for line in lines:
        if line.name == "RRULE" and _TOO_FREQUENT.search(line.value):
            raise CalendarImportError(
                f"Line {line.number}: events repeating every second or minute are not supported."
            )


def _zone(name: str) -> tzinfo | None:
    """A tzinfo for an IANA or Windows zone name, without touching caches."""
    cleaned = name.strip().strip("/")
    for candidate in (cleaned, WINDOWS_TO_OLSON.get(cleaned)):
        if candidate:
            try:
                return zoneinfo.ZoneInfo(candidate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                pass
    return None


def _to_utc(value: date | datetime, local: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=local)  # floating time
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=local).astimezone(UTC)


def _addresses(prop) -> set[str]:
    """Lower-cased e-mail addresses of an ATTENDEE (value and EMAIL param)."""
    found = set()
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        found.add(value[7:].strip().lower())
    email = getattr(prop, "params", {}).get("EMAIL")
    if email:
        found.add(str(email).strip().lower())
    return found


def _kind(event, owners: frozenset[str]) -> str | None:
    """BUSY, OUT_OF_OFFICE, or None when the event doesn't block time."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if owners:
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        for attendee in attendees:
            partstat = str(attendee.params.get("PARTSTAT", "")).upper()
            if partstat == "DECLINED" and _addresses(attendee) & owners:
                return None
    status = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    if status == "OOF":
        return OUT_OF_OFFICE
    if status == "FREE":
        return None
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    return BUSY


def _merge(intervals: list[BusyInterval]) -> list[BusyInterval]:
    merged: list[BusyInterval] = []
    last_of_kind: dict[str, int] = {}
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        index = last_of_kind.get(interval.kind)
        if index is not None and interval.start <= merged[index].end:
            previous = merged[index]
            merged[index] = BusyInterval(
                start=previous.start,
                end=max(previous.end, interval.end),
                all_day=previous.all_day and interval.all_day,
                kind=interval.kind,
            )
        else:
            last_of_kind[interval.kind] = len(merged)
            merged.append(interval)
    return sorted(merged, key=lambda i: (i.start, i.end, i.kind))


def parse_busy_intervals(
    data: bytes,
    *,
    period_start: datetime,
    period_end: datetime,
    default_tz: str = "UTC",
    owner_emails: Iterable[str] = (),
    max_bytes: int = MAX_ICS_BYTES,
) -> list[BusyInterval]:
    """Busy intervals of an .ics file within ``[period_start, period_end)``.

    Busy events are those not TRANSP:TRANSPARENT, not STATUS:CANCELLED, not
    declined by one of ``owner_emails`` and not X-MICROSOFT-CDO-BUSYSTATUS:FREE;
    BUSYSTATUS:OOF gives kind "out_of_office".  Intervals are clipped to the
    period, overlapping or touching intervals of one kind are merged, and the
    result is sorted.  All-day events and floating times are read in the
    calendar's X-WR-TIMEZONE, else in ``default_tz``.

    Raises :class:`CalendarImportError` (user-facing message) for bad files,
    and :class:`ValueError` for bad arguments (naive period, unknown zone).
    """
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period_start and period_end must be timezone-aware")
    local_default = _zone(default_tz)
    if local_default is None:
        raise ValueError(f"unknown time zone: {default_tz!r}")
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes)
    if not data.strip():
        raise CalendarImportError("The calendar file is empty.")

    text = _decode(data)
    _check_looks_like_calendar(data, text)
    lines = _content_lines(text)
    try:
        calendars = icalendar.Calendar.from_ical(_prepare_text(lines), multiple=True)
    except Exception as error:  # the checks above should make this unreachable
        raise CalendarImportError(
            "The calendar could not be read. The file may be damaged; export it again."
        ) from error

    window_start = period_start.astimezone(UTC)
    window_end = period_end.astimezone(UTC)
    # Floating and all-day values are only placed in a zone after expansion,
    # so ask the library for a window wide enough for any UTC offset.
    query_start = window_start - timedelta(days=2)
    query_end = window_end + timedelta(days=2)
    owners = frozenset(e.strip().lower() for e in owner_emails if e and e.strip())
    deadline = time.monotonic() + MAX_EXPAND_SECONDS
    expanded = 0
    intervals: list[BusyInterval] = []

    for calendar in calendars:
        if not isinstance(calendar, icalendar.Calendar):
            continue
        _check_time_properties(calendar, lines)
        try:
            found, expanded = _expand(
                calendar, local_default, query_start, query_end, owners, deadline, expanded
            )
        except CalendarImportError:
            raise
        except Exception as error:  # untrusted input can trip the libraries anywhere
            raise CalendarImportError(
                "The calendar contains an event that could not be read. "
                "Export it again, or remove the event that was changed last."
            ) from error
        for occurrence_start, occurrence_end, all_day, kind in found:
            start = max(occurrence_start, window_start)
            end = min(occurrence_end, window_end)
            if start < end:
                intervals.append(BusyInterval(start, end, all_day, kind))
    return _merge(intervals)


def _expand(
    calendar: icalendar.Calendar,
    local_default: tzinfo,
    query_start: datetime,
    query_end: datetime,
    owners: frozenset[str],
    deadline: float,
    expanded: int,
) -> tuple[list[tuple[datetime, datetime, bool, str]], int]:
    """Expand one VCALENDAR into (start, end, all_day, kind) in UTC, unclipped.

    Returns the occurrences and the running count of expanded occurrences.
    """
    local = local_default
    if "X-WR-TIMEZONE" in calendar:
        local = _zone(str(calendar["X-WR-TIMEZONE"])) or local_default
        calendar = x_wr_timezone.to_standard(calendar, timezone=local)
        calendar.pop("X-WR-TIMEZONE")  # applied; don't let the library redo it
    # Events without a start can't be placed in time (and break expansion).
    calendar.subcomponents = [
        c for c in calendar.subcomponents if c.name != "VEVENT" or "DTSTART" in c
    ]
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    skip = tuple(query.suppressed_errors)
    found = []
    # Series by series (not query.between) so the limits stop a huge
    # expansion early instead of after building the whole list.
    for series in query.series:
        with contextlib.suppress(*skip):
            for occurrence in series.between(query_start, query_end):
                expanded += 1
                if expanded > MAX_OCCURRENCES or time.monotonic() > deadline:
                    raise CalendarImportError(
                        "The calendar has too many events in this period to "
                        f"import (the limit is {MAX_OCCURRENCES:,})."
                    )
                kind = _kind(occurrence.as_component(False), owners)
                if kind is not None:
                    found.append(
                        (
                            _to_utc(occurrence.start, local),
                            _to_utc(occurrence.end, local),
                            not isinstance(occurrence.start, datetime),
                            kind,
                        )
                    )
    return found, expanded


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IP address is a public, routable unicast address.

    False for private, loopback, link-local, multicast, reserved, unspecified
    and shared (CGNAT) addresses, IPv4 and IPv6, including IPv4 addresses
    wrapped in IPv6 (IPv4-mapped, NAT64 well-known prefix, 6to4).
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _resolve(host: str, port: int) -> list[str]:
    """All addresses of ``host`` (a name or an IP literal)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to vetted addresses while sending the original Host header."""

    def __init__(self, host: str, port: int, *, addresses: list[str], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        error: OSError | None = None
        for address in self._addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
                continue
            return
        raise error or OSError("no address to connect to")


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int, *, addresses: list[str], timeout: float):
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._context = _ssl_context()

    def connect(self) -> None:
        super().connect()
        # SNI and certificate check use the name from the URL, not the IP.
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _looks_like_html(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def _http_error(status: int, host: str) -> CalendarImportError:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    code = f"HTTP {status} {phrase}".strip()
    if status in (401, 403):
        hint = (
            f"The calendar server refused access ({code}). Make sure you use the "
            "calendar's secret iCal/ICS address and that it has not been reset."
        )
    elif status in (404, 410):
        hint = (
            f"No calendar was found at this address ({code}). The address may have "
            "been reset or deleted; copy the secret iCal/ICS address again."
        )
    elif status == 429:
        hint = f"The calendar server is rate-limiting us ({code}). Try again later."
    elif status >= 500:
        hint = f"The calendar server at {host} had a problem ({code}). Try again later."
    else:
        hint = f"The calendar server answered with an error ({code})."
    return CalendarImportError(hint)


def _check_url(url: str, *, allow_private: bool) -> tuple[str, str, int, str, list[str]]:
    """Validate a URL; return (scheme, host, port, path, vetted addresses)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "webcal":
            scheme = "https"
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise CalendarImportError(f'"{_short(url, 60)}" is not a valid address.') from error
    if scheme not in ("http", "https"):
        raise CalendarImportError(
            "Only http://, https:// and webcal:// calendar addresses are supported."
        )
    if not host:
        raise CalendarImportError(f'"{_short(url, 60)}" is not a valid address.')
    if parts.username is not None or parts.password is not None:
        raise CalendarImportError(
            "Calendar addresses with a user name or password are not supported. "
            "Use the calendar's secret iCal/ICS address."
        )
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as error:
        raise CalendarImportError(f'"{_short(host, 60)}" is not a valid host name.') from error
    port = port or (443 if scheme == "https" else 80)
    # Pasted addresses may hold spaces or non-ASCII text; keep existing escapes.
    path = quote(parts.path or "/", safe="/:@!$&'()*+,;=%~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/:@!$&'()*+,;=%~?")
    try:
        addresses = _resolve(host, port)
    except (socket.gaierror, UnicodeError) as error:
        raise CalendarImportError(
            f'Could not find the server "{host}". Check the address for typos.'
        ) from error
    if not addresses:
        raise CalendarImportError(f'Could not find the server "{host}".')
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise CalendarImportError(
            f'The address "{host}" points to a private or local network, which is '
            "not allowed. Use a public calendar address."
        )
    return scheme, host, port, path, addresses


def fetch_ics(
    url: str,
    *,
    max_bytes: int = MAX_ICS_BYTES,
    timeout: float = 10.0,
    allow_private: bool = False,
) -> bytes:
    """Download an .ics feed, refusing anything but a calendar of sane size.

    Only http, https and webcal (fetched as https).  Every hop (at most
    :data:`MAX_REDIRECTS` redirects) resolves the host once, refuses
    non-public addresses unless ``allow_private``, and connects to exactly
    the vetted address, so DNS rebinding can't slip past the check.
    ``timeout`` bounds each network operation; the whole download must finish
    within three times that.  Raises :class:`CalendarImportError`.
    """
    deadline = time.monotonic() + 3 * timeout
    for _hop in range(MAX_REDIRECTS + 1):
        scheme, host, port, path, addresses = _check_url(url, allow_private=allow_private)
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(host, port, addresses=addresses, timeout=timeout)
        try:
            try:
                connection.request(
                    "GET",
                    path,
                    headers={
                        "Accept": "text/calendar, text/plain;q=0.5, */*;q=0.1",
                        "Accept-Encoding": "identity",
                        "User-Agent": "Onehand calendar import",
                    },
                )
                response = connection.getresponse()
                status = response.status
                location = response.getheader("Location")
                if status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location.strip())
                    continue
                if not 200 <= status < 300:
                    raise _http_error(status, host)
                content_type = (response.getheader("Content-Type") or "").lower()
                if "html" in content_type.split(";", 1)[0]:
                    raise CalendarImportError(WEB_PAGE_MESSAGE)
                length = response.getheader("Content-Length")
                if length and length.strip().isdigit() and int(length) > max_bytes:
                    raise _too_big(int(length), max_bytes)
                chunks: list[bytes] = []
                total = 0
                while chunk := response.read(64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise _too_big(None, max_bytes)
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    chunks.append(chunk)
            except ssl.SSLCertVerificationError as error:
                raise CalendarImportError(
                    f'The secure connection to "{host}" failed: its certificate '
                    "could not be verified."
                ) from error
            except ssl.SSLError as error:
                raise CalendarImportError(f'The secure connection to "{host}" failed.') from error
            except TimeoutError as error:
                raise CalendarImportError(
                    f'The server "{host}" did not answer in time. Try again later.'
                ) from error
            except ConnectionRefusedError as error:
                raise CalendarImportError(
                    f'Could not connect to "{host}" (connection refused). Check the address.'
                ) from error
            except http.client.HTTPException as error:
                raise CalendarImportError(
                    f'The server "{host}" did not give a valid web (HTTP) answer.'
                ) from error
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise CalendarImportError(f'Could not connect to "{host}" ({reason}).') from error
        finally:
            connection.close()
        body = b"".join(chunks)
        if _looks_like_html(body):
            raise CalendarImportError(WEB_PAGE_MESSAGE)
        return body
    raise CalendarImportError(
        f"The address redirected more than {MAX_REDIRECTS} times; "
        "use the calendar's final iCal/ICS address."
    )
