"""`manage.py check --deploy` is the gate for production settings: run it for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "studio.example.com",
    "SECRET_KEY": "a-long-random-production-secret-" + "x7Qp" * 12,
    "VAULT_KEYS": Fernet.generate_key().decode(),
}


def check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PRODUCTION, **overrides}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deploy_check() -> None:
    result = check_deploy()
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_development_secret_key_fails_the_deploy_check() -> None:
    result = check_deploy(SECRET_KEY=settings.DEV_SECRET_KEY)
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_development_vault_key_fails_the_deploy_check() -> None:
    result = check_deploy(VAULT_KEYS=f"{Fernet.generate_key().decode()},{settings.DEV_VAULT_KEY}")
    assert result.returncode != 0
    assert "studio.E003" in result.stderr


def test_webhooks_let_into_a_network_fail_the_deploy_check() -> None:
    result = check_deploy(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")
    assert result.returncode != 0
    assert "studio.W001" in result.stderr


@pytest.mark.parametrize("value", ["not-a-fernet-key", " , "])
def test_malformed_vault_keys_fail_every_check(value: str) -> None:
    result = check_deploy(VAULT_KEYS=value, DEBUG="true")
    assert result.returncode != 0
    assert "studio.E00" in result.stderr


def test_debug_left_on_fails_the_deploy_check() -> None:
    result = check_deploy(DEBUG="true")
    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_a_lease_shorter_than_a_vendor_step_fails_every_check() -> None:
    # 450 s: the synchronous extender call's 330 s and its result's download, 120 s.
    result = check_deploy(JOB_LEASE_SECONDS="450", DEBUG="true")
    assert result.returncode != 0
    assert "studio.E004" in result.stderr
    # With vendor calls cut short (and PicWish asked for tasks, not blocking calls), a short
    # lease is enough.
    assert (
        check_deploy(
            JOB_LEASE_SECONDS="30", VENDOR_CALL_MAX_SECONDS="10", PICWISH_SYNC="false"
        ).returncode
        == 0
    )


def test_blocking_picwish_calls_cut_short_fail_every_check() -> None:
    # Each cut-off call would be sent again, and PicWish may charge for every one.
    result = check_deploy(JOB_LEASE_SECONDS="60", VENDOR_CALL_MAX_SECONDS="10", DEBUG="true")
    assert result.returncode != 0
    assert "studio.E005" in result.stderr
    assert check_deploy(JOB_LEASE_SECONDS="300", VENDOR_CALL_MAX_SECONDS="40").returncode == 0


def test_a_share_password_backoff_that_does_not_parse_fails_every_check() -> None:
    result = check_deploy(SHARE_PASSWORD_LINK_BACKOFF="10 a minute", DEBUG="true")
    assert result.returncode != 0
    assert "studio.E006" in result.stderr
    assert "SHARE_PASSWORD_LINK_BACKOFF is not a backoff." in result.stderr
