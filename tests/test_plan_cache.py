"""The plan page is remembered under the plan stamp: a repeated view costs the same few queries
for 5 or 50 people, and a change to what it is made from (time away through the service, a
bulk write that sends no signal, a write in another web instance) shows at once."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, transaction

from availability import services as availability_services
from availability.models import AvailabilityEntry
from planning import plan_stamp
from planning import services as planning_services
from tests.factories import build_team
from tests.plan_support import plan_url, queries_of
from tests.services import ROOT

NOW = "2026-11-20 12:00Z"
AWAY = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC))


@pytest.fixture
def remembering(settings):
    """Plan pages are remembered (on by default only with a shared cache)."""
    settings.ONEHAND_PLAN_REMEMBER = True


@pytest.fixture
def rows_not_pages(settings):
    """The plan's own remembered rows, read through the page's context: whole pages (served
    as bytes, without a context; tests/test_whole_pages.py) are not remembered here."""
    settings.ONEHAND_PAGE_REMEMBER = False


def row_of(response, user):
    assert response.status_code == 200
    return next(r for r in response.context["rows"] if r.user_id == user.pk)


@time_machine.travel(NOW, tick=False)
def test_a_remembered_plan_page_costs_the_same_queries_for_5_or_50_people(
    transactional_db, client, remembering
):
    counts = []
    for size in (5, 50):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        client.force_login(setup.boss)
        first = queries_of(client, plan_url(setup))
        again = queries_of(client, plan_url(setup))
        assert again < first
        counts.append(again)
    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_the_first_view_after_a_write_costs_the_same_queries_for_5_or_60_people(
    transactional_db, client, remembering
):
    # 60 people fill more than one page of the plan: the team is ranked, one page is shown.
    counts = []
    for size in (5, 60):
        setup = build_team(size, pattern="daily", handoff_time=time(9))
        *others, last = setup.people
        for person in others:
            availability_services.mark(*AWAY, "unavailable", by=person)
        client.force_login(setup.boss)
        queries_of(client, plan_url(setup))
        remembered = queries_of(client, plan_url(setup))

        availability_services.mark(*AWAY, "unavailable", by=last)

        first_after = queries_of(client, plan_url(setup))
        assert first_after > remembered  # the whole team was ranked again
        counts.append(first_after)
    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_the_plan_shows_time_away_marked_through_the_service_at_once(
    transactional_db, client, remembering, rows_not_pages
):
    setup = build_team(6, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    before = row_of(client.get(plan_url(setup)), amara)
    assert not any(cell.unavailable for cell in before.cells)
    assert row_of(client.get(plan_url(setup)), amara).why == before.why  # now remembered

    availability_services.mark(*AWAY, "unavailable", by=amara)

    after = row_of(client.get(plan_url(setup)), amara)
    assert all(cell.unavailable for cell in after.cells[:23])
    assert after.utilisation > before.utilisation
    assert "away" in after.why and after.why != before.why


@time_machine.travel(NOW, tick=False)
def test_a_bulk_write_that_sends_no_signal_renews_the_plan_stamp(transactional_db, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    stamp = cache.get(plan_stamp.STAMP_KEY)

    AvailabilityEntry.objects.bulk_create(
        [AvailabilityEntry(user=setup.people[0], kind="unavailable", start=AWAY[0], end=AWAY[1])]
    )

    assert cache.get(plan_stamp.STAMP_KEY) not in (None, stamp)


@time_machine.travel(NOW, tick=False)
def test_the_stamp_is_renewed_only_after_the_commit(transactional_db, remembering):
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    stamp = cache.get(plan_stamp.STAMP_KEY)
    with transaction.atomic():
        availability_services.mark(*AWAY, "unavailable", by=setup.people[0])
        # Another process reading now would see the old rows: the stamp must not move yet,
        # and this transaction, which sees its own rows, keeps out of the cache.
        assert cache.get(plan_stamp.STAMP_KEY) == stamp
        assert not plan_stamp.usable()
    assert cache.get(plan_stamp.STAMP_KEY) != stamp
    assert plan_stamp.usable()


@time_machine.travel(NOW, tick=False)
def test_reading_the_plan_does_not_renew_the_stamp(transactional_db, client, remembering):
    setup = build_team(5, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    client.get(plan_url(setup))
    stamp = cache.get(plan_stamp.STAMP_KEY)
    client.get(plan_url(setup))
    client.get(plan_url(setup) + "&page=1")
    assert cache.get(plan_stamp.STAMP_KEY) == stamp


def test_the_audit_log_and_heartbeat_do_not_renew_the_stamp(db):
    watched = plan_stamp.watched_tables()
    assert "rotation_heartbeat" not in watched and "rotation_auditentry" not in watched
    assert {"availability_availabilityentry", "rotation_shift", "auth_user"} <= watched
    assert not plan_stamp.changes_plan('UPDATE "auth_user" SET "last_login" = %s WHERE "id" = 1')


MARK_IN_ANOTHER_PROCESS = """
import django
django.setup()
from datetime import UTC, datetime
from django.contrib.auth import get_user_model
from availability import services
user = get_user_model().objects.get(pk=int(__import__("sys").argv[1]))
services.mark(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC),
              "unavailable", by=user)
"""


@pytest.mark.services
def test_time_away_marked_through_another_web_instance_shows_at_once(
    transactional_db, postgres, redis_service, settings, client
):
    """Two web instances share PostgreSQL and Redis (plan pages remembered by default there):
    time away marked through one shows on the other's next view of the plan, though this
    process saw no write."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_service,
        }
    }
    settings.ONEHAND_PLAN_REMEMBER = None
    assert plan_stamp.remembering()
    with time_machine.travel(NOW, tick=False):
        setup = build_team(6, pattern="daily", handoff_time=time(9))
        amara = setup.people[0]
        client.force_login(setup.boss)
        before = row_of(client.get(plan_url(setup)), amara)
        assert queries_of(client, plan_url(setup)) < 10  # remembered in Redis
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "onehand.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_service,
    }
    subprocess.run(
        [sys.executable, "-c", MARK_IN_ANOTHER_PROCESS, str(amara.pk)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    with time_machine.travel(NOW, tick=False):
        after = row_of(client.get(plan_url(setup)), amara)
    assert all(cell.unavailable for cell in after.cells[:23])
    assert after.why != before.why


@time_machine.travel(NOW, tick=False)
def test_a_new_draft_shows_in_the_plans_list_of_drafts_at_once(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    assert client.get(plan_url(setup)).context["drafts"] == []

    draft = planning_services.draft_roster(
        setup.rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )

    drafts = client.get(plan_url(setup)).context["drafts"]
    assert [d.pk for d in drafts] == [draft.pk]
    assert "people" not in drafts[0].summary and drafts[0].largest != "—"


@time_machine.travel(NOW, tick=False)
def test_the_load_report_is_remembered_and_shows_a_rename_at_once(
    transactional_db, client, remembering
):
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    amara = setup.people[0]
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/report/"
    first = queries_of(client, url)
    assert queries_of(client, url) < first

    amara.first_name = "Zanele"
    amara.save()

    names = [row.name for row in client.get(url).context["rows"]]
    assert any(name.startswith("Zanele") for name in names)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE AUTH_USER SET first_name = %s WHERE id = %s",
        '/* fix-up */ UPDATE "auth_user" SET first_name = %s WHERE id = %s',
        "UPDATE public.auth_user SET first_name = %s WHERE id = %s",
        'WITH x AS (SELECT 1) UPDATE "auth_user" SET first_name = %s WHERE id = %s',
        "TRUNCATE TABLE availability_availabilityentry",
    ],
)
def test_an_operators_fix_up_sql_counts_as_a_write_to_the_plan(db, sql):
    assert plan_stamp.changes_plan(sql)


def test_a_locking_read_and_a_login_are_not_writes_to_the_plan(db):
    assert not plan_stamp.changes_plan(
        'SELECT * FROM "rotation_shift" FOR UPDATE OF "rotation_shift"'
    )
    assert not plan_stamp.changes_plan(
        'UPDATE "auth_user" SET "last_login" = %s WHERE "auth_user"."id" = %s'
    )


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("spelling", ["%2B2", "%202", "%EF%BC%92", "2_0", "0", "-1"])
def test_another_spelling_of_a_page_number_never_fills_page_one(
    transactional_db, client, remembering, rows_not_pages, spelling
):
    setup = build_team(55, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    first_page = [r.user_id for r in client.get(plan_url(setup)).context["rows"]]

    client.get(plan_url(setup) + f"&page={spelling}")

    assert [r.user_id for r in client.get(plan_url(setup)).context["rows"]] == first_page


@time_machine.travel(NOW, tick=False)
def test_a_plan_computed_while_its_settings_change_is_not_kept_as_current(
    transactional_db, client, remembering, monkeypatch
):
    """Red-team finding: the view loaded the rotation, another manager's settings change
    committed, then the view read the renewed stamp and kept a plan of the old settings under
    it for a minute. The stamp is now read before anything is loaded."""
    from planning import manage_views
    from rotation.models import Rotation

    setup = build_team(5, pattern="daily", handoff_time=time(9))
    client.force_login(setup.boss)
    queries_of(client, plan_url(setup))
    remembered = queries_of(client, plan_url(setup))
    cache.clear()  # a cold cache: the next view computes its plan
    load_rotation = manage_views._rotation_for

    def load_then_another_manager_writes(*args, **kwargs):
        rotation = load_rotation(*args, **kwargs)
        Rotation.objects.filter(pk=rotation.pk).update(history_half_life_days=30)
        return rotation

    monkeypatch.setattr(manage_views, "_rotation_for", load_then_another_manager_writes)
    queries_of(client, plan_url(setup))
    monkeypatch.undo()

    assert queries_of(client, plan_url(setup)) > remembered  # computed afresh, not served
