"""The load report: labelled axes and captions in words, and a default range that ends with the
latest published roster."""

from datetime import date, time

import pytest
import time_machine

from planning import services as planning_services
from rotation import services
from tests.factories import build_team

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-20 12:00Z")
def test_the_default_range_includes_the_month_just_published(client):
    setup = build_team(3, pattern="weekly", handoff_time=time(9))
    roster = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    services.publish_roster(roster, by=setup.boss)
    client.force_login(setup.boss)

    page = client.get(f"/rotations/{setup.rotation.pk}/report/").content.decode()

    assert 'name="to" value="2027-01-01"' in page
    assert "to 31 Dec 2026 (the last day included)" in page
    assert "Dec 2026" in page.split('id="trend-h"')[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_charts_have_labelled_axes_and_captions_in_words(client):
    setup = build_team(3, pattern="weekly", handoff_time=time(9))
    for month in (date(2026, 11, 1), date(2026, 12, 1)):
        end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        roster = planning_services.draft_roster(setup.rotation, month, end, by=setup.boss)
        services.publish_roster(roster, by=setup.boss)
    client.force_login(setup.boss)

    page = client.get(f"/rotations/{setup.rotation.pk}/report/").content.decode()

    assert ">On-call hours</text>" in page
    assert ">Gini (0 = even)</text>" in page and ">Month</text>" in page
    assert "<figcaption>Each bar is one person&#x27;s on-call hours" in page
    assert "Most even:" in page and "least even:" in page


def test_a_century_long_load_report_is_refused_in_words(client):
    setup = build_team(3, handoff_time=time(9))
    client.force_login(setup.people[0])

    response = client.get(f"/rotations/{setup.rotation.pk}/report/?from=1900-01-01&to=2199-12-31")

    assert response.status_code == 400
    assert "at most 3 years" in response.content.decode()
