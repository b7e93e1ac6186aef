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
