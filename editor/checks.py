"""System checks: production mistakes fail ``manage.py check --deploy``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.fernet import Fernet
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from editor.vendors import http
from limiter.core import Backoff


@register(Tags.security)
def vault_keys_are_fernet_keys(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    keys: list[str] = list(settings.VAULT_KEYS)
    if not keys:
        return [
            Error(
                "VAULT_KEYS is empty.",
                hint="Set VAULT_KEYS to one or more Fernet keys, newest first.",
                id="studio.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"VAULT_KEYS entry {position} is not a valid Fernet key.",
                    hint='Make one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                    id="studio.E002",
                )
            )
    return errors


@register(Tags.security, deploy=True)
def vault_keys_are_not_development_values(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if settings.DEV_VAULT_KEY in settings.VAULT_KEYS:
        return [
            Error(
                "VAULT_KEYS holds the development key, which is published in the source code.",
                hint="Generate your own Fernet key and set VAULT_KEYS in the environment.",
                id="studio.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def webhooks_stay_on_the_public_internet(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if settings.WEBHOOK_ALLOWED_NETWORKS:
        return [
            Warning(
                "WEBHOOK_ALLOWED_NETWORKS lets anyone with an API token make the studio POST to "
                "those networks.",
                hint="Leave it empty in production; it is for a local receiver in development.",
                id="studio.W001",
            )
        ]
    return []


@register()
def job_lease_outlasts_a_vendor_step(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    longest = http.longest_step_seconds()
    if longest < settings.JOB_LEASE_SECONDS:
        return []
    return [
        Error(
            f"JOB_LEASE_SECONDS ({settings.JOB_LEASE_SECONDS}) is not longer than the longest "
            f"vendor step ({longest:.0f} s: the slowest call and its result's download).",
            hint="A step still running when its lease ends is handed to a second worker, which "
            "calls the vendor (and pays) again. Raise JOB_LEASE_SECONDS, or lower "
            "VENDOR_CALL_MAX_SECONDS.",
            id="studio.E004",
        )
    ]


# PicWish's documented hard limit on one colorization (vendor-contracts.md §6.7).
PICWISH_TASK_LIMIT_SECONDS = 30


@register()
def picwish_blocking_calls_can_finish(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    cap = settings.VENDOR_CALL_MAX_SECONDS
    if not settings.PICWISH_SYNC or cap == 0 or cap > PICWISH_TASK_LIMIT_SECONDS:
        return []
    return [
        Error(
            f"VENDOR_CALL_MAX_SECONDS ({cap}) is shorter than a blocking PicWish call may last "
            f"({PICWISH_TASK_LIMIT_SECONDS} s) while PICWISH_SYNC is on.",
            hint="A call cut off before PicWish answers is sent again, and PicWish may charge for "
            "each. Raise VENDOR_CALL_MAX_SECONDS above 30, or set PICWISH_SYNC=false.",
            id="studio.E005",
        )
    ]


@register()
def share_password_backoffs_parse(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("SHARE_PASSWORD_ADDRESS_BACKOFF", "SHARE_PASSWORD_LINK_BACKOFF"):
        try:
            Backoff.parse(getattr(settings, name))
        except ValueError:
            # Found at start-up, not by the first visitor who types a password.
            errors.append(
                Error(
                    f"{name} is not a backoff.",
                    hint='Write "free tries, first delay, cap, quiet spell", such as '
                    '"3,1s,5m,15m", with first <= cap <= quiet.',
                    id="studio.E006",
                )
            )
    return errors


# The bucket check runs at every start-up (``migrate`` and ``check`` run it): short, and
# tried once, so a bucket that does not answer fails the start in seconds, not minutes.
BUCKET_CHECK_TIMEOUT_SECONDS = 5
BUCKET_CHECK_KEY = ".studio-check/writable"


@register("storage")
def media_bucket_is_there_and_writable(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """With media on S3, the bucket exists and takes a file: found at start-up, not as a
    failed upload or job. No network at all with local media (every ordinary test run)."""
    if settings.MEDIA_STORAGE != "s3":
        return []
    options: dict[str, Any] = settings.STORAGES["default"].get("OPTIONS", {})
    name = options.get("bucket_name") or ""
    if not name:
        return [
            Error(
                "MEDIA_STORAGE is s3 but AWS_STORAGE_BUCKET_NAME is empty.",
                hint="Set AWS_STORAGE_BUCKET_NAME to the bucket that holds the studio's media.",
                id="studio.E007",
            )
        ]
    problem = _bucket_problem(name, options)
    if problem is None:
        return []
    step, code = problem
    # Only the bucket, the step and S3's error code: never the keys, nor S3's free text.
    return [
        Error(
            f"The media bucket {name!r} cannot be used: {step} failed with {code}.",
            hint="Check that the bucket exists (AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, "
            "AWS_S3_REGION_NAME) and that the studio's key may read, write and delete in it "
            "(s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket).",
            id="studio.E008",
        )
    ]


def _bucket_problem(name: str, options: dict[str, Any]) -> tuple[str, str] | None:
    """None when the bucket answers HEAD and takes (then gives back) one tiny object; else the
    step that failed and S3's error code (or the client's error class, when S3 never
    answered)."""
    client = boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url"),
        region_name=options.get("region_name"),
        aws_access_key_id=options.get("access_key"),
        aws_secret_access_key=options.get("secret_key"),
        config=BotoConfig(
            connect_timeout=BUCKET_CHECK_TIMEOUT_SECONDS,
            read_timeout=BUCKET_CHECK_TIMEOUT_SECONDS,
            retries={"max_attempts": 1, "mode": "standard"},
            signature_version=options.get("signature_version") or "s3v4",
        ),
    )
    steps: tuple[tuple[str, Callable[[], object]], ...] = (
        ("HEAD bucket", lambda: client.head_bucket(Bucket=name)),
        ("a test write", lambda: client.put_object(Bucket=name, Key=BUCKET_CHECK_KEY, Body=b"")),
        ("a test delete", lambda: client.delete_object(Bucket=name, Key=BUCKET_CHECK_KEY)),
    )
    for step, call in steps:
        try:
            call()
        except ClientError as error:
            return step, str(error.response.get("Error", {}).get("Code") or "an S3 error")
        except BotoCoreError as error:  # no answer, no credentials, a bad endpoint
            return step, type(error).__name__
    return None
