"""Red-team findings in drafting, slot edits, swaps and locks, each pinned by a test."""

import pytest
from rest_framework.test import APIClient

from availability.models import AvailabilityLock
from rotation.models import Roster
from tests.factories import build_team

pytestmark = pytest.mark.django_db
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
