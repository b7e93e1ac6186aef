"""The audit log in the API: the team's managers filter it by roster, actor, action and time,
page through it, and read before/after in words; engineers and other teams see none."""

from datetime import date, time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from onehand.people import display_name
from planning import services as planning_services
from rotation import services
from tests.factories import build_team

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def _api(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def _edited_roster(setup):
    roster = planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)
    slot = roster.shifts.filter(role="primary").order_by("start").first()
    taken = set(roster.shifts.filter(start=slot.start).values_list("assignee_id", flat=True))
    other = next(p for p in setup.people if p.pk not in taken)
    planning_services.assign_slot(slot, other, by=setup.boss, override=True)
    return roster, slot, other


@time_machine.travel("2026-11-20 12:00Z")
def test_a_manager_reads_an_edit_in_words():
    setup = build_team(4, pattern="weekly", handoff_time=time(9))
    roster, slot, other = _edited_roster(setup)

    body = _api(setup.boss).get("/api/audit/", {"roster": roster.pk, "action": "override"}).json()

    assert body["count"] == 1
    entry = body["results"][0]
    assert entry["actor_name"] == display_name(setup.boss)
    assert f"assignee {display_name(other)}" in entry["after_words"]
    assert entry["after"]["assignee"] == other.pk


@time_machine.travel("2026-11-20 12:00Z")
def test_the_log_filters_by_actor_and_time_range():
    setup = build_team(4, pattern="weekly", handoff_time=time(9))
    with time_machine.travel("2026-11-20 12:00Z"):
        draft = planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)
    with time_machine.travel("2026-11-21 12:00Z"):
        services.publish_roster(draft, by=setup.boss)
    api = _api(setup.boss)

    late = api.get("/api/audit/", {"since": "2026-11-21T00:00:00Z"}).json()
    early = api.get("/api/audit/", {"until": "2026-11-21T00:00:00Z", "actor": setup.boss.pk})

    assert [e["action"] for e in late["results"]] == ["publish"]
    assert [e["action"] for e in early.json()["results"]] == ["draft"]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_log_is_paged():
    setup = build_team(4, pattern="weekly", handoff_time=time(9))
    for _ in range(3):
        planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)

    body = _api(setup.boss).get("/api/audit/", {"limit": 2}).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


@time_machine.travel("2026-11-20 12:00Z")
def test_engineers_and_other_teams_managers_see_no_audit_rows():
    setup = build_team(4, pattern="weekly", handoff_time=time(9))
    _edited_roster(setup)
    stranger = build_team(1, prefix="other-").boss

    assert _api(setup.people[0]).get("/api/audit/").json()["count"] == 0
    assert _api(stranger).get("/api/audit/").json()["count"] == 0


@time_machine.travel("2026-11-20 12:00Z")
def test_a_bad_filter_is_a_400_naming_it():
    setup = build_team(1, pattern="weekly", handoff_time=time(9))
    api = _api(setup.boss)

    assert "since" in api.get("/api/audit/", {"since": "yesterday"}).json()
    assert "action" in api.get("/api/audit/", {"action": "delete"}).json()
    assert "roster" in api.get("/api/audit/", {"roster": "x"}).json()
    assert "actor" in api.get("/api/audit/", {"actor": "²"}).json()
    assert "rotation" in api.get("/api/audit/", {"rotation": "9" * 30}).json()


def test_the_audit_log_is_in_the_openapi_schema():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    parameters = {p["name"] for p in schema["paths"]["/api/audit/"]["get"]["parameters"]}
    assert {"roster", "actor", "action", "since", "until", "limit", "offset"} <= parameters


@time_machine.travel("2026-11-20 12:00Z")
def test_the_audit_api_costs_the_same_queries_for_5_and_50_people():
    counts = []
    for size in (5, 50):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        roster = planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)
        slots = roster.shifts.filter(role="primary").order_by("start")[:3]
        for slot in slots:
            taken = set(
                roster.shifts.filter(start=slot.start).values_list("assignee_id", flat=True)
            )
            other = next(p for p in setup.people if p.pk not in taken)
            planning_services.assign_slot(slot, other, by=setup.boss, override=True)
        api = _api(setup.boss)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/audit/").status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
