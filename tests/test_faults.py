"""Fault injection against real services.

(a) Redis (the Celery broker) stopped during a publish: the publish commits, its deliveries stay
    pending; once Redis is back the sweeper queues them on the broker and they go out.
    A redis-server of this test's own is started on a free loopback port, never the machine's.
(b) The PostgreSQL connection is killed in the middle of a swap accept (after the conditional
    UPDATE won and the shift row is locked and changed): nothing of the swap is kept, and
    accepting again succeeds.

Covered elsewhere (not repeated here):
- a Celery worker killed with SIGKILL mid-send: tests/test_delivery_worker.py (the row's lease
  runs out and the sweeper sends it again, exactly once);
- SMTP answering 451 (try again later): tests/test_delivery.py
  (test_transient_smtp_refusals_are_retried_with_backoff_then_delivered_once) and the broker
  outage simulated by monkeypatching apply_async (test_broker_down_at_publish_...).
"""

import base64
import json
import shutil
import subprocess
import time
from datetime import date

import pytest
import time_machine
from django.db import OperationalError, connection

from tests.services import free_port, unavailable, wait_for_port

pytestmark = [pytest.mark.faults]


# --- (a) Redis stopped during publish ------------------------------------------------------


class OwnRedis:
    """A throw-away redis-server on a loopback port of its own; stop() and start() again."""

    def __init__(self, tmp_path):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tmp_path
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            self.stop()
            pytest.fail("our redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Wait until the port refuses connections.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and wait_for_port(self.port, timeout=0.1):
            time.sleep(0.05)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        unavailable("needs the redis-server binary (apt-get install redis-server)")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(own_redis, settings):
    """The Celery app publishes to our own Redis (not eager) for this test."""
    from onehand.celery import app

    def reset_pool():
        import kombu.pools

        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        # Celery also caches a producer pool bound to the old connection pool.
        app.amqp._producer_pool = None
        kombu.pools.reset()

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = own_redis.url
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    reset_pool()
    yield app
    app.conf.broker_url, app.conf.task_always_eager = previous
    reset_pool()


def _queued_batches(redis_url: str, queue: str) -> list[list[int]]:
    """The delivery ids in the task messages waiting on the broker (kombu's JSON envelope)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    batches = []
    while (raw := client.rpop(queue)) is not None:
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        args = body[0]
        assert message["headers"]["task"] == "notifications.tasks.deliver_batch"
        batches.append(list(args[0]))
    return batches


@pytest.mark.django_db
def test_redis_stopped_during_publish_then_the_sweeper_delivers(
    own_redis, broker, settings, django_capture_on_commit_callbacks, mailoutbox, caplog
):
    from notifications import tasks
    from notifications.models import Delivery
    from planning import services as planning_services
    from rotation import services
    from rotation.models import Roster
    from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

    settings.ONEHAND_DELIVERY_SWEEP_GRACE = 0
    team = TeamFactory()
    boss = manager(team)
    people = [engineer(team) for _ in range(4)]
    rotation = RotationFactory(team=team, lead=boss)
    join_rotation(rotation, *people)
    with time_machine.travel("2031-02-20 12:00Z", tick=True):
        roster = planning_services.draft_roster(
            rotation, date(2031, 3, 1), date(2031, 3, 15), by=boss
        )

        own_redis.stop()  # the broker goes away between the draft and the publish
        with django_capture_on_commit_callbacks(execute=True):
            services.publish_roster(roster, by=boss)
        assert Roster.objects.get(pk=roster.pk).status == "published"
        pending = set(Delivery.objects.filter(status="pending").values_list("pk", flat=True))
        assert pending, "publishing wrote no outbox rows"
        assert Delivery.objects.exclude(status="pending").count() == 0
        assert "the sweeper will send them" in caplog.text

        own_redis.start()  # back, empty (no persistence): only the sweeper knows
        broker._pool = None
        tasks.sweep_deliveries.apply()  # what beat runs; it queues on the broker again
        batches = _queued_batches(own_redis.url, broker.conf.task_default_queue)
        assert {pk for batch in batches for pk in batch} == pending

        # Play the worker in-process for the messages that reached the broker.
        for batch in batches:
            tasks.deliver_batch.apply(args=(batch,))
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert len(mailoutbox) == len(pending)


# --- (b) PostgreSQL connection dropped during a swap accept --------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
@time_machine.travel("2026-11-25 12:00Z", tick=True)
def test_connection_killed_mid_accept_leaves_no_half_swap_and_a_retry_wins(postgres, monkeypatch):
    import psycopg

    from planning import swaps
    from rotation.models import Shift, SwapOffer, SwapRequest
    from tests.swap_support import published_team

    team = published_team(size=8)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").last()
    holder = shift.assignee_id
    request = swaps.request_swap(shift, by=shift.assignee)
    offer = request.offers.select_related("candidate").first()
    assert offer is not None

    db = connection.settings_dict
    original_apply = swaps._apply
    killed = []

    def apply_then_lose_the_connection(*args, **kwargs):
        original_apply(*args, **kwargs)  # the UPDATEs ran, the shift row is locked
        pid = connection.connection.info.backend_pid
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname=db["NAME"],
            autocommit=True,
        ) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed.append(pid)

    monkeypatch.setattr(swaps, "_apply", apply_then_lose_the_connection)
    with pytest.raises((OperationalError, Exception)) as caught:
        swaps.accept_offer(offer, by=offer.candidate)
    assert killed, f"the accept failed before the connection was killed: {caught.value!r}"
    connection.close()  # Django reconnects on the next query

    # Nothing of the swap was kept.
    assert Shift.objects.get(pk=shift.pk).assignee_id == holder
    assert SwapRequest.objects.get(pk=request.pk).status == "open"
    assert SwapRequest.objects.get(pk=request.pk).winner_id is None
    assert not SwapOffer.objects.filter(request=request, status="accepted").exists()
    assert SwapOffer.objects.get(pk=offer.pk).status == "offered"

    monkeypatch.setattr(swaps, "_apply", original_apply)
    settled = swaps.accept_offer(offer, by=offer.candidate)
    assert settled.status == "done"
    assert Shift.objects.get(pk=shift.pk).assignee_id == offer.candidate_id
    assert SwapOffer.objects.filter(request=request, status="accepted").count() == 1


# --- (c) Redis (cache and broker) stopped for real: writes succeed, reads use the database ----


@pytest.fixture
def redis_cache(own_redis, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
        }
    }
    from django.core.cache import caches

    caches._settings = None  # the cache handler reads CACHES again
    yield own_redis
    caches._settings = None


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_publish_succeeds_and_on_call_reads_the_database(
    redis_cache, broker, client
):
    from rest_framework.test import APIClient

    from planning import services as planning_services
    from rotation.models import Roster
    from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

    team = TeamFactory()
    boss = manager(team)
    people = [engineer(team) for _ in range(4)]
    rotation = RotationFactory(team=team, lead=boss)
    join_rotation(rotation, *people)
    api = APIClient()
    api.force_authenticate(boss)
    with time_machine.travel("2031-03-03 12:00Z", tick=True):
        roster = planning_services.draft_roster(
            rotation, date(2031, 3, 1), date(2031, 4, 1), by=boss
        )
        before = api.get(f"/api/rotations/{rotation.pk}/oncall/")
        assert before.status_code == 200 and before.json()["primary"] is None  # cached

        redis_cache.stop()
        published = api.post(f"/api/rosters/{roster.pk}/publish/")
        assert published.status_code == 200, published.content
        assert Roster.objects.get(pk=roster.pk).status == "published"

        now = api.get(f"/api/rotations/{rotation.pk}/oncall/")
        assert now.status_code == 200
        assert now.json()["primary"] is not None  # from the database, not a stale cache

        health = client.get("/healthz")
        assert health.status_code == 503
        assert "cache" in health.json()["down"] and "broker" in health.json()["down"]

        redis_cache.start()  # back, empty: answers are cached again
        assert api.get(f"/api/rotations/{rotation.pk}/oncall/").json()["primary"] is not None
