import os
import shutil
from pathlib import Path

import pytest

from tests.services import (
    CHROMIUM,
    CHROMIUM_ARGS,
    redis_url,
    start_celery_beat,
    start_celery_worker,
    unavailable,
    wait_for_worker,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Delivery timings for the worker process: short lease and backoff keep fault tests fast.
WORKER_DELIVERY_ENV = {
    "ONEHAND_DELIVERY_LEASE": "3",
    "ONEHAND_DELIVERY_RETRY_BASE": "0.2",
    "ONEHAND_DELIVERY_SWEEP_GRACE": "1",
    # Chat hooks post to a receiver on loopback (the same switch as calendar URL imports).
    "ONEHAND_ICS_ALLOW_PRIVATE": "1",
    # A draft job silent this long is failed by beat (tests of the sweep wait for it).
    "ONEHAND_DRAFT_STUCK_SECONDS": "5",
}


@pytest.fixture(autouse=True)
def _tasks_run_in_process(settings):
    """Unless a test asks for the real worker, Celery tasks run in the test's own process."""
    from onehand.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache(settings, request):
    """Each test gets an empty cache of its own: ids repeat across tests, answers must not."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


@pytest.fixture
def plan_remembered(settings):
    """The plan's own rows kept under the plan stamp, read through the page's context (not
    whole pages served as bytes). The tests' cache belongs to one process, so remembering is
    forced on."""
    settings.ONEHAND_PLAN_REMEMBER = True
    settings.ONEHAND_PAGE_REMEMBER = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~100 ms a user; tests create hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _mail_in_memory(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return connection


@pytest.fixture(scope="session")
def redis_service():
    url = redis_url()
    if url is None:
        unavailable("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/15")
    return url


# The worker's PostgreSQL sessions carry this name (pg_stat_activity.application_name).
WORKER_APPLICATION_NAME = "onehand-test-worker"


@pytest.fixture(scope="session")
def _celery_worker_process(
    django_db_setup, django_db_blocker, redis_service, tmp_path_factory, smtp_sink
):
    """One real `celery worker` process for the session, on a queue of its own.

    Its mail goes to the session's SMTP sink (started first), so tests read what it sent.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        unavailable("the worker tests need PostgreSQL (set DATABASE_URL) so two processes share it")
    from onehand.celery import app

    # The worker consumes the queue this process sends to; leftovers of earlier runs go first.
    queue = app.conf.task_default_queue
    app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            f"?application_name={WORKER_APPLICATION_NAME}"
        ),
        "REDIS_URL": redis_service,
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_HOST": smtp_sink.host,
        "EMAIL_PORT": str(smtp_sink.port),
        "EMAIL_USE_TLS": "0",
        **WORKER_DELIVERY_ENV,
    }
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    state = {"env": env, "queue": queue, "log": log, "process": None}

    def start():
        state["process"] = start_celery_worker(env, queue, log)
        from onehand.celery import app

        if not wait_for_worker(app, queue):
            stop()
            pytest.fail(f"celery worker did not start; log:\n{Path(log).read_text()[-3000:]}")

    def stop(sig=None):
        process = state["process"]
        if process and process.poll() is None:
            if sig is not None:
                process.send_signal(sig)
            else:
                process.terminate()
            try:
                process.wait(timeout=20)
            except Exception:  # noqa: BLE001
                process.kill()
                process.wait()

    state["start"], state["stop"] = start, stop
    start()
    yield state
    stop()


@pytest.fixture
def celery_worker(_celery_worker_process, settings):
    """Tasks go through Redis to the real worker process (use with transactional_db)."""
    from onehand.celery import app

    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    return _celery_worker_process


# Beat intervals for the beat process of `celery_beat`: every swap and watch task each second.
FAST_BEAT_ENV = {
    "ONEHAND_BEAT_HEARTBEAT_SECONDS": "1",
    "ONEHAND_BEAT_SWAPS_SECONDS": "1",
    "ONEHAND_BEAT_AT_RISK_SECONDS": "1",
    "ONEHAND_BEAT_DRAFTS_SECONDS": "1",
    "ONEHAND_BEAT_SWEEP_SECONDS": "2",
    "ONEHAND_BEAT_NOTES_SECONDS": "3600",
    "ONEHAND_BEAT_CALENDARS_SECONDS": "3600",
}


@pytest.fixture
def celery_beat(celery_worker, tmp_path):
    """A real `celery beat` process for this test, on the worker's queue, with the short
    intervals of FAST_BEAT_ENV; stopped at the end."""
    env = {**celery_worker["env"], **FAST_BEAT_ENV}
    log = tmp_path / "beat.log"
    process = start_celery_beat(env, tmp_path, log)
    yield {"process": process, "log": log}
    process.terminate()
    try:
        process.wait(timeout=20)
    except Exception:  # noqa: BLE001
        process.kill()
        process.wait()


# --- Browser (pytest-playwright with Debian's Chromium) ------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        unavailable(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture
def login(page, live_server):
    """Log a user in through the real login page."""

    def _login(username: str, password: str = "pw-for-tests-123"):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return _login


# --- Mail (aiosmtpd) and CalDAV (Radicale) on loopback


class SmtpSink:
    """An aiosmtpd handler that keeps every accepted message, parsed.

    It announces PIPELINING unless `pipelining` is set False, and refuses RCPT TO for the
    addresses in `unknown`.
    `refuse(n)` answers the next n messages with 451 (try again later), or with `reply`, after
    letting `after` messages through; `peers` lists the client connection (address, port)
    each accepted message came on; `hold_after(n)` makes
    every message after the n-th wait (not accepted) until `release()`: a client killed while
    waiting never gets its 250, and its message is dropped like a real server would.
    """

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.host, self.port = "127.0.0.1", 0
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = []
            self.peers = []
            self.refusals_left = 0
            self.refuse_after = 0
            self.refusal = "451 4.3.0 Mailbox busy, try again later"
            self.refused = 0
            self.hold_limit = None
            self.holding = 0
            self.pipelining = True
            self.unknown = set()

    def refuse(
        self, count: int, *, after: int = 0, reply: str = "451 4.3.0 Mailbox busy, try again later"
    ):
        with self.lock:
            self.refusals_left, self.refuse_after, self.refusal = count, after, reply

    def hold_after(self, count: int):
        with self.lock:
            self.hold_limit = count

    def release(self):
        with self.lock:
            self.hold_limit = None

    def _held(self) -> bool:
        with self.lock:
            return self.hold_limit is not None and len(self.messages) >= self.hold_limit

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """Announce PIPELINING (RFC 2920) as most relays do (aiosmtpd reads pipelined
        commands one by one anyway), unless `pipelining` is off."""
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Addresses in `unknown` are refused with 550 (no such user)."""
        if address in self.unknown:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        import email.policy

        with self.lock:
            if self.refusals_left > 0 and self.refuse_after > 0:
                self.refuse_after -= 1
            elif self.refusals_left > 0:
                self.refusals_left -= 1
                self.refused += 1
                return self.refusal
        if self._held():
            with self.lock:
                self.holding += 1
            try:
                while self._held():
                    await asyncio.sleep(0.02)  # cancelled if the client goes away
            finally:
                with self.lock:
                    self.holding -= 1
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.messages.append(message)
            self.peers.append(tuple(session.peer))
        return "250 2.0.0 OK"


@pytest.fixture(scope="session")
def smtp_sink():
    """One SMTP server on loopback for the session (the worker process sends to it too)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        unavailable("needs aiosmtpd (pip install -e .[dev])")
    import logging

    from tests.services import free_port

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    sink = SmtpSink()
    sink.port = free_port()
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    try:
        controller.start()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"could not start the SMTP server: {exc}")
    yield sink
    controller.stop()


@pytest.fixture
def smtp_server(smtp_sink, settings):
    """Mail of this test goes over real SMTP to the sink, which starts empty."""
    smtp_sink.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_sink.host
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield smtp_sink
    smtp_sink.reset()


RADICALE_USERS = {"alice": "alice-app-password", "bob": "bob-app-password"}


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory):
    """A Radicale CalDAV server on loopback (htpasswd, plain passwords, owner-only rights)."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from tests.services import free_port, wait_for_port

    try:
        import radicale  # noqa: F401
    except ImportError:
        unavailable("needs radicale (pip install -e .[dev])")
    folder = tmp_path_factory.mktemp("radicale")
    users = folder / "users"
    users.write_text("".join(f"{name}:{password}\n" for name, password in RADICALE_USERS.items()))
    port = free_port()
    log = open(folder / "radicale.log", "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--config",
            "",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(folder / "collections"),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(users),
            "--auth-htpasswd-encryption",
            "plain",
            "--auth-delay",
            "0",
            "--rights-type",
            "owner_only",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if not wait_for_port(port):
        process.kill()
        unavailable(f"radicale did not start: {(folder / 'radicale.log').read_text()[-2000:]}")
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{port}/", users=RADICALE_USERS, log=folder / "radicale.log"
    )
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def radicale_calendar(radicale_server):
    """A fresh calendar of alice's on the Radicale server: (url, username, password)."""
    import uuid

    import caldav

    password = radicale_server.users["alice"]
    client = caldav.DAVClient(
        url=f"{radicale_server.url}alice/",
        username="alice",
        password=password,
        enable_rfc6764=False,
    )
    calendar = client.principal().make_calendar(name=f"oncall-{uuid.uuid4().hex[:8]}")
    return str(calendar.url), "alice", password


@pytest.fixture(autouse=True)
def _fresh_vobject_time_zones():
    """vobject keeps the first VTIMEZONE it reads for a TZID for the whole process, so a later
    calendar whose VTIMEZONE covers other years would be read with the wrong offsets."""
    try:
        import vobject.icalendar as vobject_icalendar
    except ImportError:
        yield
        return
    registry = getattr(vobject_icalendar, "__tzidMap", None)
    if isinstance(registry, dict):
        initial = _VOBJECT_INITIAL_TZIDS.setdefault("map", dict(registry))
        registry.clear()
        registry.update(initial)
    yield


_VOBJECT_INITIAL_TZIDS: dict = {}
