"""A believable demo team: a manager, 12 engineers in 3 time zones, 2 rotations, history."""

import random
from datetime import date, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from . import services
from .models import Membership, Person, Roster, Rotation, RotationMember, Shift, Team
from .permissions import SYSTEM
from .shifts import month_bounds

User = get_user_model()
DEMO_PASSWORD = "onehand-demo"  # noqa: S105 - documented demo logins, never used in production

PEOPLE = [
    # username, first, last, zone, country, phone
    ("amara", "Amara", "Okafor", "Europe/London", "GB", "+44 20 7946 0101"),
    ("ben", "Ben", "Hughes", "Europe/London", "GB", "+44 20 7946 0102"),
    ("chloe", "Chloé", "Martin", "Europe/London", "GB", "+44 20 7946 0103"),
    ("dev", "Dev", "Sharma", "Europe/London", "GB", "+44 20 7946 0104"),
    ("elena", "Elena", "Rossi", "America/New_York", "US", "+1 212 555 0105"),
    ("frank", "Frank", "Miller", "America/New_York", "US", "+1 212 555 0106"),
    ("grace", "Grace", "Kim", "America/New_York", "US", "+1 212 555 0107"),
    ("hector", "Héctor", "Ruiz", "America/New_York", "US", "+1 212 555 0108"),
    ("isha", "Isha", "Iyer", "Asia/Kolkata", "IN", "+91 80 5555 0109"),
    ("jay", "Jay", "Menon", "Asia/Kolkata", "IN", "+91 80 5555 0110"),
    ("kavya", "Kavya", "Rao", "Asia/Kolkata", "IN", "+91 80 5555 0111"),
    ("leo", "Leo", "Fernandes", "Asia/Kolkata", "IN", "+91 80 5555 0112"),
]
MANAGER = ("maya", "Maya", "Patel", "Europe/London", "GB", "+44 20 7946 0100")


def _user(username, first, last, zone, country, phone) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@onehand.example"},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    services.ensure_person(user, by=SYSTEM, time_zone=zone, country=country, phone=phone)
    return user


def _fill(roster: Roster, people: list, rng: random.Random) -> None:
    """Round-robin with a shuffle: good enough for believable past history. Nobody is put on a
    slot that overlaps a shift they already hold in another published rotation."""
    queue: list = []
    by_start: dict = {}
    for shift in roster.shifts.order_by("start", "role"):
        by_start.setdefault(shift.start, []).append(shift)
    elsewhere: dict[int, list] = {}
    for user_id, start, end in (
        Shift.objects.filter(
            roster__status=Roster.Status.PUBLISHED,
            assignee__isnull=False,
            start__lt=roster.shifts.order_by("-end").values("end")[:1],
            end__gt=roster.shifts.order_by("start").values("start")[:1],
        )
        .exclude(roster__rotation_id=roster.rotation_id)
        .values_list("assignee_id", "start", "end")
    ):
        elsewhere.setdefault(user_id, []).append((start, end))

    def free(person, shift) -> bool:
        return not any(a < shift.end and shift.start < b for a, b in elsewhere.get(person.pk, ()))

    for slots in by_start.values():
        taken: set[int] = set()
        for shift in slots:
            if not queue:
                queue = people[:]
                rng.shuffle(queue)
            pick = next((p for p in queue if p.pk not in taken and free(p, shift)), None)
            if pick is None:
                continue
            queue.remove(pick)
            taken.add(pick.pk)
            shift.assignee = pick
            shift.reason = {"summary": "Imported demo history"}
    Shift.objects.bulk_update(
        [s for slots in by_start.values() for s in slots], ["assignee", "reason"]
    )


@transaction.atomic
def seed_rotation_demo(today: date, *, months_of_history: int = 6) -> Team:
    manager = _user(*MANAGER)
    engineers = [_user(*row) for row in PEOPLE]
    for i, engineer in enumerate(engineers):
        Person.objects.filter(user=engineer).update(mentor=engineers[(i + 4) % len(engineers)])
    team, _ = Team.objects.get_or_create(slug="payments", defaults={"name": "Payments"})
    Membership.objects.get_or_create(
        team=team, user=manager, defaults={"role": Membership.Role.MANAGER}
    )
    for engineer in engineers:
        Membership.objects.get_or_create(team=team, user=engineer)

    api, _ = Rotation.objects.get_or_create(
        team=team,
        name="Payments API",
        defaults={
            "time_zone": "Europe/London",
            "pattern": Rotation.Pattern.WEEKLY,
            "handoff_weekday": 0,
            "handoff_time": time(9, 0),
            "has_secondary": True,
            "lead": manager,
            "runbook_url": "https://runbooks.onehand.example/payments-api",
        },
    )
    checkout, _ = Rotation.objects.get_or_create(
        team=team,
        name="Checkout web",
        defaults={
            "time_zone": "America/New_York",
            "pattern": Rotation.Pattern.DAILY,
            "handoff_time": time(10, 0),
            "has_secondary": True,
            "lead": manager,
            "runbook_url": "https://runbooks.onehand.example/checkout",
        },
    )
    rng = random.Random(20261123)  # noqa: S311 - demo data, not security
    this_month, _ = month_bounds(today)
    first_month = this_month
    for _ in range(months_of_history):
        first_month = (first_month - timedelta(days=1)).replace(day=1)
    for rotation, people in ((api, engineers), (checkout, engineers[:8])):
        for person in people:
            RotationMember.objects.get_or_create(
                rotation=rotation, user=person, defaults={"since": first_month}
            )
        if rotation.rosters.exists():
            continue
        month = first_month
        while month <= this_month:
            start, end = month_bounds(month)
            roster = services.create_roster(rotation, start, end, by=manager)
            _fill(roster, people, rng)
            services.publish_roster(roster, by=manager)
            month = end
    return team
