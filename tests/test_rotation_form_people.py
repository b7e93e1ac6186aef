"""The rotation settings form: people chosen under their "People" legend, names not usernames."""

import re

import pytest

from tests.factories import build_team

pytestmark = pytest.mark.django_db


def test_the_people_checkboxes_sit_under_their_people_legend(client):
    setup = build_team(2, names=["Amara", "Ben"])
    client.force_login(setup.boss)

    page = client.get(f"/teams/{setup.team.slug}/rotations/new/").content.decode()

    group = re.search(r"<fieldset class=\"people-choice\".*?</fieldset>", page, re.S).group(0)
    assert "<legend>People</legend>" in group
    assert group.count('type="checkbox"') == 3  # the manager and two engineers
    assert "Amara Eng0" in group


def test_lead_and_mentor_are_chosen_by_display_name(client):
    setup = build_team(1, names=["Amara"])
    client.force_login(setup.boss)

    page = client.get(f"/teams/{setup.team.slug}/rotations/new/").content.decode()

    lead = re.search(r'<select name="lead".*?</select>', page, re.S).group(0)
    mentor = re.search(r'<select name="mentor".*?</select>', page, re.S).group(0)
    assert "Amara Eng0" in lead and "Amara Eng0" in mentor
    assert "amara0" not in lead and "amara0" not in mentor
