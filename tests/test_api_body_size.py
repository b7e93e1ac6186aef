"""API bodies up to the documented 10 MB are read as JSON; above it the answer is a JSON 413
(F11): never Django's HTML 400 page."""

import json

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MB = 2**20


def _post(size: int):
    client = APIClient()
    client.force_login(UserFactory(is_staff=True))
    body = json.dumps({"name": "x" * size})
    return client.post("/api/teams/", body, content_type="application/json")


def test_a_json_body_between_5_and_10_mb_gets_a_json_answer():
    response = _post(6 * MB)
    assert response["Content-Type"] == "application/json"
    assert response.status_code == 400
    assert "name" in response.json()


def test_a_json_body_over_10_mb_gets_a_json_413():
    response = _post(11 * MB)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request is too big")
