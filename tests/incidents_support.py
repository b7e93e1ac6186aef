"""Builders for the incident tests: a rotation with a published roster and a webhook."""

import json
from datetime import date, datetime

from django.test import Client
from django.urls import reverse

from incidents import services
from rotation.models import Shift
from rotation.permissions import SYSTEM
from tests.notifications_support import make_team, publish

WEEK = (date(2026, 3, 2), date(2026, 3, 9))


def published_rotation(start: date = WEEK[0], end: date = WEEK[1], size: int = 4, prefix=""):
    """A daily rotation (hand-off 09:00 Europe/London) with a published roster."""
    setup = make_team(size, prefix=prefix)
    publish(setup, start, end)
    return setup


def new_hook(setup, **options):
    return services.create_hook_token(setup.rotation, by=SYSTEM, **options)


def hook_url(issued) -> str:
    return reverse("incident-hook", args=[issued.token])


def post(url: str, payload, client: Client | None = None, **headers):
    client = client or Client(enforce_csrf_checks=True)
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(url, data=body, content_type="application/json", headers=headers)


def primary_at(setup, at: datetime):
    shift = Shift.objects.get(
        roster__rotation=setup.rotation,
        roster__status="published",
        role="primary",
        start__lte=at,
        end__gt=at,
    )
    return shift.assignee


def alertmanager(group_key: str, alerts: list[dict], status: str = "firing", **extra) -> dict:
    """An Alertmanager webhook body (version 4), as in its documentation."""
    body = {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "onehand",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "severity": "page"},
        "commonAnnotations": {"summary": "Disk almost full"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }
    body.update(extra)
    return body


def am_alert(fingerprint: str, starts: str, ends: str = "0001-01-01T00:00:00Z", **labels):
    return {
        "status": "resolved" if not ends.startswith("0001") else "firing",
        "labels": {"alertname": "DiskFull", "severity": "page", **labels},
        "annotations": {"summary": "Disk almost full"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus.example:9090/graph",
        "fingerprint": fingerprint,
    }
