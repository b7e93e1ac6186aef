"""Red-team findings in drafting, slot edits, swaps and locks, each pinned by a test."""

from collections import Counter
from datetime import UTC, date, datetime

import pytest
from rest_framework.test import APIClient

from availability.models import AvailabilityLock
from incidents.models import HookToken, IncidentSettings
from planning import inputs
from planning import services as planning
from rotation import services
from rotation.models import AuditEntry, Roster
from rotation.selectors import publish_token
from tests.factories import build_team

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))
SPRING = (date(2026, 3, 1), date(2026, 5, 1))
JANUARY = (date(2027, 1, 1), date(2027, 2, 1))
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
JUNK_MONTHS = ["2027-13", "2026-00", "9999-12", "0001-01"]


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("month", JUNK_MONTHS)
def test_a_manager_asking_the_api_to_draft_a_junk_month_is_told_which_field_is_wrong(month):
    setup = build_team(3)
    response = api_for(setup.boss).post(
        f"/api/rotations/{setup.rotation.pk}/draft/", {"month": month}, format="json"
    )
    assert response.status_code == 400
    assert "month" in response.json()
    assert not Roster.objects.filter(rotation=setup.rotation).exists()
    assert not AvailabilityLock.objects.filter(team=setup.team).exists()


@pytest.mark.parametrize("month", JUNK_MONTHS)
def test_a_manager_drafting_a_junk_month_on_the_page_is_refused_and_nothing_is_locked(
    client, month
):
    setup = build_team(3)
    client.force_login(setup.boss)
    response = client.post(f"/rotations/{setup.rotation.pk}/draft/", {"month": month})
    assert response.status_code == 400
    assert "YYYY-MM" in response.content.decode()
    assert not Roster.objects.filter(rotation=setup.rotation).exists()
    assert not AvailabilityLock.objects.filter(team=setup.team).exists()


@pytest.fixture
def published_slot():
    setup = build_team(4)
    roster = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)
    for number, shift in enumerate(roster.shifts.order_by("start", "role")):
        shift.assignee = setup.people[number % len(setup.people)]
        shift.save(update_fields=["assignee"])
    services.publish_roster(roster, by=setup.boss)
    return setup, roster.shifts.order_by("start").first()


@pytest.mark.parametrize("junk", ["-1", "0", "99999", "99999999999999999999999"])
def test_a_junk_person_id_on_the_slot_page_leaves_the_holder_in_place(client, published_slot, junk):
    setup, shift = published_slot
    holder = shift.assignee_id
    audit_rows = AuditEntry.objects.count()
    client.force_login(setup.boss)
    response = client.post(f"/slots/{shift.pk}/assign/", {"assignee": junk}, follow=True)
    shift.refresh_from_db()
    assert shift.assignee_id == holder
    assert AuditEntry.objects.count() == audit_rows
    page = response.content.decode()
    assert "No such person." in page
    assert "Saved." not in page


def test_an_empty_choice_on_the_slot_page_still_means_nobody(client, published_slot):
    setup, shift = published_slot
    client.force_login(setup.boss)
    client.post(f"/slots/{shift.pk}/assign/", {"assignee": "", "override": "on"})
    shift.refresh_from_db()
    assert shift.assignee_id is None


def test_someone_heavy_in_a_published_december_is_picked_less_in_january():
    setup = build_team(3, has_secondary=False)
    heavy, *others = setup.people
    spring = services.create_roster(setup.rotation, *SPRING, by=setup.boss)
    for number, week in enumerate(spring.shifts.order_by("start")):
        week.assignee = setup.people[number % 3]
        week.save(update_fields=["assignee"])
    services.publish_roster(spring, by=setup.boss)
    december = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)
    december.shifts.update(assignee=heavy)
    services.publish_roster(december, by=setup.boss)

    january = planning.draft_roster(setup.rotation, *JANUARY, by=setup.boss, now=NOW)

    weeks = Counter(january.shifts.values_list("assignee_id", flat=True))
    assert all(weeks[heavy.pk] < weeks[other.pk] for other in others)


def test_people_with_records_but_nobody_primary_ready_yet_are_not_left_unpaired_shifts():
    """Hard pairing with nobody experienced would empty every shift: it is waived instead."""
    setup = build_team(3, has_secondary=True)
    spring = services.create_roster(setup.rotation, *SPRING, by=setup.boss)
    first_secondary = spring.shifts.filter(role="secondary").order_by("start").first()
    first_secondary.assignee = setup.people[0]
    first_secondary.save(update_fields=["assignee"])
    services.publish_roster(spring, by=setup.boss)

    candidates = inputs.candidates_for(
        setup.rotation,
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
        now=NOW,
        settings=inputs.recommender_settings(setup.rotation),
    )

    assert all(c.experienced for c in candidates)


def test_a_draft_of_a_rotation_nobody_has_served_yet_says_pairing_was_not_applied():
    setup = build_team(3, has_secondary=True)

    january = planning.draft_roster(setup.rotation, *JANUARY, by=setup.boss, now=NOW)

    assert "nobody in this rotation is primary-ready yet" in january.summary["note"]


@pytest.mark.parametrize(
    ("period_start", "period_end", "field"),
    [("2027-03-01", "2036-01-01", "period_end"), ("2040-01-01", "2040-02-01", "period_start")],
)
def test_a_manager_cannot_lock_a_teams_availability_for_years(period_start, period_end, field):
    setup = build_team(2)
    response = api_for(setup.boss).post(
        "/api/availability-locks/",
        {"team": setup.team.pk, "period_start": period_start, "period_end": period_end},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not AvailabilityLock.objects.filter(team=setup.team).exists()


@pytest.mark.parametrize(
    "name",
    ["weight_hours_per_page", "off_hours_multiplier", "night_multiplier", "weekend_multiplier"],
)
def test_an_absurd_interruption_weight_is_refused_on_the_page(client, name):
    setup = build_team(2)
    values = {
        "weight_hours_per_page": "1",
        "off_hours_multiplier": "1.5",
        "night_multiplier": "3",
        "weekend_multiplier": "1.5",
    } | {name: "99999999999999999999"}
    client.force_login(setup.boss)
    response = client.post(f"/rotations/{setup.rotation.pk}/incidents/settings/", values)
    assert response.status_code == 400
    assert " between " in response.content.decode()
    assert not IncidentSettings.objects.filter(rotation=setup.rotation).exists()


def test_a_webhook_label_with_a_nul_byte_is_refused(client):
    setup = build_team(2)
    client.force_login(setup.boss)
    response = client.post(f"/rotations/{setup.rotation.pk}/incidents/hooks/", {"label": "\x00"})
    assert response.status_code == 400
    assert not HookToken.objects.filter(rotation=setup.rotation).exists()


@pytest.mark.parametrize(
    ("windows", "words"),
    [
        (
            [("Europe", "Europe/London", "08:00", "16:00"), ("Europe", "UTC", "16:00", "08:00")],
            "used twice",
        ),
        ([("Europe", "Europe/London", "08:00", "08:00")], "starts when it ends"),
    ],
)
def test_windows_with_a_repeated_label_or_no_length_are_refused_in_words(windows, words):
    setup = build_team(2)
    body = {
        "windows": [
            {"label": label, "time_zone": zone, "start": start, "end": end}
            for label, zone, start, end in windows
        ]
    }
    response = api_for(setup.boss).patch(
        f"/api/rotations/{setup.rotation.pk}/", body, format="json"
    )
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not setup.rotation.windows.exists()


def test_a_publish_checked_against_a_stale_preview_in_the_body_is_refused():
    setup = build_team(3, has_secondary=False)
    draft = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)

    response = api_for(setup.boss).post(
        f"/api/rosters/{draft.pk}/publish/", {"previewed": "an older preview"}, format="json"
    )

    assert response.status_code == 409
    draft.refresh_from_db()
    assert draft.status == Roster.Status.DRAFT


def test_a_publish_with_the_current_preview_in_the_body_goes_through():
    setup = build_team(3, has_secondary=False)
    draft = services.create_roster(setup.rotation, *DECEMBER, by=setup.boss)
    token = publish_token(roster=draft)

    response = api_for(setup.boss).post(
        f"/api/rosters/{draft.pk}/publish/", {"previewed": token}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "published"
