"""`make run` on a fresh machine: the embedded SQLite database migrates from nothing, the demo
team is seeded and its pages answer (the suite itself runs on PostgreSQL, so a migration that
only PostgreSQL understands would otherwise go unnoticed, as one once did)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VISIT_THE_DEMO = """
from django.contrib.auth import get_user_model
from django.test import Client
from rotation.models import Roster, Rotation

browser = Client()
browser.force_login(get_user_model().objects.get(username="maya"))
rotation, roster = Rotation.objects.first(), Roster.objects.first()
for path in ["/", f"/rotations/{rotation.pk}/", f"/rotations/{rotation.pk}/plan/",
             f"/rotations/{rotation.pk}/report/", f"/rosters/{roster.pk}/", "/availability/",
             f"/api/rotations/{rotation.pk}/oncall/"]:
    print(path, browser.get(path, HTTP_HOST="127.0.0.1").status_code)
"""


def embedded(tmp_path, *args):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DATABASE_TEST_NAME", "REDIS_URL", "CELERY_QUEUE")
    }
    env["ONEHAND_VAR_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_make_run_migrates_seeds_and_serves_the_demo_on_embedded_sqlite(tmp_path):
    migrated = embedded(tmp_path, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    seeded = embedded(tmp_path, "seed_demo", "--if-empty")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert (tmp_path / "onehand.sqlite3").exists()

    visited = embedded(tmp_path, "shell", "-c", VISIT_THE_DEMO)

    assert visited.returncode == 0, visited.stderr[-3000:]
    answers = dict(line.split() for line in visited.stdout.splitlines() if line.startswith("/"))
    assert len(answers) == 7 and set(answers.values()) == {"200"}, visited.stdout
