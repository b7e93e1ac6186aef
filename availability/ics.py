"""Read busy times out of iCalendar (.ics) data, within hard budgets.

This module is deliberately free of the ORM and of Django: it turns bytes into a
list of :class:`BusyInterval` (aware UTC, no titles).  Every
:class:`CalendarImportError` carries a message that is safe and useful to show to
the person who supplied the file or address.  Fetching feeds is
:mod:`availability.ics_fetch` (through the shared guard in :mod:`onehand.fetch`);
running this parser in a resource-limited child process is
:mod:`availability.ics_sandbox`.

Library choices:

* ``icalendar`` parses the file.  It already maps Windows time zone names
  ("W. Europe Standard Time") to IANA ones (``icalendar.timezone.tzp``, using
  CLDR's windowsZones table), so there is no hand-written map here.
* ``x_wr_timezone`` applies a calendar's ``X-WR-TIMEZONE`` (Google, Apple).
* ``recurring_ical_events`` expands RRULE/RDATE with EXDATE and RECURRENCE-ID.

Budgets (a hostile file must be refused quickly, by name, before the libraries
see it).  The text is checked first, in one linear pass each: size, nesting
depth, number of components, time zones and listed dates.  Then every recurrence
rule is costed *from its DTSTART* (dateutil walks every rule from DTSTART, and
only the occurrences inside the window are of use to us): the estimated number
of expansion steps up to the end of the import window (or, for a VTIMEZONE rule,
up to where icalendar expands it) is summed over the file and refused above
:data:`MAX_RECURRENCE_STEPS`.  Event rules also get an UNTIL just after the
window, so a rule that never matches (FREQ=DAILY;BYMONTHDAY=30;BYMONTH=2) can't
walk on to the year 9999.  Expansion finally counts occurrences and checks a
deadline.  Memory and wall time as a whole are bounded by the child process
(:mod:`availability.ics_sandbox`).

One icalendar behaviour is worked around (see :func:`_prepare_text`):
icalendar keeps the time zones defined by a file's VTIMEZONE blocks in a
process-wide cache keyed by TZID, first definition wins.  Without care, one
calendar's "Pacific Standard Time" or "Customized Time Zone" would silently
decide the times of every calendar parsed later by the same worker.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import re
import time
import warnings
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from dateutil import rrule as dateutil_rrule
from icalendar.prop import vBroken, vDDDTypes
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = [
    "MAX_COMPONENTS",
    "MAX_DATE_VALUES",
    "MAX_DEPTH",
    "MAX_EXPAND_SECONDS",
    "MAX_BUSY_INTERVALS",
    "MAX_ICS_BYTES",
    "MAX_LINES",
    "MAX_OCCURRENCES",
    "MAX_RECURRENCE_STEPS",
    "MAX_TIMEZONES",
    "BusyInterval",
    "CalendarImportError",
    "CalendarEvent",
    "parse_busy_intervals",
    "parse_events",
    "too_big",
    "too_slow",
]

# The limits.  README.md ("Calendar import limits") lists them; keep it in step.
MAX_ICS_BYTES = 2 * 1024 * 1024
#: Deepest nesting of BEGIN blocks (real calendars nest 3 deep: VCALENDAR, VEVENT, VALARM).
MAX_DEPTH = 50
#: Most components (BEGIN blocks) in one file.
MAX_COMPONENTS = 20_000
#: Most VTIMEZONE blocks in one file (real exports carry a handful).
MAX_TIMEZONES = 100
#: Most content lines (after unfolding) in one file.
MAX_LINES = 200_000
#: Most RDATE and EXDATE values in one file.
MAX_DATE_VALUES = 20_000
#: Most recurrence expansion steps, counted from each rule's DTSTART, summed over the file.
MAX_RECURRENCE_STEPS = 200_000
#: Most event occurrences expanded for one period before the file is refused.
MAX_OCCURRENCES = 20_000
#: Wall-clock budget for reading one file in-process, in seconds, unless the caller gives
#: another (the child process running it has a hard limit on top: availability.ics_sandbox).
MAX_EXPAND_SECONDS = 3.0
#: Most busy intervals one calendar may give for the import period, after merging.
MAX_BUSY_INTERVALS = 5_000
#: A repeating rule that finds no occurrence in this many of its periods (days of a daily
#: rule, hours of an hourly one) is refused: it never happens, or too rarely to be real,
#: and the expansion library would otherwise walk it on to the year 9999.
MAX_PERIODS_WITHOUT_OCCURRENCE = 20_000

BUSY = "busy"
OUT_OF_OFFICE = "out_of_office"


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
#: Calendar-level properties handed to icalendar (X-WR-* are kept too).
_CALENDAR_PROPERTIES = frozenset({"VERSION", "PRODID", "CALSCALE", "METHOD"})
_TOO_FREQUENT = re.compile(r"(?:^|;)FREQ=(SECONDLY|MINUTELY)(?:;|$)", re.IGNORECASE)


@dataclass(slots=True)
class _Line:
    number: int  # physical line number (1-based) where the content line starts
    name: str  # upper-cased
    params: list[str]  # raw "NAME=value" strings
    value: str
    keep: bool = True  # whether it is handed to icalendar


@dataclass(slots=True)
class _Rules:
    """A component whose recurrence rules are costed before expansion."""

    kind: str  # "VEVENT" or "VTIMEZONE" (a STANDARD/DAYLIGHT block inside one)
    begin: int  # line number of its BEGIN
    zone: str = ""  # for a VTIMEZONE rule: the TZID of the block it is in
    dtstart: _Line | None = None
    rules: list[_Line] = field(default_factory=list)  # RRULE and EXRULE lines


@dataclass(slots=True)
class _Parsed:
    lines: list[_Line]
    rules: list[_Rules]


def _short(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def too_big(size: int | None, max_bytes: int) -> CalendarImportError:
    got = f" ({_megabytes(size)})" if size is not None else ""
    return CalendarImportError(
        f"The calendar is too big{got}. The limit is {_megabytes(max_bytes)}."
    )


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _from_bom(data: bytes) -> bytes:
    """UTF-16 and UTF-32 files (with their byte order mark) as UTF-8; others unchanged."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).encode("utf-8")
            except UnicodeError as error:
                raise CalendarImportError(
                    f"The calendar says it is {encoding.upper()} text but is not readable as "
                    "such. The file may be damaged; export it again."
                ) from error
    return data


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


_BEGIN_END = re.compile(r"^(BEGIN|END)[;:]", re.IGNORECASE | re.MULTILINE)
_DATE_LISTS = re.compile(r"^(?:RDATE|EXDATE)[;:][^\r\n]*", re.IGNORECASE | re.MULTILINE)
_VTIMEZONE = re.compile(r"^BEGIN(?:;[^\r\n]*)?:\s*VTIMEZONE\s*$", re.IGNORECASE | re.MULTILINE)


def _check_shape(text: str) -> None:
    """Linear pre-checks on the raw text: nesting depth and how many things there are.

    Runs before any per-line object is made, so a file of 90,000 BEGIN lines costs a
    regular-expression scan and nothing else.
    """
    depth = deepest = components = 0
    for match in _BEGIN_END.finditer(text):
        if match.group(1).upper() == "BEGIN":
            depth += 1
            components += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    if deepest > MAX_DEPTH:
        raise CalendarImportError(
            f"The calendar nests components {deepest:,} deep; the limit is {MAX_DEPTH}. "
            "The file is damaged or not a real calendar export."
        )
    if components > MAX_COMPONENTS:
        raise CalendarImportError(
            f"The calendar has {components:,} components (events, alarms, time zones); "
            f"the limit is {MAX_COMPONENTS:,}. Export a shorter period."
        )
    _check_zone_count(sum(1 for _ in _VTIMEZONE.finditer(text)))
    dates = sum(m.group().count(",") + 1 for m in _DATE_LISTS.finditer(text))
    if dates > MAX_DATE_VALUES:
        raise CalendarImportError(
            f"The calendar lists {dates:,} extra or excluded dates (RDATE/EXDATE); "
            f"the limit is {MAX_DATE_VALUES:,}."
        )


def _check_zone_count(zones: int) -> None:
    if zones > MAX_TIMEZONES:
        raise CalendarImportError(
            f"The calendar defines {zones:,} time zones (VTIMEZONE); the limit is "
            f"{MAX_TIMEZONES}. The file is damaged or not a real calendar export."
        )


def _physical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded content lines with the physical line number each starts on (lazily)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    number = 0
    current: list | None = None  # [line number, parts]
    for raw in io.StringIO(text):
        number += 1
        raw = raw.rstrip("\n")
        if raw[:1] in (" ", "\t") and current is not None:
            current[1].append(raw[1:])
        elif raw.strip():
            if current is not None:
                yield current[0], "".join(current[1])
            current = [number, [raw]]
    if current is not None:
        yield current[0], "".join(current[1])


def _content_lines(
    text: str, deadline: float, seconds: float, also: frozenset[str] = frozenset()
) -> _Parsed:
    """Unfold and split content lines, checking structure and nesting.

    icalendar itself is lenient (it skips unreadable lines), so this is where a
    broken file is caught, with the line number to point at.  Linear in the size
    of the file: the nesting path's interest is kept on the stack, not rebuilt
    per line, and lines icalendar won't get are not kept.
    """
    lines: list[_Line] = []
    rules: list[_Rules] = []
    # (component, BEGIN line, properties seen, wanted, rules record or None)
    stack: list[tuple[str, int, set[str], bool, _Rules | None]] = []
    seen_end = False
    zone = ""  # TZID of the VTIMEZONE being read
    count = zones = 0
    for number, raw in _physical_lines(text):
        count += 1
        if count > MAX_LINES:
            raise CalendarImportError(
                f"The calendar has more than {MAX_LINES:,} lines; the limit is {MAX_LINES:,}. "
                "Export a shorter period."
            )
        if count % 4096 == 0 and time.monotonic() > deadline:
            raise too_slow(seconds)
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
            name = value.strip().upper()
            if stack == [] and name != "VCALENDAR":
                raise CalendarImportError(
                    f"Line {number}: expected BEGIN:VCALENDAR, found "
                    f'"{_short(raw)}". This is not a complete calendar.'
                )
            depth = len(stack) + 1
            wanted = depth <= 1 or (
                stack[1][0] == "VTIMEZONE" if depth > 2 else name in ("VTIMEZONE", "VEVENT")
            )
            record = None
            if wanted and depth == 2 and name == "VEVENT":
                record = _Rules("VEVENT", number)
            elif wanted and depth == 3 and name in ("STANDARD", "DAYLIGHT"):
                record = _Rules("VTIMEZONE", number, zone)
            if depth == 2:
                zone = ""
            if name == "VTIMEZONE":  # counted as the parser sees it, whatever the params
                zones += 1
                _check_zone_count(zones)
            if record is not None:
                rules.append(record)
            stack.append((name, number, set(), wanted, record))
            line.keep = wanted
        elif line.name == "END":
            name = value.strip().upper()
            if not stack:
                raise CalendarImportError(
                    f'Line {number}: "{_short(raw)}" closes a block that was never opened.'
                )
            if stack[-1][0] != name:
                opened, opened_at = stack[-1][0], stack[-1][1]
                raise CalendarImportError(
                    f'Line {number}: "{_short(raw)}" does not match BEGIN:{opened} '
                    f"on line {opened_at}. The file may be damaged; export it again."
                )
            line.keep = stack[-1][3]
            stack.pop()
            seen_end = seen_end or not stack
        elif not stack:
            if seen_end:
                continue  # trailing junk after END:VCALENDAR; harmless
            raise CalendarImportError(f'Line {number}: "{_short(raw)}" is outside of the calendar.')
        else:
            top, begun, seen, wanted, record = stack[-1]
            if top == "VEVENT" and line.name in _SINGLE_PROPERTIES:
                if line.name in seen:
                    raise CalendarImportError(
                        f"Line {number}: the event that starts on line {begun} has a "
                        f"second {line.name}. The file may be damaged; export it again."
                    )
                seen.add(line.name)
            if len(stack) == 1:
                line.keep = line.name in _CALENDAR_PROPERTIES or line.name.startswith("X-WR-")
            else:
                line.keep = wanted and (
                    top != "VEVENT" or line.name in _EVENT_PROPERTIES or line.name in also
                )
            if len(stack) == 2 and top == "VTIMEZONE" and line.name == "TZID":
                zone = value
            if record is not None and line.keep:
                if line.name == "DTSTART":
                    record.dtstart = line
                elif line.name in ("RRULE", "EXRULE"):
                    record.rules.append(line)
        if line.keep:
            lines.append(line)
    if stack:
        opened, opened_at = stack[-1][0], stack[-1][1]
        raise CalendarImportError(
            f"The calendar is incomplete: BEGIN:{opened} on line {opened_at} is never "
            "closed. The file was probably cut off; download or export it again."
        )
    if not seen_end:
        raise CalendarImportError("The file contains no calendar (no BEGIN:VCALENDAR).")
    return _Parsed(lines, rules)


def too_slow(seconds: float) -> CalendarImportError:
    """The one message for a calendar over its time budget, wherever that is noticed."""
    return CalendarImportError(
        f"The calendar took too long to read (the limit is {seconds:g} seconds). "
        "Export a shorter period or fewer calendars."
    )


# --- Recurrence budget -------------------------------------------------------------------

#: Length of one FREQ period, in seconds.
_PERIOD_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,  # the shortest month and year: never fewer periods than real
    "YEARLY": 365 * 86400,
}
_FREQ_ORDER = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
#: Most days dateutil considers in one period when a BYxxx day part expands it.
_DAYS_PER_PERIOD = {"WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
_DAY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
_FILTER_PARTS = ("BYMONTH", "BYSETPOS", *_DAY_PARTS)
_NAMES = {
    "SECONDLY": "every second",
    "MINUTELY": "every minute",
    "HOURLY": "every hour",
    "DAILY": "every day",
    "WEEKLY": "every week",
    "MONTHLY": "every month",
    "YEARLY": "every year",
}
#: icalendar expands an open VTIMEZONE rule to the end of 2038 (zoneinfo provider).
_ZONE_RULES_END = date(2038, 12, 31)
_DIGITS8 = re.compile(r"\d{8}")


def _rule_parts(value: str) -> dict[str, str]:
    parts = {}
    for item in value.split(";"):
        key, _, part = item.partition("=")
        parts[key.strip().upper()] = part.strip()
    return parts


def _start_of(line: _Line) -> datetime | None:
    """A DTSTART as icalendar itself reads it (naive wall time), or None if it can't."""
    try:
        value = vDDDTypes.from_ical(line.value.strip())
    except (ValueError, TypeError, OverflowError):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _date_of(text: str) -> date | None:
    match = _DIGITS8.match(text.strip())
    if match is None:
        return None
    digits = match.group()
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _int_part(parts: dict[str, str], key: str, default: int) -> int:
    raw = parts.get(key, "")
    return int(raw) if raw.isdigit() and len(raw) <= 12 else default


def _rule_steps(parts: dict[str, str], start: date, end: date) -> tuple[int, str]:
    """Estimated expansion steps of one rule from ``start`` to ``end``, and its FREQ."""
    freq = parts.get("FREQ", "").upper()
    if freq not in _PERIOD_SECONDS:
        return 0, freq  # dateutil refuses it; the series is skipped
    interval = max(_int_part(parts, "INTERVAL", 1), 1)
    span = max((end - start).days + 1, 0) * 86400
    periods = span // (_PERIOD_SECONDS[freq] * interval) + 1
    rank = _FREQ_ORDER.index(freq)
    expansion = 1
    for key, finer in (("BYHOUR", 2), ("BYMINUTE", 1), ("BYSECOND", 0)):
        if key in parts and rank > finer:
            expansion *= max(parts[key].count(",") + 1, 1)
    if freq in _DAYS_PER_PERIOD and any(key in parts for key in _DAY_PARTS):
        days = _DAYS_PER_PERIOD[freq]
        if freq == "YEARLY" and "BYMONTH" in parts:
            days = min(days, 31 * (parts["BYMONTH"].count(",") + 1))
        expansion *= days
    steps = periods * expansion
    count = _int_part(parts, "COUNT", 0)
    if count and not any(key in parts for key in _FILTER_PARTS):
        steps = min(steps, count)
    return steps, freq


def _check_recurrences(parsed: _Parsed, clamp: date) -> None:
    """Refuse files whose rules would take more than the budget to expand; clamp UNTIL.

    Steps are counted from each rule's DTSTART, since that is where dateutil starts
    walking, whatever the window.  Event rules get UNTIL (at most) ``clamp``: the
    occurrences we need all lie before it, and a rule that never matches then stops
    there instead of at the year 9999.
    """
    total = 0
    for record in parsed.rules:
        if not record.rules or record.dtstart is None:
            continue
        if record.kind == "VTIMEZONE" and _is_known_zone(record.zone):
            continue  # dropped by _prepare_text: the tz database is used instead
        first = _start_of(record.dtstart)
        if first is None:
            continue  # unreadable DTSTART: refused by name after parsing
        start = first.date()
        for line in record.rules:
            parts = _rule_parts(line.value)
            until = _date_of(parts.get("UNTIL", ""))
            if record.kind == "VTIMEZONE":
                end = until or (date(9999, 12, 31) if "COUNT" in parts else _ZONE_RULES_END)
            else:
                end = min(until, clamp) if until else clamp
                _clamp_until(line, parts, record.dtstart, clamp, until)
            steps, freq = _rule_steps(parts, start, end)
            total += steps
            if freq in ("SECONDLY", "MINUTELY"):
                raise CalendarImportError(
                    f"Line {line.number}: events repeating every second or minute "
                    "are not supported."
                )
            if steps > MAX_RECURRENCE_STEPS or total > MAX_RECURRENCE_STEPS:
                what = _NAMES.get(freq, "repeatedly")
                extra = [k for k in ("BYHOUR", "BYMINUTE", "BYSECOND") if k in parts]
                detail = f" with {'/'.join(extra)} lists" if extra else ""
                subject = "a time zone rule" if record.kind == "VTIMEZONE" else "an event"
                if steps > MAX_RECURRENCE_STEPS:
                    raise CalendarImportError(
                        f"Line {line.number}: {subject} repeats {what}{detail} from "
                        f"{start.isoformat()}, about {steps:,} repetitions to work "
                        f"through; the limit is {MAX_RECURRENCE_STEPS:,}. Move its start "
                        "closer to today or repeat it less often."
                    )
                raise CalendarImportError(
                    f"The calendar's repeating events add up to about {total:,} repetitions "
                    f"to work through (from their starts); the limit is "
                    f"{MAX_RECURRENCE_STEPS:,}. Export a shorter period."
                )
            if any(key in parts for key in _FILTER_PARTS):
                _check_finds_occurrences(line, first, end, record.kind)


# --- Rules that never (or hardly ever) happen ------------------------------------------


class _NoOccurrence(Exception):
    pass


class _CountingIterInfo(dateutil_rrule._iterinfo):
    """dateutil's per-rule iteration state, counting the periods walked since the last
    occurrence for rules that carry a ``_onehand_left`` budget (other rules: untouched)."""

    def _walk(self) -> None:
        rule = self.rrule
        left = getattr(rule, "_onehand_left", None)
        if left is not None:
            if left <= 0:
                raise _NoOccurrence
            rule._onehand_left = left - 1

    def ydayset(self, *args):
        self._walk()
        return super().ydayset(*args)

    def mdayset(self, *args):
        self._walk()
        return super().mdayset(*args)

    def wdayset(self, *args):
        self._walk()
        return super().wdayset(*args)

    def ddayset(self, *args):
        self._walk()
        return super().ddayset(*args)


def _check_finds_occurrences(line: _Line, first: datetime, end: date, kind: str) -> None:
    """Walk a filtered rule the way dateutil will, and refuse it if it goes more than
    :data:`MAX_PERIODS_WITHOUT_OCCURRENCE` periods without an occurrence.

    One general guard for every combination of BYxxx parts that can't (or hardly ever)
    meet: 30 February, week 53 in June, day 100 in December, the second of one, ...
    dateutil only checks UNTIL against occurrences it found, so such a rule would walk on
    to the year 9999.  The walk stops at ``end`` (the rule's UNTIL or the window's end).
    """
    parts = [
        item
        for item in line.value.split(";")
        if item.split("=", 1)[0].strip().upper() not in ("UNTIL", "COUNT")
    ]
    stop = datetime(end.year, end.month, end.day) + timedelta(days=1)
    try:
        rule = dateutil_rrule.rrulestr(";".join(parts), dtstart=first, ignoretz=True)
    except (ValueError, TypeError, OverflowError, IndexError):
        return  # the expansion library refuses it too; the series is skipped
    if not isinstance(rule, dateutil_rrule.rrule):
        return
    rule._onehand_left = MAX_PERIODS_WITHOUT_OCCURRENCE
    # The counting state only counts rules with a budget: swapping it in for good is safe.
    dateutil_rrule._iterinfo = _CountingIterInfo
    try:
        for occurrence in rule:
            if occurrence >= stop:
                return
            rule._onehand_left = MAX_PERIODS_WITHOUT_OCCURRENCE
    except _NoOccurrence:
        subject = "a time zone rule" if kind == "VTIMEZONE" else "a repeating event"
        raise CalendarImportError(
            f"Line {line.number}: {subject} never happens: its rule "
            f'"{_short(line.value, 60)}" finds no date in {MAX_PERIODS_WITHOUT_OCCURRENCE:,} '
            "tries from its start. Fix or delete the event and export again."
        ) from None
    except (ValueError, OverflowError):
        return  # past the year 9999, or a date the library can't make


def _clamp_until(
    line: _Line, parts: dict[str, str], dtstart: _Line, clamp: date, until: date | None
) -> None:
    if until is not None and until <= clamp:
        return
    value = dtstart.value.strip()
    params = [p.upper() for p in dtstart.params]
    if len(value) == 8 or "VALUE=DATE" in params:
        stamp = clamp.strftime("%Y%m%d")
    elif value.upper().endswith("Z") or any(p.startswith("TZID=") for p in params):
        stamp = clamp.strftime("%Y%m%dT000000Z")
    else:
        stamp = clamp.strftime("%Y%m%dT000000")
    kept = [item for item in line.value.split(";") if item.split("=", 1)[0].upper() != "UNTIL"]
    line.value = ";".join([*kept, f"UNTIL={stamp}"])


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
    for component in calendar.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            prop = component.get(name)
            tzid = getattr(prop, "params", {}).get("TZID") if prop is not None else None
            value = getattr(prop, "dt", None)
            if tzid and isinstance(value, datetime) and value.tzinfo is None:
                number = next(
                    (
                        line.number
                        for line in lines
                        if line.name == name and any(tzid in p for p in line.params)
                    ),
                    None,
                )
                where = f"Line {number}: " if number else ""
                raise CalendarImportError(
                    f'{where}the time zone "{_short(str(tzid))}" is unknown and the calendar '
                    "does not define it (no VTIMEZONE for it), so its times can't be placed. "
                    "Export the calendar again with its time zones included."
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
    max_seconds: float = MAX_EXPAND_SECONDS,
) -> list[BusyInterval]:
    """Busy intervals of an .ics file within ``[period_start, period_end)``.

    Busy events are those not TRANSP:TRANSPARENT, not STATUS:CANCELLED, not
    declined by one of ``owner_emails`` and not X-MICROSOFT-CDO-BUSYSTATUS:FREE;
    BUSYSTATUS:OOF gives kind "out_of_office".  Intervals are clipped to the
    period, overlapping or touching intervals of one kind are merged, and the
    result is sorted.  All-day events and floating times are read in the
    calendar's X-WR-TIMEZONE, else in ``default_tz``.  A file giving more than
    :data:`MAX_BUSY_INTERVALS` intervals (after merging) is refused; so is one taking
    longer than ``max_seconds`` to read.

    Raises :class:`CalendarImportError` (user-facing message) for bad files,
    and :class:`ValueError` for bad arguments (naive period, unknown zone).
    """
    owners = frozenset(e.strip().lower() for e in owner_emails if e and e.strip())
    intervals = [
        BusyInterval(start, end, all_day, kind)
        for start, end, all_day, kind in _occurrences(
            data,
            period_start=period_start,
            period_end=period_end,
            default_tz=default_tz,
            max_bytes=max_bytes,
            max_seconds=max_seconds,
            pick=lambda component: _kind(component, owners),
            count_guard=_busy_count_guard(period_start, period_end),
        )
    ]
    merged = _merge(intervals)
    if len(merged) > MAX_BUSY_INTERVALS:
        raise _too_many_busy_times(len(merged))
    return merged


def _too_many_busy_times(count: int, *, so_far: bool = False) -> CalendarImportError:
    """The count limit on busy times, refused by name (and never left to the time budget)."""
    how_many = f"more than {MAX_BUSY_INTERVALS:,}" if so_far else f"{count:,}"
    return CalendarImportError(
        f"The calendar has {how_many} separate busy times in the period imported; "
        f"the limit is {MAX_BUSY_INTERVALS:,}. Export only the calendars that matter for "
        "on-call, or remove very frequent repeating events."
    )


#: How often (in occurrences found) the busy-time count is checked while expanding.
_COUNT_GUARD_EVERY = 500


def _busy_count_guard(period_start: datetime, period_end: datetime):
    """A check run while expanding, once more than MAX_BUSY_INTERVALS busy occurrences are
    found (and every few hundred after): once they already make more separate busy times
    than the limit, the file is
    refused by that count at once, however fast or slow the machine, instead of expanding
    on into the time budget. (Only a later event of the same kind bridging thousands of
    them could bring the count back under the limit; no real calendar does that.)"""
    start, end = period_start.astimezone(UTC), period_end.astimezone(UTC)

    def check(found) -> None:
        clipped = [
            BusyInterval(max(a, start), min(b, end), all_day, kind)
            for a, b, all_day, kind in found
            if max(a, start) < min(b, end)
        ]
        if len(clipped) > MAX_BUSY_INTERVALS and len(_merge(clipped)) > MAX_BUSY_INTERVALS:
            raise _too_many_busy_times(len(clipped), so_far=True)

    return check


def _occurrences(
    data: bytes,
    *,
    period_start: datetime,
    period_end: datetime,
    default_tz: str,
    max_bytes: int,
    max_seconds: float,
    pick,
    also: frozenset[str] = frozenset(),
    refuse_reversed: bool = False,
    count_guard: Callable[[list], None] | None = None,
) -> list[tuple[datetime, datetime, bool, object]]:
    """Every occurrence within the period, clipped, as (start, end, all_day, picked), for
    the events where ``pick(component)`` is not None: the budgeted, checked reading that
    busy times and shift history share. ``refuse_reversed``: an event ending before it
    starts is an error (the library would swap its ends). ``count_guard`` is called with the
    occurrences picked so far once there are more than MAX_BUSY_INTERVALS, to refuse by a
    count before the time budget runs out."""
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period_start and period_end must be timezone-aware")
    local_default = _zone(default_tz)
    if local_default is None:
        raise ValueError(f"unknown time zone: {default_tz!r}")
    if len(data) > max_bytes:
        raise too_big(len(data), max_bytes)
    if not data.strip():
        raise CalendarImportError("The calendar file is empty.")

    deadline = time.monotonic() + max_seconds
    data = _from_bom(data)
    text = _decode(data)
    _check_looks_like_calendar(data, text)
    _check_shape(text)
    parsed = _content_lines(text, deadline, max_seconds, also)
    del text
    # Floating and all-day values are only placed in a zone after expansion,
    # so ask the library for a window wide enough for any UTC offset.
    query_start = period_start.astimezone(UTC) - timedelta(days=2)
    query_end = period_end.astimezone(UTC) + timedelta(days=2)
    _check_recurrences(parsed, (query_end + timedelta(days=1)).date())
    lines = parsed.lines
    try:
        calendars = icalendar.Calendar.from_ical(_prepare_text(lines), multiple=True)
    except Exception as error:  # the checks above should make this unreachable
        raise CalendarImportError(
            "The calendar could not be read. The file may be damaged; export it again."
        ) from error
    if time.monotonic() > deadline:
        raise too_slow(max_seconds)

    window_start = period_start.astimezone(UTC)
    window_end = period_end.astimezone(UTC)
    expanded = 0
    out: list[tuple[datetime, datetime, bool, object]] = []

    for calendar in calendars:
        if not isinstance(calendar, icalendar.Calendar):
            continue
        _check_time_properties(calendar, lines)
        if refuse_reversed:
            _check_not_reversed(calendar, local_default)
        try:
            with warnings.catch_warnings():
                # dateutil warns when COUNT meets the UNTIL added by _clamp_until.
                warnings.simplefilter("ignore", DeprecationWarning)
                found, expanded = _expand(
                    calendar,
                    local_default,
                    query_start,
                    query_end,
                    pick,
                    expanded,
                    deadline=deadline,
                    seconds=max_seconds,
                    count_guard=count_guard,
                )
        except CalendarImportError:
            raise
        except Exception as error:  # untrusted input can trip the libraries anywhere
            raise CalendarImportError(
                "The calendar contains an event that could not be read. "
                "Export it again, or remove the event that was changed last."
            ) from error
        for occurrence_start, occurrence_end, all_day, picked in found:
            start = max(occurrence_start, window_start)
            end = min(occurrence_end, window_end)
            if start < end:
                out.append((start, end, all_day, picked))
    return out


def _check_not_reversed(calendar: icalendar.Calendar, local: tzinfo) -> None:
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        start, end = event.get("DTSTART"), event.get("DTEND")
        if start is None or end is None:
            continue
        try:
            reversed_span = _to_utc(end.dt, local) < _to_utc(start.dt, local)
        except (AttributeError, TypeError, ValueError):
            continue
        if reversed_span:
            summary = str(event.get("SUMMARY", "")).strip()[:80]
            raise CalendarImportError(
                f'Event {number} ("{summary}", DTSTART {start.dt.isoformat()}) ends before it '
                "starts: fix its DTEND or export the calendar again."
            )


@dataclass(frozen=True)
class CalendarEvent:
    """One occurrence of an event with who it names: for importing another scheduler's
    on-call shifts (not used for availability, whose titles are never read)."""

    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    summary: str
    emails: tuple[str, ...]  # ATTENDEE / ORGANIZER addresses, lower-case
    names: tuple[str, ...]  # their CN parameters


def _people_of(component) -> tuple[str, str, tuple[str, ...], tuple[str, ...]] | None:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    emails: list[str] = []
    names: list[str] = []
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for prop in attendees:
        emails += sorted(_addresses(prop))
        cn = getattr(prop, "params", {}).get("CN")
        if cn:
            names.append(str(cn).strip()[:200])
    summary = str(component.get("SUMMARY", "")).strip()[:300]
    return ("event", summary, tuple(dict.fromkeys(emails)), tuple(dict.fromkeys(names)))


def parse_events(
    data: bytes,
    *,
    period_start: datetime,
    period_end: datetime,
    default_tz: str = "UTC",
    max_bytes: int = MAX_ICS_BYTES,
    max_seconds: float = MAX_EXPAND_SECONDS,
) -> list[CalendarEvent]:
    """Occurrences of an .ics file within ``[period_start, period_end)`` with their
    SUMMARY and attendees, under the same budgets as :func:`parse_busy_intervals`
    (recurrences, overrides and EXDATEs applied, TZIDs resolved, cancelled ones left out),
    clipped to the period and sorted. Not merged: each occurrence is one shift."""
    found = _occurrences(
        data,
        period_start=period_start,
        period_end=period_end,
        default_tz=default_tz,
        max_bytes=max_bytes,
        max_seconds=max_seconds,
        pick=_people_of,
        also=frozenset({"SUMMARY"}),  # the other tool writes who is on call there
        refuse_reversed=True,  # a shift with its ends swapped is a broken export
    )
    events = [
        CalendarEvent(start, end, picked[1], picked[2], picked[3])
        for start, end, _all_day, picked in found
    ]
    return sorted(events, key=lambda e: (e.start, e.end, e.summary))


def _expand(
    calendar: icalendar.Calendar,
    local_default: tzinfo,
    query_start: datetime,
    query_end: datetime,
    pick,
    expanded: int,
    *,
    deadline: float,
    seconds: float,
    count_guard: Callable[[list], None] | None = None,
) -> tuple[list[tuple[datetime, datetime, bool, object]], int]:
    """Expand one VCALENDAR into (start, end, all_day, pick(event)) in UTC, unclipped,
    leaving out events whose pick is None.

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
                if time.monotonic() > deadline:
                    raise too_slow(seconds)
                if expanded > MAX_OCCURRENCES:
                    raise CalendarImportError(
                        "The calendar has too many events in this period to "
                        f"import (the limit is {MAX_OCCURRENCES:,})."
                    )
                kind = pick(occurrence.as_component(False))
                if kind is not None:
                    found.append(
                        (
                            _to_utc(occurrence.start, local),
                            _to_utc(occurrence.end, local),
                            not isinstance(occurrence.start, datetime),
                            kind,
                        )
                    )
                    if (
                        count_guard is not None
                        and len(found) > MAX_BUSY_INTERVALS
                        and len(found) % _COUNT_GUARD_EVERY == 1
                    ):
                        count_guard(found)
    return found, expanded
