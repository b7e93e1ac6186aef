"""Load benchmark: gunicorn serving Onehand under 32 concurrent clients, PostgreSQL and SQLite.

Run::

    .venv/bin/python bench/load.py [--duration 30] [--clients 32] [--workers 3] [--threads 4]
                                   [--modes postgres,sqlite]

For each mode it makes a fresh database (PostgreSQL: ``onehand_load`` on the server of
``DATABASE_URL``, default ``postgres://onehand:onehand@127.0.0.1:5432/onehand``; SQLite: a file
in a temp ``ONEHAND_VAR_DIR``), migrates it, collects static files, seeds a 50-person team with
a daily rotation and two published months, starts gunicorn (gthread) on a free loopback port with
production settings (``DJANGO_DEBUG=0``), then points ``wrk`` (Debian's package; installed with
apt-get when missing and running as root, otherwise the run is skipped with a message) at three
endpoints in turn, ``--clients`` connections for ``--duration`` seconds each:

- ``/calendar/<token>.ics``: the personal feed, rotating over the 50 people's tokens;
- ``GET /api/rotations/<id>/oncall/`` with ``Authorization: Token <key>``;
- ``/rotations/<id>/``: the rotation's month page, with a session cookie.

Prints requests/s, p50/p95/p99 latency and errors per endpoint and writes
``bench/results/load.md`` (a ``## Reading`` section already in that file is kept). All traffic
goes to 127.0.0.1; every run is bounded by ``--duration``; gunicorn, the database and the temp
directory are removed at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "load.md"
DEFAULT_DATABASE_URL = "postgres://onehand:onehand@127.0.0.1:5432/onehand"
LOAD_DB = "onehand_load"
PEOPLE = 50
# Targets from issue 8.6.
P95_TARGET_MS = {"feed": 100.0, "oncall": 100.0}

ENDPOINTS = [
    ("feed", "personal feed `/calendar/<token>.ics`"),
    ("oncall", "on-call API `/api/rotations/<id>/oncall/`"),
    ("page", "rotation page `/rotations/<id>/`"),
    # Baseline: the cheapest route (one SELECT 1), i.e. what this machine serves at best.
    ("healthz", "baseline `/healthz`"),
]


# --------------------------------------------------------------------------- seeding (child)


def seed(out: Path) -> None:
    """Runs in a child process with the mode's environment: seed and describe the data."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onehand.settings")
    import django

    django.setup()
    from datetime import date, time, timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from planning import services as planning_services
    from rotation import services
    from rotation.models import Membership, Person, Rotation, RotationMember, Shift, Team
    from rotation.permissions import SYSTEM
    from rotation.shifts import month_bounds

    User = get_user_model()
    zones = [
        ("Europe/London", "GB", "+44 20 7946 0"),
        ("America/New_York", "US", "+1 212 555 0"),
        ("Asia/Kolkata", "IN", "+91 80 5555 0"),
    ]
    today = timezone.now().date()
    this_month, next_month = month_bounds(today)
    last_month = (this_month - timedelta(days=1)).replace(day=1)

    team = Team.objects.create(name="Load", slug="load")
    lead = User.objects.create_user(
        "lead", "lead@load.example", first_name="Lena", last_name="Lead"
    )
    services.ensure_person(
        lead, by=SYSTEM, time_zone="Europe/London", country="GB", phone="+44 20 7946 0999"
    )
    Membership.objects.create(team=team, user=lead, role=Membership.Role.MANAGER)
    engineers = []
    for i in range(PEOPLE):
        zone, country, phone = zones[i % len(zones)]
        user = User.objects.create_user(
            f"eng{i:02d}",
            f"eng{i:02d}@load.example",
            first_name=f"Engineer{i:02d}",
            last_name="Load",
        )
        services.ensure_person(
            user, by=SYSTEM, time_zone=zone, country=country, phone=f"{phone}{i:03d}"
        )
        Membership.objects.create(team=team, user=user)
        engineers.append(user)
    for i, user in enumerate(engineers):
        Person.objects.filter(user=user).update(mentor=engineers[(i + 5) % PEOPLE])
    rotation = Rotation.objects.create(
        team=team,
        name="Platform",
        pattern=Rotation.Pattern.DAILY,
        time_zone="Europe/London",
        handoff_time=time(9, 0),
        has_secondary=True,
        lead=lead,
        runbook_url="https://runbooks.example.com/platform",
    )
    for user in engineers:
        RotationMember.objects.create(rotation=rotation, user=user, since=date(2020, 1, 1))
    for start, end in ((last_month, this_month), (this_month, next_month)):
        roster = planning_services.draft_roster(rotation, start, end, by=lead)
        services.publish_roster(roster, by=lead)

    client = Client()
    client.force_login(lead)
    info = {
        "rotation": rotation.pk,
        "feed_tokens": list(
            Person.objects.filter(user__in=engineers).values_list("feed_token", flat=True)
        ),
        "api_token": Token.objects.get_or_create(user=lead)[0].key,
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "slots": Shift.objects.filter(
            roster__rotation=rotation, roster__status="published"
        ).count(),
    }
    out.write_text(json.dumps(info))


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[load] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found: installing Debian's package (apt-get install -y wrk)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "install", "-y", "-qq", "wrk"],
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "wrk"],
        ):
            subprocess.run(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=600,
                check=False,
            )
            if shutil.which("wrk"):
                return shutil.which("wrk")
    return None


def pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=True,
        connect_timeout=5,
    )


def pg_drop(url: str) -> None:
    with pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{LOAD_DB}" WITH (FORCE)')


def pg_create(url: str) -> str:
    with pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{LOAD_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{LOAD_DB}"')
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{LOAD_DB}", parts.query, parts.fragment))


def run_checked(command: list[str], env: dict, what: str, timeout: float = 600) -> None:
    result = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def fetch(url: str, headers: dict) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            status, _, body = fetch(url, {})
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen | None) -> None:
    """Stop gunicorn (we started it in its own session, so its group is ours alone)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


LUA = r"""
local paths = {PATHS}
local headers = {HEADERS}
local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  codes = ""
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad = bad + 1
    if #codes < 200 then codes = codes .. status .. " " end
  end
end

function done(summary, latency, requests)
  local bad_total, codes_all = 0, ""
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    codes_all = codes_all .. t:get("codes")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
    '"non200":%d,"codes":"%s"}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, bad_total, codes_all))
end
"""


def lua_list(items) -> str:
    return ", ".join(json.dumps(item) for item in items)


def lua_table(mapping: dict) -> str:
    return ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in mapping.items())


def run_wrk(
    wrk: str,
    base: str,
    paths: list[str],
    headers: dict,
    *,
    clients: int,
    duration: int,
    threads: int,
    workdir: Path,
    name: str,
) -> dict:
    script = workdir / f"{name}.lua"
    script.write_text(
        LUA.replace("{PATHS}", "{" + lua_list(paths) + "}").replace(
            "{HEADERS}", "{" + lua_table(headers) + "}"
        )
    )
    command = [
        wrk,
        f"-t{threads}",
        f"-c{clients}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    seconds = data["duration_us"] / 1e6
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return {
        "requests": data["requests"],
        "rps": data["requests"] / seconds if seconds else 0.0,
        "p50": data["p50_us"] / 1000,
        "p95": data["p95_us"] / 1000,
        "p99": data["p99_us"] / 1000,
        "max": data["max_us"] / 1000,
        "errors": data["non200"] + socket_errors,
        "detail": {k: data[k] for k in ("connect", "read", "write", "timeout", "non200")}
        | {"codes": data["codes"].strip()},
        "kib": data["bytes"] / max(1, data["requests"]) / 1024,
    }


# --------------------------------------------------------------------------- one mode


def run_mode(mode: str, args, wrk: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"onehand-load-{mode}-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "ONEHAND_VAR_DIR": str(workdir / "var"),
            "ONEHAND_SITE_URL": base,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    (workdir / "var").mkdir()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    created_db = False
    gunicorn = None
    try:
        if mode == "postgres":
            if not server_url.startswith("postgres"):
                raise SystemExit(f"DATABASE_URL is not PostgreSQL: {server_url}")
            env["DATABASE_URL"] = pg_create(server_url)
            created_db = True
            log(f"postgres: fresh database {LOAD_DB}")
        log(f"{mode}: migrate, collectstatic, seed {PEOPLE} people with two published months")
        python = sys.executable
        run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate")
        run_checked(
            [python, "manage.py", "collectstatic", "--noinput", "-v0"], env, "collectstatic"
        )
        info_file = workdir / "seed.json"
        started = time.perf_counter()
        run_checked(
            [python, str(Path(__file__).resolve()), "--seed", str(info_file)], env, "seeding"
        )
        info = json.loads(info_file.read_text())
        log(
            f"{mode}: seeded in {time.perf_counter() - started:.1f} s ({info['slots']} published "
            "slots)"
        )

        gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
        if not Path(gunicorn_bin).exists():
            gunicorn_bin = shutil.which("gunicorn") or "gunicorn"
        server_log = workdir / "gunicorn.log"
        command = [
            gunicorn_bin,
            "onehand.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--timeout",
            "60",
            "--error-logfile",
            str(server_log),
            "--log-level",
            "warning",
        ]
        gunicorn = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_http(f"{base}/healthz", gunicorn)
        log(f"{mode}: gunicorn {args.workers} workers x {args.threads} threads on {base}")

        rotation = info["rotation"]
        targets = {
            "feed": ([f"/calendar/{token}.ics" for token in info["feed_tokens"]], {}),
            "oncall": (
                [f"/api/rotations/{rotation}/oncall/"],
                {"Authorization": f"Token {info['api_token']}"},
            ),
            "page": (
                [f"/rotations/{rotation}/"],
                {"Cookie": f"{info['session_cookie']}={info['session']}"},
            ),
            "healthz": (["/healthz"], {}),
        }
        checks = {
            "feed": lambda ctype, body: (
                ctype.startswith("text/calendar") and b"BEGIN:VEVENT" in body
            ),
            "oncall": lambda ctype, body: json.loads(body).get("primary") is not None,
            "page": lambda ctype, body: b"Platform" in body and b"Engineer" in body,
            "healthz": lambda ctype, body: json.loads(body).get("status") == "ok",
        }
        results = {}
        for name in args.endpoints:
            paths, headers = targets[name]
            # Every worker imports and warms up lazily: check the answer, then a short untimed run.
            status, ctype, body = fetch(base + paths[0], headers)
            if status != 200 or not checks[name](ctype, body):
                raise RuntimeError(f"{name}: unexpected answer {status} {ctype}: {body[:300]!r}")
            run_wrk(
                wrk,
                base,
                paths,
                headers,
                clients=args.clients,
                duration=args.warmup,
                threads=args.wrk_threads,
                workdir=workdir,
                name=f"{name}-warmup",
            )
            result = run_wrk(
                wrk,
                base,
                paths,
                headers,
                clients=args.clients,
                duration=args.duration,
                threads=args.wrk_threads,
                workdir=workdir,
                name=name,
            )
            # One client alone: the request's own time, without queueing behind 31 others.
            if args.single_duration:
                single = run_wrk(
                    wrk,
                    base,
                    paths,
                    headers,
                    clients=1,
                    duration=args.single_duration,
                    threads=1,
                    workdir=workdir,
                    name=f"{name}-single",
                )
                result["single_p50"], result["single_p95"] = single["p50"], single["p95"]
                result["errors"] += single["errors"]
            results[name] = result
            log(
                f"{mode} {name}: {result['rps']:.0f} req/s, p50 {result['p50']:.0f} ms, "
                f"p95 {result['p95']:.0f} ms, p99 {result['p99']:.0f} ms, errors {result['errors']}"
                + (
                    f"; one client: p50 {result['single_p50']:.1f} ms"
                    if "single_p50" in result
                    else ""
                )
            )
        errors_logged = server_log.read_text(errors="replace") if server_log.exists() else ""
        return {"results": results, "server_log": errors_logged[-3000:], "slots": info["slots"]}
    finally:
        stop(gunicorn)
        if created_db:
            try:
                pg_drop(server_url)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
                log(f"could not drop {LOAD_DB}: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- report


def report(runs: dict, args, load_before, load_after) -> str:
    lines = [
        "# Load benchmark",
        "",
        f"`python bench/load.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: CPython "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs shared by "
        "gunicorn, "
        f"the database and wrk (load average {load_before:.1f} before, {load_after:.1f} after). "
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads, `DJANGO_DEBUG=0`; "
        f"wrk ({args.wrk_threads} threads) keeps {args.clients} connections busy for "
        f"{args.duration} s "
        f"per endpoint after a {args.warmup} s warm-up, then one connection alone for "
        f"{args.single_duration} s (the request's own time, no queueing). Data: a team of "
        f"{PEOPLE} engineers and a "
        f"manager, one daily rotation (primary + secondary) with last and this month published; "
        f"feed requests rotate over the {PEOPLE} people's tokens and are unconditional (full "
        "200, no ETag).",
        "",
    ]
    for mode, outcome in runs.items():
        title = (
            "PostgreSQL (psycopg 3, persistent connections)"
            if mode == "postgres"
            else "embedded SQLite (no DATABASE_URL)"
        )
        lines += [f"## {title}", ""]
        if "skipped" in outcome:
            lines += [f"Skipped: {outcome['skipped']}", ""]
            continue
        lines += [
            "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
            "KiB/response "
            f"| one client p50 / p95 ms | p95 target (< 100 ms at {args.clients} clients) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, label in ENDPOINTS:
            r = outcome["results"].get(name)
            if r is None:
                continue
            target = P95_TARGET_MS.get(name)
            verdict = (
                "-"
                if target is None
                else ("met" if r["p95"] < target and r["errors"] == 0 else "missed")
            )
            single = f"{r['single_p50']:.1f} / {r['single_p95']:.1f}" if "single_p50" in r else "-"
            lines.append(
                f"| {label} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} | "
                f"{r['p99']:.0f} | {r['max']:.0f} | {r['errors']} | {r['kib']:.1f} | {single} | "
                f"{verdict} |"
            )
        errors = {n: r["detail"] for n, r in outcome["results"].items() if r["errors"]}
        if errors:
            lines += ["", f"Errors: `{json.dumps(errors)}`"]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per endpoint (max 300)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed seconds before each endpoint"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--single-duration",
        type=int,
        default=5,
        help="seconds of a one-client run per endpoint (0: skip)",
    )
    parser.add_argument(
        "--modes", default="postgres,sqlite", help="comma-separated: postgres, sqlite"
    )
    parser.add_argument(
        "--endpoints",
        default=",".join(n for n, _ in ENDPOINTS),
        help="comma-separated: " + ", ".join(n for n, _ in ENDPOINTS),
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/load.md"
    )
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(Path(args.seed))
        return 0
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = set(args.endpoints) - {n for n, _ in ENDPOINTS}
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    args.duration = max(1, min(args.duration, 300))
    args.warmup = max(1, min(args.warmup, 30))
    args.single_duration = max(0, min(args.single_duration, 60))

    wrk = ensure_wrk()
    if wrk is None:
        print(
            "SKIPPED: this benchmark needs wrk (Debian: apt-get install wrk; run as root and "
            "bench/load.py installs it itself).",
            file=sys.stderr,
        )
        return 0

    load_before = os.getloadavg()[0]
    runs: dict = {}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        if mode not in {"postgres", "sqlite"}:
            parser.error(f"unknown mode {mode!r}")
        if mode == "postgres":
            url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
            try:
                with pg_admin(url):
                    pass
            except Exception as exc:  # noqa: BLE001
                runs[mode] = {
                    "skipped": (
                        f"PostgreSQL not reachable at {urlsplit(url).hostname}: "
                        f"{exc.__class__.__name__}"
                    )
                }
                log(f"postgres skipped: {runs[mode]['skipped']}")
                continue
        runs[mode] = run_mode(mode, args, wrk)
    load_after = os.getloadavg()[0]

    text = report(runs, args, load_before, load_after)
    print()
    print(text)
    if not args.no_write:
        kept = ""
        if RESULTS.exists():
            old = RESULTS.read_text()
            marker = old.find("\n## Reading")
            if marker >= 0:
                kept = old[marker:]
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text.rstrip("\n") + "\n" + kept)
    failed = any(r["errors"] for o in runs.values() for r in o.get("results", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
