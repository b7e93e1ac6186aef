"""iCalendar entries for on-call shifts, shared by every channel.

Email invites (RFC 5546 iTIP REQUEST/CANCEL), subscription feeds and CalDAV
all build their VEVENTs here, so a shift looks the same everywhere.

Pure module: no Django, no ORM, no clock. The caller passes ``now`` (it
becomes DTSTAMP) and plain dataclasses.

Design notes
- DTSTART/DTEND are written as local wall-clock times in the rotation's IANA
  zone (``TZID=Europe/London``) and the calendar carries a VTIMEZONE for every
  zone it references, built here from zoneinfo's transitions over the events'
  span (see "VTIMEZONE" below: the current rule as a yearly RRULE pair, older
  changes one sub-component each, no RDATE), so a 09:00 handover stays at 09:00
  across DST in every client, for any span of years. A zone that icalendar
  writes as UTC (``UTC``, ``Etc/UTC``) uses the ``Z`` form and needs no
  VTIMEZONE.
- User-supplied single-line text (names, rotation and team names, phones,
  roles, window labels) is made single-line first: control characters and
  line breaks become one space. iCalendar escaping (``\\,``, ``\\;``, RFC 6868
  in parameters) is left to icalendar. Without this a name could add fake
  lines to the plain-text description that is reused as the email body (for
  example a second "Can't make it?" link). Text is never HTML-escaped here:
  iCalendar TEXT is plain text; whoever renders it as HTML must escape it.
- Email addresses and UIDs are not rewritten: invalid ones raise ValueError.
- No VALARM: reminders are sent by email, and an alarm in an iTIP invite is
  ignored or duplicated by most clients anyway.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vText,
)
from icalendar.parser import Parameters
from icalendar.parser_tools import to_unicode

__all__ = [
    "PRODID",
    "ROLES",
    "Contact",
    "ShiftEntry",
    "build_calendar",
    "build_event",
    "describe",
    "invite",
    "summary",
]

PRODID = "-//Onehand//On-call rotations//EN"
ROLES = ("primary", "secondary", "shadow")
METHODS = ("REQUEST", "CANCEL", "PUBLISH")

# Who the partner is, seen from the slot's role.
_PARTNER_ROLE = {"primary": "secondary", "secondary": "primary", "shadow": "primary"}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# C0/C1 controls (CR, LF, TAB, NUL, ESC, DEL, ...) and Unicode line/paragraph separators.
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BAD_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    phone: str = ""
    role: str = ""  # "secondary", "mentor", "lead", "primary", ...


@dataclass(frozen=True)
class ShiftEntry:
    uid: str  # stable per (shift, person), e.g. "shift-42-person-7@onehand"
    sequence: int  # grows with every change
    rotation_name: str
    team_name: str
    role: str  # "primary" | "secondary" | "shadow"
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    time_zone: str  # the rotation's IANA zone
    attendee: Contact  # the person holding the slot
    partner: Contact | None  # the other person on call (for shadow: the primary)
    escalation: tuple[Contact, ...]  # secondary -> mentor -> lead, in order
    organizer_email: str  # e.g. "onehand@example.com"
    shift_url: str  # link to the shift in Onehand
    cant_make_it_url: str  # signed "Can't make it?" link
    runbook_url: str = ""
    cancelled: bool = False
    window_label: str = ""  # e.g. "EMEA 08:00-16:00" for follow-the-sun
    # A team feed shows everyone's slots: the summary names the attendee, the description
    # speaks about them (not "you") and carries no personal "Can't make it?" link.
    team_view: bool = False
    # Partial cover: the (start, end) of the whole shift this entry is one piece of.
    part_of: tuple[datetime, datetime] | None = None


# --------------------------------------------------------------------------- helpers


def _line(text: str) -> str:
    """User text as one line: control characters and line breaks become one space."""
    return _LINE_BREAKING.sub(" ", str(text)).strip()


def _mailto(email: str) -> str:
    email = str(email).strip()
    if not email or "@" not in email or _BAD_IN_ADDRESS.search(email):
        raise ValueError(f"not a usable email address: {email!r}")
    return f"mailto:{email}"


def _usable(email: str) -> bool:
    try:
        _mailto(email)
    except ValueError:
        return False
    return True


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone: {name!r}") from exc


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {value!r}")
    return value


def _check(entry: ShiftEntry) -> None:
    if entry.role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {entry.role!r}")
    if not entry.uid or _LINE_BREAKING.search(entry.uid):
        raise ValueError(f"UID must be a non-empty single line, got {entry.uid!r}")
    if isinstance(entry.sequence, bool) or not isinstance(entry.sequence, int):
        raise ValueError(f"SEQUENCE must be an int, got {entry.sequence!r}")
    if entry.sequence < 0:
        raise ValueError(f"SEQUENCE must be >= 0, got {entry.sequence}")
    start = _aware(entry.start, "start")
    end = _aware(entry.end, "end")
    if end <= start:
        raise ValueError("end must be after start")
    _zone(entry.time_zone)


def _wall_time(dt: datetime, tz: ZoneInfo) -> datetime:
    """``dt`` in ``tz`` (written ``TZID=zone:local time``), or in UTC (``...Z``) when that
    local time is ambiguous or nonexistent in the zone.

    In the hour repeated when the clocks go back, ``TZID=Europe/London:20271031T013000``
    names two instants and readers disagree on which (icalendar takes the first, ical.js
    the second); only UTC says which one is meant.
    """
    local = dt.astimezone(tz)
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset() or first.astimezone(UTC) != dt.astimezone(UTC):
        return dt.astimezone(UTC)
    return local


def _local(dt: datetime, tz: ZoneInfo) -> str:
    """'Mon 30 Mar 2026 09:00 BST' without depending on the process locale."""
    local = dt.astimezone(tz)
    return (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
        f"{local:%H:%M} {local.tzname()}"
    )


def span(start: datetime, end: datetime, zone: str) -> str:
    """'Mon 30 Nov 2026 14:30 – Mon 7 Dec 2026 14:30 IST (Asia/Kolkata)': both ends in `zone`,
    named; the start keeps its own abbreviation when a DST change falls inside."""
    tz = _zone(zone)
    first, last = _local(start, tz), _local(end, tz)
    start_name, end_name = start.astimezone(tz).tzname(), end.astimezone(tz).tzname()
    if start_name == end_name:
        first = first.removesuffix(f" {start_name}")
    return f"{first} – {last}" if zone in ("UTC", "Etc/UTC") else f"{first} – {last} ({zone})"


def _contact_line(contact: Contact, role: str = "") -> str:
    text = _line(contact.name) or _line(contact.email)
    role = _line(role or contact.role)
    if role:
        text += f" ({role})"
    details = []
    if _line(contact.phone):
        details.append(f"phone {_line(contact.phone)}")
    if _line(contact.email):
        details.append(f"email {_line(contact.email)}")
    if details:
        text += ", " + ", ".join(details)
    return text


def _address(contact: Contact, **params: str) -> vCalAddress:
    address = vCalAddress(_mailto(contact.email))
    name = _line(contact.name)
    if name:
        address.params["CN"] = name
    for key, value in params.items():
        if value:
            address.params[key] = value
    return address


def _x_contact(contact: Contact, role: str, order: int | None = None) -> vCalAddress:
    """Structured contact for X-ONEHAND-PARTNER / X-ONEHAND-ESCALATION."""
    address = _address(contact)
    address.params["VALUE"] = "CAL-ADDRESS"
    if order is not None:
        address.params["X-ONEHAND-ORDER"] = str(order)
    if _line(role):
        address.params["X-ONEHAND-ROLE"] = _line(role)
    if _line(contact.phone):
        address.params["X-ONEHAND-PHONE"] = _line(contact.phone)
    return address


# --------------------------------------------------------------------------- public API


def summary(entry: ShiftEntry) -> str:
    """'On call: Payments, primary (EMEA 08:00-16:00)'; a team view adds ': Alice Archer'."""
    text = f"On call: {_line(entry.rotation_name)}, {entry.role}"
    if entry.team_view:
        text += f": {_line(entry.attendee.name) or _line(entry.attendee.email)}"
    if entry.part_of is not None:
        text += " (part of the shift)"
    label = _line(entry.window_label)
    return f"{text} ({label})" if label else text


def describe(entry: ShiftEntry, *, zone: str | None = None) -> str:
    """The plain-text description, also used as the email body. Times are in `zone` (the
    reader's, for an e-mail), named; without one in the rotation's zone, named too: that is the
    calendar's DESCRIPTION, shared by everyone who reads the feed or the event."""
    _check(entry)
    lines: list[str] = []
    who = _line(entry.attendee.name) or _line(entry.attendee.email)
    if entry.cancelled:
        lines.append(
            f"Cancelled: {who} is no longer on call for this shift."
            if entry.team_view
            else "Cancelled: you are no longer on call for this shift."
        )
        lines.append("")
    team = _line(entry.team_name)
    subject = f"{who} is" if entry.team_view else "You are"
    heading = f"{subject} on call as {entry.role} for {_line(entry.rotation_name)}"
    lines.append(f"{heading} (team {team})." if team else f"{heading}.")
    if _line(entry.window_label):
        lines.append(f"Window: {_line(entry.window_label)}")
    lines.append(f"When: {span(entry.start, entry.end, zone or entry.time_zone)}")
    if entry.part_of is not None:
        lines.append(
            "Part of the shift "
            f"{span(entry.part_of[0], entry.part_of[1], zone or entry.time_zone)} "
            "(partial cover: others hold the rest)."
        )
    lines.append("")
    partner_role = _PARTNER_ROLE[entry.role]
    if entry.partner is None:
        lines.append("Partner: none")
    elif entry.role == "shadow":
        lines.append(f"Shadowing: {_contact_line(entry.partner, partner_role)}")
    else:
        lines.append(f"Partner: {_contact_line(entry.partner, partner_role)}")
    lines.append("")
    if entry.escalation:
        lines.append("Escalation, in order:")
        lines += [
            f"{number}. {_contact_line(contact)}"
            for number, contact in enumerate(entry.escalation, start=1)
        ]
    else:
        lines.append("Escalation: none")
    lines.append("")
    if _line(entry.runbook_url):
        lines.append(f"Runbook: {_line(entry.runbook_url)}")
    if not entry.team_view and _line(entry.cant_make_it_url):
        lines.append(f"Can't make it? {_line(entry.cant_make_it_url)}")
    lines.append(f"Shift: {_line(entry.shift_url)}")
    return "\n".join(lines) + "\n"


def build_event(entry: ShiftEntry, *, now: datetime) -> Event:
    """One VEVENT for one person's slot in one shift."""
    _check(entry)
    now = _aware(now, "now").astimezone(UTC)
    tz = _zone(entry.time_zone)

    event = Event()
    event.add("UID", vText(entry.uid))
    event.add("SEQUENCE", entry.sequence)
    event.add("DTSTAMP", now)
    event.add("SUMMARY", vText(summary(entry)))
    event.add("DTSTART", _wall_time(entry.start, tz))
    event.add("DTEND", _wall_time(entry.end, tz))
    event.add("STATUS", "CANCELLED" if entry.cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    organizer = vCalAddress(_mailto(entry.organizer_email))
    organizer.params["CN"] = "Onehand"
    event.add("ORGANIZER", organizer)
    event.add(
        "ATTENDEE",
        _address(
            entry.attendee,
            CUTYPE="INDIVIDUAL",
            ROLE="REQ-PARTICIPANT",
            PARTSTAT="NEEDS-ACTION",
            RSVP="FALSE",
        ),
    )
    event.add("URL", entry.shift_url)
    event.add("DESCRIPTION", vText(describe(entry)))
    event.add("X-ONEHAND-ROLE", vText(entry.role), parameters={"VALUE": "TEXT"})
    # Contacts without a usable address stay in the description only.
    if entry.partner is not None and _usable(entry.partner.email):
        event.add("X-ONEHAND-PARTNER", _x_contact(entry.partner, _PARTNER_ROLE[entry.role]))
    for order, contact in enumerate(entry.escalation, start=1):
        if _usable(contact.email):
            event.add("X-ONEHAND-ESCALATION", _x_contact(contact, contact.role, order))
    return event


# --------------------------------------------------------------------------- VTIMEZONE
#
# Every VTIMEZONE is built here from zoneinfo's own transitions, in the one shape that every
# mainstream reader takes the same way (Thunderbird and other ical.js users, Apple Calendar,
# Outlook, Google Calendar, vobject/dateutil, libical):
#
# - the zone's current rule as a STANDARD and a DAYLIGHT sub-component, each with one
#   DTSTART and an open-ended ``RRULE:FREQ=YEARLY;BYMONTH=..;BYDAY=..`` (what Google, Outlook
#   and Apple themselves export), checked against every transition in the calendar's span
#   before it is used;
# - everything else (older rules inside the span, one-off changes, a zone that stopped
#   changing) as one sub-component per transition, with its own DTSTART;
# - no RDATE at all. icalendar's ``Timezone.from_tzid`` (used here before) writes each kind of
#   change as one DTSTART plus one comma-separated RDATE listing the later years. ical.js
#   (so Thunderbird) reads only the first value of an RDATE property, and dateutil's tzical
#   (so vobject) misread it too (tests/test_calendar_hours.py showed both on that output):
#   a feed rendered late in 2026 covered 2025 onwards, and its shifts from the spring change
#   of 2027 on were an hour off, while an invite (one event, its own short span) was right.
#   RDATE in a VTIMEZONE is also the least used form across clients, so none is written.
# - DTSTART is the wall-clock time of the change in the offset before it (TZOFFSETFROM), as
#   RFC 5545 3.6.5 asks.
#
# The span starts on 1 January of the year before the earliest event and ends with the year
# after the latest, so every event has at least one onset before it.
#
# Why not UTC (``Z``) times, which every reader also takes alike: an entry would lose its
# zone, so clients that show or edit an event in its own zone would show a London 09:00
# handover as 08:00 or 09:00 UTC; invites, feeds and CalDAV keep one form. Clients that know
# the TZID (Google Calendar, Apple Calendar) use their own tz database and ignore the
# VTIMEZONE; the others read the definition above.

# How often zoneinfo is sampled for changes; every change is then found to the second.
_SCAN_STEP = timedelta(hours=6)
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NTHS = (-1, 1, 2, 3, 4)  # -1: the last such weekday of the month


@dataclass(frozen=True)
class _Transition:
    at: datetime  # the instant of the change, UTC
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool

    @property
    def onset(self) -> datetime:
        """The change's wall-clock time in the offset before it: a VTIMEZONE DTSTART."""
        return (self.at + self.offset_from).replace(tzinfo=None)

    @property
    def key(self) -> tuple:
        """What a yearly rule must keep: kind, offsets, name, month, weekday, time of day."""
        onset = self.onset
        return (
            self.daylight,
            self.offset_from,
            self.offset_to,
            self.name,
            onset.month,
            onset.weekday(),
            onset.time(),
        )


def _state(tz: ZoneInfo, at: datetime) -> tuple[timedelta, timedelta, str]:
    """(UTC offset, DST offset, name) in force at an instant."""
    local = at.astimezone(tz)
    return local.utcoffset(), local.dst(), local.tzname() or ""


def _transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    """zoneinfo's changes of offset, DST flag or name in [start, end), in order."""
    found: list[_Transition] = []
    before, state = start, _state(tz, start)
    while before < end:
        after = min(before + _SCAN_STEP, end)
        if (new := _state(tz, after)) != state:
            low, high = before, after  # state at low, a change somewhere up to high
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(tz, middle) == state:
                    low = middle
                else:
                    high = middle
            offset, dst, name = _state(tz, high)
            # DAYLIGHT is the change to the greater offset: tzdata's own flag says "winter
            # is daylight time" for Europe/Dublin (negative DST), which readers need not know.
            daylight = offset > state[0] or (offset == state[0] and dst > timedelta(0))
            found.append(_Transition(high, state[0], offset, name, daylight))
            state = _state(tz, high)
            if state != new:  # two changes within one step: look again from this one
                after = high
        before = after
    return found


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year, month, monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _fitting_nths(transition: _Transition) -> set[int]:
    onset = transition.onset
    return {
        nth
        for nth in _NTHS
        if _nth_weekday(onset.year, onset.month, onset.weekday(), nth) == onset.date()
    }


def _current_rule(
    changes: list[_Transition], last_year: int
) -> tuple[int, list[tuple[_Transition, int]]]:
    """The zone's current yearly rule, as (index of the first change it covers, [(its first
    change, BYDAY ordinal) for the DAYLIGHT and the STANDARD part]); (len(changes), []) when
    the span does not end in one yearly rule that both kinds of change followed every year
    of the span's tail, up to its last year."""
    runs: dict[tuple, list[_Transition]] = {}
    nths: dict[tuple, set[int]] = {}
    start = len(changes)
    for index in range(len(changes) - 1, -1, -1):
        change = changes[index]
        run = runs.get(change.key)
        if run is None and len(runs) == 2:
            break
        fits = _fitting_nths(change) & nths.get(change.key, set(_NTHS))
        if not fits or (run and run[0].onset.year != change.onset.year + 1):
            break
        runs.setdefault(change.key, []).insert(0, change)
        nths[change.key] = fits
        start = index
    ends_the_span = all(run[-1].onset.year == last_year for run in runs.values())
    if (
        len(runs) != 2
        or {key[0] for key in runs} != {True, False}
        or any(len(run) < 2 for run in runs.values())
        or not ends_the_span
    ):
        return len(changes), []
    # -1 ("last Sunday") wherever it fits: tzdata's rules say lastSun far more often than
    # "4th Sunday", and in a year where both fit they are the same day.
    return start, [(run[0], -1 if -1 in nths[key] else min(nths[key])) for key, run in runs.items()]


def _sub_component(
    daylight: bool, onset: datetime, offset_from: timedelta, offset_to: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    part = TimezoneDaylight() if daylight else TimezoneStandard()
    part.add("DTSTART", onset)
    part.add("TZNAME", name)
    part.add("TZOFFSETFROM", offset_from)
    part.add("TZOFFSETTO", offset_to)
    return part


@lru_cache(maxsize=256)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE right from 1 January ``first_year`` to 31 December ``last_year``.

    Shared, never mutated: only serialised inside build_calendar."""
    tz = _zone(tzid)
    start = datetime(first_year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    changes = _transitions(tz, start, end)
    rule_from, rules = _current_rule(changes, last_year)

    timezone = Timezone()
    timezone.add("TZID", tzid)
    parts: list[tuple[datetime, TimezoneStandard | TimezoneDaylight]] = []
    if not changes or changes[0].onset.year > first_year:
        # No change early in the span: say what holds from its start.
        offset, dst, name = _state(tz, start)
        onset = start.astimezone(tz).replace(tzinfo=None)
        parts.append((onset, _sub_component(dst > timedelta(0), onset, offset, offset, name)))
    for change in changes[:rule_from]:
        parts.append(
            (
                change.onset,
                _sub_component(
                    change.daylight,
                    change.onset,
                    change.offset_from,
                    change.offset_to,
                    change.name,
                ),
            )
        )
    for change, nth in rules:
        part = _sub_component(
            change.daylight, change.onset, change.offset_from, change.offset_to, change.name
        )
        part.add(
            "RRULE",
            {
                "FREQ": "YEARLY",
                "BYMONTH": change.onset.month,
                "BYDAY": f"{nth}{_BYDAY[change.onset.weekday()]}",
            },
        )
        parts.append((change.onset, part))
    for _, part in sorted(parts, key=lambda item: item[0]):
        timezone.add_component(part)
    return timezone


def _needs_vtimezone(tzid: str) -> bool:
    return not icalendar.is_utc(_zone(tzid))


def _year_span(events: list[Event]) -> tuple[int, int]:
    """Years covered by the events' DTSTART/DTEND, with a margin either side."""
    years = [
        prop.dt.year
        for event in events
        for name in ("DTSTART", "DTEND")
        if (prop := event.get(name)) is not None
    ]
    if not years:
        first, last = Timezone.DEFAULT_FIRST_DATE.year, Timezone.DEFAULT_LAST_DATE.year
        return first, last
    return min(years) - 1, max(years) + 1


def _used_tzids(events: list[Event]) -> set[str]:
    """TZID parameters used by the events' properties (what Calendar.get_used_tzids finds,
    without serialising every property of a large calendar to look)."""
    found: set[str] = set()
    for event in events:
        for component in event.walk():
            for value in component.values():
                for item in value if isinstance(value, list) else (value,):
                    params = getattr(item, "params", None)
                    if params and (tzid := params.get("TZID")):
                        found.add(tzid)
    return found


_ESCAPE_STARTS = b"\\^"


def _fold(line: str, limit: int = 75) -> bytes:
    """RFC 5545 folding, byte for byte what icalendar's Contentline.to_ical writes (lines of
    at most 74 octets, never splitting a UTF-8 character, nor a backslash or ^ escape from
    what follows), cut on the encoded bytes: icalendar looks at every character of every
    line, a third of the time spent rendering a feed of 900 events."""
    data = line.encode()
    width = limit - 1
    if len(data) <= width:
        return data
    parts, start, size = [], 0, len(data)
    while size - start > width:
        end = start + width
        while data[end] & 0xC0 == 0x80:  # inside a multi-byte character
            end -= 1
        if data[end - 1] in _ESCAPE_STARTS:
            end -= 1
        parts.append(data[start:end])
        start = end
    parts.append(data[start:])
    return b"\r\n ".join(parts)


# Serialised parameter lists, by property name and parameters: the same contacts, zones and
# flags recur on every event of a feed and every invite of a chunk.
_PARAMETERS: dict[tuple, str] = {}
_PARAMETERS_LIMIT = 4096


def _parameters(params: Parameters) -> str:
    try:
        key = tuple(params.items())
        known = _PARAMETERS.get(key)
    except TypeError:  # a list value: not a key, serialise as it is
        return to_unicode(params.to_ical(sorted=True))
    if known is None:
        known = to_unicode(params.to_ical(sorted=True))
        if len(_PARAMETERS) >= _PARAMETERS_LIMIT:
            _PARAMETERS.clear()
        _PARAMETERS[key] = known
    return known


def _content_line(name: str, value) -> str:
    """Contentline.from_parts(name, value.params, value), unfolded, without its per-line
    costs (a fresh Parameters for every property without any, parameters serialised anew
    for every line); the same text."""
    text = to_unicode(value.to_ical() if hasattr(value, "to_ical") else vText(value).to_ical())
    params = getattr(value, "params", None)
    line = f"{name}:{text}"
    if params:
        serialised = _parameters(params)
        if serialised:
            line = f"{name};{serialised}:{text}"
    if "\n" in line:  # what Contentline refuses: a value must escape its line breaks
        raise ValueError(f"unescaped line break in {name}")
    return line


def _component_lines(component) -> bytes:
    """component.to_ical() (properties and parameters sorted, subcomponents in order), with
    the folding above; no trailing CRLF."""
    return b"\r\n".join(
        _fold(_content_line(name, value)) for name, value in component.property_items()
    )


@lru_cache(maxsize=256)
def _vtimezone_lines(tzid: str, first_year: int, last_year: int) -> bytes:
    """A VTIMEZONE serialised once: every invite of a chunk and every feed of a zone
    carries the same lines."""
    return _component_lines(_vtimezone(tzid, first_year, last_year))


def _serialise(calendar: Calendar, zones: tuple[bytes, ...] = ()) -> bytes:
    """calendar.to_ical(), with the folding above; ``zones`` (serialised VTIMEZONEs) come
    first among its components, as if they were its first subcomponents."""
    lines = [_component_lines(calendar)]
    if zones:
        head, _, rest = lines[0].partition(b"\r\nBEGIN:V")
        if rest:
            lines = [head, *zones, b"BEGIN:V" + rest]
        else:  # no components: before END:VCALENDAR
            head, _, end = lines[0].rpartition(b"\r\n")
            lines = [head, *zones, end]
    return b"\r\n".join(lines) + b"\r\n"


def build_calendar(
    events: Iterable[Event],
    *,
    method: str | None,
    name: str,
    time_zones: Iterable[str],
    years: tuple[int, int] | None = None,
) -> bytes:
    """A VCALENDAR around the events, with a VTIMEZONE for every zone used.

    ``method`` is "REQUEST" or "CANCEL" for iTIP email, None for feeds/CalDAV.
    ``years`` (first, last) is the span the VTIMEZONEs cover when there are no events; with
    events it follows them. A calendar without events still carries one component (RFC 5545
    requires one): the VTIMEZONE of the zones given, or of UTC.
    Returns UTF-8 bytes, CRLF line endings, lines folded at 75 octets.
    """
    if method is not None and method.upper() not in METHODS:
        raise ValueError(f"method must be one of {METHODS} or None, got {method!r}")
    events = list(events)
    time_zones = set(time_zones)
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    if method is not None:
        calendar.add("METHOD", method.upper())
    calendar.add("X-WR-CALNAME", vText(_line(name)), parameters={"VALUE": "TEXT"})
    for event in events:
        calendar.add_component(event)

    used = time_zones | (_used_tzids(events) - {"UTC"})
    zones = sorted(tzid for tzid in used if _needs_vtimezone(tzid))
    if not events and not zones:
        # Nothing else to carry: a zone of +00:00 that no event uses and every reader accepts.
        zones = sorted(time_zones) or ["UTC"]
    first_year, last_year = _year_span(events) if events or years is None else years
    # VTIMEZONEs first, so that readers meet each zone before the events using it.
    return _serialise(
        calendar, tuple(_vtimezone_lines(tzid, first_year, last_year) for tzid in zones)
    )


def invite(entry: ShiftEntry, *, now: datetime) -> bytes:
    """An RFC 5546 iTIP message for the attendee: REQUEST, or CANCEL if cancelled.

    Attach as ``text/calendar; method=REQUEST`` (or CANCEL); charset UTF-8.
    """
    method = "CANCEL" if entry.cancelled else "REQUEST"
    return build_calendar(
        [build_event(entry, now=now)],
        method=method,
        name=entry.rotation_name,
        time_zones=[entry.time_zone],
    )
