"""A real Prometheus Alertmanager routes alerts to Onehand's webhook on a live server.

Debian's prometheus-alertmanager runs on loopback ports with group_wait/group_interval of
a second; alerts are fired and resolved through its API (POST /api/v2/alerts). The test
checks one incident per group, attributed to the primary on call, and the resolve.
"""

import json
import shutil
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidents.models import Incident
from tests.incidents_support import hook_url, new_hook, primary_at, published_rotation
from tests.services import eventually, free_port, unavailable, wait_for_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

CONFIG = """\
global:
  resolve_timeout: 5s
route:
  receiver: onehand
  group_by: ["alertname", "service"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: onehand
    webhook_configs:
      - url: "{url}"
        send_resolved: true
        max_alerts: 0
"""


@pytest.fixture
def alertmanager(tmp_path: Path):
    """A factory: start Alertmanager routing to `url`; answers its base URL."""
    if shutil.which(ALERTMANAGER) is None:
        unavailable("needs prometheus-alertmanager: apt-get install -y prometheus-alertmanager")
    processes: list[subprocess.Popen] = []

    def start(url: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(CONFIG.format(url=url))
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("w")
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        if not wait_for_port(port, timeout=20):
            pytest.fail(
                f"alertmanager did not start:\n{(tmp_path / 'alertmanager.log').read_text()}"
            )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _send(base: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _alert(service: str, instance: str, starts: datetime, ends: datetime | None = None) -> dict:
    alert = {
        "labels": {"alertname": "DiskFull", "service": service, "instance": instance},
        "annotations": {"summary": f"Disk almost full on {service}"},
        "startsAt": starts.isoformat(),
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


def test_alertmanager_groups_become_incidents_attributed_and_resolved(live_server, alertmanager):
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.date()
    setup = published_rotation(today - timedelta(days=1), today + timedelta(days=2))
    issued = new_hook(setup)
    base = alertmanager(live_server.url + hook_url(issued))
    started = now - timedelta(minutes=3)

    _send(
        base,
        [
            _alert("db", "db-1", started),
            _alert("db", "db-2", started + timedelta(seconds=30)),
            _alert("web", "web-1", started),
        ],
    )
    incidents = eventually(lambda: Incident.objects.count() == 2 and list(Incident.objects.all()))
    expected = primary_at(setup, started)
    assert {i.attributed_to_id for i in incidents} == {expected.pk}
    db = eventually(lambda: Incident.objects.filter(title="Disk almost full on db").first())
    assert db.started_at == started
    assert len(set(db.fingerprints)) == 2

    ended = datetime.now(UTC) - timedelta(seconds=1)
    _send(base, [_alert("db", "db-1", started, ended), _alert("db", "db-2", started, ended)])
    closed = eventually(
        lambda: Incident.objects.filter(
            title="Disk almost full on db", resolved_at__isnull=False
        ).first()
    )
    assert abs(closed.resolved_at - ended) < timedelta(seconds=1)
    assert Incident.objects.count() == 2
    assert Incident.objects.get(title="Disk almost full on web").is_open
