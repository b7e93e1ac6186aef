"""Writes for incidents: webhook tokens, alert ingestion, CSV import, recorded incidents.

Every write takes a required actor `by`; webhook ingestion acts as `SYSTEM` (the token is
the authority). Grouping is idempotent and safe under concurrency: the group row is
inserted with ON CONFLICT DO NOTHING and locked (SELECT ... FOR UPDATE), so notifications
of one group apply one after the other and a retry never makes a second incident.
"""

import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from onehand.errors import Invalid
from rotation.models import Rotation
from rotation.permissions import Actor, SystemActor, acting_user, require_actor, require_manager
from rotation.selectors import on_call

from .models import Escalation, HookToken, Incident, IncidentGroup, IncidentSettings, Source
from .payloads import MAX_TITLE_CHARS, AlertEvent, parse_instant, stable_key

MAX_CSV_BYTES = 512 * 1024
MAX_CSV_ROWS = 5000
CSV_COLUMNS = ("title", "started_at", "resolved_at", "severity", "escalation")
MAX_FINGERPRINTS = 1000


# --- tokens -------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signing_secret(hook: HookToken) -> str:
    """The HMAC key of a hook: derived from SECRET_KEY and the token hash, never stored."""
    message = f"onehand-incident-hook:{hook.token_hash}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def signature_ok(hook: HookToken, body: bytes, header: str) -> bool:
    """`header` is the hex HMAC-SHA256 of the body, optionally prefixed `sha256=`."""
    given = header.strip().removeprefix("sha256=").lower()
    expected = hmac.new(signing_secret(hook).encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


@dataclass(frozen=True)
class IssuedToken:
    """A new hook: the plaintext token and signing secret exist only in this answer."""

    hook: HookToken
    token: str
    signing_secret: str


def create_hook_token(
    rotation: Rotation, *, by: Actor, label: str = "", require_signature: bool = False
) -> IssuedToken:
    require_manager(by, rotation.team_id, "Only a manager of this team can add webhooks.")
    if any(not ch.isprintable() for ch in label):
        raise Invalid("A label is plain text: no control characters.", field="label")
    token = secrets.token_urlsafe(32)
    hook = HookToken.objects.create(
        rotation=rotation,
        token_hash=hash_token(token),
        hint=token[-4:],
        label=label.strip()[:80],
        require_signature=require_signature,
        created_by=acting_user(by),
    )
    return IssuedToken(hook=hook, token=token, signing_secret=signing_secret(hook))


def revoke_hook_token(hook: HookToken, *, by: Actor) -> HookToken:
    require_manager(by, hook.rotation.team_id, "Only a manager of this team can revoke webhooks.")
    if hook.revoked_at is None:
        hook.revoked_at = timezone.now()
        hook.save(update_fields=["revoked_at"])
    return hook


@transaction.atomic
def rotate_hook_token(hook: HookToken, *, by: Actor) -> IssuedToken:
    """A new token with the same label and signature rule; the old one stops at once."""
    if hook.revoked_at is not None:
        raise Invalid("This webhook is revoked: create a new one instead.", field="token")
    revoke_hook_token(hook, by=by)
    return create_hook_token(
        hook.rotation, by=by, label=hook.label, require_signature=hook.require_signature
    )


# --- ingestion ----------------------------------------------------------------------------


def _primary_at(rotation: Rotation, at: datetime) -> int | None:
    primary = on_call(rotation=rotation, at=at).primary
    return primary.user_id if primary else None


def _escalated_to(rotation: Rotation, at: datetime, escalation: str) -> int | None:
    now = on_call(rotation=rotation, at=at)
    if escalation == Escalation.PRIMARY:
        return now.primary.user_id if now.primary else None
    for contact in now.escalation:
        if contact.role == escalation:
            return contact.user_id
    return None


def _episode(group: IncidentGroup, event: AlertEvent) -> Incident | None:
    """The incident this notification belongs to: the open one, or a closed one it repeats."""
    incidents = group.incidents.all()
    open_incident = incidents.filter(resolved_at__isnull=True).first()
    if open_incident is not None:
        return open_incident
    # A late retry (or a resolve) of an episode already closed: its alerts started inside it.
    return (
        incidents.filter(started_at__lte=event.started_at, resolved_at__gt=event.started_at)
        .order_by("-started_at")
        .first()
    )


def _apply(
    rotation: Rotation, event: AlertEvent, *, source: str, escalation: str = ""
) -> tuple[Incident, bool]:
    IncidentGroup.objects.bulk_create(
        [IncidentGroup(rotation=rotation, key=event.group_key)], ignore_conflicts=True
    )
    group = IncidentGroup.objects.select_for_update().get(rotation=rotation, key=event.group_key)
    incident = _episode(group, event)
    if incident is None:
        incident = Incident.objects.create(
            rotation=rotation,
            group=group,
            title=event.title,
            source=source,
            severity=event.severity,
            started_at=event.started_at,
            resolved_at=event.resolved_at,
            fingerprints=list(event.fingerprints[:MAX_FINGERPRINTS]),
            attributed_to_id=_primary_at(rotation, event.started_at),
            escalation=escalation,
            escalated_to_id=(
                _escalated_to(rotation, event.started_at, escalation) if escalation else None
            ),
        )
        return incident, True
    changed = ["notifications", "fingerprints", "updated_at"]
    incident.notifications += 1
    seen = dict.fromkeys([*incident.fingerprints, *event.fingerprints])
    incident.fingerprints = list(seen)[:MAX_FINGERPRINTS]
    if event.started_at < incident.started_at:
        incident.started_at = event.started_at
        incident.attributed_to_id = _primary_at(rotation, event.started_at)
        changed += ["started_at", "attributed_to"]
    if event.resolved_at is not None and (
        incident.resolved_at is None or event.resolved_at > incident.resolved_at
    ):
        incident.resolved_at = event.resolved_at
        changed.append("resolved_at")
    if event.severity and event.severity != incident.severity:
        incident.severity = event.severity
        changed.append("severity")
    incident.save(update_fields=changed)
    return incident, False


def ingest(hook: HookToken, event: AlertEvent, *, by: Actor) -> tuple[Incident, bool]:
    """Apply one webhook notification; answers the incident and whether it is new."""
    require_actor(by)
    if not isinstance(by, SystemActor):
        require_manager(by, hook.rotation.team_id)
    with transaction.atomic():
        result = _apply(hook.rotation, event, source=event.source)
    HookToken.objects.filter(pk=hook.pk).update(last_used_at=timezone.now())
    return result


def record_incident(
    rotation: Rotation,
    *,
    by: Actor,
    title: str,
    started_at: datetime,
    resolved_at: datetime | None = None,
    severity: str = "",
    escalation: str = "",
) -> Incident:
    """A manager records an incident by hand, with the escalation that was used."""
    require_manager(by, rotation.team_id, "Only a manager of this team can record incidents.")
    event = _manual_event(title, started_at, resolved_at, severity, "api")
    if escalation and escalation not in Escalation.values:
        choices = ", ".join(Escalation.values)
        raise Invalid(f"escalation must be one of {choices}.", field="escalation")
    with transaction.atomic():
        incident, _ = _apply(rotation, event, source=Source.API, escalation=escalation)
    return incident


def _manual_event(title, started_at, resolved_at, severity, prefix: str) -> AlertEvent:
    title = (title or "").strip()[:MAX_TITLE_CHARS]
    if not title:
        raise Invalid("A title is required.", field="title")
    if resolved_at is not None and resolved_at <= started_at:
        raise Invalid("resolved_at must be after started_at.", field="resolved_at")
    raw_key = f"{title}\n{started_at.isoformat()}"
    return AlertEvent(
        source=prefix,
        group_key=stable_key(prefix, hashlib.sha256(raw_key.encode()).hexdigest()),
        title=title,
        severity=(severity or "").strip()[:40],
        started_at=started_at,
        resolved_at=resolved_at,
        fingerprints=(),
    )


# --- CSV import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    updated: int


def _csv_rows(data: bytes) -> list[tuple[AlertEvent, str]]:
    if len(data) > MAX_CSV_BYTES:
        raise Invalid(f"The file is larger than {MAX_CSV_BYTES // 1024} KB.", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text.", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = {"title", "started_at"} - set(header)
    if missing:
        raise Invalid(
            f"Missing column(s): {', '.join(sorted(missing))}. Columns: {', '.join(CSV_COLUMNS)}.",
            field="file",
        )
    reader.fieldnames = header
    events = []
    try:
        for number, row in enumerate(reader, start=2):
            if number - 1 > MAX_CSV_ROWS:
                raise Invalid(f"At most {MAX_CSV_ROWS} rows a file.", field="file")
            try:
                events.append(_csv_event(row))
            except Invalid as error:
                raise Invalid(f"Row {number}: {error.message}", field="file") from None
    except csv.Error as error:
        raise Invalid(f"The file is not valid CSV: {error}.", field="file") from None
    if not events:
        raise Invalid("The file has no rows.", field="file")
    return events


def _csv_event(row: dict) -> tuple[AlertEvent, str]:
    if None in row:
        raise Invalid("more cells than columns.")
    started_at = parse_instant((row.get("started_at") or "").strip(), "started_at")
    resolved_raw = (row.get("resolved_at") or "").strip()
    resolved_at = parse_instant(resolved_raw, "resolved_at") if resolved_raw else None
    escalation = (row.get("escalation") or "").strip().lower()
    if escalation and escalation not in Escalation.values:
        raise Invalid(f"escalation must be one of {', '.join(Escalation.values)}.")
    event = _manual_event(row.get("title"), started_at, resolved_at, row.get("severity"), "csv")
    return event, escalation


def import_csv(rotation: Rotation, data: bytes, *, by: Actor) -> ImportResult:
    """Past incidents from CSV, all or nothing: one bad row and nothing is written."""
    require_manager(by, rotation.team_id, "Only a manager of this team can import incidents.")
    rows = _csv_rows(data)
    created = 0
    with transaction.atomic():
        for event, escalation in rows:
            _, new = _apply(rotation, event, source=Source.CSV, escalation=escalation)
            created += new
    return ImportResult(rows=len(rows), created=created, updated=len(rows) - created)


# --- settings -----------------------------------------------------------------------------


# Within the columns (5 and 4 digits, 2 decimals) and any sensible weighting.
MAX_WEIGHT_HOURS = 100
MAX_MULTIPLIER = 20


def update_settings(
    rotation: Rotation,
    *,
    by: Actor,
    weight_hours_per_page: Decimal,
    off_hours_multiplier: Decimal | None = None,
    night_multiplier: Decimal | None = None,
    weekend_multiplier: Decimal | None = None,
) -> IncidentSettings:
    require_manager(by, rotation.team_id, "Only a manager of this team can change this.")
    if not weight_hours_per_page.is_finite() or not (
        0 <= weight_hours_per_page <= MAX_WEIGHT_HOURS
    ):
        raise Invalid(
            f"The weight is between 0 and {MAX_WEIGHT_HOURS} hours per page.",
            field="weight_hours_per_page",
        )
    values = {"weight_hours_per_page": weight_hours_per_page}
    for name, value in (
        ("off_hours_multiplier", off_hours_multiplier),
        ("night_multiplier", night_multiplier),
        ("weekend_multiplier", weekend_multiplier),
    ):
        if value is not None:
            if not value.is_finite() or not (1 <= value <= MAX_MULTIPLIER):
                raise Invalid(f"A multiplier is between 1 and {MAX_MULTIPLIER}.", field=name)
            values[name] = value
    row, _ = IncidentSettings.objects.update_or_create(rotation=rotation, defaults=values)
    return row
