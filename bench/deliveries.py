"""Benchmark of the delivery outbox, the Celery delivery path and the feeds.

Needs PostgreSQL and Redis (like the worker tests)::

    DATABASE_URL=postgres://onehand:onehand@127.0.0.1:5432/onehand \\
    REDIS_URL=redis://127.0.0.1:6379/11 \
     .venv/bin/python bench/deliveries.py [--shifts 10000] [--quick]

It creates a scratch database (``<name>_bench_deliveries``, dropped at the end), starts a
local SMTP server (``--sink``: Postfix's ``smtp-sink`` when installed - Debian's postfix
package - else an aiosmtpd sink in this process) and a Celery worker with one, then two pool
processes, then measures:

1. writing the outbox: publishing one roster of N shift slots (a daily rotation with
   primary and secondary, 12 people) - the receiver writes N Delivery rows inside the
   publishing transaction - and, after commit, queueing their task messages on Redis
   (chunks of up to 50 ids per message);
2. delivering them: from commit until every row is "sent" and the sink has N messages,
   once with one worker process and once with two (a fresh roster each time);
3. one SMTP connection per chunk against one per message, in this process (no worker);
4. feed latency: the personal and team feeds of a rotation with 200 slots through Django's
   test client (no network): the first request after a change (nothing cached), repeated
   full requests (200) and conditional ones (304). The personal feed's owner is also on the
   N-slot rotation, so their feed has about N/12 + 50 events.

``--quick`` starts no worker and skips step 2 (the queued messages are purged).

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


class SmtpSinkProcess:
    """Postfix's ``smtp-sink`` (a C test server: accepts every message and throws it away) in
    its own process, counting what it accepted with ``-c``. The aiosmtpd sink, in Python,
    accepts only ~150-750 messages/s on a busy 2-core machine: it measured itself, not the
    worker. smtp-sink announces PIPELINING, as most relays do."""

    def __init__(self, port: int):
        import shutil
        import subprocess
        import tempfile

        self.host, self.port = "127.0.0.1", port
        self.output = Path(tempfile.mkstemp(prefix="bench-smtp-sink-", suffix=".out")[1])
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
        command = [shutil.which("smtp-sink"), "-c", *user, f"{self.host}:{port}", "1000"]
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.pid = self.process.pid

    @staticmethod
    def available() -> bool:
        import shutil

        return shutil.which("smtp-sink") is not None

    @property
    def count(self) -> int:
        """Messages accepted so far: -c rewrites "sess=.. quit=.. mesg=N" after every one."""
        with self.output.open("rb") as out:
            out.seek(max(0, self.output.stat().st_size - 200))
            tail = out.read()
        at = tail.rfind(b"mesg=")
        if at < 0:
            return 0
        digits = tail[at + 5 :].split(b"\r", 1)[0].split()[0]
        return int(digits)

    def wait_ready(self, timeout: float = 10.0) -> None:
        from tests.services import wait_for_port

        if not wait_for_port(self.port, timeout):
            raise SystemExit(f"smtp-sink did not start: {self.output.read_text()[-500:]}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.output.unlink(missing_ok=True)


class AiosmtpdSink:
    """The aiosmtpd counting sink, in a thread of this process (what the tests use)."""

    def __init__(self, port: int):
        from aiosmtpd.controller import Controller

        self.host, self.port = "127.0.0.1", port
        self.handler = CountingSink()
        self.controller = Controller(self.handler, hostname=self.host, port=port)
        self.controller.start()
        self.pid = None  # a thread of this process: its CPU is not told apart

    @property
    def count(self) -> int:
        return self.handler.count

    def wait_ready(self, timeout: float = 10.0) -> None:
        return None

    def stop(self) -> None:
        self.controller.stop()


SINKS = {
    "smtp-sink": "Postfix's smtp-sink (C) in its own process",
    "aiosmtpd": "aiosmtpd counting sink in the bench process",
}


def start_sink(kind: str, port: int):
    """The SMTP server to deliver to: "auto" is smtp-sink when installed, else aiosmtpd."""
    if kind == "auto":
        kind = "smtp-sink" if SmtpSinkProcess.available() else "aiosmtpd"
    sink = SmtpSinkProcess(port) if kind == "smtp-sink" else AiosmtpdSink(port)
    sink.wait_ready()
    sink.kind = kind
    return sink


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process, its reaped children and its live children."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = _stat(pid)
    total = sum(int(v) for v in fields[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                child = _stat(int(entry.name))
            except OSError:
                continue
            if int(child[1]) == pid:
                total += int(child[11]) + int(child[12])
    return total / ticks


def own_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one process alone; 0 when it is gone."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shifts", type=int, default=10_000, help="shift slots to publish")
    parser.add_argument("--feed-shifts", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--smtp-shifts", type=int, default=400, help="invites for step 3")
    parser.add_argument(
        "--quick", action="store_true", help="no worker: skip delivering the N invites"
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker pool sizes to deliver with, in turn (1,2)"
    )
    parser.add_argument(
        "--sink",
        default="auto",
        choices=("auto", *SINKS),
        help="SMTP server: smtp-sink (Postfix's, C) when installed, else aiosmtpd",
    )
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        print("needs DATABASE_URL=postgres://... and REDIS_URL=redis://...", file=sys.stderr)
        return 2

    import logging

    from tests.services import free_port, start_celery_worker, wait_for_worker

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    smtp_port = free_port()
    sink = start_sink(args.sink, smtp_port)

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
    from django.utils.timezone import now as django_now

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    connection.settings_dict["TEST"]["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_deliveries"
    )
    old_name = connection.settings_dict["NAME"]
    bench_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)

    from django.core.cache import cache

    from notifications import dispatch, feeds, selectors
    from notifications.models import Delivery, RotationFeed
    from onehand.celery import app
    from rotation.models import Membership, Rotation, RotationMember, Team
    from rotation.permissions import SYSTEM
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
        pools = [] if args.quick else [int(n) for n in args.workers.split(",") if n.strip()]

        def start_worker(concurrency: int):
            process = start_celery_worker(env, QUEUE, log, concurrency=concurrency)
            if not wait_for_worker(app, QUEUE, timeout=60):
                print(log.read_text()[-3000:], file=sys.stderr)
                raise SystemExit(1)
            return process

        def stop_worker(process) -> None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except Exception:  # noqa: BLE001
                process.kill()

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

        next_start = [date(2030, 1, 1)]

        def roster_of(rotation: Rotation, people: list, days: int):
            # Each roster after the last one: publishing refuses a person on call in two
            # rotations at once, and the rosters share their people.
            start = next_start[0]
            end = start + timedelta(days=days)
            next_start[0] = end + timedelta(days=7)
            chosen = {}
            for n, window in enumerate(windows(rotation, start, end)):
                chosen[(window.start, "primary")] = people[n % len(people)].pk
                chosen[(window.start, "secondary")] = people[(n + 1) % len(people)].pk
            return create_roster(rotation, start, end, by=SYSTEM, assignments=chosen)

        people = [
            User.objects.create_user(f"p{n}", f"p{n}@example.com", "x", first_name=f"Person{n}")
            for n in range(12)
        ]
        rosters = {
            n: roster_of(rotation_with_people(f"Bench {n}", people), people, args.shifts // 2)
            for n in (pools or [0])
        }
        roster = rosters[(pools or [0])[0]]
        slots = roster.shifts.count()

        # 1. Outbox write (inside publish) and enqueue (after commit), timed separately.
        timings = {"enqueue": 0.0, "messages": 0}
        original_enqueue = dispatch.enqueue

        def timed_enqueue(ids, **kwargs):
            ids = list(ids)
            timings["messages"] += len(dispatch.batches(ids))
            started = time.perf_counter()
            try:
                return original_enqueue(ids, **kwargs)
            finally:
                timings["enqueue"] += time.perf_counter() - started

        dispatch.enqueue = timed_enqueue
        publish_total = committed_at = 0.0
        # pool size -> (seconds, sent, received, worker CPU seconds, load before, load after,
        # CPU seconds of the worker's PostgreSQL backends, of the SMTP server or None)
        delivered: dict[int, tuple] = {}
        for position, pool in enumerate(pools or [0]):
            if pool:
                worker = start_worker(pool)
                cpu_before = cpu_seconds(worker.pid)
                load_before = os.getloadavg()[0]
                sink_before = own_cpu_seconds(sink.pid) if sink.pid else 0.0
            this = rosters[pool]
            received_before = sink.count
            timings.update({"enqueue": 0.0, "messages": 0})
            started = time.perf_counter()
            publish_roster(this, by=SYSTEM)
            total = time.perf_counter() - started
            committed_at = time.perf_counter() - timings["enqueue"]  # enqueue runs after commit
            if position == 0:
                publish_total, queued, messages = total, timings["enqueue"], timings["messages"]
                rows = Delivery.objects.filter(shift__roster=this).count()
            if not pool:
                continue
            # 2. Delivery with this many worker processes.
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                left = Delivery.objects.filter(shift__roster=this).exclude(status="sent").count()
                if left == 0 and sink.count - received_before >= rows:
                    break
                time.sleep(0.25)
            # The worker's PostgreSQL backends (it connects once per pool process, after
            # its start): their CPU is the database's share of delivering.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                backends = [pid for (pid,) in cursor.fetchall()]
            database_cpu = sum(own_cpu_seconds(pid) for pid in backends)
            sink_cpu = own_cpu_seconds(sink.pid) - sink_before if sink.pid else None
            delivered[pool] = (
                time.perf_counter() - committed_at,
                Delivery.objects.filter(shift__roster=this, status="sent").count(),
                sink.count - received_before,
                cpu_seconds(worker.pid) - cpu_before,
                load_before,
                os.getloadavg()[0],
                database_cpu,
                sink_cpu,
            )
            stop_worker(worker)
            worker = None
        dispatch.enqueue = original_enqueue
        Delivery.objects.all().delete()
        app.control.purge()

        # 3. SMTP: one connection per chunk of 50 against one per message, in this process.
        smtp_people = people[6:]  # not the personal feed's owner
        smtp_rotation = rotation_with_people("Smtp", smtp_people)
        smtp_roster = roster_of(smtp_rotation, smtp_people, args.smtp_shifts // 2)
        dispatch.enqueue = lambda ids, **kwargs: 0  # rows stay pending: sent by hand below
        publish_roster(smtp_roster, by=SYSTEM)
        dispatch.enqueue = original_enqueue
        smtp_ids = list(
            Delivery.objects.filter(shift__roster=smtp_roster)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # setup_test_environment() switched this process to the in-memory backend.
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        dispatch.deliver(smtp_ids.pop())  # warm up (zone data, templates)
        before = sink.count
        spent = {"each": 0.0, "chunk": 0.0}
        cpu = {"each": 0.0, "chunk": 0.0}
        counted = {"each": 0, "chunk": 0}
        # Alternate chunk by chunk, so that drifting load on a shared machine hits both alike.
        for n, chunk in enumerate(dispatch.batches(smtp_ids)):
            way = "each" if n % 2 == 0 else "chunk"
            started, cpu_started = time.perf_counter(), time.process_time()
            if way == "each":
                for pk in chunk:
                    dispatch.deliver(pk)  # mail.send opens and closes a connection per message
            else:
                dispatch.deliver_batch(chunk)  # one connection for the chunk
            spent[way] += time.perf_counter() - started
            cpu[way] += time.process_time() - cpu_started
            counted[way] += len(chunk)
        per_message = spent["each"] * 1000 / max(counted["each"], 1)
        per_chunk = spent["chunk"] * 1000 / max(counted["chunk"], 1)
        cpu_each = cpu["each"] * 1000 / max(counted["each"], 1)
        cpu_chunk = cpu["chunk"] * 1000 / max(counted["chunk"], 1)
        assert sink.count - before == len(smtp_ids), (sink.count - before, len(smtp_ids))

        # 4. Feeds with 200 slots.
        feed_people = people[:4]
        feed_rotation = rotation_with_people("Feed", feed_people)
        feed_roster = roster_of(feed_rotation, feed_people, args.feed_shifts // 2)
        Delivery.objects.all().delete()
        app.control.purge()
        publish_roster(feed_roster, by=SYSTEM)
        client = Client()
        feed_row = RotationFeed.objects.get(rotation=feed_rotation)
        team_url = f"/calendar/rotations/{feed_row.token}.ics"
        owner = feed_people[0]
        owner.person.refresh_from_db()
        personal_url = f"/calendar/{owner.person.feed_token}.ics"

        def forget(url: str) -> None:
            """Drop the feed's cached rendering: the next request is the first after a change."""
            now = django_now()
            if url == team_url:
                feed = feeds.team(selectors.feed_by_token(feed_row.token), now)
            else:
                feed = feeds.personal(selectors.person_by_feed_token(owner.person.feed_token), now)
            cache.delete_many([feed.cache_key("meta"), feed.cache_key("body")])

        def measure(url: str, runs: int = 30, cold: bool = False, **headers):
            client.get(url, **headers)  # warm up
            times, response = [], None
            for _ in range(runs):
                if cold:
                    forget(url)
                started = time.perf_counter()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - started) * 1000)
            return times, response

        def figures(times: list[float]) -> str:
            return f"{statistics.median(times):.0f} / {percentile(times, 0.95):.0f} ms"

        team_cold, _ = measure(team_url, runs=10, cold=True)
        team_times, team_response = measure(team_url)
        team_304, not_modified = measure(team_url, HTTP_IF_NONE_MATCH=team_response["ETag"])
        personal_cold, _ = measure(personal_url, runs=5, cold=True)
        personal_times, personal_response = measure(personal_url)
        personal_304, personal_nm = measure(
            personal_url, HTTP_IF_NONE_MATCH=personal_response["ETag"]
        )
        assert team_response.status_code == 200 and not_modified.status_code == 304
        assert personal_nm.status_code == 304
        team_events = team_response.content.count(b"BEGIN:VEVENT")
        personal_events = personal_response.content.count(b"BEGIN:VEVENT")

        results = {
            "shift slots published": f"{slots}",
            "outbox rows written": f"{rows}",
            "publish transaction incl. outbox write": f"{(publish_total - queued) * 1000:.0f} ms",
            "queueing the task messages after commit": (
                f"{queued * 1000:.0f} ms for "
                f"{messages} messages ({rows / max(queued, 1e-9):.0f} rows/s)"
            ),
        }
        for pool, (
            seconds,
            sent,
            received,
            worker_cpu,
            load_at,
            load_end,
            database_cpu,
            sink_cpu,
        ) in delivered.items():
            processes = "1 worker process" if pool == 1 else f"{pool} worker processes"
            results[f"delivered with {processes} (sent rows / SMTP messages)"] = (
                f"{sent} / {received}"
            )
            results[f"delivery with {processes}"] = (
                f"{seconds:.1f} s ({sent / seconds:.0f} invites/s)"
            )
            results[f"worker CPU per invite, {processes}"] = (
                f"{worker_cpu * 1000 / max(sent, 1):.2f} ms ({sent / max(worker_cpu, 1e-9):.0f} "
                "invites per CPU second)"
            )
            results[f"PostgreSQL CPU per invite (the worker's backends), {processes}"] = (
                f"{database_cpu * 1000 / max(sent, 1):.2f} ms"
            )
            if sink_cpu is not None:
                results[f"SMTP server CPU per invite, {processes}"] = (
                    f"{sink_cpu * 1000 / max(sent, 1):.2f} ms"
                )
            results[f"load average (1 min) at the start / end, {processes}"] = (
                f"{load_at:.1f} / {load_end:.1f}"
            )
        results.update(
            {
                (
                    "one invite, in process: one at a time, own claim, loads and SMTP "
                    f"connection ({counted['each']} invites)"
                ): f"{per_message:.1f} ms wall, {cpu_each:.1f} ms CPU",
                (
                    "one invite, in process: in chunks of 50, one claim, loads and SMTP "
                    f"connection per chunk ({counted['chunk']} invites)"
                ): f"{per_chunk:.1f} ms wall, {cpu_chunk:.1f} ms CPU",
                (
                    f"team feed, {team_events} events, first request after a change (median / p95)"
                ): f"{figures(team_cold)}, {len(team_response.content) // 1024} KiB",
                f"team feed, {team_events} events (median / p95)": figures(team_times),
                "team feed, 304 with the ETag (median / p95)": figures(team_304),
                (
                    f"personal feed, {personal_events} events, first request after a change "
                    "(median / p95)"
                ): f"{figures(personal_cold)}, {len(personal_response.content) // 1024} KiB",
                f"personal feed, {personal_events} events (median / p95)": figures(personal_times),
                "personal feed, 304 with the ETag (median / p95)": figures(personal_304),
            }
        )
    finally:
        if worker is not None:
            stop_worker(worker)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        sink.stop()

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    lines = [
        "# Delivery benchmark",
        "",
        f"`python bench/deliveries.py {' '.join(sys.argv[1:])}`".replace(" `", "`") + " "
        f"on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: the machine was shared); PostgreSQL "
        "and "
        f"Redis on loopback, SMTP server: {SINKS[sink.kind]}, a Celery worker with "
        f"{' then '.join(str(n) for n in pools) or 'no'} prefork process(es), a fresh roster "
        "each. Rows are queued in chunks of up to 50 ids per task message; a chunk is claimed "
        "in one UPDATE, its rows, outbox history and entries are loaded in six queries, then "
        "each invite is rendered, written out as bytes, sent over the chunk's SMTP connection "
        "(MAIL, RCPT and DATA pipelined when the server announces PIPELINING) and marked sent "
        "as the server accepts it; each worker process keeps its database connection. Worker "
        "CPU is user + system time of the worker and its pool processes; PostgreSQL's is that "
        "of the worker's backends (0 when they were closed before the end). Feeds: the ETag "
        "comes from three small queries, the rendered body from the cache (Redis) when it holds "
        "that ETag.",
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
