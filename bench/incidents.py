"""Benchmark of the incident webhook: 1,000 alerts posted concurrently to a running server.

Needs PostgreSQL (``DATABASE_URL``, default postgres://onehand:onehand@127.0.0.1:5432/onehand)::

    .venv/bin/python bench/incidents.py [--alerts 1000] [--groups 100] [--clients 50]

It creates a scratch database (``<name>_bench_incidents``, dropped at the end), migrates it,
seeds a team with a published daily rotation and a webhook, starts gunicorn (gthread, 2
workers x 8 threads, ``DJANGO_DEBUG=0``) on a free loopback port, then posts ``--alerts``
Alertmanager notifications (one alert each, spread over ``--groups`` groups, a tenth of
them exact retries) from ``--clients`` threads at once. It checks that exactly one incident
per group exists with every alert fingerprint, prints the rate and latency and writes
bench/results/incidents.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB_SUFFIX = "_bench_incidents"
STARTS = "2026-03-04T02:00:00Z"


def seed(out: Path) -> None:
    """Runs in a child process against the scratch database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onehand.settings")
    import django

    django.setup()
    from datetime import date

    from incidents import services
    from rotation.permissions import SYSTEM
    from tests.notifications_support import make_team, publish

    setup = make_team(8, prefix="bench-")
    publish(setup, date(2026, 3, 2), date(2026, 3, 9))
    issued = services.create_hook_token(setup.rotation, by=SYSTEM, label="bench")
    out.write_text(json.dumps({"token": issued.token, "rotation": setup.rotation.pk}))


def pg_admin(url: str, dbname: str | None = None):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=dbname or parts.path.lstrip("/") or "postgres",
        autocommit=True,
        connect_timeout=5,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body(number: int, groups: int) -> bytes:
    group = number % groups
    fingerprint = f"g{group}-a{number // groups}"
    alert = {
        "status": "firing",
        "labels": {"alertname": f"Bench{group}", "instance": fingerprint},
        "annotations": {"summary": f"Bench group {group}"},
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Bench{group}"}}',
        "status": "firing",
        "receiver": "onehand",
        "groupLabels": {"alertname": f"Bench{group}"},
        "commonLabels": {"alertname": f"Bench{group}"},
        "commonAnnotations": {},
        "alerts": [alert],
    }
    return json.dumps(payload).encode()


def post(url: str, data: bytes) -> tuple[int, float]:
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.perf_counter() - started


def run(args) -> str:
    server_url = os.environ.get("DATABASE_URL", "postgres://onehand:onehand@127.0.0.1:5432/onehand")
    parts = urlsplit(server_url)
    name = parts.path.lstrip("/") + BENCH_DB_SUFFIX
    with pg_admin(server_url, "postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    workdir = Path(tempfile.mkdtemp(prefix="onehand-bench-incidents-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-incidents-" + "x" * 48,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ONEHAND_VAR_DIR": str(workdir),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
    }
    server = None
    try:
        python = sys.executable
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True
        )
        info_file = workdir / "seed.json"
        subprocess.run(
            [python, str(Path(__file__).resolve()), "--seed", str(info_file)],
            env=env,
            cwd=ROOT,
            check=True,
        )
        info = json.loads(info_file.read_text())
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(python).with_name("gunicorn")),
                "onehand.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={args.workers}",
                "--worker-class=gthread",
                f"--threads={args.threads}",
                "--log-level=warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "gunicorn.log").open("w"),
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError((workdir / "gunicorn.log").read_text()[-3000:])
        url = f"{base}/hooks/incidents/{info['token']}/"
        bodies = [body(n, args.groups) for n in range(args.alerts)]
        retries = args.alerts // 10
        bodies += bodies[:retries]  # exact retries: must not duplicate anything
        gate = threading.Barrier(args.clients)

        def warm(_):
            gate.wait()

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(warm, range(args.clients)))
            started = time.perf_counter()
            results = list(pool.map(lambda data: post(url, data), bodies))
            elapsed = time.perf_counter() - started
        statuses: dict[int, int] = {}
        for status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        latencies = sorted(seconds for _, seconds in results)
        with pg_admin(db_url) as conn:
            incidents = conn.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]
            alerts = conn.execute(
                "SELECT coalesce(sum(jsonb_array_length(fingerprints)), 0) FROM incidents_incident"
            ).fetchone()[0]
            notifications = conn.execute(
                "SELECT coalesce(sum(notifications), 0) FROM incidents_incident"
            ).fetchone()[0]
        ok = incidents == args.groups and alerts == args.alerts and notifications == len(bodies)
        rate = len(bodies) / elapsed
        lines = [
            "# Incident webhook benchmark",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({os.cpu_count()} CPUs, shared), PostgreSQL, gunicorn gthread "
            f"{args.workers} workers x {args.threads} threads, `DJANGO_DEBUG=0`.",
            "",
            f"- posted: {len(bodies)} Alertmanager notifications ({args.alerts} alerts in "
            f"{args.groups} groups + {retries} exact retries) from {args.clients} clients at once",
            f"- answers: {dict(sorted(statuses.items()))}",
            f"- time: {elapsed:.2f} s, **{rate:.0f} notifications/s**",
            f"- latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms",
            f"- stored: {incidents} incidents (expected {args.groups}), {alerts} distinct alert "
            f"fingerprints (expected {args.alerts}), {notifications} notifications counted "
            f"(expected {len(bodies)}): **{'exact' if ok else 'WRONG'}**",
            "",
        ]
        return "\n".join(lines), ok
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        with pg_admin(server_url, "postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if args.seed:
        seed(args.seed)
        return 0
    report, ok = run(args)
    print(report)
    (ROOT / "bench" / "results" / "incidents.md").write_text(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
