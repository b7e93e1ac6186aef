"""Webhook bodies to alert events: the three shapes, and every refusal says why."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidents.payloads import MAX_ALERTS, MAX_BODY_BYTES, parse
from onehand.errors import Invalid
from tests.incidents_support import alertmanager, am_alert

GRAFANA = Path(__file__).parent / "incidents_payloads" / "grafana_firing.json"


def _body(value) -> bytes:
    return json.dumps(value).encode()


def test_an_alertmanager_group_is_one_event_keyed_by_its_group_key():
    body = alertmanager(
        '{}:{alertname="DiskFull"}',
        [am_alert("aa01", "2026-03-03T02:00:00.123456789Z"), am_alert("bb02", "2026-03-03T02:05Z")],
    )
    event = parse(_body(body))
    assert event.source == "alertmanager"
    assert event.group_key == 'am:{}:{alertname="DiskFull"}'
    assert event.started_at == datetime(2026, 3, 3, 2, 0, 0, 123456, tzinfo=UTC)
    assert event.resolved_at is None
    assert event.fingerprints == ("aa01", "bb02")
    assert (event.title, event.severity) == ("Disk almost full", "page")


def test_a_resolved_alertmanager_group_ends_at_its_last_alert():
    alerts = [
        am_alert("aa01", "2026-03-03T02:00Z", "2026-03-03T02:30:00Z"),
        am_alert("bb02", "2026-03-03T02:05Z", "2026-03-03T02:45:00Z"),
    ]
    event = parse(_body(alertmanager("g", alerts, status="resolved")))
    assert event.resolved_at == datetime(2026, 3, 3, 2, 45, tzinfo=UTC)


def test_a_grafana_notification_from_its_documented_schema_parses():
    event = parse(GRAFANA.read_bytes())
    assert event.source == "grafana"
    assert event.group_key.startswith("grafana:{}/{team=")
    assert event.started_at == datetime(2026, 3, 3, 2, 10, 0, 512345, tzinfo=UTC)
    assert event.fingerprints == ("9f2c41d07ab2e611", "0c1d2e3f40516273")
    assert (event.title, event.severity) == ("p99 checkout latency above 2 s", "critical")


def test_the_generic_json_without_a_key_is_keyed_by_source_title_and_start():
    payload = {"title": "DB down", "started_at": "2026-03-03T02:00:00+01:00", "source": "cron"}
    first = parse(_body(payload))
    again = parse(_body({**payload, "resolved_at": "2026-03-03T02:30:00+01:00"}))
    assert first.group_key == again.group_key
    assert first.started_at == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert again.resolved_at == datetime(2026, 3, 3, 1, 30, tzinfo=UTC)


BAD = [
    (b"not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (_body({"a": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}), "nested deeper"),
    (_body({"title": "x", "started_at": "2026-03-03T02:00:00"}), "needs a UTC offset"),
    (_body({"title": "x", "started_at": "yesterday"}), "not an ISO 8601"),
    (_body({"title": "", "started_at": "2026-03-03T02:00Z"}), "title is required"),
    (_body({"title": "x", "started_at": "2026-03-03T02:00Z", "owner": "me"}), "Unknown fields"),
    (
        _body({"title": "x", "started_at": "2026-03-03T02:00Z", "resolved_at": "2026-03-03T01Z"}),
        "resolved_at must be after",
    ),
    (_body(alertmanager("g", [])), "non-empty list"),
    (_body(alertmanager("", [am_alert("a", "2026-03-03T02:00Z")])), "groupKey is required"),
    (_body(alertmanager("g", [am_alert("a", "2026-03-03T02:00Z")], version="3")), "version 4"),
    (_body(alertmanager("g", [am_alert("a", "2026-03-03T02:00Z")], status="?")), "status"),
    (_body(alertmanager("g", ["x"])), "must be an object"),
    (
        _body(alertmanager("g", [am_alert("a", "2026-03-03T02:00Z")], status="resolved")),
        "needs endsAt",
    ),
    (
        _body(alertmanager("g", [am_alert(str(n), "2026-03-03T02:00Z") for n in range(501)])),
        f"At most {MAX_ALERTS} alerts",
    ),
    (b" " * (MAX_BODY_BYTES + 1), "larger than"),
]


@pytest.mark.parametrize(("body", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_a_bad_body_is_refused_with_its_reason(body, reason):
    with pytest.raises(Invalid) as refused:
        parse(body)
    assert reason in refused.value.message
