"""A manager drafts a fair roster, edits it within the rules, publishes it once."""

import csv
import io
from datetime import date, time, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from availability import services as availability_services
from onehand.errors import Invalid, NotAllowed
from onehand.people import display_name
from planning import services as planning_services
from rotation import services
from rotation.models import AuditEntry, Person, Roster
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


@pytest.fixture
def team_setup():
    team = TeamFactory()
    boss = manager(team, username="boss")
    people = [engineer(team, username=f"eng{i}", first_name=f"Eng{i}") for i in range(6)]
    rotation = RotationFactory(
        team=team, time_zone="Europe/London", handoff_time=time(9), lead=boss
    )
    join_rotation(rotation, *people)
    return {"team": team, "boss": boss, "people": people, "rotation": rotation}


@time_machine.travel("2026-11-20 12:00Z")
def test_a_draft_fills_every_slot_and_explains_every_pick(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    slots = list(roster.shifts.all())
    assert roster.status == Roster.Status.DRAFT
    assert slots and all(s.assignee_id for s in slots)
    assert all(s.reason.get("summary") for s in slots)
    assert roster.summary["lower_bound"] <= roster.summary["objective_max"] + 1e-9


@time_machine.travel("2026-11-20 12:00Z")
def test_a_draft_records_itself_in_the_audit_log(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    assert AuditEntry.objects.filter(
        roster=roster, action="draft", actor=team_setup["boss"]
    ).exists()


@time_machine.travel("2026-11-20 12:00Z")
def test_an_engineer_cannot_draft(team_setup):
    with pytest.raises(NotAllowed):
        planning_services.draft_roster(
            team_setup["rotation"], *DECEMBER, by=team_setup["people"][0]
        )


@time_machine.travel("2026-11-20 12:00Z")
def test_giving_both_slots_of_a_shift_to_one_person_is_refused_with_the_reason(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    primary = roster.shifts.filter(role="primary").first()
    secondary = roster.shifts.get(start=primary.start, role="secondary")
    with pytest.raises(planning_services.AssignmentRefused) as refused:
        planning_services.assign_slot(secondary, primary.assignee, by=team_setup["boss"])
    assert str(refused.value)
    secondary.refresh_from_db()
    assert secondary.assignee_id != primary.assignee_id


@time_machine.travel("2026-11-20 12:00Z")
def test_an_outsider_to_the_rotation_cannot_be_assigned(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    stranger = engineer(TeamFactory())
    with pytest.raises(Invalid, match="not an active member"):  # no override crosses teams
        planning_services.assign_slot(
            roster.shifts.first(), stranger, by=team_setup["boss"], override=True
        )


@time_machine.travel("2026-11-20 12:00Z")
def test_a_back_to_back_edit_is_allowed_with_a_recorded_override(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    first, second = roster.shifts.filter(role="primary").order_by("start")[:2]
    # The same person on two shifts in a row breaks the rest rule...
    with pytest.raises(planning_services.AssignmentRefused):
        planning_services.assign_slot(second, first.assignee, by=team_setup["boss"])
    if roster.shifts.filter(start=second.start, assignee=first.assignee).exists():
        pytest.skip("the draft already gave them a slot of that shift")
    shift = planning_services.assign_slot(
        second, first.assignee, by=team_setup["boss"], override=True, note="swap agreed"
    )
    assert shift.overridden
    entry = AuditEntry.objects.filter(roster=roster, action="override").get()
    assert "swap agreed" in str(entry.after)


@time_machine.travel("2026-11-20 12:00Z")
def test_publishing_twice_publishes_once(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    services.publish_roster(roster, by=team_setup["boss"])
    services.publish_roster(roster, by=team_setup["boss"])
    assert AuditEntry.objects.filter(roster=roster, action="publish").count() == 1
    assert Roster.objects.filter(status="published").count() == 1


@time_machine.travel("2026-11-20 12:00Z")
def test_publishing_supersedes_the_previous_roster_for_those_dates(team_setup):
    first = planning_services.draft_roster(team_setup["rotation"], *DECEMBER, by=team_setup["boss"])
    services.publish_roster(first, by=team_setup["boss"])
    second = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    services.publish_roster(second, by=team_setup["boss"])
    first.refresh_from_db()
    assert first.status == Roster.Status.SUPERSEDED


@time_machine.travel("2026-11-20 12:00Z")
def test_an_edit_after_publishing_is_versioned(team_setup):
    roster = services.publish_roster(
        planning_services.draft_roster(team_setup["rotation"], *DECEMBER, by=team_setup["boss"]),
        by=team_setup["boss"],
    )
    slot = roster.shifts.filter(role="secondary").order_by("start").last()
    others = [
        p
        for p in team_setup["people"]
        if not roster.shifts.filter(start=slot.start, assignee=p).exists()
    ]
    for person in others:
        try:
            planning_services.assign_slot(slot, person, by=team_setup["boss"])
            break
        except planning_services.AssignmentRefused:
            continue
    slot.refresh_from_db()
    roster.refresh_from_db()
    assert slot.sequence == 1 and roster.version == 2


# --- Through pages and the API: only a manager of that team ------------------------------------


def _clients(team_setup):
    other_team = TeamFactory()
    return {
        "engineer": team_setup["people"][0],
        "manager of another team": manager(other_team),
        "outsider": engineer(other_team),
    }


@time_machine.travel("2026-11-20 12:00Z")
@pytest.mark.parametrize("who", ["engineer", "manager of another team", "outsider"])
def test_only_the_teams_manager_can_draft_edit_or_publish_via_api(team_setup, who):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    user = _clients(team_setup)[who]
    api = APIClient()
    api.force_authenticate(user)
    shift = roster.shifts.first()
    responses = [
        api.post(
            f"/api/rotations/{team_setup['rotation'].pk}/draft/",
            {"month": "2026-12"},
            format="json",
        ),
        api.post(f"/api/shifts/{shift.pk}/assign/", {"assignee": user.pk}, format="json"),
        api.post(f"/api/rosters/{roster.pk}/publish/", format="json"),
    ]
    assert [r.status_code in (403, 404) for r in responses] == [True, True, True]
    roster.refresh_from_db()
    assert roster.status == "draft"


@time_machine.travel("2026-11-20 12:00Z")
@pytest.mark.parametrize("who", ["engineer", "manager of another team", "outsider"])
def test_only_the_teams_manager_can_draft_edit_or_publish_via_pages(client, team_setup, who):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    user = _clients(team_setup)[who]
    client.force_login(user)
    shift = roster.shifts.first()
    responses = [
        client.get(f"/rotations/{team_setup['rotation'].pk}/plan/"),
        client.post(
            f"/rotations/{team_setup['rotation'].pk}/draft/", {"month": "2026-12", "mode": "greedy"}
        ),
        client.post(f"/slots/{shift.pk}/assign/", {"assignee": user.pk}),
        client.post(f"/rosters/{roster.pk}/publish/"),
        client.get(f"/rosters/{roster.pk}/"),
        client.get(f"/rosters/{roster.pk}/audit.csv"),
    ]
    assert [r.status_code for r in responses] == [404] * 6
    roster.refresh_from_db()
    assert roster.status == "draft" and Roster.objects.count() == 1


@time_machine.travel("2026-11-20 12:00Z")
def test_manager_drafts_and_publishes_through_the_api(team_setup):
    api = APIClient()
    api.force_authenticate(team_setup["boss"])
    drafted = api.post(
        f"/api/rotations/{team_setup['rotation'].pk}/draft/", {"month": "2026-12"}, format="json"
    )
    assert drafted.status_code == 201, drafted.content
    published = api.post(f"/api/rosters/{drafted.json()['id']}/publish/")
    assert published.json()["status"] == "published"


@time_machine.travel("2026-11-20 12:00Z")
def test_a_refused_api_edit_says_why(team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    primary = roster.shifts.filter(role="primary").first()
    secondary = roster.shifts.get(start=primary.start, role="secondary")
    api = APIClient()
    api.force_authenticate(team_setup["boss"])
    response = api.post(
        f"/api/shifts/{secondary.pk}/assign/", {"assignee": primary.assignee_id}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"]


@time_machine.travel("2026-11-20 12:00Z")
def test_engineers_do_not_see_drafts_in_the_api(team_setup):
    planning_services.draft_roster(team_setup["rotation"], *DECEMBER, by=team_setup["boss"])
    api = APIClient()
    api.force_authenticate(team_setup["people"][0])
    assert api.get("/api/rosters/").json()["count"] == 0
    assert api.get("/api/shifts/").json()["count"] == 0


@time_machine.travel("2026-11-20 12:00Z")
def test_audit_log_exports_as_csv(client, team_setup):
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    client.force_login(team_setup["boss"])
    response = client.get(f"/rosters/{roster.pk}/audit.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert b"draft" in response.content


@time_machine.travel("2026-11-20 12:00Z")
def test_a_refused_edit_says_in_words_who_is_away_and_when_in_the_managers_zone(team_setup):
    team_setup["boss"].person.time_zone = "Europe/London"
    team_setup["boss"].person.save()
    roster = planning_services.draft_roster(
        team_setup["rotation"], *DECEMBER, by=team_setup["boss"]
    )
    slot = roster.shifts.filter(role="primary").order_by("start")[1]
    away = next(p for p in team_setup["people"] if p.pk != slot.assignee_id)
    Person.objects.filter(user=away).update(time_zone="Asia/Kolkata")
    away_start = slot.start - timedelta(days=1)
    availability_services.mark(away_start, slot.end, "unavailable", by=away, enforce_lock=False)
    with pytest.raises(planning_services.AssignmentRefused) as refused:
        planning_services.assign_slot(slot, away, by=team_setup["boss"])
    message = str(refused.value)
    assert message.startswith(f"{display_name(away)} is away ")
    assert "(Europe/London)" in message and "Asia/Kolkata" not in message


@time_machine.travel("2026-11-20 12:00Z")
def test_the_audit_log_shows_an_edited_shift_in_the_readers_zone(client, team_setup):
    boss = team_setup["boss"]
    Person.objects.filter(user=boss).update(time_zone="Asia/Kolkata")
    roster = planning_services.draft_roster(team_setup["rotation"], *DECEMBER, by=boss)
    slot = roster.shifts.filter(role="primary").order_by("start").first()
    taken = set(roster.shifts.filter(start=slot.start).values_list("assignee_id", flat=True))
    other = next(p for p in team_setup["people"] if p.pk not in taken)
    planning_services.assign_slot(slot, other, by=boss, override=True)
    client.force_login(boss)
    html = client.get(f"/rosters/{roster.pk}/").content.decode()
    audit = html[html.index('id="audit-title"') :]
    # The first weekly shift starts 09:00 in London on Mon 7 Dec: 14:30 in Kolkata.
    assert "Mon 7 Dec 14:30 IST" in audit
    assert " UTC:" not in audit


@time_machine.travel("2026-11-20 12:00Z")
def test_the_audit_csv_says_before_and_after_in_words(client, team_setup):
    boss = team_setup["boss"]
    roster = planning_services.draft_roster(team_setup["rotation"], *DECEMBER, by=boss)
    slot = roster.shifts.filter(role="primary").order_by("start").first()
    was = slot.assignee
    taken = set(roster.shifts.filter(start=slot.start).values_list("assignee_id", flat=True))
    other = next(p for p in team_setup["people"] if p.pk not in taken)
    planning_services.assign_slot(slot, other, by=boss, override=True)
    client.force_login(boss)

    rows = list(
        csv.reader(io.StringIO(client.get(f"/rosters/{roster.pk}/audit.csv").content.decode()))
    )

    assert rows[0][-2:] == ["before", "after"]
    edit = next(row for row in rows[1:] if row[2] in {"edit", "override"})
    assert f"assignee {display_name(was)}" in edit[-2]
    assert f"assignee {display_name(other)}" in edit[-1]
    assert "shift starting Mon 7 Dec 2026 09:00 UTC" in edit[-1]
    assert "{" not in edit[-1] and "None" not in edit[-1]
