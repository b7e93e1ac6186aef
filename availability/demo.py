"""Believable requirements, qualifications, availability and allocation for the demo team.

Called by the demo seeding after the team, its people and rotations exist; safe to run
again (nothing is added twice).
"""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from rotation.models import Membership, RotationMember, Team

from . import intervals as iv
from .models import AvailabilityEntry, DutyRequirement, ProjectAllocation, Qualification
from .selectors import next_month

REQUIREMENTS = [
    # name, kind, roles, valid days, how to obtain, link
    (
        "Production access",
        DutyRequirement.Kind.ACCESS,
        ["primary", "secondary"],
        None,
        "Request the prod-oncall group in the access portal; your manager approves it.",
        "https://access.example.com/groups/prod-oncall",
    ),
    (
        "Incident commander training",
        DutyRequirement.Kind.TRAINING,
        ["primary"],
        365,
        "Take the two-hour incident commander course, then run one practice call.",
        "https://learn.example.com/incident-commander",
    ),
]


@transaction.atomic
def seed_availability_demo(team: Team, today: date) -> None:
    boss = (
        Membership.objects.filter(team=team, role=Membership.Role.MANAGER)
        .select_related("user")
        .first()
    )
    boss = boss.user if boss else None
    for rotation in team.rotations.order_by("name"):
        requirements = []
        for name, kind, roles, valid_days, how, url in REQUIREMENTS:
            requirement, _ = DutyRequirement.objects.get_or_create(
                rotation=rotation,
                name=name,
                defaults={
                    "kind": kind,
                    "gates_primary": "primary" in roles,
                    "gates_secondary": "secondary" in roles,
                    "valid_days": valid_days,
                    "how_to_obtain": how,
                    "how_to_url": url,
                },
            )
            requirements.append(requirement)
        access, training = requirements
        members = [
            m.user
            for m in RotationMember.objects.filter(rotation=rotation)
            .select_related("user")
            .order_by("user__username")
        ]
        for index, user in enumerate(members):
            _verified(user, access, today - timedelta(days=200), boss)
            if index == len(members) - 1:
                continue  # the newest member still has to do the course
            if index == len(members) - 2:
                if not Qualification.objects.filter(requirement=training, user=user).exists():
                    Qualification.objects.create(
                        requirement=training,
                        user=user,
                        obtained_on=today - timedelta(days=3),
                        expires_on=today - timedelta(days=3) + timedelta(days=365),
                        evidence="Finished the course on Monday; practice call with Maya.",
                    )
                continue
            # One certificate runs out soon, so the dashboard has something to warn about.
            obtained = today - timedelta(days=350 if index == 0 else 100)
            _verified(user, training, obtained, boss, obtained + timedelta(days=365))

    month = next_month(today)
    engineers = list(
        Membership.objects.filter(team=team, role=Membership.Role.ENGINEER)
        .select_related("user__person")
        .order_by("user__username")
    )
    for index, membership in enumerate(engineers):
        user = membership.user
        tz = ZoneInfo(user.person.time_zone)
        if index % 4 == 0:
            first = month + timedelta(days=7 + index % 7)
            _entry(
                user, *iv.local_days(first, first + timedelta(days=4), tz), "unavailable", "Holiday"
            )
        elif index % 4 == 2:
            saturday = month + timedelta(days=(5 - month.weekday()) % 7 + 7)
            _entry(
                user, *iv.local_days(saturday, saturday + timedelta(days=1), tz), "preferred", ""
            )
        if index % 3 == 0:
            ProjectAllocation.objects.update_or_create(
                user=user,
                team=team,
                project="Ledger migration",
                period_start=month,
                period_end=next_month(month),
                defaults={"percent": 50 if index % 2 == 0 else 20, "set_by": boss},
            )


def _verified(user, requirement, obtained_on, boss, expires_on=None) -> None:
    if Qualification.objects.filter(requirement=requirement, user=user).exists():
        return
    Qualification.objects.create(
        requirement=requirement,
        user=user,
        obtained_on=obtained_on,
        expires_on=expires_on,
        evidence="Checked by the manager",
        status=Qualification.Status.VERIFIED,
        reviewed_by=boss,
        reviewed_at=timezone.now(),
    )


def _entry(user, start, end, kind, reason) -> None:
    if AvailabilityEntry.objects.filter(user=user, start__lt=end, end__gt=start).exists():
        return
    AvailabilityEntry.objects.create(user=user, start=start, end=end, kind=kind, reason=reason)
