"""Interruption load: pages weighted by when they hit, in the paged person's own zone."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from incidents import selectors, services
from incidents.models import Incident
from incidents.weights import Profile, Weights, classify
from onehand.errors import Invalid, NotAllowed
from rotation.models import Person
from rotation.permissions import SYSTEM
from tests.incidents_support import primary_at, published_rotation

LONDON = Profile(time_zone="Europe/London", country="GB")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_page_in_working_hours_weighs_one():
    page = classify(_at("2026-03-04T10:00:00+00:00"), LONDON)
    assert (page.off_hours, page.night, page.weekend, page.holiday) == (False,) * 4
    assert page.weight(Weights()) == 1.0


def test_a_page_in_the_evening_is_outside_working_hours_but_not_night():
    page = classify(_at("2026-03-04T19:00:00+00:00"), LONDON)
    assert (page.off_hours, page.night) == (True, False)
    assert page.weight(Weights()) == 1.5


def test_a_page_at_two_in_the_morning_interrupts_the_previous_evenings_night():
    page = classify(_at("2026-03-05T02:00:00+00:00"), LONDON)
    assert page.night
    assert page.night_of == date(2026, 3, 4)


def test_night_is_read_in_the_persons_own_zone():
    tokyo = Profile(time_zone="Asia/Tokyo", country="JP")
    page = classify(_at("2026-03-04T14:00:00+00:00"), tokyo)  # 23:00 in Tokyo
    assert page.night


def test_a_saturday_night_page_multiplies_night_and_weekend():
    page = classify(_at("2026-03-07T23:30:00+00:00"), LONDON)
    assert (page.weekend, page.night) == (True, True)
    assert page.weight(Weights()) == 4.5


def test_a_public_holiday_in_the_persons_country_counts():
    page = classify(_at("2026-12-25T11:00:00+00:00"), LONDON)
    assert (page.holiday, page.off_hours) == (True, True)


def test_a_person_working_late_hours_is_not_off_hours_in_them():
    late = Profile(time_zone="UTC", work_start=time(14), work_end=time(22), country="GB")
    assert not classify(_at("2026-03-04T20:00:00+00:00"), late).off_hours


@pytest.fixture
def setup(db):
    return published_rotation()


def _incident(setup, at: str, title: str = "Page"):
    started = datetime.fromisoformat(at)
    return services.record_incident(setup.rotation, by=setup.boss, title=title, started_at=started)


WINDOW = {"start": datetime(2026, 3, 2, tzinfo=UTC), "end": datetime(2026, 3, 9, tzinfo=UTC)}


def test_load_counts_pages_nights_and_hours_for_the_primary(setup):
    _incident(setup, "2026-03-04T02:00:00+00:00", "a")
    _incident(setup, "2026-03-04T03:00:00+00:00", "b")
    person = primary_at(setup, datetime(2026, 3, 4, 2, tzinfo=UTC))
    load = selectors.interruption_load(rotation_id=setup.rotation.pk, **WINDOW)[person.pk]
    assert (load.pages, load.night_pages, load.nights_interrupted) == (2, 2, 1)
    assert load.hours_equivalent == 6.0


def test_the_rotation_setting_scales_the_hours_equivalent(setup):
    _incident(setup, "2026-03-04T11:00:00+00:00")
    services.update_settings(setup.rotation, by=setup.boss, weight_hours_per_page=Decimal("2.5"))
    (load,) = selectors.interruption_load(rotation_id=setup.rotation.pk, **WINDOW).values()
    assert load.hours_equivalent == 2.5


def test_a_recorded_escalation_pages_the_secondary_too(setup):
    incident = services.record_incident(
        setup.rotation,
        by=setup.boss,
        title="Escalated",
        started_at=datetime(2026, 3, 4, 11, tzinfo=UTC),
        escalation="secondary",
    )
    loads = selectors.interruption_load(rotation_id=setup.rotation.pk, **WINDOW)
    assert incident.escalated_to_id not in (None, incident.attributed_to_id)
    assert loads[incident.escalated_to_id].escalations == 1
    assert loads[incident.attributed_to_id].pages == 1


def test_load_is_weighted_in_the_paged_persons_zone(setup):
    person = primary_at(setup, datetime(2026, 3, 4, 14, tzinfo=UTC))
    Person.objects.filter(user=person).update(time_zone="Asia/Tokyo")
    _incident(setup, "2026-03-04T14:00:00+00:00")
    load = selectors.interruption_load(rotation_id=setup.rotation.pk, **WINDOW)[person.pk]
    assert load.night_pages == 1


def test_recording_the_same_incident_twice_keeps_one(setup):
    _incident(setup, "2026-03-04T11:00:00+00:00", "Same")
    _incident(setup, "2026-03-04T11:00:00+00:00", "Same")
    assert Incident.objects.count() == 1


def test_an_engineer_cannot_record_an_incident(setup):
    with pytest.raises(NotAllowed):
        services.record_incident(
            setup.rotation,
            by=setup.people[0],
            title="x",
            started_at=datetime(2026, 3, 4, tzinfo=UTC),
        )


CSV_OK = (
    "title,started_at,resolved_at,severity,escalation\n"
    "Disk full,2026-03-04T02:00:00Z,2026-03-04T02:30:00Z,page,\n"
    "API 5xx,2026-03-05T13:00:00+01:00,,high,secondary\n"
)


def test_a_csv_import_creates_each_row_once(setup):
    first = services.import_csv(setup.rotation, CSV_OK.encode(), by=setup.boss)
    again = services.import_csv(setup.rotation, CSV_OK.encode(), by=setup.boss)
    assert (first.created, again.created, again.updated) == (2, 0, 2)
    assert Incident.objects.filter(source="csv").count() == 2


def test_a_csv_with_one_bad_row_imports_nothing(setup):
    bad = CSV_OK + "Broken,not-a-date,,,\n"
    with pytest.raises(Invalid) as refused:
        services.import_csv(setup.rotation, bad.encode(), by=setup.boss)
    assert "Row 4" in refused.value.message
    assert not Incident.objects.exists()


def test_a_csv_over_the_row_limit_imports_nothing(setup):
    rows = "".join(f"T{n},2026-03-04T02:00:00Z,,,\n" for n in range(services.MAX_CSV_ROWS + 1))
    with pytest.raises(Invalid, match="At most"):
        services.import_csv(
            setup.rotation,
            b"title,started_at,resolved_at,severity,escalation\n" + rows.encode(),
            by=setup.boss,
        )
    assert not Incident.objects.exists()


def test_the_settings_refuse_a_multiplier_below_one(setup):
    with pytest.raises(Invalid):
        services.update_settings(
            setup.rotation,
            by=SYSTEM,
            weight_hours_per_page=Decimal(1),
            night_multiplier=Decimal("0.5"),
        )
