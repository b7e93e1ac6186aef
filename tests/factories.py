from datetime import date, time

import factory
from django.contrib.auth import get_user_model

from rotation.models import Membership, Person, Rotation, RotationMember, Team

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
    from availability.models import Qualification

    return Qualification.objects.create(
        requirement=requirement,
        user=user,
        obtained_on=obtained_on,
        expires_on=expires_on,
        evidence="Certificate",
        status=Qualification.Status.VERIFIED,
        reviewed_by=by,
    )
