"""Export a team to a JSON document and import it into another instance.

The document (``{"format": "onehand-team", "version": 1, ...}``) holds the team, its memberships,
the people involved (users and profiles), rotations with coverage windows and members, rosters,
shifts, the audit log, swaps and handover notes, and the team's availability data (duty
requirements, qualifications, availability entries, uploaded calendars, allocations, locks and
settings).

It holds no database ids: users are referred to by username and every other row by its position
in its table (1, 2, ...), so exporting a restored team gives the same document again. Ids that
Onehand keeps inside JSON history (roster summaries, shift reasons, audit before/after) are
translated the same way. Secrets stay out: feed tokens (new ones are made on import), CalDAV
connections, API tokens, calendar addresses (calendar sources with a secret URL are left out with
their imported entries; the person adds the address again) and, unless asked for, password
hashes (restored users then have no usable password until one is set).

Import writes everything in one transaction with ``bulk_create``: no signal fires, so a restore
sends no invitation, email or calendar update. It refuses a document whose team slug or any of
whose usernames exists already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.duration import duration_string

from .permissions import Actor, require_actor

FORMAT = "onehand-team"
VERSION = 1
USERS = "users"

# Exported fields of a user; the password hash only on request.
USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "date_joined")


class BackupError(Exception):
    """The document can't be exported or imported; the message says why."""


@dataclass(frozen=True)
class Table:
    """One kind of row in the document: its model, its relations and what never leaves."""

    key: str
    model: str  # "app_label.ModelName"
    refs: dict[str, str]  # foreign key field -> table key it points to ("users" for users)
    exclude: frozenset[str] = field(default_factory=frozenset)

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)


# In import order: every table only points at tables above it.
TABLES = (
    Table("people", "rotation.Person", {"user": USERS, "mentor": USERS}, frozenset({"feed_token"})),
    Table(
        "memberships",
        "rotation.Membership",
        {"team": "team", "user": USERS},
        frozenset({"invited_by"}),
    ),
    Table("team_availability_settings", "availability.TeamAvailabilitySettings", {"team": "team"}),
    Table("pay_rates", "planning.PayRates", {"team": "team", "updated_by": USERS}),
    Table("rotations", "rotation.Rotation", {"team": "team", "mentor": USERS, "lead": USERS}),
    Table("coverage_windows", "rotation.CoverageWindow", {"rotation": "rotations"}),
    Table("rotation_members", "rotation.RotationMember", {"rotation": "rotations", "user": USERS}),
    Table(
        "rosters",
        "rotation.Roster",
        {"rotation": "rotations", "created_by": USERS, "published_by": USERS},
    ),
    Table(
        "shifts",
        "rotation.Shift",
        # split_from: a piece of a shift split by partial cover names the whole shift's row,
        # in the same table (set once the table's rows exist).
        {
            "roster": "rosters",
            "assignee": USERS,
            "window": "coverage_windows",
            "split_from": "shifts",
        },
    ),
    Table(
        "swap_requests",
        "rotation.SwapRequest",
        {"shift": "shifts", "requester": USERS, "winner": USERS},
    ),
    Table(
        "swap_offers",
        "rotation.SwapOffer",
        {"request": "swap_requests", "candidate": USERS, "trade_shift": "shifts"},
    ),
    Table("handover_notes", "rotation.HandoverNote", {"shift": "shifts", "author": USERS}),
    Table(
        "audit_entries",
        "rotation.AuditEntry",
        {"team": "team", "rotation": "rotations", "roster": "rosters", "actor": USERS},
    ),
    Table("duty_requirements", "availability.DutyRequirement", {"rotation": "rotations"}),
    Table(
        "qualifications",
        "availability.Qualification",
        {"requirement": "duty_requirements", "user": USERS, "reviewed_by": USERS},
    ),
    # Only uploaded calendars: an ICS address is a secret (and the entries come back with it).
    Table(
        "calendar_sources",
        "availability.CalendarSource",
        {"user": USERS},
        frozenset({"url", "pending_data"}),  # a secret; an upload waiting to be read
    ),
    Table(
        "availability_entries",
        "availability.AvailabilityEntry",
        {"user": USERS, "calendar": "calendar_sources"},
    ),
    Table(
        "project_allocations",
        "availability.ProjectAllocation",
        {"user": USERS, "team": "team", "set_by": USERS},
    ),
    Table(
        "availability_locks", "availability.AvailabilityLock", {"team": "team", "locked_by": USERS}
    ),
)
TABLE_KEYS = {t.key for t in TABLES}

# Models of the apps that deliberately stay out of a team export (tests check the list is complete).
NOT_EXPORTED = {
    "rotation.Team": "the document's own 'team' section",
    "rotation.Heartbeat": "the instance's worker health, not team data",
    "notifications.Delivery": "the outbox of messages already sent or due; a restore sends nothing",
    "notifications.EntryTombstone": "feed bookkeeping; feeds get new addresses on restore",
    "notifications.RotationFeed": (
        "its token is a secret; a new one is made when the feed is opened"
    ),
    "notifications.CalendarConnection": "CalDAV address and password are secrets",
    "notifications.AnnouncedChain": "which escalation chains entries went out with; a restore "
    "sends nothing",
    "notifications.TaskRun": "the instance's task statistics for /metrics, not team data",
    "notifications.FeedStamp": "the instance's feed cache stamp, not team data",
    "notifications.ChatHook": "its webhook address is a secret (it lets anyone post to the "
    "channel); a manager adds it again after a restore",
}

# Ids kept inside JSON history, by table and field: translated like foreign keys.
AUDIT_REFS = {
    "shift": "shifts",
    "assignee": USERS,
    "superseded": "rosters",
    "request": "swap_requests",
    "offer": "swap_offers",
    "trade": "shifts",
}
JSON_FIELDS = {
    "rosters": ("summary",),
    "shifts": ("reason",),
    "audit_entries": ("before", "after"),
}

Ref = Callable[[str, Any], Any]  # (table key, value) -> translated value or None


def _remap_json(table: str, name: str, value: Any, ref: Ref) -> Any:
    """Translate the ids Onehand writes into JSON history; anything else is kept verbatim."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    if table == "rosters" and name == "summary" and isinstance(out.get("people"), dict):
        people = {}
        for key, item in out["people"].items():
            mapped = ref(USERS, key)
            if mapped is None:
                continue
            if isinstance(item, dict) and "person_id" in item:
                item = {**item, "person_id": ref(USERS, item["person_id"])}
            people[str(mapped)] = item
        out["people"] = people
    elif table == "shifts" and name == "reason":
        if "runner_up_id" in out:
            out["runner_up_id"] = ref(USERS, out["runner_up_id"])
        if "swap" in out:
            out["swap"] = ref("swap_requests", out["swap"])
        if isinstance(out.get("blocking"), dict):
            blocking = {}
            for key, why in out["blocking"].items():
                mapped = ref(USERS, key)
                if mapped is not None:
                    blocking[str(mapped)] = why
            out["blocking"] = blocking
    elif table == "audit_entries":
        for key, target in AUDIT_REFS.items():
            if key not in out:
                continue
            if isinstance(out[key], list):
                out[key] = [ref(target, item) for item in out[key]]
            else:
                out[key] = ref(target, out[key])
    return out


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _fields(table: Table) -> tuple[list[models.Field], list[models.Field]]:
    """(plain fields, foreign keys) of a table; a relation this module doesn't know is an error."""
    plain, relations = [], []
    for f in table.model_class._meta.concrete_fields:
        if f.primary_key or f.name in table.exclude:
            continue
        if f.is_relation:
            if f.name not in table.refs:
                raise BackupError(
                    f"{table.model}.{f.name} is a relation rotation/backup.py does not know: "
                    "add it to TABLES so exports stay complete."
                )
            relations.append(f)
        else:
            plain.append(f)
    return plain, relations


def _team_fields() -> list[models.Field]:
    team_fields = [
        f for f in apps.get_model("rotation.Team")._meta.concrete_fields if not f.primary_key
    ]
    if any(f.is_relation for f in team_fields):
        raise BackupError("rotation.Team has a relation rotation/backup.py does not know.")
    return team_fields


def _encode(f: models.Field, value: Any) -> Any:
    if value is None or isinstance(f, models.JSONField):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return duration_string(value)
    return value


# --------------------------------------------------------------------------- export


def _team_querysets(team) -> dict[str, models.QuerySet]:
    m = {t.key: t.model_class for t in TABLES}
    member_ids = list(team.memberships.values_list("user_id", flat=True))
    upload = m["calendar_sources"].Kind.UPLOAD
    return {
        "memberships": m["memberships"].objects.filter(team=team),
        "team_availability_settings": m["team_availability_settings"].objects.filter(team=team),
        "pay_rates": m["pay_rates"].objects.filter(team=team),
        "rotations": m["rotations"].objects.filter(team=team),
        "coverage_windows": m["coverage_windows"].objects.filter(rotation__team=team),
        "rotation_members": m["rotation_members"].objects.filter(rotation__team=team),
        "rosters": m["rosters"].objects.filter(rotation__team=team),
        "shifts": m["shifts"].objects.filter(roster__rotation__team=team),
        "swap_requests": m["swap_requests"].objects.filter(shift__roster__rotation__team=team),
        "swap_offers": m["swap_offers"].objects.filter(request__shift__roster__rotation__team=team),
        "handover_notes": m["handover_notes"].objects.filter(shift__roster__rotation__team=team),
        "audit_entries": m["audit_entries"].objects.filter(team=team),
        "duty_requirements": m["duty_requirements"].objects.filter(rotation__team=team),
        "qualifications": m["qualifications"].objects.filter(requirement__rotation__team=team),
        "calendar_sources": m["calendar_sources"].objects.filter(
            user_id__in=member_ids, kind=upload
        ),
        "availability_entries": m["availability_entries"]
        .objects.filter(user_id__in=member_ids)
        .filter(Q(calendar__isnull=True) | Q(calendar__kind=upload)),
        "project_allocations": m["project_allocations"].objects.filter(team=team),
        "availability_locks": m["availability_locks"].objects.filter(team=team),
    }


def export_team(team, *, with_password_hashes: bool = False) -> dict:
    """The team and everything that belongs to it, as a JSON-ready dict (see module docs).

    Read in one transaction (on PostgreSQL a repeatable-read snapshot), so a roster published
    meanwhile is either wholly in the document or not at all.
    """
    if connection.in_atomic_block:
        return _export(team, with_password_hashes)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _export(team, with_password_hashes)


def _export(team, with_password_hashes: bool) -> dict:
    User = get_user_model()
    querysets = _team_querysets(team)
    rows: dict[str, list] = {
        t.key: list(querysets[t.key].order_by("pk")) for t in TABLES if t.key != "people"
    }
    # Positions replace ids: the document is the same whatever ids the instance gave the rows.
    positions: dict[str, dict[int, int]] = {
        key: {obj.pk: i for i, obj in enumerate(objs, start=1)} for key, objs in rows.items()
    }
    positions["team"] = {team.pk: 1}

    # Everyone a row or the history points at travels with the team, and so do their mentors.
    user_ids = set(querysets["memberships"].values_list("user_id", flat=True))
    for t in TABLES:
        if t.key == "people":
            continue
        _, relations = _fields(t)
        for obj in rows[t.key]:
            user_ids.update(getattr(obj, f.attname) for f in relations if t.refs[f.name] == USERS)
            for name in JSON_FIELDS.get(t.key, ()):
                _remap_json(
                    t.key, name, getattr(obj, name), lambda table, v: _collect(table, v, user_ids)
                )
    user_ids.discard(None)
    Person = apps.get_model("rotation.Person")
    while True:
        mentors = set(
            Person.objects.filter(user_id__in=user_ids, mentor__isnull=False).values_list(
                "mentor_id", flat=True
            )
        )
        if mentors <= user_ids:
            break
        user_ids |= mentors
    users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
    positions[USERS] = {u.pk: u.get_username() for u in users}
    rows["people"] = list(Person.objects.filter(user_id__in=positions[USERS]).order_by("pk"))

    def ref(table: str, value: Any) -> Any:
        return positions[table].get(_as_int(value))

    tables: dict[str, list[dict]] = {}
    for t in TABLES:
        plain, relations = _fields(t)
        out = []
        for obj in rows[t.key]:
            row: dict[str, Any] = {"id": positions[t.key][obj.pk]} if t.key != "people" else {}
            for f in relations:
                target = getattr(obj, f.attname)
                mapped = None if target is None else positions[t.refs[f.name]].get(target)
                if target is not None and mapped is None and not f.null:
                    raise BackupError(
                        f"{t.model} {obj.pk}: {f.name} points outside the team ({target}); "
                        "it can't be exported on its own."
                    )
                row[f.name] = mapped
            for f in plain:
                value = f.value_from_object(obj)
                if f.name in JSON_FIELDS.get(t.key, ()):
                    value = _remap_json(t.key, f.name, value, ref)
                row[f.name] = _encode(f, value)
            out.append(row)
        tables[t.key] = out

    user_fields = [*USER_FIELDS, "password"] if with_password_hashes else list(USER_FIELDS)
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "password_hashes": with_password_hashes,
        "team": {f.name: _encode(f, f.value_from_object(team)) for f in _team_fields()},
        "users": [
            {name: _encode(User._meta.get_field(name), getattr(u, name)) for name in user_fields}
            for u in users
        ],
        "tables": tables,
    }


def _collect(table: str, value: Any, found: set) -> Any:
    if table == USERS and _as_int(value) is not None:
        found.add(_as_int(value))
    return value


# --------------------------------------------------------------------------- import


def _decode(f: models.Field, value: Any, where: str) -> Any:
    if value is None:
        if not f.null:
            raise BackupError(f"{where}: {f.name} may not be empty.")
        return None
    if isinstance(f, models.JSONField):
        return value
    if not isinstance(value, str | int | float | bool):
        raise BackupError(f"{where}: {f.name} should be a plain value, not {type(value).__name__}.")
    try:
        python = f.to_python(value)
        if f.choices and python not in {choice for choice, _ in f.flatchoices}:
            raise ValidationError(f"{python!r} is not one of the allowed values")
        f.run_validators(python)
    except ValidationError as exc:
        raise BackupError(f"{where}: {f.name} {value!r}: {'; '.join(exc.messages)}") from None
    if isinstance(python, datetime) and timezone.is_naive(python):
        raise BackupError(f"{where}: {f.name} {value!r} needs a time zone offset.")
    return python


def _check_header(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise BackupError(
            f"This is not an Onehand team export (format {found!r}, expected {FORMAT!r})."
        )
    version = data.get("version")
    if version != VERSION:
        raise BackupError(
            f"This export has version {version!r}; this Onehand reads version {VERSION}."
        )
    for key, kind in (("team", dict), ("users", list), ("tables", dict)):
        if not isinstance(data.get(key), kind):
            raise BackupError(f"The export has no valid {key!r} section.")
    unknown = set(data["tables"]) - TABLE_KEYS
    if unknown:
        raise BackupError(f"Unknown tables in the export: {', '.join(sorted(unknown))}.")
    for key, table_rows in data["tables"].items():
        if not isinstance(table_rows, list) or not all(isinstance(r, dict) for r in table_rows):
            raise BackupError(f"Table {key!r} should be a list of objects.")


def _check_conflicts(data: dict) -> None:
    User = get_user_model()
    Team = apps.get_model("rotation.Team")
    slug = data["team"].get("slug")
    if Team.objects.filter(slug=slug).exists():
        raise BackupError(f"A team with the slug {slug!r} exists already; nothing was imported.")
    names = [u.get("username") for u in data["users"] if isinstance(u, dict)]
    taken = sorted(
        User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names}).values_list(
            User.USERNAME_FIELD, flat=True
        )
    )
    if taken:
        shown = ", ".join(taken[:10]) + (f" and {len(taken) - 10} more" if len(taken) > 10 else "")
        raise BackupError(f"These users exist already: {shown}; nothing was imported.")


def _restore_auto_times(model, objs: list, values: list[dict]) -> None:
    """bulk_create stamps auto_now(_add) fields with now; put the exported times back."""
    auto = [
        f
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    names = [f.name for f in auto if any(f.name in v for v in values)]
    if not names or not objs:
        return
    for obj, given in zip(objs, values):
        for name in names:
            if name in given:
                setattr(obj, name, given[name])
    model.objects.bulk_update(objs, names, batch_size=500)


def import_team(data: dict, *, by: Actor):
    """Create the team of an export in this instance, with new ids; all or nothing."""
    require_actor(by)
    _check_header(data)
    try:
        with transaction.atomic():
            _check_conflicts(data)
            return _import(data)
    except DatabaseError as exc:
        raise BackupError(
            f"The database refused the data ({exc.__class__.__name__}: {exc}); nothing was "
            "imported."
        ) from None
    except (TypeError, ValueError) as exc:
        raise BackupError(f"The export is malformed ({exc}); nothing was imported.") from None


def _import(data: dict):
    User = get_user_model()
    Team = apps.get_model("rotation.Team")
    new_ids: dict[str, dict[Any, int]] = {}

    # Users, keyed by username.
    allowed = {*USER_FIELDS, "password"}
    users, seen = [], set()
    for i, row in enumerate(data["users"], start=1):
        where = f"users row {i}"
        if not isinstance(row, dict):
            raise BackupError(f"{where} should be an object.")
        unknown = set(row) - allowed
        if unknown:
            raise BackupError(f"{where}: unknown fields {', '.join(sorted(unknown))}.")
        username = row.get("username")
        if not isinstance(username, str) or not username or username in seen:
            raise BackupError(f"{where}: missing or repeated username {username!r}.")
        seen.add(username)
        kwargs = {
            name: _decode(User._meta.get_field(name), row[name], where)
            for name in USER_FIELDS
            if name in row
        }
        password = row.get("password")
        if password is not None and (not isinstance(password, str) or not password):
            raise BackupError(f"{where}: password should be a password hash.")
        users.append(User(**kwargs, password=password or make_password(None)))
    User.objects.bulk_create(users)
    new_ids[USERS] = {u.get_username(): u.pk for u in users}

    team_row = data["team"]
    team_fields = _team_fields()
    unknown = set(team_row) - {f.name for f in team_fields}
    if unknown:
        raise BackupError(f"team: unknown fields {', '.join(sorted(unknown))}.")
    team = Team(
        **{f.name: _decode(f, team_row[f.name], "team") for f in team_fields if f.name in team_row}
    )
    team.save()
    new_ids["team"] = {1: team.pk}

    created: dict[str, tuple[type[models.Model], list]] = {}
    for t in TABLES:
        model = t.model_class
        plain, relations = _fields(t)
        known = {f.name for f in plain} | {f.name for f in relations} | {"id"}
        objs, values = [], []
        ids = new_ids.setdefault(t.key, {})
        local_ids: list = []
        seen_ids: set = set()
        same_table: list = []
        for i, row in enumerate(data["tables"].get(t.key, []), start=1):
            where = f"{t.key} row {i}"
            unknown = set(row) - known
            if unknown:
                raise BackupError(f"{where}: unknown fields {', '.join(sorted(unknown))}.")
            local = row.get("id")
            if t.key != "people":
                if _as_int(local) is None or _as_int(local) in seen_ids:
                    raise BackupError(f"{where}: missing or repeated id {local!r}.")
                seen_ids.add(_as_int(local))
            local_ids.append(local)
            kwargs: dict[str, Any] = {}
            for f in relations:
                if f.name not in row:
                    continue
                value = row[f.name]
                target_table = t.refs[f.name]
                if value is None:
                    if not f.null:
                        raise BackupError(f"{where}: {f.name} may not be empty.")
                    kwargs[f.attname] = None
                    continue
                key = value if target_table == USERS else _as_int(value)
                if target_table == t.key:
                    # A row of the same table: linked after the table is written.
                    same_table.append((len(objs), f, key, where, value))
                    kwargs[f.attname] = None
                    continue
                target = new_ids.get(target_table, {}).get(key)
                if target is None:
                    raise BackupError(
                        f"{where}: {f.name} refers to {value!r}, which is not in the export."
                    )
                kwargs[f.attname] = target
            for f in plain:
                if f.name in row:
                    kwargs[f.name] = _decode(f, row[f.name], where)
            objs.append(model(**kwargs))
            values.append(kwargs)
        if t.key == "people":
            # Everyone gets a profile (and a fresh feed token), with or without a row.
            have = {obj.user_id for obj in objs}
            for user in users:
                if user.pk not in have:
                    objs.append(model(user_id=user.pk))
                    values.append({})
        model.objects.bulk_create(objs, batch_size=500)
        if any(obj.pk is None for obj in objs):
            raise BackupError(
                "This database does not return ids from bulk inserts; can't import here."
            )
        _restore_auto_times(model, objs, values)
        for local, obj in zip(local_ids, objs):
            if t.key != "people":
                ids[_as_int(local)] = obj.pk
        linked = []
        for index, f, key, where, value in same_table:
            target = ids.get(key)
            if target is None:
                raise BackupError(
                    f"{where}: {f.name} refers to {value!r}, which is not in the export."
                )
            setattr(objs[index], f.attname, target)
            linked.append(objs[index])
        if linked:
            model.objects.bulk_update(linked, sorted({f.name for _, f, *_ in same_table}))
        created[t.key] = (model, objs)

    # JSON history last: it may point at rows created after its own (a shift names its swap).
    def ref(table: str, value: Any) -> Any:
        key = value if table == USERS else _as_int(value)
        return new_ids.get(table, {}).get(key)

    for key, names in JSON_FIELDS.items():
        model, objs = created[key]
        for obj in objs:
            for name in names:
                setattr(obj, name, _remap_json(key, name, getattr(obj, name), ref))
        if objs:
            model.objects.bulk_update(objs, list(names), batch_size=500)
    return team


def counts(data: dict) -> dict[str, int]:
    """Rows per table of a document, for a command's summary line."""
    return {
        "users": len(data.get("users", [])),
        **{k: len(v) for k, v in data.get("tables", {}).items()},
    }
