"""Limits on how much one request or one person may ask of a web process.

* :class:`RequestBodyLimitMiddleware` refuses a request whose declared body is over
  ``ONEHAND_MAX_REQUEST_BYTES`` (413) before anything reads it, and a body sent without
  a length (chunked) (411): Django would otherwise spool a multi-gigabyte upload to disk
  before any size check of ours runs.
* :func:`per_minute` and :func:`one_at_a_time` are per-key limits kept in the cache
  (Redis in production, so they hold across processes and hosts); if the cache can't be
  reached they fall back to this process's memory, which still bounds each process.
* :func:`process_slot` caps how many of one kind of heavy work run at once in this
  process and refuses the next at once (503, "busy") rather than queueing it.

This module is the bottom layer: it imports nothing of our apps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse

from .errors import Busy, TooManyRequests

__all__ = [
    "RequestBodyLimitMiddleware",
    "one_at_a_time",
    "per_minute",
    "process_slot",
]

DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class RequestBodyLimitMiddleware:
    """413 for a declared body over the limit, 411 for a body of unknown length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = getattr(settings, "ONEHAND_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.strip():
            try:
                size = int(declared)
            except ValueError:
                return self._refuse(request, 400, "The request's Content-Length is not a number.")
            if size > limit:
                return self._refuse(
                    request,
                    413,
                    f"The request is too big ({_megabytes(size)}). "
                    f"The limit is {_megabytes(limit)}.",
                )
        elif request.META.get("HTTP_TRANSFER_ENCODING", "").strip():
            return self._refuse(
                request, 411, "Send the request with a Content-Length (no chunked uploads)."
            )
        if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get(
            "QUERY_STRING", ""
        ):
            # PostgreSQL cannot store or compare NUL characters; no parameter of ours has one.
            return self._refuse(
                request, 400, "A query parameter contains a NUL character.", code="invalid"
            )
        return self.get_response(request)

    @staticmethod
    def _refuse(request, status: int, message: str, code: str = "too_big") -> HttpResponse:
        # The body is never read here; the WSGI server discards what is left of it. No
        # `Connection: close`: a hop-by-hop header from the application is an error in WSGI
        # (runserver's handler turns it into a 500).
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message, "code": code}, status=status)
        else:
            response = HttpResponse(message, status=status, content_type="text/plain")
        return response


# --------------------------------------------------------------------------
# Per-key limits in the cache, with a per-process fallback
# --------------------------------------------------------------------------

_local_lock = threading.Lock()
_local: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)


def _local_add(key: str, timeout: float) -> bool:
    now = time.monotonic()
    with _local_lock:
        value = _local.get(key)
        if value is not None and value[1] > now:
            return False
        _local[key] = (1, now + timeout)
        return True


def _local_incr(key: str, timeout: float) -> int:
    now = time.monotonic()
    with _local_lock:
        value, expires = _local.get(key, (0, 0.0))
        if expires <= now:
            value, expires = 0, now + timeout
        _local[key] = (value + 1, expires)
        for stale in [k for k, (_, at) in _local.items() if at <= now]:
            del _local[stale]
        return value + 1


def _local_delete(key: str) -> None:
    with _local_lock:
        _local.pop(key, None)


def per_minute(key: str, limit: int, message: str) -> None:
    """Count one more for ``key`` in its minute (which starts with the first count);
    :class:`TooManyRequests` beyond ``limit``."""
    name = f"limits:{key}:minute"
    try:
        cache.add(name, 0, timeout=60)
        count = cache.incr(name)
    except Exception:  # noqa: BLE001 - the cache is down: bound this process at least
        count = _local_incr(name, 60)
    if count > limit:
        raise TooManyRequests(message, retry_after=60)


@contextmanager
def one_at_a_time(key: str, message: str, *, hold_seconds: int = 120) -> Iterator[None]:
    """Run the block only if no other block with ``key`` is running (anywhere).

    ``hold_seconds`` frees the key should the holder die without releasing it.
    """
    name = f"limits:{key}:running"
    try:
        taken = cache.add(name, 1, timeout=hold_seconds)
        local = False
    except Exception:  # noqa: BLE001 - the cache is down
        taken = _local_add(name, hold_seconds)
        local = True
    if not taken:
        raise TooManyRequests(message, retry_after=5)
    try:
        yield
    finally:
        if local:
            _local_delete(name)
        else:
            try:
                cache.delete(name)
            except Exception:  # noqa: BLE001, S110 - expires by itself
                pass


_slots_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}


@contextmanager
def process_slot(name: str, capacity: int, message: str) -> Iterator[None]:
    """Run the block if fewer than ``capacity`` blocks called ``name`` run in this
    process; otherwise :class:`Busy` at once (no queueing behind slow work)."""
    key = f"{name}:{capacity}"
    with _slots_lock:
        semaphore = _slots.get(key)
        if semaphore is None:
            semaphore = _slots[key] = threading.BoundedSemaphore(max(capacity, 1))
    if not semaphore.acquire(blocking=False):
        raise Busy(message, retry_after=60)
    try:
        yield
    finally:
        semaphore.release()
