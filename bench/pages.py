"""Server time, queries and HTML bytes of the pages people open most, at 10 to 800 people.

Run: python bench/pages.py [--sizes 10,50,200,800] [--repeat 7] [--no-write]

For each team size it builds a team with `tests.factories.build_team` (a daily rotation,
primary and secondary, a manager who leads it), gives everyone a few days off and a
preferred day, imports six months of history, publishes this month and drafts next month
with the recommender. It then requests, as the manager, with the Django test client (no
HTTP server): the home page, the rotation page, the load report, the published roster, the
draft roster and the plan page, each as remembered (a repeated view) and as first seen after a
write (a committed write to someone's time away, which renews the plan and page stamps), the
load report and the plan also after a write to a shift of the rotation (which renews the
history stamp too), and `/healthz` (the floor), and prints the median time per
request, the number of queries and the HTML bytes, then the growth 10 -> 800 people.

Uses a throwaway SQLite database unless DATABASE_URL is set (then `test_<name>` is created on
that server and dropped at the end). With REDIS_URL set the cache is Redis, as in production.
Writes bench/results/pages.md (machine and date included) unless --no-write.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = "2026-11-20 12:00Z"
VIEWED = ("home", "rotation", "report", "roster", "draft", "plan")
# The pages that keep what is worked out from the rotation's history across other writes.
HISTORY_VIEWED = ("report", "plan")
# Each page as remembered (a repeated view), as first seen after a write (someone's time
# away), and, for those above, after a write to the rotation's history (a shift).
PAGES = (
    *VIEWED,
    *(f"{name} after a write" for name in VIEWED),
    *(f"{name} after a shift write" for name in HISTORY_VIEWED),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,200,800")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ONEHAND_VAR_DIR", tempfile.mkdtemp(prefix="onehand-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "onehand.settings"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    settings.LOGGING_CONFIG = None
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    setup_test_environment()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def seed(size: int):
    from availability.models import AvailabilityEntry
    from planning import services as planning_services
    from rotation.models import Roster
    from tests.factories import build_team, daily_roster

    setup = build_team(size, prefix=f"s{size}-", pattern="daily", handoff_time=dtime(9))
    rotation, people = setup.rotation, setup.people
    entries = []
    for i, user in enumerate(people):
        off = datetime(2026, 12, 1 + i % 28, tzinfo=UTC)
        entries.append(
            AvailabilityEntry(user=user, kind="unavailable", start=off, end=off + timedelta(days=2))
        )
        pref = datetime(2026, 12, 1 + (i * 7) % 30, 9, tzinfo=UTC)
        entries.append(
            AvailabilityEntry(
                user=user, kind="preferred", start=pref, end=pref + timedelta(hours=8)
            )
        )
    AvailabilityEntry.objects.bulk_create(entries)

    def roster_of(first: date, last: date, status: str):
        return daily_roster(setup, first, last, status)

    roster_of(date(2026, 5, 1), date(2026, 11, 1), Roster.Status.IMPORTED)
    published = roster_of(date(2026, 11, 1), date(2026, 12, 1), Roster.Status.PUBLISHED)
    draft = planning_services.draft_roster(
        rotation, date(2026, 12, 1), date(2027, 1, 1), by=setup.boss
    )
    return setup, published, draft


def measure(client, url, repeat, before=lambda: None):
    """`before` runs ahead of each request, untimed (e.g. a write that renews a stamp)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # /healthz answers 503 without a worker's heartbeat; it does the same work either way.
    ok = (200, 503) if url == "/healthz" else (200,)
    before()
    response = client.get(url)  # warm up (and fill any cache a page keeps)
    assert response.status_code in ok, (url, response.status_code)
    before()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries, size = len(ctx.captured_queries), len(response.content)
    samples, cpu = [], []
    for _ in range(repeat):
        before()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code in ok
    return statistics.median(samples), queries, size, statistics.median(cpu)


def run(args) -> None:
    import time_machine
    from django.conf import settings as django_settings
    from django.db import connection
    from django.db.models import F
    from django.test import Client

    from availability.models import AvailabilityEntry
    from rotation.models import Shift

    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, tuple[float, int, int]]] = {}
    with time_machine.travel(NOW, tick=True):
        for size in sizes:
            built = time.perf_counter()
            setup, published, draft = seed(size)
            print(f"{size} people seeded in {time.perf_counter() - built:.0f} s", flush=True)
            client = Client()
            client.force_login(setup.boss)
            rotation = setup.rotation
            urls = {
                "home": "/",
                "rotation": f"/rotations/{rotation.pk}/?month=2026-11",
                "report": f"/rotations/{rotation.pk}/report/",
                "roster": f"/rosters/{published.pk}/",
                "draft": f"/rosters/{draft.pk}/",
                "plan": f"/rotations/{rotation.pk}/plan/?month=2026-12",
                "healthz": "/healthz",
            }
            results[size] = {name: measure(client, url, args.repeat) for name, url in urls.items()}

            # Each page as seen first after a committed write (autocommit: the stamps are
            # renewed at once, as after a request's commit): the remembered pages and their
            # parts are stale, so the plan ranks the whole team again.
            away = AvailabilityEntry.objects.filter(user__in=setup.people).first()
            shift = Shift.objects.filter(roster=published).first()

            def write_time_away(pk=away.pk):
                AvailabilityEntry.objects.filter(pk=pk).update(end=F("end"))

            def write_shift(pk=shift.pk):
                Shift.objects.filter(pk=pk).update(end=F("end"))

            for name in VIEWED:
                results[size][f"{name} after a write"] = measure(
                    client, urls[name], args.repeat, before=write_time_away
                )
            for name in HISTORY_VIEWED:
                results[size][f"{name} after a shift write"] = measure(
                    client, urls[name], args.repeat, before=write_shift
                )
            for name, (ms, queries, size_bytes, cpu) in results[size].items():
                print(
                    f"  {name:24} {ms:7.1f} ms ({cpu:6.1f} ms CPU) {queries:3} queries "
                    f"{size_bytes / 1024:8.1f} KiB"
                )
    lines = [
        "# Page server time by team size",
        "",
        f"`python bench/pages.py --sizes {args.sizes} --repeat {args.repeat}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs shared with "
        f"other work (load average {os.getloadavg()[0]:.1f}), {connection.vendor}, cache "
        f"{django_settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, Django test "
        "client in-process (no HTTP server), `DJANGO_DEBUG` as set in the environment, as the "
        "team's manager. Median of the requests after one warm-up; queries and bytes of one "
        "request. A daily rotation (primary + secondary), six months of imported history, this "
        "month published, next month drafted by the recommender. Each cell: wall-clock median "
        "(median CPU time of this process, i.e. without PostgreSQL's share, steadier on a busy "
        "machine), queries, HTML size.",
        "",
        "| page | " + " | ".join(f"{s} people" for s in sizes) + " | growth "
        f"{sizes[0]} -> {sizes[-1]} | x /healthz at {sizes[-1]} |",
        "|---|" + "---|" * (len(sizes) + 2),
    ]
    for name in (*PAGES, "healthz"):
        cells = []
        for s in sizes:
            ms, queries, size_bytes, cpu = results[s][name]
            cells.append(f"{ms:.0f} ms ({cpu:.0f} CPU), {queries} q, {size_bytes / 1024:.0f} KiB")
        first, last = results[sizes[0]][name], results[sizes[-1]][name]
        floor = results[sizes[-1]]["healthz"]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {last[0] / first[0]:.2f}x ({last[3] / first[3]:.2f}x CPU)"
            + f" | {last[0] / floor[0]:.1f}x ({last[3] / floor[3]:.1f}x CPU) |"
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        out = ROOT / "bench" / "results" / "pages.md"
        previous = out.read_text() if out.exists() else ""
        reading = previous[previous.find("## Reading") :] if "## Reading" in previous else ""
        out.write_text(text + "\n" + ("\n" + reading if reading else ""))


if __name__ == "__main__":
    main()
