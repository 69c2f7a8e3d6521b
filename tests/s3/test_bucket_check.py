"""The start-up check on the media bucket (editor/checks.py, studio.E007/E008): a bucket that
is missing or refuses the studio's key fails ``manage.py check`` (and ``migrate``, which runs
it before web and workers start) naming the bucket and S3's error code, never the keys."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from pytest_django import Settings as SettingsWrapper

from editor import checks
from tests.s3.bucket import Bucket

pytestmark = pytest.mark.s3


def with_bucket(settings: SettingsWrapper, name: str, **changes: str) -> None:
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "bucket_name": name, **changes}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}


def check_output(tags: str = "storage") -> str:
    """What ``manage.py check`` says; raises SystemCheckError, whose text is returned."""
    out = io.StringIO()
    try:
        call_command("check", tags=[tags], stdout=out, stderr=out)
    except SystemCheckError as error:
        return str(error)
    return out.getvalue()


def test_a_bucket_that_works_passes_and_is_left_as_it_was(bucket: Bucket) -> None:
    assert checks.media_bucket_is_there_and_writable(None) == []
    assert bucket.objects() == set()  # the test object is deleted again


def test_a_missing_bucket_is_a_start_up_error_naming_it(
    bucket: Bucket, settings: SettingsWrapper
) -> None:
    with_bucket(settings, "no-such-bucket")
    [error] = checks.media_bucket_is_there_and_writable(None)
    assert error.id == "studio.E008"
    assert (
        error.msg
        == "The media bucket 'no-such-bucket' cannot be used: HEAD bucket failed with 404."
    )
    said = check_output()
    assert "studio.E008" in said
    assert "no-such-bucket" in said
    assert "testing" not in said  # the key pair the fixture uses


def test_a_bucket_that_refuses_writes_is_a_start_up_error(
    bucket: Bucket, settings: SettingsWrapper
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket.name}/*",
            }
        ],
    }
    bucket.client.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(policy))
    try:
        [error] = checks.media_bucket_is_there_and_writable(None)
    finally:
        bucket.client.delete_bucket_policy(Bucket=bucket.name)
    assert error.msg == (
        f"The media bucket {bucket.name!r} cannot be used: a test write failed with 403."
    )
    assert "testing" not in error.msg + (error.hint or "")


def test_a_server_that_does_not_answer_is_named_by_the_client_error(
    bucket: Bucket, settings: SettingsWrapper
) -> None:
    # A closed port on the loopback interface: refused at once.
    with_bucket(settings, bucket.name, endpoint_url="http://127.0.0.1:9")
    [error] = checks.media_bucket_is_there_and_writable(None)
    assert error.msg == (
        f"The media bucket {bucket.name!r} cannot be used: HEAD bucket failed with "
        "EndpointConnectionError."
    )


def test_an_empty_bucket_name_is_its_own_error(bucket: Bucket, settings: SettingsWrapper) -> None:
    with_bucket(settings, "")
    [error] = checks.media_bucket_is_there_and_writable(None)
    assert error.id == "studio.E007"


def test_local_media_makes_no_call(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_STORAGE = "local"

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the bucket check called S3 with local media")

    monkeypatch.setattr(checks, "_bucket_problem", no_network)
    assert checks.media_bucket_is_there_and_writable(None) == []
