import os
import shutil
from pathlib import Path

import pytest

from tests.services import (
    CHROMIUM,
    CHROMIUM_ARGS,
    redis_url,
    start_celery_worker,
    unavailable,
    wait_for_worker,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


@pytest.fixture(scope="session")
def _celery_worker_process(django_db_setup, django_db_blocker, redis_service, tmp_path_factory):
    """One real `celery worker` process for the session, on a queue of its own."""
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
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_service,
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_HOST": os.environ.get("EMAIL_HOST", ""),
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


# --- Browser (pytest-playwright with Debian's Chromium) ------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        unavailable(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


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
