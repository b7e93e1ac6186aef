"""History from the tool a team leaves: past on-call shifts from another scheduler's iCal
export or feed (PagerDuty, Opsgenie, Grafana OnCall all publish one) or its CSV export.

Two steps, one service for page, API and command:

1. `preview_tool_history` reads the file (iCal through availability's budgeted parser, in its
   resource-limited child; CSV here) and maps every shift to a team member, by e-mail first
   (ATTENDEE addresses, an e-mail column), then by name (ATTENDEE CN, the name in SUMMARY,
   a name column) against full names and usernames. It writes nothing and lists the names
   it could not place.
2. `import_tool_history` reads the same data again with the manager's choices for those
   names (a person, or skip) and writes everything or nothing through
   `rotation.history.write_history`, like the CSV import of Onehand's own format.

Limits: the file's size (2 MB iCal, 5 MB CSV), at most MAX_SHIFTS shifts, a window of
MAX_YEARS back from now (shifts still running or ahead are left out: Onehand plans those),
each shift at most `rotation.history.MAX_SHIFT` long, and iCal's own budgets (time,
recurrences, occurrences, memory).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from availability import ics_fetch, ics_sandbox
from availability.ics import MAX_ICS_BYTES, CalendarImportError
from onehand.dates import instant_problem
from onehand.errors import Invalid
from onehand.people import display_name
from rotation.history import MAX_HISTORY_BYTES, MAX_SHIFT, Row, write_history
from rotation.models import Roster, Rotation, Shift, SlotRole
from rotation.permissions import Actor, require_manager
from rotation.selectors import team_people

User = get_user_model()

MAX_SHIFTS = 20_000
MAX_UPLOAD_BYTES = max(MAX_ICS_BYTES, MAX_HISTORY_BYTES)
MAX_YEARS = 3
MAX_UNKNOWN_SHOWN = 200
# An iCal history export is read while the request waits, with a budget that grows with the
# file (about 1 s of CPU per 2,000 events, 125 KB, on a busy machine, with room to spare):
# 3 s, plus 1 s per 100 KB, at most 20 s for the largest (2 MB) file.
HISTORY_SECONDS_BASE = ics_sandbox.UPLOAD_SECONDS
HISTORY_SECONDS_PER_100KB = 1.0
HISTORY_SECONDS_MAX = ics_sandbox.WORKER_SECONDS
TOO_BIG = (
    f"The file is larger than the limit: {MAX_ICS_BYTES // (1024 * 1024)} MB for an iCal "
    f"export, {MAX_HISTORY_BYTES // (1024 * 1024)} MB for a CSV export."
)
# Names one import can map or skip (API mapping, --map pairs, the page's choices).
MAX_MAPPED_NAMES = 500
ICS, CSV = "ics", "csv"

# The name inside a tool's SUMMARY: PagerDuty "On Call - <name> - <schedule>",
# Grafana OnCall "[L1] <name>" (its priority level), Opsgenie "<schedule> - <name>".
_PAGERDUTY = re.compile(r"^\s*on[ -]call\s*-\s*(?P<name>.+?)\s*-\s*.+$", re.IGNORECASE)
_LEVEL = re.compile(r"^\s*\[L\d+\]\s*(?P<name>.+?)\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")

PERSON_COLUMNS = (
    "email",
    "user_email",
    "user email",
    "user",
    "user_name",
    "user name",
    "name",
    "username",
    "participant",
    "on-call",
    "oncall",
    "on call",
    "responder",
)
START_COLUMNS = (
    "start",
    "start_time",
    "start time",
    "starts_at",
    "start date",
    "start_date",
    "from",
    "shift start",
)
END_COLUMNS = ("end", "end_time", "end time", "ends_at", "end date", "end_date", "to", "shift end")


@dataclass(frozen=True)
class ForeignShift:
    """One shift as the other tool wrote it."""

    where: str  # "line 4" or "event 12": how the manager finds it in the file
    label: str  # the name or address shown to the manager
    emails: tuple[str, ...]
    names: tuple[str, ...]
    start: datetime
    end: datetime


@dataclass
class Preview:
    format: str
    shifts: int = 0
    hours: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    # label -> (user id, display name): how each name in the file was matched
    mapping: dict[str, tuple[int, str]] = field(default_factory=dict)
    # label -> number of shifts: names nobody in the team matches
    unknown: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # label -> shifts the manager skips
    left_out_future: int = 0  # still running or ahead: Onehand plans those
    left_out_old: int = 0  # more than MAX_YEARS ago
    problems: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list, repr=False)


# --------------------------------------------------------------------------- reading


def read_source(*, data: bytes | None, url: str = "", allow_private: bool = False) -> bytes:
    """The uploaded bytes, or the feed fetched through the hardened client."""
    if data:
        return data
    if not url:
        raise Invalid(
            "Upload the exported file or paste the calendar feed's address.", field="file"
        )
    try:
        return ics_fetch.fetch_ics(url, allow_private=allow_private, total_timeout=20.0)
    except CalendarImportError as error:
        raise Invalid(str(error), field="url") from None


def detect_format(data: bytes) -> str:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t").upper()
    return ICS if head.startswith(b"BEGIN:VCALENDAR") else CSV


def _summary_name(summary: str) -> str:
    for pattern in (_PAGERDUTY, _LEVEL):
        if found := pattern.match(summary):
            return found["name"]
    if " - " in summary:
        return summary.rsplit(" - ", 1)[1].strip()
    return summary.strip()


def check_size(size: int) -> None:
    """Refuse an upload larger than any export may be (the format is not known yet)."""
    if size > MAX_UPLOAD_BYTES:
        raise Invalid(TOO_BIG, field="file")


def parse_seconds(size: int) -> float:
    """The iCal reading budget of a history export of ``size`` bytes."""
    extra = HISTORY_SECONDS_PER_100KB * size / (100 * 1024)
    return min(HISTORY_SECONDS_BASE + extra, HISTORY_SECONDS_MAX)


def _read_ics(data: bytes, *, start: datetime, end: datetime, zone: str) -> list[ForeignShift]:
    if len(data) > MAX_ICS_BYTES:
        raise Invalid(TOO_BIG, field="file")
    try:
        events = ics_sandbox.parse_events_isolated(
            data,
            period_start=start,
            period_end=end,
            default_tz=zone,
            max_bytes=MAX_ICS_BYTES,
            seconds=parse_seconds(len(data)),
        )
    except CalendarImportError as error:
        raise Invalid(str(error), field="file") from None
    shifts = []
    for number, event in enumerate(events, start=1):
        name = _summary_name(event.summary)
        emails = event.emails + tuple(e.lower() for e in _EMAIL.findall(event.summary))
        names = tuple(n for n in (*event.names, name) if n)
        label = (event.names[0] if event.names else "") or name or (emails[0] if emails else "")
        shifts.append(ForeignShift(f"event {number}", label, emails, names, event.start, event.end))
    return shifts


def _in_gap(text: str, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time (no offset) falls in a clock change's gap in ``zone``."""
    text = text.strip()
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            value = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        if value.tzinfo is not None:
            return False
        try:
            back = value.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        except (OverflowError, ValueError):
            return False
        return back.replace(tzinfo=None) != value
    return False


_VEVENT = re.compile(r"^BEGIN:VEVENT\r?$(.*?)^END:VEVENT\r?$", re.MULTILINE | re.DOTALL)
_DTSTART_DATE = re.compile(r"^DTSTART[;:][^\r\n]*?(\d{8})", re.MULTILINE)
_REPEATS = re.compile(r"^(RRULE|RDATE|RECURRENCE-ID)[;:]", re.MULTILINE)


def _ics_events_before(data: bytes, before: datetime) -> int:
    """Single (not repeating) events that start before ``before``: the parser reads only the
    window, so these are counted here to report them as left out (too old)."""
    text = data.decode("utf-8", errors="replace")
    count = 0
    for block in _VEVENT.finditer(text):
        body = block.group(1)
        if _REPEATS.search(body) or not (found := _DTSTART_DATE.search(body)):
            continue
        if found.group(1) < f"{before:%Y%m%d}":
            count += 1
    return count


def _instant(text: str, zone: ZoneInfo) -> datetime | None:
    text = text.strip()
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            value = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)  # the export's wall clock, DST-aware
        return value.astimezone(UTC)
    return None


def _column(header: list[str], choices: tuple[str, ...]) -> str | None:
    return next((c for c in choices if c in header), None)


def _read_csv(data: bytes, *, zone: ZoneInfo) -> list[ForeignShift]:
    if len(data) > MAX_HISTORY_BYTES:
        raise Invalid(
            f"The file is larger than {MAX_HISTORY_BYTES // (1024 * 1024)} MB.", field="file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "The file is neither a calendar (.ics) nor UTF-8 CSV text.", field="file"
        ) from None
    if "\x00" in text:
        raise Invalid("The file contains NUL bytes: it is not a CSV text file.", field="file")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as error:
        raise Invalid(f"Line 1: not a readable CSV header ({error}).", field="file") from None
    people = [c for c in PERSON_COLUMNS if c in header]
    start_col, end_col = _column(header, START_COLUMNS), _column(header, END_COLUMNS)
    if not people or not start_col or not end_col:
        raise Invalid(
            "Line 1: the CSV needs a person column (email, user or name), a start and an end "
            f"column; found {', '.join(header) or 'nothing'}.",
            field="file",
        )
    index = {name: header.index(name) for name in header}
    shifts, errors = [], []
    try:
        for line, raw in enumerate(reader, start=2):
            if not any(cell.strip() for cell in raw):
                continue
            if line - 1 > MAX_SHIFTS:
                raise Invalid(f"The file has more than {MAX_SHIFTS:,} rows.", field="file")
            if len(raw) < len(header) or any(len(cell) > 320 for cell in raw):
                errors.append(f"Line {line}: fewer fields than the header, or one too long.")
                continue
            cells = {name: raw[i].strip() for name, i in index.items()}
            start, end = _instant(cells[start_col], zone), _instant(cells[end_col], zone)
            if start is None or end is None:
                errors.append(f"Line {line}: start and end must be dates with times.")
                continue
            if gap := next((c for c in (start_col, end_col) if _in_gap(cells[c], zone)), None):
                errors.append(
                    f"Line {line}: {cells[gap]} does not exist in {zone.key} (the clocks moved "
                    "forward over it): give that time with its UTC offset."
                )
                continue
            emails = tuple(v.lower() for c in people if _EMAIL.fullmatch(v := cells[c]) is not None)
            names = tuple(cells[c] for c in people if cells[c] and "@" not in cells[c])
            label = (names or emails or ("",))[0]
            shifts.append(ForeignShift(f"line {line}", label, emails, names, start, end))
    except csv.Error as error:
        errors.append(f"Line {reader.line_num}: not readable as CSV ({error}).")
    if errors:
        raise Invalid("; ".join(errors[:5]), field="file")
    return shifts


# --------------------------------------------------------------------------- mapping


def _directory(team_id: int) -> tuple[dict[str, int], dict[str, int], dict[int, str]]:
    by_email, by_name, shown = {}, {}, {}
    for user in team_people(team_id=team_id):
        shown[user.pk] = display_name(user)
        if user.email:
            by_email[user.email.lower()] = user.pk
        for name in (user.get_full_name(), user.get_username()):
            if name:
                by_name[" ".join(name.lower().split())] = user.pk
    return by_email, by_name, shown


def _match(shift: ForeignShift, by_email, by_name) -> int | None:
    for email in shift.emails:
        if email in by_email:
            return by_email[email]
    for name in shift.names:
        key = " ".join(name.lower().split())
        if key in by_name:
            return by_name[key]
    return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Unknown time zone {name!r}.", field="time_zone") from None


def _build(
    rotation: Rotation,
    data: bytes,
    *,
    role: str,
    time_zone: str,
    mapping: dict[str, int | None],
    now: datetime,
) -> Preview:
    if role not in SlotRole.values:
        raise Invalid(f"Role must be one of {', '.join(SlotRole.values)}.", field="role")
    zone = _zone(time_zone or rotation.time_zone)
    if not data or not data.strip():
        raise Invalid("The file is empty: upload the export again.", field="file")
    check_size(len(data))
    fmt = detect_format(data)
    window_start = now - timedelta(days=365 * MAX_YEARS)
    if fmt == ICS:
        # Read a shift's length beyond both ends so no shift comes back cut at the window.
        read_from = window_start - MAX_SHIFT
        shifts = _read_ics(data, start=read_from, end=now + MAX_SHIFT, zone=zone.key)
    else:
        shifts = _read_csv(data, zone=zone)
    preview = Preview(format=fmt)
    if fmt == ICS:
        # Older than the window the parser reads: left out, and said so like the CSV's.
        preview.left_out_old += _ics_events_before(data, read_from)
    by_email, by_name, shown = _directory(rotation.team_id)
    valid_ids = set(shown)
    for label, chosen in mapping.items():
        if chosen is not None and chosen not in valid_ids:
            raise Invalid(
                f"{label!r} is mapped to someone who is not in the team.", field="mapping"
            )
    rows: list[Row] = []
    for shift in shifts:
        if shift.end > now:
            preview.left_out_future += 1
            continue
        if shift.start < window_start:
            preview.left_out_old += 1
            continue
        if problem := instant_problem(shift.start) or instant_problem(shift.end):
            preview.problems.append(f"{shift.where}: {problem}.")
            continue
        if shift.start >= shift.end:
            preview.problems.append(f"{shift.where}: ends before it starts.")
            continue
        if shift.end - shift.start > MAX_SHIFT:
            preview.problems.append(
                f"{shift.where}: lasts more than {MAX_SHIFT.days} days (a wrong date?)."
            )
            continue
        if shift.label in mapping:
            user_id = mapping[shift.label]
            if user_id is None:
                preview.skipped[shift.label] = preview.skipped.get(shift.label, 0) + 1
                continue
        else:
            user_id = _match(shift, by_email, by_name)
        if user_id is None:
            preview.unknown[shift.label] = preview.unknown.get(shift.label, 0) + 1
            continue
        preview.mapping[shift.label] = (user_id, shown[user_id])
        rows.append(Row(len(rows) + 1, user_id, rotation.pk, role, shift.start, shift.end))
    if len(rows) > MAX_SHIFTS:
        raise Invalid(
            f"The file has more than {MAX_SHIFTS:,} past shifts (the limit).", field="file"
        )
    rows.sort(key=lambda r: r.start)
    for before, after in zip(rows, rows[1:], strict=False):
        if after.start < before.end:
            preview.problems.append(
                f"two {role} shifts overlap at {after.start:%Y-%m-%d %H:%M} UTC: "
                "export one schedule layer (or the final schedule) at a time."
            )
            break
    if rows:
        clash = (
            Shift.objects.filter(
                roster__rotation=rotation,
                roster__status__in=[Roster.Status.IMPORTED, Roster.Status.PUBLISHED],
                role=role,
                start__lt=rows[-1].end,
                end__gt=rows[0].start,
            )
            .order_by("start")
            .first()
        )
        if clash is not None:
            preview.problems.append(
                f"{rotation.name} already has a {role} shift at {clash.start:%Y-%m-%d %H:%M} UTC "
                "within the imported span: import only what came before Onehand."
            )
    preview.rows = [
        Row(n, r.user_id, r.rotation_id, r.role, r.start, r.end)
        for n, r in enumerate(rows, start=1)
    ]
    preview.shifts = len(rows)
    preview.hours = round(sum((r.end - r.start).total_seconds() for r in rows) / 3600, 2)
    preview.first = rows[0].start if rows else None
    preview.last = rows[-1].end if rows else None
    return preview


def preview_tool_history(
    rotation: Rotation,
    data: bytes,
    *,
    by: Actor,
    role: str = SlotRole.PRIMARY,
    time_zone: str = "",
    mapping: dict[str, int | None] | None = None,
    now: datetime | None = None,
) -> Preview:
    """What an import would write, who each name maps to and which names are unknown.
    Writes nothing."""
    require_manager(by, rotation.team_id, "Only a manager of this team can import its history.")
    return _build(
        rotation,
        data,
        role=role,
        time_zone=time_zone,
        mapping=mapping or {},
        now=now or timezone.now(),
    )


@transaction.atomic
def import_tool_history(
    rotation: Rotation,
    data: bytes,
    *,
    by: Actor,
    role: str = SlotRole.PRIMARY,
    time_zone: str = "",
    mapping: dict[str, int | None] | None = None,
    tool: str = "",
    now: datetime | None = None,
) -> int:
    """Import every shift of the file or none: refused while a name is unknown (map it to
    someone or skip it) or the file has any problem. Returns shifts written."""
    preview = preview_tool_history(
        rotation, data, by=by, role=role, time_zone=time_zone, mapping=mapping, now=now
    )
    if preview.unknown:
        names = ", ".join(sorted(preview.unknown)[:20])
        raise Invalid(
            f"Nothing was imported: map or skip these names first: {names}.", field="mapping"
        )
    if preview.problems:
        raise Invalid("Nothing was imported: " + "; ".join(preview.problems[:5]), field="file")
    if not preview.rows:
        raise Invalid("Nothing was imported: the file has no past shifts.", field="file")
    source = f"{tool or preview.format.upper()} export"
    return write_history(rotation.team, preview.rows, by=by, source=source)


def _unknown_note(total: int) -> str:
    if total > MAX_MAPPED_NAMES:
        return (
            f"{total} names are unknown, more than the {MAX_MAPPED_NAMES} one import can map or "
            "skip: add the people to the team first (matched by e-mail or name), or export "
            "fewer schedules at a time."
        )
    if total > MAX_UNKNOWN_SHOWN:
        return f"{total} names are unknown; the first {MAX_UNKNOWN_SHOWN} are listed."
    return ""


def preview_as_dict(preview: Preview) -> dict:
    """The preview for the API and the page (no rows)."""
    return {
        "format": preview.format,
        "shifts": preview.shifts,
        "hours": preview.hours,
        "first": preview.first.isoformat() if preview.first else None,
        "last": preview.last.isoformat() if preview.last else None,
        "mapping": [
            {"name": label, "user": user_id, "person": shown}
            for label, (user_id, shown) in sorted(preview.mapping.items())
        ],
        "unknown": [
            {"name": label, "shifts": n}
            for label, n in sorted(preview.unknown.items())[:MAX_UNKNOWN_SHOWN]
        ],
        "unknown_total": len(preview.unknown),
        "unknown_note": _unknown_note(len(preview.unknown)),
        "skipped": [{"name": label, "shifts": n} for label, n in sorted(preview.skipped.items())],
        "left_out_future": preview.left_out_future,
        "left_out_old": preview.left_out_old,
        "problems": preview.problems[:50],
    }


def mapping_from_usernames(rotation: Rotation, pairs: list[str]) -> dict[str, int | None]:
    """`NAME=username` pairs (command line) to a mapping; `NAME=` skips that name."""
    usernames = {u.get_username(): u.pk for u in team_people(team_id=rotation.team_id)}
    mapping: dict[str, int | None] = {}
    if len(pairs) > MAX_MAPPED_NAMES:
        raise Invalid(
            f"At most {MAX_MAPPED_NAMES} --map pairs ({len(pairs)} given).", field="mapping"
        )
    for pair in pairs:
        name, _, username = pair.partition("=")
        if not name.strip():
            raise Invalid(f"--map {pair!r}: expected NAME=USERNAME.", field="mapping")
        if username.strip() and username.strip() not in usernames:
            raise Invalid(f"--map {pair!r}: no {username!r} in the team.", field="mapping")
        mapping[name.strip()] = usernames.get(username.strip())
    return mapping
