"""A batch from a person's seat: choose five photos at once, watch the batch page count the
jobs as the real worker finishes them against the sandbox, and download the ZIP."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from editor.models import Batch, JobStatus
from tests.browser.steps import JOB_TIMEOUT, add_key, field, open_operation, photo, sign_in

# The real worker and the sandbox it calls (see test_operations).

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]


def test_run_a_batch_of_five_and_download_the_zip(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "batcher")
    add_key(page, live_server, "picwish", "sandbox-batch-five")
    form = open_operation(page, live_server, "colorize")
    files = [
        photo(tmp_path / f"family {n}.jpg", size=(200 + 10 * n, 150), gray=True) for n in range(5)
    ]
    field(form, "file_image").set_input_files(files)
    expect(form.locator("[data-info]").first).to_contain_text("5 photos, one job each")
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}/$"))
    assert page.url == f"{live_server.url}/batches/{Batch.objects.get().pk}/"
    progress = page.locator("#batch-progress")
    expect(progress.get_by_role("listitem")).to_have_count(5)
    expect(progress).to_have_attribute("data-ended", "5", timeout=JOB_TIMEOUT)
    expect(progress).to_contain_text("5 of 5 finished")
    expect(progress).to_contain_text("5 succeeded")
    batch = Batch.objects.get()
    assert set(batch.jobs.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    for thumbnail in progress.get_by_role("img").all():
        expect(thumbnail).to_have_js_property("complete", True)
        assert int(thumbnail.evaluate("img => img.naturalWidth")) > 0

    with page.expect_download() as waiting:
        progress.get_by_role("link", name="Download 5 results as a ZIP").click()
    download = waiting.value
    assert download.suggested_filename.startswith("colorize-batch-")
    path = tmp_path / "batch.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names == [f"0{n + 1}-family {n}.jpg" for n in range(5)]
        widths = [Image.open(io.BytesIO(archive.read(name))).width for name in names]
    assert widths == [200, 210, 220, 230, 240]
