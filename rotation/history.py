"""Import past shifts from another tool (CSV), all or nothing, so fairness counts from day one."""

import csv
import io
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from onehand.dates import instant_problem
from onehand.errors import Invalid

from .models import AuditEntry, Roster, Rotation, Shift, SlotRole, Team
from .permissions import Actor, acting_user, require_manager
from .selectors import team_people

User = get_user_model()
MAX_HISTORY_BYTES = 5 * 1024 * 1024
MAX_HISTORY_ROWS = 50_000
# No CSV field of this format is longer than an e-mail address or an ISO date-time.
MAX_FIELD_CHARS = 320
# A past shift longer than this is a typo (a wrong year), not an on-call shift.
MAX_SHIFT = timedelta(days=31)
COLUMNS = ("email", "rotation", "role", "start", "end")


class HistoryImportError(Invalid):
    """Every problem of the file, line by line; nothing was imported."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors[:5]), field="file")


@dataclass(frozen=True)
class Row:
    line: int
    user_id: int
    rotation_id: int
    role: str
    start: datetime
    end: datetime


def _parse(team: Team, data: bytes) -> list[Row]:
    if len(data) > MAX_HISTORY_BYTES:
        raise HistoryImportError(
            [f"The file is larger than {MAX_HISTORY_BYTES // (1024 * 1024)} MB."]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HistoryImportError(["The file is not UTF-8 text (save it as CSV UTF-8)."]) from None
    if "\x00" in text:
        raise HistoryImportError(["The file contains NUL bytes: it is not a CSV text file."])
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as error:
        raise HistoryImportError([f"Line 1: not a readable CSV header ({error})."]) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise HistoryImportError(
            [f"Line 1: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}."]
        )
    reader.fieldnames = header
    users = {u.email.lower(): u.pk for u in team_people(team_id=team.pk)}
    rotations = {r.name.strip().lower(): r.pk for r in Rotation.objects.filter(team=team)}
    rows, errors, seen_slot, seen_person = [], [], set(), set()
    try:
        for line, raw in enumerate(reader, start=2):
            if line - 1 > MAX_HISTORY_ROWS:
                raise HistoryImportError([f"The file has more than {MAX_HISTORY_ROWS} rows."])
            _check_row(line, raw, users, rotations, rows, errors, seen_slot, seen_person)
    except csv.Error as error:
        errors.append(f"Line {reader.line_num}: not readable as CSV ({error}).")
    if errors:
        raise HistoryImportError(errors[:200])
    if not rows:
        raise HistoryImportError(["The file has no rows."])
    return rows


def _instant(raw: str) -> datetime | None:
    """An ISO 8601 date-time, or None when it is not one (including 30 February)."""
    try:
        return parse_datetime(raw)
    except ValueError:
        return None


def _check_row(line, raw, users, rotations, rows, errors, seen_slot, seen_person) -> None:
    """Validate one CSV row; append it to `rows` or its problems to `errors`."""
    if any(len(v or "") > MAX_FIELD_CHARS for v in raw.values() if isinstance(v, str)):
        errors.append(f"Line {line}: a field is longer than {MAX_FIELD_CHARS} characters.")
        return
    if None in raw:
        errors.append(f"Line {line}: more fields than the header names.")
        return
    values = {k: (v or "").strip() for k, v in raw.items() if k}
    problems = []
    user_id = users.get(values["email"].lower())
    if user_id is None:
        problems.append(f"{values['email'] or '(empty email)'} is not in the team")
    rotation_id = rotations.get(values["rotation"].lower())
    if rotation_id is None:
        problems.append(f"no rotation called {values['rotation']!r} in the team")
    role = values["role"].lower()
    if role not in SlotRole.values:
        problems.append(f"role must be one of {', '.join(SlotRole.values)}")
    start, end = _instant(values["start"]), _instant(values["end"])
    for name, value in (("start", start), ("end", end)):
        if value is None:
            problems.append(f"{name} is not an ISO 8601 date-time")
        elif value.tzinfo is None:
            problems.append(f"{name} needs a UTC offset (e.g. 2026-03-02T09:00:00+00:00)")
        elif problem := instant_problem(value):
            problems.append(f"{name}: {problem}")
    if not problems and start >= end:
        problems.append("start must be before end")
    elif not problems and end - start > MAX_SHIFT:
        problems.append(f"a shift may last at most {MAX_SHIFT.days} days")
    if not problems:
        slot = (rotation_id, start, role)
        person = (rotation_id, start, user_id)
        if slot in seen_slot:
            problems.append("another row already fills this slot")
        elif person in seen_person:
            problems.append("this person already holds another slot of this shift")
        seen_slot.add(slot)
        seen_person.add(person)
    if problems:
        errors.append(f"Line {line}: " + "; ".join(problems) + ".")
    else:
        rows.append(Row(line, user_id, rotation_id, role, start, end))


@transaction.atomic
def import_history(team: Team, data: bytes, *, by: Actor) -> int:
    """Validate every row first; import nothing unless all are valid."""
    require_manager(by, team.pk, "Only a manager of this team can import its history.")
    return write_history(team, _parse(team, data), by=by)


def _refuse_duplicates(by_rotation: dict[int, list[Row]]) -> None:
    """Refuse rows whose slot is already filled by an imported or published shift."""
    for rotation_id, items in by_rotation.items():
        for role in sorted({r.role for r in items}):
            same_role = [r for r in items if r.role == role]
            clashes = Shift.objects.filter(
                roster__rotation_id=rotation_id,
                roster__status__in=[Roster.Status.IMPORTED, Roster.Status.PUBLISHED],
                role=role,
                start__lt=max(r.end for r in same_role),
                end__gt=min(r.start for r in same_role),
            ).select_related("roster__rotation")
            spans = sorted((r.start, r.end) for r in same_role)
            starts = [start for start, _ in spans]
            latest_end = list(accumulate((end for _, end in spans), max))
            for clash in clashes.order_by("start").iterator():
                before = bisect_left(starts, clash.end)  # rows starting before the clash ends
                if before and latest_end[before - 1] > clash.start:
                    raise Invalid(
                        f"Nothing was imported: {clash.roster.rotation.name} already has a "
                        f"{role} shift at {clash.start:%Y-%m-%d %H:%M} UTC within the imported "
                        "span: import only what came before Onehand.",
                        field="file",
                    )


@transaction.atomic
def write_history(team: Team, rows: list[Row], *, by: Actor, source: str = "") -> int:
    """Write validated past shifts as one IMPORTED roster per rotation, with its audit row:
    all of them or (on any error) none. Callers validate; this checks only the manager."""
    require_manager(by, team.pk, "Only a manager of this team can import its history.")
    # One import of a team at a time: the duplicate check below runs under this lock, so two
    # identical imports sent at once cannot both see "nothing there yet" and both write.
    Team.objects.select_for_update().filter(pk=team.pk).first()
    by_rotation: dict[int, list[Row]] = {}
    for row in rows:
        by_rotation.setdefault(row.rotation_id, []).append(row)
    _refuse_duplicates(by_rotation)
    for rotation_id, items in by_rotation.items():
        roster = Roster.objects.create(
            rotation_id=rotation_id,
            period_start=min(r.start for r in items).date(),
            period_end=max(r.end for r in items).date() + timedelta(days=1),
            status=Roster.Status.IMPORTED,
            created_by=acting_user(by),
            summary={"imported_rows": len(items), **({"source": source} if source else {})},
        )
        Shift.objects.bulk_create(
            Shift(
                roster=roster,
                role=r.role,
                start=r.start,
                end=r.end,
                assignee_id=r.user_id,
                reason={"summary": f"Imported (line {r.line})"},
            )
            for r in items
        )
        AuditEntry.objects.create(
            team=team,
            rotation_id=rotation_id,
            roster=roster,
            actor=acting_user(by),
            action=AuditEntry.Action.IMPORT,
            summary=f"Imported {len(items)} past shifts" + (f" from {source}" if source else ""),
            after={"rows": len(items)},
        )
    if connection.vendor == "postgresql":
        # A bulk import changes the shift table's statistics a lot; without fresh ones the
        # planner picks slow plans for the "shifts in other rotations" queries.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE rotation_shift")
    return len(rows)
