"""Bus factor: how many people are ready for primary, its trend by month, and the warning."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning.experience import History, Thresholds, bus_factor_by_month, bus_factor_words
from rotation.history import import_history
from tests.factories import DutyRequirementFactory, build_team, verified
from tests.test_experience import history_csv

pytestmark = pytest.mark.django_db


def served_secondaries(setup, person, mondays):
    import_history(
        setup.team,
        history_csv(setup.rotation, [(person, "secondary", day) for day in mondays]),
        by=setup.boss,
    )


MAY_MONDAYS = ["2026-05-04", "2026-05-11", "2026-05-18", "2026-05-25"]
JULY_MONDAYS = ["2026-07-06", "2026-07-13", "2026-07-20", "2026-07-27"]


def test_the_bus_factor_rises_in_the_month_someone_becomes_primary_ready():
    setup = build_team(3, names=["Amara", "Dev", "Leo"])
    amara, dev, _ = setup.people
    served_secondaries(setup, dev, MAY_MONDAYS)
    served_secondaries(setup, amara, JULY_MONDAYS)

    trend = bus_factor_by_month(
        rotation=setup.rotation,
        start=datetime(2026, 4, 1, tzinfo=UTC),
        end=datetime(2026, 9, 1, tzinfo=UTC),
    )

    # Dev's fourth secondary ends 1 June; Amara's ends 3 August.
    assert trend == [
        (date(2026, 4, 1), 0),
        (date(2026, 5, 1), 0),
        (date(2026, 6, 1), 1),
        (date(2026, 7, 1), 1),
        (date(2026, 8, 1), 2),
    ]


def test_only_people_qualified_for_primary_count():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    training = DutyRequirementFactory(rotation=setup.rotation, gates_primary=True)
    verified(dev, training)
    served_secondaries(setup, dev, MAY_MONDAYS)
    served_secondaries(setup, amara, JULY_MONDAYS[:3] + ["2026-06-01"])

    trend = bus_factor_by_month(
        rotation=setup.rotation,
        start=datetime(2026, 8, 1, tzinfo=UTC),
        end=datetime(2026, 9, 1, tzinfo=UTC),
    )

    assert trend == [(date(2026, 8, 1), 1)]


def test_the_caption_says_the_trend_and_the_warning_in_words():
    points = [(date(2026, 6, 1), 1), (date(2026, 7, 1), 1), (date(2026, 8, 1), 3)]

    assert bus_factor_words(points, warn_below=2) == (
        "People ready for primary: 1 in June 2026, 3 in August 2026 (rising); "
        "the rotation warns below 2, as in June 2026, July 2026."
    )


@time_machine.travel("2026-11-20 12:00Z")
def test_the_plan_page_warns_when_too_few_are_ready_for_primary(client):
    setup = build_team(3, names=["Amara", "Dev", "Leo"], bus_factor_warning=2)
    served_secondaries(setup, setup.people[1], MAY_MONDAYS)
    client.force_login(setup.boss)

    html = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert "Bus factor low:" in html
    assert "1 person is ready for primary (Dev Eng1); the rotation warns below 2" in html


@time_machine.travel("2026-11-20 12:00Z")
def test_no_warning_when_enough_are_ready(client):
    setup = build_team(2, names=["Amara", "Dev"], bus_factor_warning=1)
    served_secondaries(setup, setup.people[1], MAY_MONDAYS)
    client.force_login(setup.boss)

    html = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert "Bus factor low" not in html


@time_machine.travel("2026-11-20 12:00Z")
def test_the_plan_page_shows_each_persons_level_and_next_step(client):
    setup = build_team(2, names=["Amara", "Dev"])
    served_secondaries(setup, setup.people[0], MAY_MONDAYS[:2])
    client.force_login(setup.boss)

    html = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12").content.decode()

    assert '<th scope="col">Experience</th>' in html
    assert "secondary-ready" in html and "2 more secondary shifts before primary" in html
    assert "2 more shadow shifts before secondary" in html


@time_machine.travel("2026-11-20 12:00Z")
def test_the_report_page_draws_the_bus_factor_with_a_caption_and_a_table(client):
    setup = build_team(2, names=["Amara", "Dev"])
    served_secondaries(setup, setup.people[1], MAY_MONDAYS)
    client.force_login(setup.boss)

    html = client.get(
        f"/rotations/{setup.rotation.pk}/report/?from=2026-05-01&to=2026-08-01"
    ).content.decode()

    assert '<title id="bus-title">People ready for primary, by month</title>' in html
    assert "People ready for primary: 0 in May 2026, 1 in July 2026 (rising)" in html
    assert '<th scope="row">June 2026</th><td>1' in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>")[0]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_report_page_costs_the_same_queries_for_5_and_50_people(client):
    counts = []
    for size in (5, 50):
        setup = build_team(size, prefix=f"r{size}")
        served_secondaries(setup, setup.people[0], MAY_MONDAYS)
        client.force_login(setup.boss)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(
                f"/rotations/{setup.rotation.pk}/report/?from=2026-05-01&to=2026-11-01"
            )
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@time_machine.travel("2026-11-20 12:00Z")
def test_the_plan_page_costs_the_same_queries_for_5_and_50_people_with_history(client):
    counts = []
    for size in (5, 50):
        setup = build_team(size, prefix=f"p{size}")
        served_secondaries(setup, setup.people[0], MAY_MONDAYS)
        client.force_login(setup.boss)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/rotations/{setup.rotation.pk}/plan/?month=2026-12")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "thresholds", [Thresholds(), Thresholds(primary_ready=1), Thresholds(first_primaries_paired=0)]
)
def test_the_bus_factors_quick_check_agrees_with_the_level_everyone_reads(thresholds):
    """The month-by-month trend asks only "experienced?", without the level's words."""
    at = datetime(2026, 6, 1, tzinfo=UTC)
    for primaries in range(4):
        for secondaries in range(6):
            history = History(
                thresholds=thresholds,
                ends={
                    (1, "primary"): [datetime(2026, 1, 1, tzinfo=UTC)] * primaries,
                    (1, "secondary"): [datetime(2026, 1, 1, tzinfo=UTC)] * secondaries,
                },
                incidents={},
            )
            assert history.experienced(1, at) == history.experience(1, at).experienced
