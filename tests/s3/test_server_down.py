"""The S3 server stopping under the studio: a job whose result is being copied into the bucket
retries, then fails at its deadline with a clear message and its credits refunded; nothing
already in the bucket is lost; no page answers 500; an upload while the bucket is down is a
form error. The server here is this module's own (moto keeps its buckets in the process, so
one started again on the same port finds them as they were)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from moto.server import ThreadedMotoServer

from accounts.models import Quota, User
from editor import jobs, pipeline, storage
from editor.models import Job, JobStatus, VendorKey
from editor.vendors.base import Done, ResultImage
from tests.images import make_image, photo
from tests.s3.bucket import Bucket
from tests.scripted import Script

pytestmark = [pytest.mark.django_db, pytest.mark.s3]

COLORIZE = reverse("editor:operation", args=["colorize"])


class Server:
    """A moto server that a test can stop and start again on the same address."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{self.port}"
        self.up = True

    def stop(self) -> None:
        self._server.stop()
        self.up = False

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.up = True


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    yield server
    if server.up:
        server.stop()


@pytest.fixture
def s3_endpoint(server: Server) -> str:
    """This module's server under the tier's ``bucket`` fixture."""
    return server.endpoint


@pytest.fixture
def down_bucket(server: Server, bucket: Bucket) -> Iterator[Bucket]:
    """The bucket, with the server up again (whatever the test did) for its cleanup."""
    yield bucket
    if not server.up:
        server.start()


def test_the_server_stopping_while_a_result_is_stored_fails_the_job_and_loses_nothing(
    server: Server,
    down_bucket: Bucket,
    client: Client,
    alice: User,
    picwish_key: VendorKey,
    script: Script,
    submit: Callable[..., Job],
    step: Callable[[], Job],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = submit()  # another job's input, already in the bucket
    job = submit()
    credits_before = Quota.objects.get(user=alice).credits_this_month
    bucket = down_bucket
    stored_before = bucket.objects()
    assert set(earlier.inputs.values()) | set(job.inputs.values()) <= stored_before

    # The result goes in; the server stops before the thumbnail follows it.
    real_write = storage.write
    writes: list[str] = []

    def write(name: str, content: Any) -> str:
        writes.append(name)
        if len(writes) == 2:
            server.stop()
        return real_write(name, content)

    monkeypatch.setattr(storage, "write", write)
    result = make_image((64, 48), color=(200, 10, 10))
    script.outcomes = [Done((ResultImage(result, "image/jpeg"),))]
    for _ in range(5):  # the vendor's answer, then the step that stores its result
        job = step()
        if job.error_code or not job.is_active:
            break
    assert not server.up
    assert job.is_active, job.error_message  # passing trouble: tried again
    assert job.error_code
    assert "storage is not answering" in job.error_message

    # Pages answer while the bucket is down: the job, the gallery, a form upload.
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk]))
    assert page.status_code == 200
    assert 'id="job-gives-up"' in page.content.decode()
    assert client.get(reverse("editor:gallery")).status_code == 200
    form = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo()})
    assert form.status_code == 200, form.status_code
    assert "cannot store photos right now" in form.content.decode()

    # Still down at the deadline: the sweeper ends it, saying why, credits refunded.
    # (Work already paid for gets one last step past the deadline: that is when it ends.)
    pipeline.sweep(now=jobs.gives_up_at(job) + dt.timedelta(seconds=1))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "storage is not answering" in job.error_message
    assert "stopped trying at its deadline; your credits were refunded" in job.error_message
    # Refunded as any failed job is (the other job, never run, passed its deadline too).
    earlier.refresh_from_db()
    assert earlier.status == JobStatus.FAILED
    assert job.credits > 0
    assert Quota.objects.get(user=alice).credits_this_month == (
        credits_before - job.credits - earlier.credits
    )
    assert client.get(reverse("editor:job", args=[job.pk])).status_code == 200

    # Back up: everything stored before the fault is still there.
    server.start()
    assert stored_before <= bucket.objects()
