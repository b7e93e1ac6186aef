"""The incident webhook: grouping, attribution, resolve, retries, tokens and refusals."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import HookToken, Incident, IncidentGroup
from rotation.permissions import SYSTEM
from tests.incidents_support import (
    alertmanager,
    am_alert,
    hook_url,
    new_hook,
    post,
    primary_at,
    published_rotation,
)

pytestmark = pytest.mark.django_db

NIGHT = "2026-03-04T02:00:00Z"


@pytest.fixture
def setup():
    return published_rotation()


@pytest.fixture
def url(setup):
    return hook_url(new_hook(setup))


def test_a_firing_group_makes_one_incident_attributed_to_the_primary(setup, url):
    answer = post(url, alertmanager("g1", [am_alert("a", NIGHT), am_alert("b", NIGHT)]))
    assert answer.status_code == 201
    incident = Incident.objects.get()
    assert incident.is_open
    assert incident.attributed_to == primary_at(setup, datetime(2026, 3, 4, 2, tzinfo=UTC))
    assert incident.fingerprints == ["a", "b"]


def test_a_retry_of_the_same_notification_does_not_duplicate(url):
    body = alertmanager("g1", [am_alert("a", NIGHT)])
    post(url, body)
    again = post(url, body)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert Incident.objects.get().notifications == 2


def test_a_new_alert_joining_the_group_joins_the_incident(url):
    post(url, alertmanager("g1", [am_alert("a", NIGHT)]))
    post(url, alertmanager("g1", [am_alert("a", NIGHT), am_alert("b", "2026-03-04T02:07Z")]))
    assert Incident.objects.get().fingerprints == ["a", "b"]


def test_two_groups_are_two_incidents(url):
    post(url, alertmanager("g1", [am_alert("a", NIGHT)]))
    post(url, alertmanager("g2", [am_alert("a", NIGHT)]))
    assert Incident.objects.count() == 2


def test_a_resolve_closes_the_incident(url):
    post(url, alertmanager("g1", [am_alert("a", NIGHT)]))
    done = [am_alert("a", NIGHT, "2026-03-04T02:40:00Z")]
    answer = post(url, alertmanager("g1", done, status="resolved"))
    assert answer.json()["status"] == "resolved"
    assert Incident.objects.get().resolved_at == datetime(2026, 3, 4, 2, 40, tzinfo=UTC)


def test_a_late_retry_of_the_firing_after_the_resolve_does_not_reopen(url):
    firing = alertmanager("g1", [am_alert("a", NIGHT)])
    post(url, firing)
    post(url, alertmanager("g1", [am_alert("a", NIGHT, "2026-03-04T02:40Z")], status="resolved"))
    post(url, firing)
    incident = Incident.objects.get()
    assert incident.resolved_at is not None


def test_the_same_group_firing_again_later_is_a_new_incident(url):
    post(url, alertmanager("g1", [am_alert("a", NIGHT)]))
    post(url, alertmanager("g1", [am_alert("a", NIGHT, "2026-03-04T02:40Z")], status="resolved"))
    post(url, alertmanager("g1", [am_alert("a", "2026-03-05T11:00Z")]))
    assert Incident.objects.count() == 2
    assert IncidentGroup.objects.count() == 1


def test_a_generic_alert_and_its_resolve_are_one_incident(setup, url):
    alert = {"title": "Queue stuck", "started_at": "2026-03-06T12:00Z", "severity": "high"}
    post(url, alert)
    post(url, {**alert, "resolved_at": "2026-03-06T12:20Z"})
    incident = Incident.objects.get()
    assert (incident.source, incident.severity) == ("generic", "high")
    assert incident.resolved_at == datetime(2026, 3, 6, 12, 20, tzinfo=UTC)


def test_an_incident_outside_any_published_shift_is_attributed_to_nobody(url):
    post(url, {"title": "Before the roster", "started_at": "2026-01-01T12:00Z"})
    assert Incident.objects.get().attributed_to is None


def test_a_bad_payload_is_400_with_a_reason_and_writes_nothing(url):
    answer = post(url, {"title": "x", "started_at": "2026-03-06T12:00"})
    assert answer.status_code == 400
    assert "UTC offset" in answer.json()["detail"]
    assert (Incident.objects.count(), IncidentGroup.objects.count()) == (0, 0)


def test_an_oversized_body_is_refused_before_it_is_read(url):
    answer = post(url, b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert answer.status_code == 400
    assert answer.json()["code"] == "too_large"


def test_an_unknown_token_is_404():
    answer = post(reverse("incident-hook", args=["no-such-token"]), {"title": "x"})
    assert answer.status_code == 404


def test_a_revoked_token_is_404_and_writes_nothing(setup):
    issued = new_hook(setup)
    services.revoke_hook_token(issued.hook, by=SYSTEM)
    answer = post(hook_url(issued), {"title": "x", "started_at": NIGHT})
    assert answer.status_code == 404
    assert not Incident.objects.exists()


def test_rotating_a_token_stops_the_old_url_and_starts_the_new(setup):
    old = new_hook(setup, label="prod")
    new = services.rotate_hook_token(old.hook, by=SYSTEM)
    assert post(hook_url(old), {"title": "x", "started_at": NIGHT}).status_code == 404
    assert post(hook_url(new), {"title": "x", "started_at": NIGHT}).status_code == 201
    assert new.hook.label == "prod"


def test_only_a_hash_of_the_token_is_stored(setup):
    issued = new_hook(setup)
    stored = HookToken.objects.get()
    assert issued.token not in (stored.token_hash, stored.hint, stored.label)
    assert stored.token_hash == services.hash_token(issued.token)


def test_a_hook_that_requires_a_signature_refuses_an_unsigned_body(setup):
    issued = new_hook(setup, require_signature=True)
    answer = post(hook_url(issued), {"title": "x", "started_at": NIGHT})
    assert answer.status_code == 403
    assert not Incident.objects.exists()


def test_a_correctly_signed_body_is_accepted(setup):
    issued = new_hook(setup, require_signature=True)
    body = b'{"title": "x", "started_at": "2026-03-04T02:00:00Z"}'
    signature = services.hmac.new(issued.signing_secret.encode(), body, "sha256").hexdigest()
    answer = post(hook_url(issued), body, X_Onehand_Signature=f"sha256={signature}")
    assert answer.status_code == 201


def test_the_hook_needs_no_session_and_no_csrf_token(setup, url, client):
    client.force_login(setup.boss)
    client.handler.enforce_csrf_checks = True
    answer = post(url, {"title": "x", "started_at": NIGHT}, client=client)
    assert answer.status_code == 201


def test_a_get_on_the_hook_is_405(url, client):
    assert client.get(url).status_code == 405
