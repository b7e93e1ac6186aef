"""Load benchmark: the hot endpoints against /healthz, in one run, on gunicorn + PostgreSQL + Redis.

Run::

    .venv/bin/python bench/load.py [--duration 5] [--single-duration 3] [--rounds 3]
                                   [--teams 20] [--people 25] [--endpoints oncall,feed,...]

It makes a fresh database (``onehand_load`` on the server of ``DATABASE_URL``, default
``postgres://onehand:onehand@127.0.0.1:5432/onehand``), migrates it, collects static files and
seeds an organisation of ``--teams`` x ``--people`` (default 20 x 25 = 500 people), each team
with two rotations (daily primary + secondary, weekly primary), a year of imported history and
last and this month published; then ANALYZE. It starts gunicorn (gthread, ``DJANGO_DEBUG=0``)
with ``REDIS_URL`` (cache and broker; default ``redis://127.0.0.1:6379/0``) on a free loopback
port and points ``wrk`` (Debian's package; installed with apt-get when missing and running as
root, otherwise the run is skipped with a message) at each endpoint of issue 19:

- ``oncall``: ``GET /api/rotations/<id>/oncall/`` with ``Authorization: Token <key>``;
- ``feed``: personal feeds ``/calendar/<token>.ics``, rotating over 100 people's tokens;
- ``feed304``: the same with each feed's ``If-None-Match`` (every answer must be a 304);
- ``teamfeed`` / ``teamfeed304``: team feeds, rotating over every rotation's feed;
- ``home``, ``rotation``, ``report``, ``plan``, ``roster`` (this month's published roster):
  pages, as a manager with a session cookie.

Each endpoint runs right after a ``/healthz`` run of the same length (same clients), so the
ratio survives a noisy shared machine: throughput at ``--clients`` (32) as a share of
``/healthz``'s, and the one-client median latency as a multiple of ``/healthz``'s. The table
reports the median of ``--rounds`` (3) such pairs and is written to ``bench/results/load.md``
(a ``## Reading`` section already in that file is kept). All traffic goes to 127.0.0.1;
gunicorn, the database and the temp directory are removed at the end, also after an error.
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
import statistics
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
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Another name when several people benchmark on one server (the database is dropped at the end).
LOAD_DB = os.environ.get("ONEHAND_LOAD_DB", "onehand_load")
FEEDS_SAMPLED = 100

# name, label, goal (32-client throughput share of /healthz) from issue 19.
ENDPOINTS = [
    ("oncall", "on-call API (token)", 0.8),
    ("feed", "personal feed", 0.5),
    ("feed304", "personal feed with If-None-Match (304)", 0.8),
    ("teamfeed", "team feed", 0.5),
    ("teamfeed304", "team feed with If-None-Match (304)", 0.8),
    ("home", "home", 0.2),
    ("rotation", "rotation page", 0.2),
    ("report", "load report", 0.2),
    ("plan", "plan page", 0.15),
    ("roster", "roster page", 0.2),
]


# --------------------------------------------------------------------------- seeding (child)


def seed(out: Path, teams: int, people: int) -> None:
    """Runs in a child process with the run's environment: seed and describe the data."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onehand.settings")
    import django

    django.setup()
    from datetime import date, time, timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from notifications.models import RotationFeed
    from rotation import services
    from rotation.models import (
        Heartbeat,
        Membership,
        Person,
        Roster,
        Rotation,
        RotationMember,
        Shift,
        Team,
    )
    from rotation.permissions import SYSTEM
    from rotation.shifts import month_bounds

    # Invites are not what this measures: keep the seeding's mail in memory.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    User = get_user_model()
    zones = [
        ("Europe/London", "GB", "+44 20 7946 "),
        ("America/New_York", "US", "+1 212 555 "),
        ("Asia/Kolkata", "IN", "+91 80 5555 "),
    ]
    today = timezone.now().date()
    this_month, next_month = month_bounds(today)
    months = [this_month]
    for _ in range(12):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    months.append(next_month)  # months[i]..months[i+1]: 12 past months, then this one

    def assignments(rotation, start, end, members, offset):
        chosen = {}
        for n, (window, _) in enumerate(services.rotation_windows(rotation, start, end)):
            for k, role in enumerate(rotation.slot_roles):
                chosen[(window.start, role)] = members[(n + offset + k) % len(members)].pk
        return chosen

    def halves(members):
        """The daily rotation's people and the weekly's: apart, so no seeded roster puts one
        person on two primaries at once (publishing refuses that), whatever today's date."""
        if len(members) < 2:
            return members, members
        return members[: len(members) // 2], members[len(members) // 2 :]

    first_rotation = None
    managers = []
    feed_people = []
    for t in range(teams):
        team = Team.objects.create(name=f"Team {t:02d}", slug=f"team-{t:02d}")
        boss = User.objects.create_user(
            f"boss{t:02d}", f"boss{t:02d}@load.example", first_name="Maya", last_name=f"T{t:02d}"
        )
        services.ensure_person(
            boss, by=SYSTEM, time_zone="Europe/London", country="GB", phone="+44 20 7946 0999"
        )
        Membership.objects.create(team=team, user=boss, role=Membership.Role.MANAGER)
        managers.append(boss)
        members = []
        for i in range(people):
            zone, country, phone = zones[i % len(zones)]
            user = User.objects.create_user(
                f"t{t:02d}e{i:02d}",
                f"t{t:02d}e{i:02d}@load.example",
                first_name=f"Eng{i:02d}",
                last_name=f"Team{t:02d}",
            )
            services.ensure_person(
                user, by=SYSTEM, time_zone=zone, country=country, phone=f"{phone}{t:02d}{i:02d}"
            )
            Membership.objects.create(team=team, user=user)
            members.append(user)
        for i, user in enumerate(members):
            Person.objects.filter(user=user).update(mentor=members[(i + 5) % people])
        feed_people += members[: max(1, FEEDS_SAMPLED // teams)]
        for (name, pattern, secondary, hour), takers in zip(
            (
                ("Platform", Rotation.Pattern.DAILY, True, 9),
                ("Database", Rotation.Pattern.WEEKLY, False, 10),
            ),
            halves(members),
            strict=True,
        ):
            rotation = Rotation.objects.create(
                team=team,
                name=f"{name} {t:02d}",
                pattern=pattern,
                time_zone="Europe/London",
                handoff_time=time(hour, 0),
                has_secondary=secondary,
                lead=boss,
                runbook_url="https://runbooks.example.com/" + name.lower(),
            )
            first_rotation = first_rotation or rotation
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=u, since=date(2020, 1, 1)) for u in members
            )
            for m in range(len(months) - 1):
                roster = services.create_roster(
                    rotation,
                    months[m],
                    months[m + 1],
                    by=boss,
                    assignments=assignments(rotation, months[m], months[m + 1], takers, m),
                )
                if m < len(months) - 3:  # a year of history, as an import leaves it
                    Roster.objects.filter(pk=roster.pk).update(status=Roster.Status.IMPORTED)
                else:  # last month and this month: published (invites, feeds)
                    services.publish_roster(roster, by=boss)
            RotationFeed.objects.get_or_create(rotation=rotation)
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    client = Client()
    client.force_login(managers[0])
    info = {
        "rotation": first_rotation.pk,
        "roster": Roster.objects.filter(rotation=first_rotation, status=Roster.Status.PUBLISHED)
        .order_by("-period_start")
        .first()
        .pk,
        "feed_tokens": list(
            Person.objects.filter(user__in=feed_people).values_list("feed_token", flat=True)
        ),
        "team_feed_tokens": list(RotationFeed.objects.values_list("token", flat=True)),
        "api_token": Token.objects.get_or_create(user=managers[0])[0].key,
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "people": teams * (people + 1),
        "shifts": Shift.objects.count(),
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
local inm = {INM}
local expected = {EXPECTED}
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
  local n = (counter % #paths) + 1
  if #inm > 0 then headers["If-None-Match"] = inm[n] end
  return wrk.format("GET", paths[n], headers)
end

function response(status, hdrs, body)
  if status ~= expected then
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
    etags: list[str] | None = None,
    expected: int = 200,
    clients: int,
    duration: int,
    threads: int,
    workdir: Path,
    name: str,
) -> dict:
    script = workdir / f"{name}.lua"
    script.write_text(
        LUA.replace("{PATHS}", "{" + lua_list(paths) + "}")
        .replace("{HEADERS}", "{" + lua_table(headers) + "}")
        .replace("{INM}", "{" + lua_list(etags or []) + "}")
        .replace("{EXPECTED}", str(expected))
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


# --------------------------------------------------------------------------- the run


def etag_of(url: str, headers: dict) -> str:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.headers["ETag"]


def targets(info: dict, base: str) -> dict:
    rotation = info["rotation"]
    session = {"Cookie": f"{info['session_cookie']}={info['session']}"}
    personal = [f"/calendar/{token}.ics" for token in info["feed_tokens"]]
    team = [f"/calendar/rotations/{token}.ics" for token in info["team_feed_tokens"]]
    found = {
        "healthz": (["/healthz"], {}, None, 200),
        "oncall": (
            [f"/api/rotations/{rotation}/oncall/"],
            {"Authorization": f"Token {info['api_token']}"},
            None,
            200,
        ),
        "feed": (personal, {}, None, 200),
        "teamfeed": (team, {}, None, 200),
        "home": (["/"], session, None, 200),
        "rotation": ([f"/rotations/{rotation}/"], session, None, 200),
        "report": ([f"/rotations/{rotation}/report/"], session, None, 200),
        "plan": ([f"/rotations/{rotation}/plan/"], session, None, 200),
        "roster": ([f"/rosters/{info['roster']}/"], session, None, 200),
    }
    found["feed304"] = (personal, {}, [etag_of(base + p, {}) for p in personal], 304)
    found["teamfeed304"] = (team, {}, [etag_of(base + p, {}) for p in team], 304)
    return found


def measure(wrk, base, target, *, clients, duration, threads, workdir, name) -> dict:
    paths, headers, etags, expected = target
    return run_wrk(
        wrk,
        base,
        paths,
        headers,
        etags=etags,
        expected=expected,
        clients=clients,
        duration=duration,
        threads=threads,
        workdir=workdir,
        name=name,
    )


def ratio(count: int, value: float, base_count: int, base_value: float) -> float | None:
    if count < 3 or base_count < 3 or value <= 0 or base_value <= 0:
        return None
    return value / base_value


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def median_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return statistics.median(values) if values else None


def run(args, wrk: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="onehand-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "ONEHAND_VAR_DIR": str(workdir / "var"),
            "ONEHAND_SITE_URL": base,
            "REDIS_URL": args.redis_url,
            # No worker runs here: the seeded heartbeat stays "fresh" for /healthz.
            "ONEHAND_HEARTBEAT_MAX_AGE": str(10**9),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    (workdir / "var").mkdir()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    gunicorn = None
    try:
        env["DATABASE_URL"] = pg_create(server_url)
        python = sys.executable
        seed_env = {**env, "CELERY_TASK_ALWAYS_EAGER": "1"}
        log(f"fresh database {LOAD_DB}: migrate, collectstatic")
        run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate")
        run_checked(
            [python, "manage.py", "collectstatic", "--noinput", "-v0"], env, "collectstatic"
        )
        log(f"seeding {args.teams} teams x {args.people} people, two rotations each, a year")
        info_file = workdir / "seed.json"
        started = time.perf_counter()
        run_checked(
            [
                python,
                str(Path(__file__).resolve()),
                "--seed",
                str(info_file),
                "--teams",
                str(args.teams),
                "--people",
                str(args.people),
            ],
            seed_env,
            "seeding",
            timeout=3600,
        )
        info = json.loads(info_file.read_text())
        log(
            f"seeded in {time.perf_counter() - started:.0f} s: {info['people']} people, "
            f"{info['shifts']} shifts"
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
        log(f"gunicorn {args.workers} workers x {args.threads} threads on {base}")
        found = targets(info, base)
        rounds: dict[str, list[dict]] = {name: [] for name in args.endpoints}
        common = {"threads": args.wrk_threads, "workdir": workdir}
        for name in ["healthz", *args.endpoints]:  # every worker warms up on every endpoint
            measure(wrk, base, found[name], clients=args.clients, duration=2, name="w", **common)
        for number in range(1, args.rounds + 1):
            for name in args.endpoints:
                pair = {}
                for which in ("healthz", name):
                    many = measure(
                        wrk,
                        base,
                        found[which],
                        clients=args.clients,
                        duration=args.duration,
                        name=which,
                        **common,
                    )
                    one = measure(
                        wrk,
                        base,
                        found[which],
                        clients=1,
                        duration=args.single_duration,
                        name=f"{which}-1",
                        threads=1,
                        workdir=workdir,
                    )
                    pair[which] = {"many": many, "one": one}
                errors = sum(p[k]["errors"] for p in pair.values() for k in ("many", "one"))
                # A window in which either side finished no request (the machine stalled)
                # gives no ratio; the median is over the rounds that do.
                row = {
                    "share": ratio(
                        pair[name]["many"]["requests"],
                        pair[name]["many"]["rps"],
                        pair["healthz"]["many"]["requests"],
                        pair["healthz"]["many"]["rps"],
                    ),
                    "latency": ratio(
                        pair[name]["one"]["requests"],
                        pair[name]["one"]["p50"],
                        pair["healthz"]["one"]["requests"],
                        pair["healthz"]["one"]["p50"],
                    ),
                    "rps": pair[name]["many"]["rps"],
                    "healthz_rps": pair["healthz"]["many"]["rps"],
                    "p50_one": pair[name]["one"]["p50"],
                    "healthz_p50_one": pair["healthz"]["one"]["p50"],
                    "p95": pair[name]["many"]["p95"],
                    "kib": pair[name]["many"]["kib"],
                    "errors": errors,
                    "detail": {k: pair[k]["many"]["detail"] for k in pair},
                }
                rounds[name].append(row)
                log(
                    f"round {number} {name}: {row['rps']:.0f} req/s vs /healthz "
                    f"{row['healthz_rps']:.0f} (share {fmt(row['share'], '.2f')}); one client "
                    f"{row['p50_one']:.1f} ms vs {row['healthz_p50_one']:.1f} ms "
                    f"({fmt(row['latency'], '.1f')}x); errors {errors}"
                )
        errors_logged = server_log.read_text(errors="replace") if server_log.exists() else ""
        return {"rounds": rounds, "info": info, "server_log": errors_logged[-3000:]}
    finally:
        stop(gunicorn)
        try:
            pg_drop(server_url)
        except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
            log(f"could not drop {LOAD_DB}: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- report


def report(outcome: dict, args, load_before: float, load_after: float) -> str:
    info = outcome["info"]
    lines = [
        "# Load benchmark: hot endpoints against /healthz",
        "",
        f"`python bench/load.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{platform.node() or 'this machine'}, CPython {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs shared by gunicorn, PostgreSQL, Redis "
        f"and wrk (load average {load_before:.1f} before, {load_after:.1f} after). gunicorn "
        f"gthread {args.workers} workers x {args.threads} threads, `DJANGO_DEBUG=0`, PostgreSQL "
        f"and Redis (cache and broker). Data: {args.teams} teams x {args.people} people "
        f"({info['people']} with the managers), two rotations each (daily primary + secondary "
        "by one half of the team, weekly primary by the other), a year of history, last and "
        f"this month published: {info['shifts']} shifts. Each endpoint ran right after "
        "`/healthz` for the same time: "
        f"{args.clients} connections for {args.duration} s (throughput), then one connection "
        f"for {args.single_duration} s (median latency). Median of {args.rounds} rounds.",
        "",
        f"| endpoint | one client, x /healthz | {args.clients} clients, throughput as a share "
        "of /healthz (rounds with a ratio) | goal | req/s | /healthz req/s | "
        "one client p50 ms | p95 ms at "
        f"{args.clients} | KiB | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label, goal in ENDPOINTS:
        rows = outcome["rounds"].get(name)
        if not rows:
            continue

        share = median_of(rows, "share")
        verdict = "n/a" if share is None else ("met" if share >= goal else "missed")
        counted = sum(r["share"] is not None for r in rows)
        lines.append(
            f"| {label} | {fmt(median_of(rows, 'latency'), '.1f')}x | {fmt(share, '.2f')} "
            f"({counted} of {len(rows)}) | >= {goal} ({verdict}) | "
            f"{median_of(rows, 'rps'):.0f} | {median_of(rows, 'healthz_rps'):.0f} | "
            f"{median_of(rows, 'p50_one'):.1f} | {median_of(rows, 'p95'):.0f} | "
            f"{median_of(rows, 'kib'):.1f} | {sum(r['errors'] for r in rows)} |"
        )
    errors = {
        name: [r["detail"] for r in rows if r["errors"]]
        for name, rows in outcome["rounds"].items()
        if any(r["errors"] for r in rows)
    }
    if errors:
        lines += ["", f"Errors: `{json.dumps(errors)}`"]
    if outcome["server_log"].strip():
        lines += ["", "gunicorn log (tail):", "", "```", outcome["server_log"].strip(), "```"]
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per 32-client run")
    parser.add_argument("--single-duration", type=int, default=3, help="seconds, one client")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the table shows medians")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--people", type=int, default=25, help="engineers per team")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, help="Redis"
    )
    parser.add_argument(
        "--endpoints",
        default=",".join(n for n, _, _ in ENDPOINTS),
        help="comma-separated: " + ", ".join(n for n, _, _ in ENDPOINTS),
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/load.md"
    )
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(Path(args.seed), args.teams, args.people)
        return 0
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = set(args.endpoints) - {n for n, _, _ in ENDPOINTS}
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    args.duration = max(1, min(args.duration, 300))
    args.single_duration = max(1, min(args.single_duration, 60))
    args.rounds = max(1, min(args.rounds, 9))

    wrk = ensure_wrk()
    if wrk is None:
        print(
            "SKIPPED: this benchmark needs wrk (Debian: apt-get install wrk; run as root and "
            "bench/load.py installs it itself).",
            file=sys.stderr,
        )
        return 0
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        with pg_admin(url):
            pass
        import redis

        redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        print(f"SKIPPED: needs PostgreSQL and Redis ({exc.__class__.__name__}: {exc})")
        return 0
    load_before = os.getloadavg()[0]
    outcome = run(args, wrk)
    load_after = os.getloadavg()[0]
    text = report(outcome, args, load_before, load_after)
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
    failed = any(r["errors"] for rows in outcome["rounds"].values() for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
