"""What the plan keeps is never older than what it shows (found by an outside red team):
a reader arriving between two stamp renewals of one commit, and a kept history patched by
later time-away writes, both showed the plan as it was before a committed write."""

import re
import threading
from datetime import UTC, datetime, time, timedelta

import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from availability import services as availability_services
from onehand.change_stamps import ChangeStamp
from planning import plan_stamp
from rotation.models import Person
from tests.factories import build_team
from tests.plan_support import plan_url

AWAY = (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC))


def away_cells(client, setup) -> int:
    page = client.get(plan_url(setup))
    assert page.status_code == 200
    return len(re.findall(r'<td class="cell un', page.content.decode()))


def names_and_zones(client, setup) -> dict:
    page = client.get(plan_url(setup))
    assert page.status_code == 200
    return {row.user_id: (row.name, row.time_zone) for row in page.context["rows"]}


def reader_arrives_when(key: str, read):
    """Patch ChangeStamp.renew so that another reader runs just before `key` is renewed."""
    original = ChangeStamp.renew
    armed = {"on": True}

    def renew(self):
        if armed["on"] and self.key == key:
            armed["on"] = False
            reader = threading.Thread(target=lambda: (read(), connection.close()))
            reader.start()
            reader.join()
        return original(self)

    return original, renew, armed


@time_machine.travel("2026-11-20 12:00Z", tick=False)
def test_a_reader_between_two_renewals_of_one_commit_does_not_keep_the_old_page(
    transactional_db, settings
):
    settings.ONEHAND_PLAN_REMEMBER = settings.ONEHAND_PAGE_REMEMBER = True
    setup = build_team(4, pattern="daily", handoff_time=time(9))
    client = Client()
    client.force_login(setup.boss)
    assert away_cells(client, setup) == 0

    # the reader arrives just before the plan stamp is renewed (time away renews no history)
    original, renew, armed = reader_arrives_when(
        plan_stamp.STAMP_KEY, lambda: away_cells(client, setup)
    )
    ChangeStamp.renew = renew
    try:
        availability_services.mark(*AWAY, "unavailable", by=setup.people[0])
    finally:
        ChangeStamp.renew = original
    assert not armed["on"]
    kept = away_cells(client, setup)
    settings.ONEHAND_PLAN_REMEMBER = settings.ONEHAND_PAGE_REMEMBER = False
    assert kept == away_cells(client, setup) > 0


@time_machine.travel("2026-11-20 12:00Z", tick=False)
def test_a_rename_outside_a_transaction_shows_on_the_kept_plan(transactional_db, settings):
    settings.ONEHAND_PLAN_REMEMBER = settings.ONEHAND_PAGE_REMEMBER = True
    setup = build_team(3, pattern="daily", handoff_time=time(9))
    client = Client()
    client.force_login(setup.boss)
    url = plan_url(setup)
    assert "Zebedee" not in client.get(url).content.decode()

    for key, name in ((plan_stamp.STAMP_KEY, "Zebedee"), (plan_stamp.HISTORY_STAMP_KEY, "Zara")):
        original, renew, armed = reader_arrives_when(key, lambda: client.get(url))
        ChangeStamp.renew = renew
        try:  # autocommit: a script or a bulk action
            get_user_model().objects.filter(pk=setup.people[0].pk).update(first_name=name)
        finally:
            ChangeStamp.renew = original
        assert not armed["on"]
        assert name in client.get(url).content.decode()


def test_time_away_written_by_others_does_not_keep_a_stale_history_alive(
    transactional_db, settings
):
    settings.ONEHAND_PLAN_REMEMBER, settings.ONEHAND_PAGE_REMEMBER = True, False
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=False) as clock:
        setup = build_team(4, pattern="daily", handoff_time=time(9))
        client = Client()
        client.force_login(setup.boss)
        names_and_zones(client, setup)
        # A writer that could not reach Redis: its renewals fail (logged), its write commits.
        original = ChangeStamp.renew
        ChangeStamp.renew = lambda self: None
        try:
            Person.objects.filter(user=setup.people[1]).update(time_zone="Asia/Tokyo")
        finally:
            ChangeStamp.renew = original
        for step in range(4):  # every 40 s someone else marks time away
            clock.shift(40)
            day = datetime(2026, 12, 1 + step, tzinfo=UTC)
            availability_services.mark(
                day, day + timedelta(hours=3), "unavailable", by=setup.people[2 + step % 2]
            )
            kept = names_and_zones(client, setup)

        # 160 s after the missed renewal: what is kept lived at most its own minute
        assert kept[setup.people[1].pk][1] == "Asia/Tokyo"
