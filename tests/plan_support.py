"""What the plan and remembered-page tests share: the plan's address, a request's query count,
and a plan computed from nothing kept (to compare a kept one with)."""

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def plan_url(setup, month: str = "2026-12") -> str:
    return f"/rotations/{setup.rotation.pk}/plan/?month={month}"


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def computed_from_nothing_kept(settings, look: Callable[[], dict]) -> dict:
    """What `look()` sees with nothing remembered, then remembering on again."""
    settings.ONEHAND_PLAN_REMEMBER = False
    try:
        return look()
    finally:
        settings.ONEHAND_PLAN_REMEMBER = True
