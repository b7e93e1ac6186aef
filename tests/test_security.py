import subprocess
import sys

import pytest

from tests.factories import UserFactory
from tests.services import ROOT

pytestmark = pytest.mark.django_db


def test_pages_send_a_content_security_policy_without_inline_scripts(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'self'" in script_src and "unsafe-inline" not in script_src


def test_login_guessing_is_locked_out(client):
    UserFactory(username="victim")
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": "victim", "password": "wrong"}, REMOTE_ADDR="10.0.0.9"
        )
    response = client.post(
        "/accounts/login/",
        {"username": "victim", "password": "pw-for-tests-123"},
        REMOTE_ADDR="10.0.0.9",
    )
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content


def test_a_right_password_logs_in(client):
    UserFactory(username="someone")
    response = client.post(
        "/accounts/login/", {"username": "someone", "password": "pw-for-tests-123"}
    )
    assert response.status_code == 302


def test_production_settings_pass_the_deploy_check():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-long-and-random-enough-secret-key-for-this-check-0123456789-xyz",
        "DJANGO_ALLOWED_HOSTS": "oncall.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


PROXY = "10.0.0.2"  # the documented reverse proxy: every request arrives from it


def _login_via_proxy(client, username, password, client_address):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=client_address,
    )


def test_behind_the_proxy_a_guesser_locks_out_only_themselves(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 1
    settings.ONEHAND_TRUSTED_PROXIES = [PROXY]
    UserFactory(username="victim")
    for _ in range(6):
        _login_via_proxy(client, "victim", "wrong", "203.0.113.66")
    assert _login_via_proxy(client, "victim", "pw-for-tests-123", "203.0.113.66").status_code == 429
    assert _login_via_proxy(client, "victim", "pw-for-tests-123", "198.51.100.7").status_code == 302


def test_a_forwarded_for_header_is_not_believed_unless_a_proxy_is_configured(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 0
    UserFactory(username="victim")
    for n in range(5):  # a new made-up address every time does not dodge the count
        _login_via_proxy(client, "victim", "wrong", f"203.0.113.{n}")
    assert _login_via_proxy(client, "victim", "pw-for-tests-123", "198.51.100.7").status_code == 429


def test_a_proxy_not_on_the_trusted_list_is_not_believed(client, settings):
    settings.ONEHAND_TRUSTED_PROXY_COUNT = 1
    settings.ONEHAND_TRUSTED_PROXIES = ["10.9.9.9"]
    UserFactory(username="victim")
    for n in range(5):
        _login_via_proxy(client, "victim", "wrong", f"203.0.113.{n}")
    assert _login_via_proxy(client, "victim", "pw-for-tests-123", "198.51.100.7").status_code == 429
