"""Level thresholds, pairing and the bus-factor warning are rotation settings; the recommender
gets them, the team's cap and each person's experience from the database."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from planning import inputs
from rotation.history import import_history
from rotation.models import Rotation
from tests.factories import build_team
from tests.test_experience import history_csv
from tests.test_rotation_rules import _page_form

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEC = (datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2027, 1, 4, 9, tzinfo=UTC))


def test_a_new_rotation_pairs_hard_and_warns_below_two_ready_for_primary():
    rotation = build_team(1).rotation
    assert (rotation.pairing, float(rotation.pairing_weight), rotation.bus_factor_warning) == (
        "hard",
        50.0,
        2,
    )
    assert (
        rotation.level_shadow_shifts,
        rotation.level_secondary_shifts,
        rotation.level_primary_ready_shifts,
        rotation.level_first_primaries_paired,
    ) == (2, 2, 4, 2)


def test_a_manager_sets_the_levels_and_pairing_on_the_rotation_page(client):
    setup = build_team(1)
    client.force_login(setup.boss)
    form = _page_form(
        setup.team,
        pattern="weekly",
        **{"windows-TOTAL_FORMS": "0", "windows-0-label": ""},
        level_shadow_shifts="3",
        level_secondary_shifts="1",
        level_primary_ready_shifts="5",
        level_first_primaries_paired="1",
        pairing="soft",
        pairing_weight="20",
        bus_factor_warning="3",
    )

    page = client.get(f"/teams/{setup.team.slug}/rotations/{setup.rotation.pk}/edit/")
    response = client.post(f"/teams/{setup.team.slug}/rotations/{setup.rotation.pk}/edit/", form)

    assert "Shadow shifts a newcomer serves" in page.content.decode()
    assert response.status_code == 302
    setup.rotation.refresh_from_db()
    assert (setup.rotation.pairing, setup.rotation.level_primary_ready_shifts) == ("soft", 5)
    assert setup.rotation.bus_factor_warning == 3


def test_primary_ready_cannot_come_before_secondary_ready(client):
    setup = build_team(1)
    client.force_login(setup.boss)
    form = _page_form(
        setup.team,
        pattern="weekly",
        **{"windows-TOTAL_FORMS": "0", "windows-0-label": ""},
        level_secondary_shifts="5",
        level_primary_ready_shifts="2",
    )

    response = client.post(f"/teams/{setup.team.slug}/rotations/{setup.rotation.pk}/edit/", form)

    assert response.status_code == 400
    with pytest.raises(IntegrityError), transaction.atomic():
        Rotation.objects.filter(pk=setup.rotation.pk).update(
            level_secondary_shifts=5, level_primary_ready_shifts=2
        )


def test_the_database_refuses_an_unknown_pairing_mode():
    setup = build_team(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rotation.objects.filter(pk=setup.rotation.pk).update(pairing="none")


def test_the_recommender_gets_pairing_thresholds_and_the_cap():
    setup = build_team(1, pairing="soft", pairing_weight=20, level_first_primaries_paired=3)
    setup.team.max_oncall_share = 30
    setup.team.save()

    settings = inputs.recommender_settings(setup.rotation)

    assert (settings.pairing, settings.pairing_weight) == ("soft", 20.0)
    assert (settings.first_primaries_paired, settings.max_share) == (3, 0.3)


def test_each_candidate_carries_their_experience():
    setup = build_team(2, names=["Amara", "Dev"])
    amara, dev = setup.people
    import_history(
        setup.team,
        history_csv(
            setup.rotation,
            [(dev, "secondary", d) for d in ("2026-05-04", "2026-05-11", "2026-05-18")]
            + [(dev, "primary", "2026-06-01"), (dev, "secondary", "2026-06-08")],
        ),
        by=setup.boss,
    )
    settings = inputs.recommender_settings(setup.rotation)

    found = {
        c.person_id: c
        for c in inputs.candidates_for(setup.rotation, *DEC, now=NOW, settings=settings)
    }

    assert (found[dev.pk].experienced, found[dev.pk].primary_served) == (True, 1)
    assert found[dev.pk].level == "primary-ready"
    assert (found[amara.pk].experienced, found[amara.pk].level) == (False, "newcomer")


def test_a_rotation_where_nobody_has_a_record_counts_everyone_as_experienced():
    setup = build_team(2)
    settings = inputs.recommender_settings(setup.rotation)

    found = inputs.candidates_for(setup.rotation, *DEC, now=NOW, settings=settings)

    assert all(c.experienced for c in found)
    assert {c.level for c in found} == {"newcomer"}


def test_experience_counts_up_to_now_not_the_drafted_period():
    setup = build_team(1, names=["Dev"])
    (dev,) = setup.people
    import_history(
        setup.team, history_csv(setup.rotation, [(dev, "primary", "2026-11-23")]), by=setup.boss
    )
    settings = inputs.recommender_settings(setup.rotation)

    (found,) = inputs.candidates_for(setup.rotation, *DEC, now=NOW, settings=settings)

    # The shift 23-30 November has not ended on 20 November.
    assert found.primary_served == 0
