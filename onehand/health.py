"""/healthz: database, broker and worker status as JSON; 200 when all are well, 503 otherwise.

Failed deliveries make the status "degraded" (still 200: the service works, some people were
not told something; managers see them on the roster page).

Load balancers call this often, so it stays cheap: opening a broker connection was ~70% of its
time, so each process keeps the broker's answer for ONEHAND_HEALTH_BROKER_SECONDS (2 s by
default): a broker that goes down is reported within that time, and a burst of probes costs
one connection per process and interval.
"""

import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from notifications.models import Delivery
from onehand.celery import app
from rotation.models import Heartbeat


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "engine": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return {"ok": False, "error": exc.__class__.__name__}


def _check_broker() -> dict:
    """A new connection each time: a pooled one would say "connected" after Redis died."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "redis"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}


# (broker URL, monotonic time of the check, answer): the last check of this process.
_last_broker_check: tuple[str, float, dict] | None = None
_broker_lock = threading.Lock()


def _broker() -> dict:
    """The broker's answer, checked at most once per ONEHAND_HEALTH_BROKER_SECONDS per process
    (one thread checks; the others keep answering with the last result meanwhile)."""
    global _last_broker_check
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process"}
    url = str(app.conf.broker_url)
    max_age = float(getattr(settings, "ONEHAND_HEALTH_BROKER_SECONDS", 2))
    last = _last_broker_check
    fresh = last is not None and last[0] == url and time.monotonic() - last[1] < max_age
    if fresh:
        return dict(last[2])
    if last is not None and last[0] == url and not _broker_lock.acquire(blocking=False):
        return dict(last[2])  # another thread is checking right now
    if last is None or last[0] != url:
        _broker_lock.acquire()
    try:
        answer = _check_broker()
        _last_broker_check = (url, time.monotonic(), answer)
        return dict(answer)
    finally:
        _broker_lock.release()


def _cache() -> dict:
    """The cache (Redis when configured): down means slower answers, never wrong ones."""
    try:
        cache.set("healthz", "ok", 10)
        if cache.get("healthz") != "ok":
            return {"ok": False, "error": "the cache did not keep a value"}
        return {"ok": True, "backend": cache.__class__.__name__}
    except Exception as exc:  # noqa: BLE001
        return {
            "ok": False,
            "error": exc.__class__.__name__,
            "effect": "on-call and feed answers come from the database",
        }


def _worker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process"}
    beat = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
    if beat is None:
        return {"ok": False, "error": "no heartbeat yet: is the worker with beat running?"}
    age = timezone.now() - beat
    ok = age <= timedelta(seconds=settings.ONEHAND_HEARTBEAT_MAX_AGE)
    return {"ok": ok, "last_heartbeat": beat.isoformat(), "age_seconds": int(age.total_seconds())}


@never_cache
@require_safe
def healthz(request):
    checks = {"database": _database(), "broker": _broker(), "cache": _cache()}
    checks["worker"] = (
        _worker() if checks["database"]["ok"] else {"ok": False, "error": "no database"}
    )
    healthy = all(check["ok"] for check in checks.values())
    failed = _failed_deliveries() if checks["database"]["ok"] else None
    down = [name for name, check in checks.items() if not check["ok"]]
    status = "ok" if healthy else "unhealthy"
    if healthy and failed:
        status = "degraded"
    body = {"status": status, "down": down, **checks}
    if failed is not None:
        body["deliveries"] = {"failed": failed}
    return JsonResponse(body, status=200 if healthy else 503)


def _failed_deliveries() -> int | None:
    try:
        return Delivery.objects.filter(status=Delivery.Status.FAILED).count()
    except Exception:  # noqa: BLE001 - health must answer
        return None
