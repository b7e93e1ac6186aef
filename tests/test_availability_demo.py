"""The availability demo data: believable, and safe to seed twice."""

from datetime import date

import pytest
from django.utils import timezone

from availability import selectors
from availability.demo import seed_availability_demo
from availability.models import AvailabilityEntry, ProjectAllocation, Qualification
from planning.demo import seed_demo
from rotation.models import RotationMember

pytestmark = pytest.mark.django_db


def test_demo_availability_is_believable_and_idempotent():
    today = date(2026, 11, 23)
    team = seed_demo(today, months_of_history=1)
    seed_availability_demo(team, today)
    counts = (
        Qualification.objects.count(),
        AvailabilityEntry.objects.count(),
        ProjectAllocation.objects.count(),
    )
    seed_availability_demo(team, today)
    assert counts == (
        Qualification.objects.count(),
        AvailabilityEntry.objects.count(),
        ProjectAllocation.objects.count(),
    )
    now = timezone.now()
    for rotation in team.rotations.all():
        ids = list(
            RotationMember.objects.filter(rotation=rotation).values_list("user_id", flat=True)
        )
        roles = selectors.qualified_roles(rotation=rotation, user_ids=ids, at=now)
        primaries = [uid for uid, r in roles.items() if "primary" in r]
        assert len(ids) - 2 <= len(primaries) < len(ids)
    matrix = selectors.team_matrix(team=team, at=now)
    assert all(len(m.pending) == 1 for m in matrix)
