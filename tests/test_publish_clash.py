"""A roster drafted before another rotation published cannot put someone on two shifts at once."""

from datetime import UTC, date, datetime

import pytest
from rest_framework.test import APIClient

from onehand.errors import RuleBroken
from rotation.models import Rotation, Shift
from rotation.services import create_roster, publish_roster
from tests.factories import RotationFactory, build_team, join_rotation

pytestmark = pytest.mark.django_db

MONTH = (date(2031, 3, 1), date(2031, 4, 1))
MONDAY = datetime(2031, 3, 3, 9, tzinfo=UTC)


@pytest.fixture
def ben_in_two_rotations():
    setup = build_team(3, names=["Ben", "Dev", "Isha"], pattern=Rotation.Pattern.WEEKLY)
    ben = setup.people[0]
    web = RotationFactory(team=setup.team, name="Checkout web", pattern=Rotation.Pattern.WEEKLY)
    join_rotation(web, *setup.people)
    api_draft = create_roster(setup.rotation, *MONTH, by=setup.boss)
    web_draft = create_roster(web, *MONTH, by=setup.boss)
    for draft in (api_draft, web_draft):
        Shift.objects.filter(roster=draft, start=MONDAY, role="primary").update(assignee=ben)
    publish_roster(web_draft, by=setup.boss)
    return setup, api_draft


def test_publishing_a_draft_that_double_books_someone_is_refused_in_words(ben_in_two_rotations):
    setup, api_draft = ben_in_two_rotations

    with pytest.raises(RuleBroken) as refused:
        publish_roster(api_draft, by=setup.boss)

    assert "Ben Eng0 would be primary from Mon 03 Mar 09:00 while also primary in Checkout web" in (
        str(refused.value)
    )
    api_draft.refresh_from_db()
    assert api_draft.status == "draft"


def test_the_api_answers_409_and_publishes_nothing(ben_in_two_rotations):
    setup, api_draft = ben_in_two_rotations
    client = APIClient()
    client.force_authenticate(setup.boss)

    response = client.post(f"/api/rosters/{api_draft.pk}/publish/")

    assert response.status_code == 409
    assert "Checkout web" in response.json()["detail"]


def test_a_slot_chosen_by_override_may_still_be_published(ben_in_two_rotations):
    setup, api_draft = ben_in_two_rotations
    Shift.objects.filter(roster=api_draft, start=MONDAY, role="primary").update(overridden=True)

    published = publish_roster(api_draft, by=setup.boss)

    assert published.status == "published"


def test_the_preview_lists_the_double_booking_before_the_manager_publishes(
    client, ben_in_two_rotations
):
    setup, api_draft = ben_in_two_rotations
    client.force_login(setup.boss)

    page = client.get(f"/rosters/{api_draft.pk}/preview/").content.decode()

    assert "Cannot publish yet" in page
    assert "while also primary in Checkout web" in page
