"""Server time of the manager's pages for a 50-person team and a 31-day month.

Run: python bench/pages.py [--people 50] [--repeat 15]
Uses a throwaway SQLite database under a temp dir unless DATABASE_URL is set (then a
fresh database named <name>_bench is created on that server). Prints median and p95 in ms
and writes bench/results/pages.md.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("ONEHAND_VAR_DIR", tempfile.mkdtemp(prefix="onehand-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "onehand.settings"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    settings.LOGGING_CONFIG = None
    setup_test_environment()
    from django.db import connection
    from django.test.utils import get_runner  # noqa: F401 - imported for side effects of test settings

    connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def run(args) -> None:
    import time_machine
    from django.contrib.auth import get_user_model
    from django.test import Client

    from planning import services as planning_services
    from rotation.models import Membership, Rotation, RotationMember, Team

    User = get_user_model()
    with time_machine.travel("2026-11-20 12:00Z"):
        team = Team.objects.create(name="Bench", slug="bench")
        boss = User.objects.create_user("boss", password="bench-password-123")
        Membership.objects.create(team=team, user=boss, role="manager")
        rotation = Rotation.objects.create(
            team=team, name="Daily", pattern="daily", handoff_time=dtime(9), lead=boss
        )
        for i in range(args.people):
            user = User.objects.create_user(f"eng{i}", first_name=f"Engineer{i}")
            Membership.objects.create(team=team, user=user)
            RotationMember.objects.create(rotation=rotation, user=user, since=date(2026, 1, 1))
        roster = planning_services.draft_roster(
            rotation, date(2026, 12, 1), date(2027, 1, 1), by=boss
        )
        client = Client()
        client.force_login(boss)
        rows = []
        for name, url in (
            ("plan (availability calendar)", f"/rotations/{rotation.pk}/plan/?month=2026-12"),
            ("roster (draft with reasons)", f"/rosters/{roster.pk}/"),
            ("rotation month view", f"/rotations/{rotation.pk}/?month=2026-12"),
        ):
            client.get(url)  # warm up
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
            samples.sort()
            rows.append((name, statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]))
    engine = __import__("django.db").db.connection.vendor
    lines = [
        f"# Page server time, {args.people} people x 31 days ({engine}, {args.repeat} requests "
        "each)",
        "",
        "| page | median ms | p95 ms |",
        "|---|---|---|",
        *[f"| {name} | {median:.0f} | {p95:.0f} |" for name, median, p95 in rows],
    ]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "pages.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
