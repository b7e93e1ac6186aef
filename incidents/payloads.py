"""Webhook bodies to alert events: Alertmanager (version 4), Grafana alerting, generic JSON.

A pure core: no ORM, no clock. Every refusal is an `Invalid` whose message says what is
wrong, so the hook answers 400 with a reason and writes nothing.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from onehand.errors import Invalid
from onehand.jsondepth import json_depth_ok

MAX_BODY_BYTES = 1024 * 1024
MAX_ALERTS = 500
MAX_DEPTH = 12
MAX_KEY_CHARS = 255
MAX_TITLE_CHARS = 300
# Alertmanager's "not resolved yet" endsAt.
ZERO_TIME_PREFIX = "0001-01-01"


@dataclass(frozen=True)
class AlertEvent:
    """One notification about one alert group: still firing (resolved_at None) or resolved."""

    source: str
    group_key: str
    title: str
    severity: str
    started_at: datetime
    resolved_at: datetime | None
    fingerprints: tuple[str, ...]


def _depth_ok(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def load_json(body: bytes):
    if len(body) > MAX_BODY_BYTES:
        raise Invalid(f"The body is larger than {MAX_BODY_BYTES} bytes.", code="too_large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Invalid(f"The body is not JSON: {error}.", code="not_json") from None
    if not json_depth_ok(text, MAX_DEPTH):
        raise Invalid(f"The JSON is nested deeper than {MAX_DEPTH} levels.", code="too_deep")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise Invalid(f"The body is not JSON: {error}.", code="not_json") from None
    if not _depth_ok(data, MAX_DEPTH):
        raise Invalid(f"The JSON is nested deeper than {MAX_DEPTH} levels.", code="too_deep")
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.", code="not_object")
    return data


def parse_instant(raw, field: str) -> datetime:
    """An RFC 3339 / ISO 8601 date-time with an offset, as UTC."""
    if not isinstance(raw, str) or not raw:
        raise Invalid(f"{field} must be an ISO 8601 date-time with an offset.", field=field)
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(f"{field} is not an ISO 8601 date-time: {raw[:40]!r}.", field=field) from None
    if value.tzinfo is None:
        raise Invalid(f"{field} needs a UTC offset (for example Z or +01:00).", field=field)
    return value.astimezone(UTC)


def _text(raw, field: str, limit: int, *, required: bool = False) -> str:
    if raw is None or raw == "":
        if required:
            raise Invalid(f"{field} is required.", field=field)
        return ""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a string.", field=field)
    return raw.strip()[:limit]


def _dict(raw, field: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid(f"{field} must be an object.", field=field)
    return raw


def stable_key(prefix: str, raw: str) -> str:
    """The group key as stored: as given when short, else a SHA-256 of it."""
    key = f"{prefix}:{raw}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


def _label_fingerprint(labels: dict) -> str:
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _alert_group(data: dict, source: str) -> AlertEvent:
    """Alertmanager and Grafana share the notification shape (Grafana adds a few fields)."""
    group_key = _text(data.get("groupKey"), "groupKey", 10_000, required=True)
    status = data.get("status")
    if status not in ("firing", "resolved"):
        raise Invalid("status must be 'firing' or 'resolved'.", field="status")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise Invalid("alerts must be a non-empty list.", field="alerts")
    if len(alerts) > MAX_ALERTS:
        raise Invalid(f"At most {MAX_ALERTS} alerts a notification.", field="alerts")
    starts: list[datetime] = []
    ends: list[datetime] = []
    fingerprints: list[str] = []
    for number, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise Invalid(f"alerts[{number}] must be an object.", field="alerts")
        labels = _dict(alert.get("labels"), f"alerts[{number}].labels")
        _dict(alert.get("annotations"), f"alerts[{number}].annotations")
        starts.append(parse_instant(alert.get("startsAt"), f"alerts[{number}].startsAt"))
        ends_raw = alert.get("endsAt")
        if isinstance(ends_raw, str) and ends_raw and not ends_raw.startswith(ZERO_TIME_PREFIX):
            ends.append(parse_instant(ends_raw, f"alerts[{number}].endsAt"))
        fingerprint = alert.get("fingerprint")
        fingerprint = _text(fingerprint, f"alerts[{number}].fingerprint", 64)
        fingerprints.append(fingerprint or _label_fingerprint(labels))
    common_labels = _dict(data.get("commonLabels"), "commonLabels")
    common_annotations = _dict(data.get("commonAnnotations"), "commonAnnotations")
    group_labels = _dict(data.get("groupLabels"), "groupLabels")
    first_labels = alerts[0].get("labels") or {}
    title = (
        common_annotations.get("summary")
        or common_labels.get("alertname")
        or group_labels.get("alertname")
        or first_labels.get("alertname")
        or data.get("title")
        or "Alert group"
    )
    started_at = min(starts)
    resolved_at = None
    if status == "resolved":
        if not ends:
            raise Invalid("A resolved notification needs endsAt on its alerts.", field="alerts")
        resolved_at = max(ends)
        if resolved_at <= started_at:
            raise Invalid("endsAt must be after startsAt.", field="alerts")
    return AlertEvent(
        source=source,
        group_key=stable_key("am" if source == "alertmanager" else "grafana", group_key),
        title=_text(str(title), "title", MAX_TITLE_CHARS) or "Alert group",
        severity=_text(str(common_labels.get("severity") or ""), "severity", 40),
        started_at=started_at,
        resolved_at=resolved_at,
        fingerprints=tuple(dict.fromkeys(fingerprints)),
    )


def _generic(data: dict) -> AlertEvent:
    unknown = set(data) - {"title", "started_at", "resolved_at", "severity", "source", "key"}
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))[:200]}.", code="unknown_field")
    title = _text(data.get("title"), "title", MAX_TITLE_CHARS, required=True)
    started_at = parse_instant(data.get("started_at"), "started_at")
    resolved_at = None
    if data.get("resolved_at") is not None:
        resolved_at = parse_instant(data.get("resolved_at"), "resolved_at")
        if resolved_at <= started_at:
            raise Invalid("resolved_at must be after started_at.", field="resolved_at")
    source = _text(data.get("source"), "source", 40)
    key = _text(data.get("key"), "key", 10_000)
    if not key:
        # No key: the same title from the same source starting at the same instant is one alert.
        key = hashlib.sha256(f"{source}\n{title}\n{started_at.isoformat()}".encode()).hexdigest()
    return AlertEvent(
        source="generic",
        group_key=stable_key("generic", key),
        title=title,
        severity=_text(data.get("severity"), "severity", 40),
        started_at=started_at,
        resolved_at=resolved_at,
        fingerprints=(),
    )


def kind_of(data: dict) -> str:
    if "alerts" in data or "groupKey" in data:
        # Grafana sends version "1" with orgId/state; Alertmanager sends version "4".
        if "orgId" in data or data.get("version") == "1":
            return "grafana"
        if data.get("version") != "4":
            raise Invalid("Alertmanager payloads must be version 4.", field="version")
        return "alertmanager"
    return "generic"


def parse(body: bytes) -> AlertEvent:
    data = load_json(body)
    kind = kind_of(data)
    if kind == "generic":
        return _generic(data)
    return _alert_group(data, kind)
