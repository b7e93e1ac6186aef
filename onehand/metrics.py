"""/metrics: Prometheus text for operators (delivery backlog and failures, open and stalled
swaps, at-risk shifts, beat heartbeat age, task durations; README "Metrics").

Protected by a bearer token (ONEHAND_METRICS_TOKEN). With no token set the endpoint answers
only requests from loopback (a scraper on the same host, or a sidecar), never the internet.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry

from notifications.metrics import OnehandCollector

LOOPBACK = {"127.0.0.1", "::1"}


def _allowed(request) -> bool:
    token = settings.ONEHAND_METRICS_TOKEN
    if not token:
        return request.META.get("REMOTE_ADDR") in LOOPBACK
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@never_cache
@require_GET
def metrics(request):
    if not _allowed(request):
        response = HttpResponse("metrics need a bearer token\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OnehandCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
