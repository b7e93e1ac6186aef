"""Duty requirements: who may hold which role, shadow shifts, claims, expiry and the dashboard."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from availability import selectors, services
from availability.models import DutyRequirement, Qualification
from onehand.errors import NotAllowed
from rotation import services as rotation_services
from rotation.models import Roster
from rotation.permissions import SYSTEM
from tests.factories import (
    DutyRequirementFactory,
    RotationFactory,
    TeamFactory,
    engineer,
    join_rotation,
    manager,
    verified,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def rotation_with_rules():
    """Primary needs IC training and prod access; secondary needs only prod access."""
    team = TeamFactory(name="Payments")
    boss = manager(team, username="boss")
    rotation = RotationFactory(team=team, name="Payments API", has_secondary=True, has_shadow=True)
    ic = DutyRequirementFactory(
        rotation=rotation,
        name="Incident commander training",
        kind="training",
        how_to_obtain="Take the IC course",
        how_to_url="https://learn.example.com/ic",
        valid_days=365,
    )
    prod = DutyRequirementFactory(
        rotation=rotation,
        name="Prod access",
        kind="access",
        gates_primary=True,
        gates_secondary=True,
    )
    return {"team": team, "boss": boss, "rotation": rotation, "ic": ic, "prod": prod}


def test_roles_follow_the_gating_requirements(rotation_with_rules):
    r = rotation_with_rules
    full, partial, none = (engineer(r["team"]) for _ in range(3))
    join_rotation(r["rotation"], full, partial, none)
    verified(full, r["ic"], obtained_on=date(2026, 1, 5))
    verified(full, r["prod"])
    verified(partial, r["prod"])
    roles = selectors.qualified_roles(
        rotation=r["rotation"], user_ids=[full.pk, partial.pk, none.pk], at=NOW
    )
    assert roles == {
        full.pk: frozenset({"primary", "secondary"}),
        partial.pk: frozenset({"secondary"}),
        none.pk: frozenset(),
    }


def test_a_role_nobody_gates_is_open_to_everyone():
    team = TeamFactory()
    rotation = RotationFactory(team=team, has_secondary=True)
    DutyRequirementFactory(rotation=rotation, gates_primary=True)
    person = engineer(team)
    join_rotation(rotation, person)
    assert selectors.qualified_roles(rotation=rotation, user_ids=[person.pk], at=NOW) == {
        person.pk: frozenset({"secondary"})
    }


def test_expired_claimed_and_rejected_qualifications_do_not_count(rotation_with_rules):
    r = rotation_with_rules
    expired, claimed, rejected = (engineer(r["team"]) for _ in range(3))
    verified(expired, r["prod"], obtained_on=date(2025, 1, 1), expires_on=date(2026, 1, 1))
    Qualification.objects.create(requirement=r["prod"], user=claimed, obtained_on=date(2026, 1, 1))
    Qualification.objects.create(
        requirement=r["prod"], user=rejected, obtained_on=date(2026, 1, 1), status="rejected"
    )
    roles = selectors.qualified_roles(
        rotation=r["rotation"], user_ids=[expired.pk, claimed.pk, rejected.pk], at=NOW
    )
    assert set(roles.values()) == {frozenset()}


def test_a_qualification_counts_until_the_day_it_expires(rotation_with_rules):
    r = rotation_with_rules
    person = engineer(r["team"])
    verified(person, r["prod"], obtained_on=date(2026, 1, 1), expires_on=date(2026, 12, 1))
    before = datetime(2026, 11, 30, 23, tzinfo=UTC)
    after = datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert selectors.qualified_roles(rotation=r["rotation"], user_ids=[person.pk], at=before)[
        person.pk
    ] == {"secondary"}
    assert (
        selectors.qualified_roles(rotation=r["rotation"], user_ids=[person.pk], at=after)[person.pk]
        == frozenset()
    )


def _publish_shadow_shifts(
    rotation, person, boss, weeks: int, *, period=(date(2026, 9, 1), date(2026, 10, 1))
):
    roster = rotation_services.create_roster(rotation, *period, by=SYSTEM)
    shadow_slots = list(roster.shifts.filter(role="shadow").order_by("start"))
    for shift in shadow_slots[:weeks]:
        shift.assignee = person
        shift.save()
    rotation_services.publish_roster(roster, by=boss)
    return roster


def test_shadow_shifts_are_met_by_past_published_shadow_shifts(rotation_with_rules):
    r = rotation_with_rules
    shadow = DutyRequirementFactory(
        rotation=r["rotation"], name="Shadow twice", kind="shadow_shifts", shadow_shifts_needed=2
    )
    person = engineer(r["team"])
    join_rotation(r["rotation"], person)
    verified(person, r["ic"], obtained_on=date(2026, 1, 5))
    verified(person, r["prod"])
    assert selectors.shadow_needs(rotation=r["rotation"], user_ids=[person.pk], at=NOW) == {
        person.pk: 2
    }
    _publish_shadow_shifts(r["rotation"], person, r["boss"], 1)
    assert selectors.shadow_needs(rotation=r["rotation"], user_ids=[person.pk], at=NOW) == {
        person.pk: 1
    }
    assert (
        "primary"
        not in selectors.qualified_roles(rotation=r["rotation"], user_ids=[person.pk], at=NOW)[
            person.pk
        ]
    )
    _publish_shadow_shifts(
        r["rotation"], person, r["boss"], 1, period=(date(2026, 10, 1), date(2026, 11, 1))
    )
    assert selectors.shadow_needs(rotation=r["rotation"], user_ids=[person.pk], at=NOW) == {
        person.pk: 0
    }
    assert selectors.qualified_roles(rotation=r["rotation"], user_ids=[person.pk], at=NOW)[
        person.pk
    ] == {
        "primary",
        "secondary",
    }
    # Shadow shifts can't be claimed: they count by themselves.
    with pytest.raises(services.AvailabilityError, match="count by themselves"):
        services.claim_qualification(shadow, obtained_on=date(2026, 1, 1), evidence="me", by=person)


def test_future_draft_and_repeated_shadow_slots_do_not_count(rotation_with_rules):
    r = rotation_with_rules
    DutyRequirementFactory(
        rotation=r["rotation"], name="Shadow", kind="shadow_shifts", shadow_shifts_needed=1
    )
    person = engineer(r["team"])
    # A draft roster doesn't count, nor does a published one still in the future.
    draft = rotation_services.create_roster(
        r["rotation"], date(2026, 9, 1), date(2026, 10, 1), by=SYSTEM
    )
    draft.shifts.filter(role="shadow").update(assignee=person)
    _publish_shadow_shifts(
        r["rotation"], person, r["boss"], 4, period=(date(2026, 12, 1), date(2027, 1, 1))
    )
    assert selectors.shadow_needs(rotation=r["rotation"], user_ids=[person.pk], at=NOW) == {
        person.pk: 1
    }


def test_a_superseded_roster_counts_once_and_the_replacement_decides(rotation_with_rules):
    r = rotation_with_rules
    DutyRequirementFactory(
        rotation=r["rotation"], name="Shadow", kind="shadow_shifts", shadow_shifts_needed=2
    )
    first, second = engineer(r["team"]), engineer(r["team"])
    old = _publish_shadow_shifts(r["rotation"], first, r["boss"], 2)
    # Version 2 of September gives the first shadow week to someone else.
    new = rotation_services.create_roster(
        r["rotation"], date(2026, 9, 1), date(2026, 10, 1), by=SYSTEM
    )
    slots = list(new.shifts.filter(role="shadow").order_by("start"))
    slots[0].assignee, slots[1].assignee = second, first
    slots[0].save()
    slots[1].save()
    rotation_services.publish_roster(new, by=r["boss"])
    assert Roster.objects.get(pk=old.pk).status == "superseded"
    needs = selectors.shadow_needs(rotation=r["rotation"], user_ids=[first.pk, second.pk], at=NOW)
    assert needs == {first.pk: 1, second.pk: 1}


def test_claim_then_verify_makes_the_requirement_met(rotation_with_rules):
    r = rotation_with_rules
    person = engineer(r["team"])
    join_rotation(r["rotation"], person)
    claim = services.claim_qualification(
        r["prod"], obtained_on=date(2026, 11, 1), evidence="Ticket OPS-1", by=person
    )
    assert claim.status == "claimed"
    statuses = {
        s.requirement.name: s.state
        for s in selectors.readiness_for(user=person, at=NOW)[0].requirements
    }
    assert statuses["Prod access"] == "pending"
    with pytest.raises(NotAllowed):
        services.review_qualification(claim, by=person, verify=True)
    services.review_qualification(claim, by=r["boss"], verify=True)
    services.review_qualification(claim, by=r["boss"], verify=True)  # a double click is harmless
    readiness = selectors.readiness_for(user=person, at=NOW)[0]
    assert {s.requirement.name: s.state for s in readiness.requirements}["Prod access"] == "met"
    assert readiness.eligible_roles == ("secondary",)
    assert readiness.summary == "You are eligible now for secondary, not yet for primary."


def test_claim_sets_expiry_from_the_requirement_and_flags_it_expiring(rotation_with_rules):
    r = rotation_with_rules
    person = engineer(r["team"])
    join_rotation(r["rotation"], person)
    obtained = (NOW - timedelta(days=350)).date()
    with time_machine.travel(NOW):
        claim = services.claim_qualification(
            r["ic"], obtained_on=obtained, evidence_url="https://x.example/c", by=person
        )
    assert claim.expires_on == obtained + timedelta(days=365)
    services.review_qualification(claim, by=r["boss"], verify=True)
    status = next(
        s
        for s in selectors.readiness_for(user=person, at=NOW)[0].requirements
        if s.requirement == r["ic"]
    )
    assert status.state == "expiring" and status.met and status.can_claim


def test_a_rejected_claim_stays_missing_and_shows_the_reason(rotation_with_rules):
    r = rotation_with_rules
    person = engineer(r["team"])
    join_rotation(r["rotation"], person)
    claim = services.claim_qualification(
        r["prod"], obtained_on=date(2026, 11, 1), evidence="trust me", by=person
    )
    services.review_qualification(claim, by=r["boss"], verify=False, note="No ticket number")
    status = next(
        s
        for s in selectors.readiness_for(user=person, at=NOW)[0].requirements
        if s.requirement == r["prod"]
    )
    assert status.state == "missing"
    assert status.rejected.review_note == "No ticket number"
    with pytest.raises(services.AvailabilityError):
        services.review_qualification(claim, by=r["boss"], verify=True)


def test_claims_need_evidence_membership_and_a_past_date(rotation_with_rules):
    r = rotation_with_rules
    outsider = engineer(r["team"])  # in the team, not in the rotation
    member = engineer(r["team"])
    join_rotation(r["rotation"], member)
    with pytest.raises(NotAllowed):
        services.claim_qualification(
            r["prod"], obtained_on=date(2026, 1, 1), evidence="x", by=outsider
        )
    with pytest.raises(services.AvailabilityError, match="evidence"):
        services.claim_qualification(r["prod"], obtained_on=date(2026, 1, 1), by=member)
    with pytest.raises(services.AvailabilityError, match="future"):
        services.claim_qualification(
            r["prod"], obtained_on=date(2099, 1, 1), evidence="x", by=member
        )


def test_one_open_claim_per_requirement_in_the_database(rotation_with_rules):
    r = rotation_with_rules
    person = engineer(r["team"])
    Qualification.objects.create(requirement=r["prod"], user=person, obtained_on=date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Qualification.objects.create(
            requirement=r["prod"], user=person, obtained_on=date(2026, 2, 1)
        )


def test_requirement_constraints_in_the_database(rotation_with_rules):
    with pytest.raises(IntegrityError), transaction.atomic():
        DutyRequirement.objects.create(
            rotation=rotation_with_rules["rotation"], name="Nothing", gates_primary=False
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        DutyRequirement.objects.create(
            rotation=rotation_with_rules["rotation"],
            name="Shadow",
            kind="shadow_shifts",
            shadow_shifts_needed=0,
        )


@pytest.mark.parametrize("size", [5, 50])
def test_qualified_roles_and_shadow_needs_take_flat_queries(
    size, rotation_with_rules, django_assert_num_queries
):
    r = rotation_with_rules
    DutyRequirementFactory(
        rotation=r["rotation"], name="Shadow", kind="shadow_shifts", shadow_shifts_needed=1
    )
    people = [engineer(r["team"]) for _ in range(size)]
    join_rotation(r["rotation"], *people)
    for person in people[::2]:
        verified(person, r["prod"])
    ids = [p.pk for p in people]
    with django_assert_num_queries(3):
        roles = selectors.qualified_roles(rotation=r["rotation"], user_ids=ids, at=NOW)
    assert sum(1 for v in roles.values() if v == {"secondary"}) == len(people[::2])
    with django_assert_num_queries(2):
        selectors.shadow_needs(rotation=r["rotation"], user_ids=ids, at=NOW)


@pytest.mark.parametrize("size", [5, 50])
def test_team_matrix_takes_flat_queries(size, rotation_with_rules, django_assert_num_queries):
    r = rotation_with_rules
    people = [engineer(r["team"]) for _ in range(size)]
    join_rotation(r["rotation"], *people)
    for person in people:
        Qualification.objects.create(
            requirement=r["prod"], user=person, obtained_on=date(2026, 1, 1)
        )
    with django_assert_num_queries(4):
        matrices = selectors.team_matrix(team=r["team"], at=NOW)
    assert len(matrices[0].rows) == size
    assert len(matrices[0].pending) == size


def test_readiness_for_takes_flat_queries(rotation_with_rules, django_assert_num_queries):
    r = rotation_with_rules
    DutyRequirementFactory(
        rotation=r["rotation"], name="Shadow", kind="shadow_shifts", shadow_shifts_needed=1
    )
    second = RotationFactory(team=r["team"])
    DutyRequirementFactory(rotation=second)
    person = engineer(r["team"])
    join_rotation(r["rotation"], person)
    join_rotation(second, person)
    with django_assert_num_queries(4):
        readiness = selectors.readiness_for(user=person, at=NOW)
    assert [x.rotation for x in readiness] == sorted([r["rotation"], second], key=lambda x: x.name)
