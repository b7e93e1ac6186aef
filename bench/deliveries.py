"""Benchmark of the delivery outbox, the Celery delivery path and the feeds.

Needs PostgreSQL and Redis (like the worker tests)::

    DATABASE_URL=postgres://onehand:onehand@127.0.0.1:5432/onehand \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/deliveries.py [--shifts 10000]

It creates a scratch database (``<name>_bench_deliveries``, dropped at the end), starts a
local aiosmtpd sink and one Celery worker with two pool processes, then measures:

1. writing the outbox: publishing one roster of N shift slots (a daily rotation with
   primary and secondary, 12 people) - the receiver writes N Delivery rows inside the
   publishing transaction - and, after commit, queueing N task messages on Redis;
2. delivering them: from commit until every row is "sent" and the sink has N messages;
3. feed latency: the personal and team feeds of a rotation with 200 slots, full (200) and
   conditional (304) requests, through Django's test client (no network).

Prints the figures and writes bench/results/deliveries.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUEUE = "bench-deliveries"


class CountingSink:
    """aiosmtpd handler that only counts accepted messages (parsing would dominate)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shifts", type=int, default=10_000, help="shift slots to publish")
    parser.add_argument("--feed-shifts", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        print("needs DATABASE_URL=postgres://... and REDIS_URL=redis://...", file=sys.stderr)
        return 2

    import logging

    from aiosmtpd.controller import Controller

    from tests.services import free_port, start_celery_worker, wait_for_worker

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()

    os.environ.update(
        {
            "CELERY_QUEUE": QUEUE,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_USE_TLS": "0",
            "DJANGO_SETTINGS_MODULE": "onehand.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    connection.settings_dict["TEST"]["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_deliveries"
    )
    old_name = connection.settings_dict["NAME"]
    bench_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)

    from notifications import services
    from notifications.models import Delivery, RotationFeed
    from onehand.celery import app
    from rotation.models import Membership, Rotation, RotationMember, Team
    from rotation.services import create_roster, publish_roster
    from tests.notifications_support import windows

    User = get_user_model()
    worker = None
    results: dict[str, str] = {}
    try:
        app.control.purge()
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{bench_db}",
            "DATABASE_CONN_MAX_AGE": "600",
        }
        log = ROOT / "var" / "bench-deliveries-worker.log"
        log.parent.mkdir(exist_ok=True)
        log.write_bytes(b"")
        worker = start_celery_worker(env, QUEUE, log, concurrency=2)
        if not wait_for_worker(app, QUEUE, timeout=60):
            print(log.read_text()[-3000:], file=sys.stderr)
            return 1

        def rotation_with_people(name: str, people: list) -> Rotation:
            team = Team.objects.create(name=name, slug=name.lower().replace(" ", "-"))
            boss = User.objects.create_user(f"{team.slug}-lead", f"lead@{team.slug}.example", "x")
            Membership.objects.create(team=team, user=boss, role=Membership.Role.MANAGER)
            for user in people:
                Membership.objects.create(team=team, user=user)
            rotation = Rotation.objects.create(
                team=team,
                name=name,
                pattern=Rotation.Pattern.DAILY,
                time_zone="Europe/London",
                lead=boss,
                mentor=people[-1],
                runbook_url="https://wiki.example.com/runbook",
            )
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=u, since=date(2020, 1, 1)) for u in people
            )
            return rotation

        def roster_of(rotation: Rotation, people: list, days: int):
            start = date(2030, 1, 1)
            end = start + timedelta(days=days)
            chosen = {}
            for n, window in enumerate(windows(rotation, start, end)):
                chosen[(window.start, "primary")] = people[n % len(people)].pk
                chosen[(window.start, "secondary")] = people[(n + 1) % len(people)].pk
            return create_roster(rotation, start, end, assignments=chosen)

        people = [
            User.objects.create_user(f"p{n}", f"p{n}@example.com", "x", first_name=f"Person{n}")
            for n in range(12)
        ]
        rotation = rotation_with_people("Bench", people)
        roster = roster_of(rotation, people, args.shifts // 2)
        slots = roster.shifts.count()

        # 1. Outbox write (inside publish) and enqueue (after commit), timed separately.
        timings = {"enqueue": 0.0}
        original_enqueue = services.enqueue

        def timed_enqueue(ids, **kwargs):
            started = time.perf_counter()
            try:
                return original_enqueue(ids, **kwargs)
            finally:
                timings["enqueue"] += time.perf_counter() - started

        services.enqueue = timed_enqueue
        started = time.perf_counter()
        publish_roster(roster)
        publish_total = time.perf_counter() - started
        committed_at = time.perf_counter() - timings["enqueue"]  # enqueue runs after commit
        rows = Delivery.objects.filter(shift__roster=roster).count()
        services.enqueue = original_enqueue

        # 2. Delivery with two worker processes.
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            left = Delivery.objects.filter(shift__roster=roster).exclude(status="sent").count()
            if left == 0 and sink.count >= rows:
                break
            time.sleep(0.25)
        delivered = time.perf_counter() - committed_at
        sent = Delivery.objects.filter(shift__roster=roster, status="sent").count()
        received = sink.count

        # 3. Feeds with 200 slots.
        feed_people = people[:4]
        feed_rotation = rotation_with_people("Feed", feed_people)
        feed_roster = roster_of(feed_rotation, feed_people, args.feed_shifts // 2)
        Delivery.objects.all().delete()
        app.control.purge()
        publish_roster(feed_roster)
        client = Client()
        token = RotationFeed.objects.get(rotation=feed_rotation).token
        team_url = f"/calendar/rotations/{token}.ics"
        feed_people[0].person.refresh_from_db()
        personal_url = f"/calendar/{feed_people[0].person.feed_token}.ics"

        def measure(url: str, runs: int = 30, **headers) -> tuple[list[float], object]:
            client.get(url, **headers)  # warm up
            times, response = [], None
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - started) * 1000)
            return times, response

        team_times, team_response = measure(team_url)
        team_304, not_modified = measure(team_url, HTTP_IF_NONE_MATCH=team_response["ETag"])
        personal_times, personal_response = measure(personal_url)
        assert team_response.status_code == 200 and not_modified.status_code == 304
        team_events = team_response.content.count(b"BEGIN:VEVENT")
        personal_events = personal_response.content.count(b"BEGIN:VEVENT")

        results = {
            "shift slots published": f"{slots}",
            "outbox rows written": f"{rows}",
            "publish transaction incl. outbox write": f"{(publish_total - timings['enqueue']) * 1000:.0f} ms",
            "queueing the task messages after commit": f"{timings['enqueue'] * 1000:.0f} ms ({rows / max(timings['enqueue'], 1e-9):.0f}/s)",
            "delivered (sent rows / SMTP messages)": f"{sent} / {received}",
            "delivery with 2 worker processes": f"{delivered:.1f} s ({sent / delivered:.0f} invites/s)",
            f"team feed, {team_events} events (median / p95)": f"{statistics.median(team_times):.0f} / {percentile(team_times, 0.95):.0f} ms, {len(team_response.content) // 1024} KiB",
            "team feed, 304 with the ETag (median / p95)": f"{statistics.median(team_304):.0f} / {percentile(team_304, 0.95):.0f} ms",
            f"personal feed, {personal_events} events (median / p95)": f"{statistics.median(personal_times):.0f} / {percentile(personal_times, 0.95):.0f} ms",
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except Exception:  # noqa: BLE001
                worker.kill()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        controller.stop()

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    lines = [
        "# Delivery benchmark",
        "",
        f"`python bench/deliveries.py --shifts {args.shifts}` on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: the machine was shared); PostgreSQL and "
        "Redis on loopback, aiosmtpd sink in the bench process, one Celery worker with two "
        "prefork processes. Each delivery claims its row, builds the entry (3 queries), renders "
        "the iTIP email and sends it over a new SMTP connection, then marks the row sent.",
        "",
        "| measure | result |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in results.items()],
        "",
    ]
    out = ROOT / "bench" / "results" / "deliveries.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
