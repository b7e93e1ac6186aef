"""The paths polled most stay near the framework's floor: the on-call answer, feed 304s,
/healthz. Query counts are flat in team size; a feed's remembered ETag changes with every
write a feed shows (in this process or another) and stays the same otherwise."""

import contextlib
import os
import subprocess
import sys
from datetime import date

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifications import feeds
from notifications import services as notification_services
from notifications.models import RotationFeed
from rotation.models import Person, Rotation, Shift, Team
from tests.factories import reassign
from tests.notifications_support import FAST_HASHERS, make_team, publish
from tests.services import ROOT, free_port
from tests.swap_support import published_team

User = get_user_model()
pytestmark = pytest.mark.django_db

NOW = "2031-03-12 12:00Z"
MARCH = (date(2031, 3, 1), date(2031, 4, 1))
APRIL = (date(2031, 4, 1), date(2031, 5, 1))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def remembered(settings):
    """Feeds remember their validators (on by default only with a shared cache)."""
    settings.ONEHAND_FEED_REMEMBER_VALIDATORS = True


def personal_url(user) -> str:
    return f"/calendar/{Person.objects.get(user=user).feed_token}.ics"


def team_url(rotation) -> str:
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    return f"/calendar/rotations/{feed.token}.ics"


# --------------------------------------------------------------------------- on-call answer


# Committed writes, as in production: a test's own uncommitted writes bypass the kept answer.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [5, 50])
def test_a_kept_on_call_answer_costs_two_queries_whatever_the_team_size(
    size, django_assert_num_queries
):
    with time_machine.travel("2026-12-09 12:00Z", tick=False):
        team = published_team(size=size)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=team['boss']).key}")
        url = f"/api/rotations/{team['rotation'].pk}/oncall/"
        first = api.get(url)
        assert first.status_code == 200
        # The token, then the caller's membership of the rotation's team; the answer is kept.
        with django_assert_num_queries(2):
            again = api.get(url)
        assert again.json() == first.json()


@pytest.mark.django_db(transaction=True)
def test_a_kept_on_call_answer_is_not_given_to_an_outsider():
    with time_machine.travel("2026-12-09 12:00Z", tick=False):
        team = published_team(size=4)
        url = f"/api/rotations/{team['rotation'].pk}/oncall/"
        insider = APIClient()
        insider.force_authenticate(team["boss"])
        assert insider.get(url).status_code == 200  # now kept
        outsider = APIClient()
        outsider.force_authenticate(User.objects.create_user("olga", password="pw-olga-123456"))
        assert outsider.get(url).status_code == 404
        assert insider.get("/api/rotations/not-a-number/oncall/").status_code == 404


# --------------------------------------------------------------------------- feeds


@pytest.mark.parametrize("size", [5, 50])
def test_a_personal_feed_304_and_a_repeated_body_cost_one_query_whatever_the_team_size(
    size, client, remembered, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False):
        setup = make_team(size)
        publish(setup, *MARCH)
        url = personal_url(setup.people[0])
        first = client.get(url)
        assert first.status_code == 200
        # Only the token's owner is read; validators and body come from the cache.
        with django_assert_num_queries(1):
            not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert not_modified.status_code == 304
        with django_assert_num_queries(1):
            again = client.get(url)
        assert again.content == first.content and again["ETag"] == first["ETag"]


@pytest.mark.parametrize("size", [5, 50])
def test_a_team_feed_304_costs_one_query_whatever_the_team_size(
    size, client, remembered, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False):
        setup = make_team(size)
        publish(setup, *MARCH)
        url = team_url(setup.rotation)
        first = client.get(url)
        with django_assert_num_queries(1):
            not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert not_modified.status_code == 304


@pytest.fixture
def polled(transactional_db, client, remembered, settings):
    """A team with March published; `poll()` gives both feeds' ETags as remembered, and checks
    each against the one computed from the rows (validators not remembered). Writes really
    commit here: the stamp is renewed after a commit, as in production."""
    traveller = time_machine.travel(NOW, tick=False)
    traveller.start()
    setup = make_team(6)
    publish(setup, *MARCH)
    person = setup.people[0]

    def etags() -> tuple[str, str]:
        personal = client.get(personal_url(person))
        team = client.get(team_url(setup.rotation))
        assert personal.status_code == team.status_code == 200
        return personal["ETag"], team["ETag"]

    def poll() -> tuple[str, str]:
        remembered_now = etags()
        settings.ONEHAND_FEED_REMEMBER_VALIDATORS = False
        computed = etags()
        settings.ONEHAND_FEED_REMEMBER_VALIDATORS = True
        assert remembered_now == computed, "a remembered ETag went stale"
        return remembered_now

    def change():
        return contextlib.nullcontext()  # each write below commits on its own

    yield setup, person, poll, change
    traveller.stop()


def test_the_etag_stays_the_same_while_nothing_changes(polled):
    setup, person, poll, change = polled
    first = poll()
    assert poll() == first
    with change():  # a write feeds do not show
        Token.objects.create(user=person)
    assert poll() == first


def test_the_etags_change_with_a_publish(polled):
    setup, person, poll, change = polled
    before = poll()
    with change():
        publish(setup, *APRIL)
    after = poll()
    assert after[0] != before[0] and after[1] != before[1]


def test_the_etags_change_with_a_swap_or_an_edit(polled):
    setup, person, poll, change = polled
    before = poll()
    shift = Shift.objects.filter(assignee=person, roster__status="published").earliest("start")
    busy = set(
        Shift.objects.filter(roster=shift.roster, start=shift.start).values_list(
            "assignee_id", flat=True
        )
    )
    taker = next(p for p in setup.people if p.pk not in busy)
    with change():
        reassign(shift, taker)
    after = poll()
    assert after[0] != before[0] and after[1] != before[1]


@pytest.mark.parametrize("what", ["name", "phone"])
def test_the_etags_change_with_a_name_or_a_phone(polled, what):
    setup, person, poll, change = polled
    before = poll()
    with change():
        if what == "name":
            person.first_name = "Renamed"
            person.save()
        else:
            Person.objects.filter(user=person).update(phone="+44 20 7946 0123")
    after = poll()
    assert after[0] != before[0] and after[1] != before[1]


def test_the_etags_change_with_a_renamed_team_or_rotation(polled):
    setup, person, poll, change = polled
    before = poll()
    with change():
        Rotation.objects.filter(pk=setup.rotation.pk).update(name="Payments API v2")
    middle = poll()
    assert middle[0] != before[0] and middle[1] != before[1]
    with change():
        Team.objects.filter(pk=setup.team.pk).update(name="Payments & Billing")
    assert poll() != middle


def test_a_bulk_write_without_signals_changes_the_etags(polled):
    setup, person, poll, change = polled
    before = poll()
    with change():
        Shift.objects.filter(assignee=person).update(sequence=7)
    after = poll()
    assert after[0] != before[0] and after[1] != before[1]


def test_a_rotated_token_answers_at_the_new_address_only(polled, client):
    setup, person, poll, change = polled
    old = personal_url(person)
    before = client.get(old)["ETag"]
    with change():
        notification_services.rotate_personal_feed(by=person)
    assert client.get(old).status_code == 404
    assert client.get(personal_url(person))["ETag"] != before


def test_a_shift_leaving_the_past_window_changes_the_etag_on_the_hour(polled, client):
    setup, person, poll, change = polled
    before = poll()
    # 90 days after the end of March every March shift has left the past window.
    with time_machine.travel("2031-06-30 12:30Z", tick=False):
        assert poll() != before


def test_a_client_sending_only_if_modified_since_gets_a_renamed_person_at_once(polled, client):
    setup, person, poll, change = polled
    url = personal_url(person)
    first = client.get(url)
    since = first["Last-Modified"]
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=since).status_code == 304
    with change():  # the same second: no entry changed, only a name
        User.objects.filter(pk=person.pk).update(first_name="Renamed")
    after = client.get(url, HTTP_IF_MODIFIED_SINCE=since)
    assert after.status_code == 200 and b"On call: Renamed" in after.content
    assert after["Last-Modified"] != since
    again = client.get(url, HTTP_IF_MODIFIED_SINCE=after["Last-Modified"])
    assert again.status_code == 304


# --------------------------------------------------------------------------- two processes


CHANGE_IN_ANOTHER_PROCESS = """
import os, sys
import django
django.setup()
from django.contrib.auth import get_user_model
get_user_model().objects.filter(pk=int(sys.argv[1])).update(first_name="Elsewhere")
"""


def _a_polled_feed_on_shared_redis(settings, redis_service, client):
    """This web instance caches in the shared Redis; a person's feed has been polled once
    (its ETag remembered). Returns (person, url, first response)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_service,
        }
    }
    settings.PASSWORD_HASHERS = FAST_HASHERS
    with time_machine.travel(NOW, tick=False):
        setup = make_team(4)
        publish(setup, *MARCH)
        person = setup.people[1]
        url = personal_url(person)
        first = client.get(url)
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    return person, url, first


def _rename_in_another_process(person, *, redis_url: str) -> None:
    """Another web instance (a separate process, same PostgreSQL, Redis at `redis_url`)
    renames `person` to "Elsewhere"."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "onehand.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
    }
    subprocess.run(
        [sys.executable, "-c", CHANGE_IN_ANOTHER_PROCESS, str(person.pk)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


@pytest.mark.services
def test_a_change_through_another_process_is_seen_at_once(
    transactional_db, postgres, redis_service, settings, client
):
    """Two web instances share PostgreSQL and Redis: a rename through one changes the other's
    ETag and body on the next poll, though this process saw no write at all."""
    person, url, first = _a_polled_feed_on_shared_redis(settings, redis_service, client)
    _rename_in_another_process(person, redis_url=redis_service)
    with time_machine.travel(NOW, tick=False):
        after = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != first["ETag"]
    assert b"Elsewhere" in after.content


@pytest.mark.services
def test_a_change_through_an_instance_that_cannot_reach_redis_is_seen_at_once(
    transactional_db, postgres, redis_service, settings, client
):
    """Three web instances share PostgreSQL and Redis; one has lost Redis. A name changed
    through it shows on the next poll of a healthy instance: 200 with the new name, not a
    304 to the old ETag remembered in Redis."""
    person, url, first = _a_polled_feed_on_shared_redis(settings, redis_service, client)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    _rename_in_another_process(person, redis_url=nowhere)
    with time_machine.travel(NOW, tick=False):
        after = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert b"Elsewhere" in after.content


@pytest.mark.services
def test_a_rename_committed_while_a_feed_renders_never_leaves_its_body_under_the_old_etag(
    transactional_db, postgres, settings, client, monkeypatch
):
    """Another instance renames the person between this poll's ETag and its rendering; once
    the name is changed back, the feed must show it again, not the body rendered meanwhile."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.ONEHAND_FEED_REMEMBER_VALIDATORS = False
    with time_machine.travel(NOW, tick=False):
        setup = make_team(4)
        publish(setup, *MARCH)
    person = setup.people[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "onehand.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": "",
    }
    build = feeds.shift_entries

    def renamed_meanwhile(requests):
        subprocess.run(
            [sys.executable, "-c", CHANGE_IN_ANOTHER_PROCESS, str(person.pk)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        return build(requests)

    url = personal_url(person)
    with time_machine.travel(NOW, tick=False):
        monkeypatch.setattr(feeds, "shift_entries", renamed_meanwhile)
        client.get(url)
        monkeypatch.setattr(feeds, "shift_entries", build)
        User.objects.filter(pk=person.pk).update(first_name=person.first_name)
        again = client.get(url)
    assert b"Elsewhere" not in again.content
    assert f"On call: {person.first_name}".encode() in again.content


# --------------------------------------------------------------------------- /healthz


@pytest.fixture
def broker_at(settings, monkeypatch):
    """Point the Celery app (what /healthz checks) at a broker address."""
    from onehand.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False

    def point(url: str) -> None:
        monkeypatch.setattr(app.conf, "broker_url", url)

    return point


def test_healthz_reports_a_broker_that_is_down(client, settings, broker_at):
    settings.ONEHAND_HEALTH_BROKER_SECONDS = 2
    broker_at(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"]["ok"] is False and "broker" in body["down"]


def test_healthz_checks_the_broker_again_after_the_interval(
    client, settings, redis_service, broker_at
):
    settings.ONEHAND_HEALTH_BROKER_SECONDS = 0
    broker_at(redis_service)
    assert client.get("/healthz").json()["broker"]["ok"] is True
    broker_at(f"redis://127.0.0.1:{free_port()}/0")
    assert client.get("/healthz").json()["broker"]["ok"] is False
    broker_at(redis_service)
    assert client.get("/healthz").json()["broker"]["ok"] is True
