"""Fifty notifications of five groups at the same moment, on PostgreSQL: five incidents."""

import threading

import pytest
from django.db import connection
from django.test import Client

from incidents.models import Incident, IncidentGroup
from tests.incidents_support import (
    alertmanager,
    am_alert,
    hook_url,
    new_hook,
    post,
    published_rotation,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

GROUPS = 5
POSTS = 50


def test_fifty_concurrent_notifications_make_exactly_one_incident_per_group(postgres):
    setup = published_rotation()
    url = hook_url(new_hook(setup))
    barrier = threading.Barrier(POSTS)
    statuses: list[int] = []
    lock = threading.Lock()

    def send(number: int):
        group = number % GROUPS
        # Each post carries one alert of its group; every group gets ten posts, some retries.
        fingerprint = f"g{group}-a{(number // GROUPS) % 7}"
        body = alertmanager(f"group-{group}", [am_alert(fingerprint, "2026-03-04T02:00:00Z")])
        try:
            barrier.wait()
            status = post(url, body, client=Client()).status_code
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(POSTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(set(statuses)) == [200, 201], statuses
    assert statuses.count(201) == GROUPS
    assert IncidentGroup.objects.count() == GROUPS
    incidents = Incident.objects.order_by("group__key")
    assert len(incidents) == GROUPS
    assert [sum(i.notifications for i in incidents)] == [POSTS]
    assert all(len(i.fingerprints) == 7 for i in incidents)
