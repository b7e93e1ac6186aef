"""Whose X-Forwarded-For is believed: only a trusted proxy's (F12)."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"


def _login(client, password, peer, forwarded_for):
    return client.post(
        "/accounts/login/",
        {"username": "victim", "password": password},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_a_public_peer_is_counted_by_its_own_address_whatever_it_forwards(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 1
    settings.ONEHAND_TRUSTED_PROXIES = []
    UserFactory(username="victim")
    for n in range(5):  # a made-up address every time does not dodge the count
        _login(client, "wrong", "198.51.100.20", f"203.0.113.{n}")
    assert _login(client, PASSWORD, "198.51.100.20", "203.0.113.99").status_code == 429


def test_a_public_peer_cannot_lock_out_the_address_it_names(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 1
    settings.ONEHAND_TRUSTED_PROXIES = []
    UserFactory(username="victim")
    for _ in range(6):
        _login(client, "wrong", "198.51.100.20", "203.0.113.66")
    assert _login(client, PASSWORD, "10.0.0.2", "203.0.113.66").status_code == 302


def test_through_trusted_proxies_the_rightmost_untrusted_address_is_counted(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 2
    settings.ONEHAND_TRUSTED_PROXIES = []  # a private-network peer is our proxy
    UserFactory(username="victim")
    for n in range(6):  # the client's own left-most entry is ignored
        _login(client, "wrong", "10.0.0.2", f"192.0.2.{n}, 203.0.113.66, 10.0.0.3")
    assert _login(client, PASSWORD, "10.0.0.2", "203.0.113.66, 10.0.0.3").status_code == 429
    assert _login(client, PASSWORD, "10.0.0.2", "198.51.100.7, 10.0.0.3").status_code == 302
