from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import factory
from django.contrib.auth import get_user_model
from django.db import transaction

from availability.models import Qualification
from planning.models import DraftJob
from rotation.events import shifts_reassigned
from rotation.models import (
    Membership,
    Person,
    Roster,
    Rotation,
    RotationMember,
    Shift,
    Team,
)

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-123")

    @factory.post_generation
    def time_zone(user, create, extracted, **kwargs):
        user.save()
        if extracted:
            Person.objects.filter(user=user).update(time_zone=extracted)
            user.person.refresh_from_db()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    # Tests of small teams are not about the on-call cap (30% by default, which a team with a
    # secondary slot needs 7 people to meet); the cap's own tests set it.
    max_oncall_share = 100


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.ENGINEER


class RotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rotation

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Rotation {n}")
    time_zone = "Europe/London"
    pattern = Rotation.Pattern.WEEKLY
    handoff_weekday = 0
    handoff_time = time(9, 0)


def engineer(team, **kwargs):
    user = UserFactory(**kwargs)
    MembershipFactory(team=team, user=user, role=Membership.Role.ENGINEER)
    return user


def manager(team, **kwargs):
    user = UserFactory(**kwargs)
    MembershipFactory(team=team, user=user, role=Membership.Role.MANAGER)
    return user


def join_rotation(rotation, *users, since=date(2020, 1, 1)):
    for user in users:
        RotationMember.objects.get_or_create(
            rotation=rotation, user=user, defaults={"since": since}
        )


# --- availability --------------------------------------------------------------------------


class DutyRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "availability.DutyRequirement"

    rotation = factory.SubFactory(RotationFactory)
    name = factory.Sequence(lambda n: f"Requirement {n}")
    kind = "training"
    how_to_obtain = "Book the course."
    gates_primary = True


def verified(user, requirement, *, obtained_on=date(2020, 1, 1), expires_on=None, by=None):
    """A verified qualification, straight into the database (no review workflow)."""
    return Qualification.objects.create(
        requirement=requirement,
        user=user,
        obtained_on=obtained_on,
        expires_on=expires_on,
        evidence="Certificate",
        status=Qualification.Status.VERIFIED,
        reviewed_by=by,
    )


# --- one builder for a whole team ----------------------------------------------------------


@dataclass
class TeamSetup:
    team: Team
    boss: object
    people: list
    rotation: Rotation


def build_team(
    size: int = 10,
    *,
    names: list[str] | None = None,
    prefix: str = "",
    phones: bool = False,
    boss_fields: dict | None = None,
    **rotation_fields,
) -> TeamSetup:
    """A team with a manager (who leads the rotation) and `size` engineers in one rotation.

    Every test that needs "a team" starts here; keyword arguments go to the rotation.
    """
    team = TeamFactory()
    boss = manager(team, **(boss_fields or {"username": f"{prefix}boss-{team.slug}"}))
    if phones:
        Person.objects.filter(user=boss).update(phone="+44 20 7946 0999")
    people = []
    for number in range(size):
        fields = {"first_name": f"Eng{number}"}
        if names:
            name = names[number % len(names)]
            fields = {
                "username": f"{prefix}{name.lower()}{number}",
                "first_name": name,
                "last_name": f"Eng{number}",
            }
        user = engineer(team, **fields)
        if phones:
            Person.objects.filter(user=user).update(phone=f"+44 20 7946 {number:04d}")
        people.append(user)
    rotation_fields.setdefault("lead", boss)
    rotation = RotationFactory(team=team, **rotation_fields)
    join_rotation(rotation, *people)
    return TeamSetup(team=team, boss=boss, people=people, rotation=rotation)


def daily_roster(setup: TeamSetup, first: date, last: date, status: str, *, at: time = time(9)):
    """A roster of [first, last) with a primary and a secondary every day from `at` UTC, the
    team taking turns (primary and secondary in order through `setup.people`)."""
    roster = Roster.objects.create(
        rotation=setup.rotation, period_start=first, period_end=last, status=status
    )
    shifts, day, n = [], first, 0
    while day < last:
        start = datetime.combine(day, at, tzinfo=UTC)
        for role in ("primary", "secondary"):
            shifts.append(
                Shift(
                    roster=roster,
                    role=role,
                    start=start,
                    end=start + timedelta(days=1),
                    assignee=setup.people[n % len(setup.people)],
                )
            )
            n += 1
        day += timedelta(days=1)
    Shift.objects.bulk_create(shifts)
    return roster


def draft_job(setup: TeamSetup, first: date = date(2027, 1, 1), **fields) -> DraftJob:
    """The team manager's draft job for the month starting `first`, as a worker left it:
    waiting for a worker unless `fields` say otherwise (state, stage, progress, error...)."""
    fields.setdefault("requested_by", setup.boss)
    fields.setdefault("updated_at", datetime.now(UTC))
    return DraftJob.objects.create(
        rotation=setup.rotation,
        period_start=first,
        period_end=(first + timedelta(days=31)).replace(day=1),
        **fields,
    )


def reassign(shift, user) -> None:
    """What a manager edit or a swap does to a slot: new assignee, bumped sequence, the event."""
    with transaction.atomic():
        previous = shift.assignee_id
        shift.assignee = user
        shift.sequence += 1
        shift.save(update_fields=["assignee", "sequence"])
        shifts_reassigned.send(sender=Shift, changes=[(shift, previous)])
