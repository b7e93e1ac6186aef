"""/healthz: database, broker and worker status as JSON; 200 when all are well, 503 otherwise.

Failed deliveries make the status "degraded" (still 200: the service works, some people were
not told something; managers see them on the roster page).
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


def _broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "redis"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}


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
@require_GET
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
