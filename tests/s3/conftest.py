"""The S3 tier: media on a real S3-compatible server (moto in server mode) listening on the
loopback interface, with the default storage pointed at a bucket of its own for each test, as
``MEDIA_STORAGE=s3`` configures it in production (config/settings.py). Select it with
``pytest -m s3``; it runs in the normal suite too."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pytest_django import Settings as SettingsWrapper

from tests import scripted
from tests.s3.bucket import Bucket

# The pipeline's fixtures (tests/scripted.py): a scripted vendor driven step by step.
script = scripted.script
sent = scripted.sent
picwish_key = scripted.picwish_key
submit = scripted.submit
step = scripted.step

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 at a free port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line a request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, settings: SettingsWrapper) -> Iterator[Bucket]:
    """A fresh private bucket, and the default storage on it (as config/settings.py makes it
    for MEDIA_STORAGE=s3). Assigning STORAGES makes Django drop its cached storages."""
    name = f"studio-{uuid.uuid4().hex[:12]}"
    client: Any = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    client.create_bucket(Bucket=name)
    settings.MEDIA_STORAGE = "s3"
    settings.AWS_QUERYSTRING_EXPIRE = 120
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "custom_domain": None,
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 120,
                "signature_version": "s3v4",
                "file_overwrite": False,
                "max_memory_size": 8 * 1024 * 1024,
            },
        },
    }
    bucket = Bucket(client, name, s3_endpoint)
    yield bucket
    # The server lives for the session: each test's bucket goes with the test.
    for key in bucket.objects():
        client.delete_object(Bucket=name, Key=key)
    client.delete_bucket(Bucket=name)
