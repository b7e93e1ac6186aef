"""Real services for the tests, started on loopback; skipped (or failed in CI) when missing."""

import os
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

REQUIRE = os.environ.get("ONEHAND_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str):
    """Skip with a reason, or fail when CI requires every service."""
    if REQUIRE:
        pytest.fail(
            f"required service missing (ONEHAND_REQUIRE_SERVICES=1): {reason}", pytrace=False
        )
    pytest.skip(reason)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def start_celery_worker(
    env: dict, queue: str, log_path: Path, concurrency: int = 2
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "onehand",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "-Q",
        queue,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{queue}@%h",
    ]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_celery_beat(env: dict, folder: Path, log_path: Path) -> subprocess.Popen:
    """`celery beat` with its schedule file in `folder` (intervals come from env)."""
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "onehand",
        "beat",
        "--loglevel=INFO",
        "-s",
        str(folder / "celerybeat-schedule"),
        "--pidfile",
        str(folder / "beat.pid"),
    ]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_worker(app, name_prefix: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if any(name.startswith(name_prefix) for reply in replies for name in reply):
            return True
        time.sleep(0.2)
    return False


def eventually(check, timeout: float = 30.0, interval: float = 0.1):
    """Poll until `check()` returns something truthy (work done by another process)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
