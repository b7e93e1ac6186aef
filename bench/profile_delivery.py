"""Profile one worker's chunk processing in this process, and measure the SMTP sink alone.

    DATABASE_URL=postgres://... REDIS_URL=redis://... \\
      .venv/bin/python bench/profile_delivery.py [--invites 1000] [--profile NAME]

Creates a scratch database (dropped at the end), an aiosmtpd counting sink (as in
bench/deliveries.py), publishes a roster with its outbox rows left pending, then:

1. null run: how many messages per second the sink accepts from a trivial smtplib loop
   over one connection (the same ~6 KB message each time), wall and client CPU;
2. sends the rows with ``dispatch.deliver_batch`` in chunks of 50, under a profiler,
   and prints CPU per invite and the top functions.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.deliveries import CountingSink, start_sink  # noqa: E402


def null_run(port: int, count: int, payload: bytes) -> tuple[float, float]:
    """Seconds (wall, CPU of this process) to send `count` copies of payload on one connection."""
    started, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for n in range(count):
            client.sendmail("bench@example.com", [f"p{n % 12}@example.com"], payload)
    return time.perf_counter() - started, time.process_time() - cpu


def _sink_process(port: int, ready, stop) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingSink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _client_process(port: int, count: int, payload: bytes, out) -> None:
    out.put(null_run(port, count, payload))


def sink_capacity(payload: bytes, count: int, clients: int, kind: str = "aiosmtpd") -> float:
    """Messages per second a sink in its own process (aiosmtpd, or Postfix's smtp-sink)
    accepts from `clients` trivial smtplib loops, each in its own process on its own
    connection."""
    import multiprocessing

    from tests.services import free_port

    port = free_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    if kind == "smtp-sink":
        sink = start_sink("smtp-sink", port)
    else:
        sink = multiprocessing.Process(target=_sink_process, args=(port, ready, stop))
        sink.start()
        ready.wait(30)
    null_run(port, 50, payload)  # warm up
    out = multiprocessing.Queue()
    started = time.perf_counter()
    senders = [
        multiprocessing.Process(target=_client_process, args=(port, count, payload, out))
        for _ in range(clients)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    wall = time.perf_counter() - started
    if kind == "smtp-sink":
        sink.stop()
    else:
        stop.set()
        sink.join(10)
    return clients * count / wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invites", type=int, default=1000)
    parser.add_argument(
        "--profile", default="cprofile", choices=("cprofile", "pyinstrument", "none")
    )
    parser.add_argument("--null", type=int, default=2000, help="messages for the null run")
    parser.add_argument(
        "--sink",
        default="auto",
        choices=("auto", "smtp-sink", "aiosmtpd"),
        help="SMTP server for the profiled run (smtp-sink: its own process, not this one's CPU)",
    )
    parser.add_argument(
        "--wall", action="store_true", help="cProfile on wall time (default: CPU time)"
    )
    args = parser.parse_args()

    import logging

    from tests.services import free_port

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = free_port()
    sink = start_sink(args.sink, port)
    print(f"SMTP server: {sink.kind}")
    os.environ.update(
        {
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "EMAIL_USE_TLS": "0",
            "DJANGO_SETTINGS_MODULE": "onehand.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from datetime import date, timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    connection.settings_dict["TEST"]["NAME"] = (
        f"{connection.settings_dict['NAME']}_profile_delivery"
    )
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    from notifications import dispatch
    from notifications.models import Delivery
    from rotation.models import Membership, Rotation, RotationMember, Team
    from rotation.permissions import SYSTEM
    from rotation.services import create_roster, publish_roster
    from tests.notifications_support import windows

    User = get_user_model()
    try:
        people = [
            User.objects.create_user(f"p{n}", f"p{n}@example.com", "x", first_name=f"Person{n}")
            for n in range(12)
        ]
        team = Team.objects.create(name="Profile", slug="profile")
        boss = User.objects.create_user("lead", "lead@profile.example", "x")
        Membership.objects.create(team=team, user=boss, role=Membership.Role.MANAGER)
        for user in people:
            Membership.objects.create(team=team, user=user)
        rotation = Rotation.objects.create(
            team=team,
            name="Profile",
            pattern=Rotation.Pattern.DAILY,
            time_zone="Europe/London",
            lead=boss,
            mentor=people[-1],
            runbook_url="https://wiki.example.com/runbook",
        )
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=u, since=date(2020, 1, 1)) for u in people
        )
        start = date(2030, 1, 1)
        chosen = {}
        for n, window in enumerate(
            windows(rotation, start, start + timedelta(days=args.invites // 2))
        ):
            chosen[(window.start, "primary")] = people[n % 12].pk
            chosen[(window.start, "secondary")] = people[(n + 1) % 12].pk
        roster = create_roster(
            rotation,
            start,
            start + timedelta(days=args.invites // 2),
            by=SYSTEM,
            assignments=chosen,
        )
        original = dispatch.enqueue
        dispatch.enqueue = lambda ids, **kwargs: 0
        publish_roster(roster, by=SYSTEM)
        dispatch.enqueue = original
        ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))

        # A real invite as the null run's payload.
        from django.core import mail as django_mail

        from notifications import mail, sending

        held = dispatch._claim_rows(ids[:1], django.utils.timezone.now())
        prepared = sending.prepare(held)
        message = mail.invite_message(
            prepared.entry(held[0]).entry,
            to="p0@example.com",
            delivery_id=1,
            is_update=False,
            now=django.utils.timezone.now(),
        )
        payload = message.message().as_bytes(linesep="\r\n")
        del django_mail
        Delivery.objects.filter(pk=ids[0]).update(status="pending", lease_until=None, attempts=0)

        for kind, clients in [(k, c) for k in ("aiosmtpd", sink.kind) for c in (1, 2)][
            : 4 if sink.kind != "aiosmtpd" else 2
        ]:
            rate = sink_capacity(payload, args.null, clients, kind)
            print(
                f"null run: {kind} sink in its own process, {clients} smtplib client "
                f"process(es) x {args.null} messages of {len(payload)} bytes, one connection "
                f"each: {rate:.0f} msg/s"
            )

        dispatch.deliver_batch(ids[:10])  # warm up
        rest = ids[10:]
        chunks = dispatch.batches(rest)
        before = sink.count
        profiler = None
        if args.profile == "cprofile":
            import cProfile

            profiler = cProfile.Profile() if args.wall else cProfile.Profile(time.process_time)
            profiler.enable()
        elif args.profile == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        started, cpu_started = time.perf_counter(), time.process_time()
        for chunk in chunks:
            dispatch.deliver_batch(chunk)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if args.profile == "cprofile":
            profiler.disable()
        elif args.profile == "pyinstrument":
            profiler.stop()
        sent = sink.count - before
        assert sent == len(rest), (sent, len(rest))
        print(
            f"deliver_batch: {sent} invites in {wall:.2f} s ({sent / wall:.0f}/s wall); "
            f"process CPU {cpu * 1000 / sent:.2f} ms/invite"
            + (" (incl. the sink's thread)" if sink.kind == "aiosmtpd" else "")
        )
        if args.profile == "cprofile":
            import pstats

            os.makedirs("/tmp/prof", exist_ok=True)
            profiler.dump_stats("/tmp/prof/delivery.prof")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        elif args.profile == "pyinstrument":
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
