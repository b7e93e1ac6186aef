"""The availability API end to end, and its OpenAPI schema."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from rest_framework.test import APIClient

from availability import services
from availability.models import AvailabilityEntry, CalendarSource
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db

ICS = Path(__file__).parent / "ics"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def team():
    team = TeamFactory()
    boss = manager(team)
    amara = engineer(team, time_zone="Europe/London")
    rotation = RotationFactory(team=team, has_secondary=True)
    join_rotation(rotation, amara)
    return {"team": team, "boss": boss, "amara": amara, "rotation": rotation}


def test_a_manager_defines_requirements_and_members_read_them(team):
    boss = api(team["boss"])
    response = boss.post(
        "/api/requirements/",
        {
            "rotation": team["rotation"].pk,
            "name": "Prod access",
            "kind": "access",
            "roles": ["primary", "secondary"],
            "how_to_obtain": "Ask in #access",
            "valid_days": 180,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["roles"] == ["primary", "secondary"] and body["shadow_shifts_needed"] == 0
    assert boss.patch(
        f"/api/requirements/{body['id']}/", {"roles": ["secondary"]}, format="json"
    ).json()["roles"] == ["secondary"]
    bad = boss.post(
        "/api/requirements/",
        {
            "rotation": team["rotation"].pk,
            "name": "Shadow",
            "kind": "shadow_shifts",
            "roles": ["primary"],
        },
        format="json",
    )
    assert bad.status_code == 400 and "shadow_shifts_needed" in bad.json()
    assert (
        boss.post(
            "/api/requirements/",
            {"rotation": team["rotation"].pk, "name": "X", "kind": "other", "roles": ["captain"]},
            format="json",
        ).status_code
        == 400
    )

    engineer_client = api(team["amara"])
    listed = engineer_client.get(f"/api/requirements/?rotation={team['rotation'].pk}").json()[
        "results"
    ]
    assert [r["name"] for r in listed] == ["Prod access"]
    assert engineer_client.delete(f"/api/requirements/{body['id']}/").status_code == 403


def test_claim_verify_and_readiness_through_the_api(team):
    boss = api(team["boss"])
    requirement = boss.post(
        "/api/requirements/",
        {
            "rotation": team["rotation"].pk,
            "name": "Prod access",
            "kind": "access",
            "roles": ["secondary"],
        },
        format="json",
    ).json()
    me = api(team["amara"])
    before = me.get("/api/readiness/").json()
    assert before[0]["eligible_roles"] == ["primary"]
    assert before[0]["requirements"][0]["state"] == "missing"
    claim = me.post(
        "/api/qualifications/",
        {
            "requirement": requirement["id"],
            "obtained_on": "2026-01-01",
            "evidence_url": "https://t.example/1",
        },
        format="json",
    )
    assert claim.status_code == 201 and claim.json()["status"] == "claimed"
    pending = boss.get(f"/api/qualifications/?status=claimed&rotation={team['rotation'].pk}").json()
    assert [q["id"] for q in pending["results"]] == [claim.json()["id"]]
    assert (
        boss.post(
            f"/api/qualifications/{claim.json()['id']}/verify/", {}, format="json"
        ).status_code
        == 200
    )
    after = me.get("/api/readiness/").json()
    assert after[0]["eligible_roles"] == ["primary", "secondary"]
    assert after[0]["requirements"][0]["state"] == "met"


def test_availability_through_the_api_with_a_lock(team):
    me = api(team["amara"])
    created = me.post(
        "/api/availability/",
        {
            "start": "2026-12-01T00:00:00Z",
            "end": "2026-12-02T00:00:00Z",
            "kind": "unavailable",
            "reason": "Off",
        },
        format="json",
    )
    assert created.status_code == 201
    entry_id = created.json()["id"]
    changed = me.patch(
        f"/api/availability/{entry_id}/", {"end": "2026-12-03T00:00:00Z"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["end"] == "2026-12-03T00:00:00Z"
    entry_id = changed.json()["id"]
    listed = me.get("/api/availability/?start=2026-12-02&end=2026-12-31").json()["results"]
    assert [e["id"] for e in listed] == [entry_id]
    assert (
        me.post(
            "/api/availability/",
            {"start": "2026-12-05T00:00:00Z", "end": "2026-12-04T00:00:00Z", "kind": "unavailable"},
            format="json",
        ).status_code
        == 400
    )

    services.lock_availability(team["team"], date(2026, 12, 1), date(2027, 1, 1), by=team["boss"])
    refused = me.delete(f"/api/availability/{entry_id}/")
    assert refused.status_code == 409 and "swap" in refused.json()["detail"]
    assert (
        me.post(
            "/api/availability/",
            {"start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z", "kind": "preferred"},
            format="json",
        ).status_code
        == 409
    )
    assert AvailabilityEntry.objects.count() == 1


def test_locks_through_the_api(team):
    boss = api(team["boss"])
    payload = {"team": team["team"].pk, "period_start": "2026-12-01", "period_end": "2027-01-01"}
    first = boss.post("/api/availability-locks/", payload, format="json")
    again = boss.post("/api/availability-locks/", payload, format="json")
    assert (
        first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    )
    assert api(team["amara"]).get("/api/availability-locks/").json()["count"] == 1
    assert (
        api(team["amara"]).delete(f"/api/availability-locks/{first.json()['id']}/").status_code
        == 403
    )
    assert boss.delete(f"/api/availability-locks/{first.json()['id']}/").status_code == 204


@time_machine.travel("2025-03-10 12:00Z")
def test_calendar_sources_through_the_api(team, django_capture_on_commit_callbacks):
    me = api(team["amara"])
    with django_capture_on_commit_callbacks() as queued:
        created = me.post(
            "/api/calendar-sources/",
            {"url": "https://calendar.example.com/private-abc/basic.ics"},
            format="json",
        )
    assert created.status_code == 201 and len(queued) == 1
    body = created.json()
    assert "url" not in body and body["url_hint"] == "https://calendar.example.com/…"
    assert body["status"] == "pending"
    with (ICS / "google.ics").open("rb") as f:
        uploaded = me.post("/api/calendar-sources/upload/", {"file": f}, format="multipart")
    assert uploaded.status_code == 201 and uploaded.json()["imported_count"] > 0
    with (ICS / "truncated.ics").open("rb") as f:
        broken = me.post("/api/calendar-sources/upload/", {"file": f}, format="multipart")
    assert broken.status_code == 400 and "cut off" in broken.json()["detail"]
    assert (
        CalendarSource.objects.get(pk=uploaded.json()["id"]).imported_count
        == uploaded.json()["imported_count"]
    )
    assert me.post(f"/api/calendar-sources/{uploaded.json()['id']}/refresh/").status_code == 400


def test_allocation_and_utilisation_through_the_api(team):
    boss = api(team["boss"])
    payload = {
        "user": team["amara"].pk,
        "team": team["team"].pk,
        "period_start": "2026-12-01",
        "period_end": "2027-01-01",
        "percent": 50,
    }
    assert boss.post("/api/allocations/", payload, format="json").status_code == 201
    assert (
        boss.post("/api/allocations/", {**payload, "percent": 60}, format="json").status_code == 201
    )
    assert (
        boss.post("/api/allocations/", {**payload, "percent": 101}, format="json").status_code
        == 400
    )
    rows = boss.get(
        f"/api/utilisation/?team={team['team'].pk}&start=2026-12-01&end=2027-01-01"
    ).json()
    amara = next(r for r in rows if r["user"] == team["amara"].pk)
    assert amara["allocation"] == 0.6 and amara["total"] == 0.6
    assert amara["start"] == "2026-12-01T00:00:00Z"
    assert {r["user"] for r in rows} == {team["amara"].pk, team["boss"].pk}


MY_VIEWSETS = (
    "DutyRequirementViewSet",
    "QualificationViewSet",
    "AvailabilityEntryViewSet",
    "CalendarSourceViewSet",
    "AvailabilityLockViewSet",
    "ProjectAllocationViewSet",
    "UtilisationViewSet",
    "ReadinessViewSet",
)


def _schema_and_warnings(patterns=None):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    warnings = list(GENERATOR_STATS._warn_cache) + list(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    validate_schema(schema)
    return schema, warnings


def test_the_schema_documents_every_endpoint_without_warnings():
    """Our endpoints alone give a clean schema, and add no warning to the whole API's."""
    from django.urls import include, path
    from rest_framework.routers import DefaultRouter

    from availability import api as availability_api

    router = DefaultRouter()
    for prefix, name in (
        ("requirements", "DutyRequirementViewSet"),
        ("qualifications", "QualificationViewSet"),
        ("availability", "AvailabilityEntryViewSet"),
        ("calendar-sources", "CalendarSourceViewSet"),
        ("availability-locks", "AvailabilityLockViewSet"),
        ("allocations", "ProjectAllocationViewSet"),
        ("utilisation", "UtilisationViewSet"),
        ("readiness", "ReadinessViewSet"),
    ):
        router.register(prefix, getattr(availability_api, name), basename=prefix)
    ours, warnings = _schema_and_warnings([path("api/", include(router.urls))])
    assert warnings == []

    whole, warnings = _schema_and_warnings()
    assert not [w for w in warnings if "availability" in w or any(v in w for v in MY_VIEWSETS)]
    for endpoint in (
        "/api/requirements/",
        "/api/qualifications/{id}/verify/",
        "/api/availability/",
        "/api/calendar-sources/upload/",
        "/api/availability-locks/",
        "/api/allocations/",
        "/api/utilisation/",
        "/api/readiness/",
    ):
        assert endpoint in ours["paths"] and endpoint in whole["paths"], endpoint


def test_times_come_back_in_utc(team):
    me = api(team["amara"])
    response = me.post(
        "/api/availability/",
        {
            "start": "2026-07-01T09:00:00+01:00",
            "end": "2026-07-01T10:00:00+01:00",
            "kind": "unavailable",
        },
        format="json",
    )
    entry = AvailabilityEntry.objects.get(pk=response.json()["id"])
    assert entry.start == datetime(2026, 7, 1, 8, tzinfo=UTC)
