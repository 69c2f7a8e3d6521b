"""Run again with changes: the operation form prefilled from an earlier job, reusing its stored
photos without a new upload; and the job page comparing the runs made on one photo."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import jobs, operations
from editor.models import Job, JobStatus, Vendor
from tests.factories import make_job, make_key
from tests.images import make_image

pytestmark = pytest.mark.django_db

COLORIZE = reverse("editor:operation", args=["colorize"])


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def rerun_data(source: Job, **changes: str) -> dict[str, str]:
    return {"from": str(source.pk), "provider": "picwish", "reuse_image": "1", **changes}


def test_the_job_page_links_to_run_again_with_changes(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f'href="{COLORIZE}?from={job.pk}"' in page
    assert "Run again with changes" in page


def test_the_form_is_prefilled_from_the_earlier_job(client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.PICWISH)
    job = make_job(alice)
    job.key = key
    job.save()
    client.force_login(alice)
    page = client.get(COLORIZE, {"from": str(job.pk)}).content.decode()
    assert re.search(r'<option value="png"\s+selected>', page)
    assert f'<option value="{key.pk}" selected>' in page
    assert f'<input type="hidden" name="from" value="{job.pk}">' in page
    assert reverse("editor:job_input", args=[job.pk, "image"]) in page
    assert (
        "<strong>Photo</strong>: using the one from your earlier job — choose a file to replace it."
        in page
    )
    assert re.search(r'name="reuse_image" value="1"\s+checked', page)


def test_every_parameter_is_prefilled_including_a_palette(client: Client, alice: User) -> None:
    job = make_job(alice)
    job.operation, job.provider = "color_migration", "ailabtools"
    job.params = {"mode": "TEMPLATE", "degree": 0.65, "color_template": ["DB0D0D", "00FF00"]}
    job.save()
    client.force_login(alice)
    page = client.get(
        reverse("editor:operation", args=["color_migration"]), {"from": str(job.pk)}
    ).content.decode()
    assert re.search(r'<option value="ailabtools"[^>]*selected>', page)
    assert re.search(r'<option value="TEMPLATE"\s+selected>', page)
    assert 'value="0.65"' in page
    assert 'value="DB0D0D, 00FF00"' in page


def test_a_query_parameter_still_wins_over_the_earlier_job(client: Client, alice: User) -> None:
    job = make_job(alice)
    job.operation, job.provider, job.params = "color_migration", "ailabtools", {"mode": "AUTO"}
    job.save()
    client.force_login(alice)
    page = client.get(
        reverse("editor:operation", args=["color_migration"]),
        {"from": str(job.pk), "provider": "local"},
    ).content.decode()
    assert re.search(r'<option value="local"[^>]*selected>', page)


def test_rerun_with_one_change_reuses_the_photo_without_upload(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    source = make_job(alice)
    original = stored(source.inputs["image"])
    client.force_login(alice)
    response = client.post(COLORIZE, rerun_data(source, format="webp"))
    rerun = Job.objects.exclude(pk=source.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:job", args=[rerun.pk])
    assert rerun.params == {"format": "webp"}
    assert rerun.source_job == source
    assert rerun.status == JobStatus.QUEUED
    # A copy under the new job's own name: deleting either job's files leaves the other's.
    assert rerun.inputs["image"].startswith(f"jobs/{alice.pk}/{rerun.pk}/")
    assert rerun.inputs["image"] != source.inputs["image"]
    assert stored(rerun.inputs["image"]) == original
    assert stored(source.inputs["image"]) == original


def test_htmx_rerun_answers_with_a_client_redirect(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    source = make_job(alice)
    client.force_login(alice)
    response = client.post(
        COLORIZE, rerun_data(source, format="png"), headers={"HX-Request": "true"}
    )
    rerun = Job.objects.exclude(pk=source.pk).get()
    assert response["HX-Redirect"] == reverse("editor:job", args=[rerun.pk])


def test_a_new_file_replaces_the_earlier_photo(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    source = make_job(alice)
    new = make_image((90, 70), "PNG", color=(9, 9, 9))
    client.force_login(alice)
    client.post(
        COLORIZE,
        {**rerun_data(source, format="jpg"), "file_image": SimpleUploadedFile("n.png", new)},
    )
    rerun = Job.objects.exclude(pk=source.pk).get()
    assert stored(rerun.inputs["image"]) == new
    # Not the same photo any more: not linked as a variant of the earlier job.
    assert rerun.source_job is None


def test_unticking_reuse_asks_for_a_photo(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    source = make_job(alice)
    client.force_login(alice)
    data = rerun_data(source, format="jpg")
    del data["reuse_image"]
    response = client.post(COLORIZE, data, headers={"HX-Request": "true"})
    content = response.content.decode()
    assert "Choose a photo." in content
    assert "<html" not in content
    # The fragment keeps the earlier job: its photo, and the box left unticked.
    assert f'name="from" value="{source.pk}"' in content
    assert re.search(r'name="reuse_image" value="1"\s*>', content)
    assert Job.objects.count() == 1


def test_a_photo_no_longer_stored_is_a_field_error(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    source = make_job(alice)
    default_storage.delete(source.inputs["image"])
    client.force_login(alice)
    response = client.post(COLORIZE, rerun_data(source, format="jpg"))
    assert "no longer stored" in response.content.decode()
    assert Job.objects.count() == 1


def test_another_users_job_is_404_as_a_source(client: Client, alice: User, bob: User) -> None:
    make_key(bob, Vendor.PICWISH)
    alices = make_job(alice)
    client.force_login(bob)
    assert client.get(COLORIZE, {"from": str(alices.pk)}).status_code == 404
    response = client.post(COLORIZE, rerun_data(alices, format="png"))
    assert response.status_code == 404
    response = client.post(
        COLORIZE, rerun_data(alices, format="png"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 404
    assert not Job.objects.filter(owner=bob).exists()


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_source_is_404(client: Client, alice: User, value: str) -> None:
    client.force_login(alice)
    assert client.get(COLORIZE, {"from": value}).status_code == 404


def test_a_job_of_another_operation_is_404_as_a_source(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    url = reverse("editor:operation", args=["retouch"])
    assert client.get(url, {"from": str(job.pk)}).status_code == 404


def test_submit_refuses_another_owners_source(alice: User, bob: User) -> None:
    operation = operations.get("colorize")
    with pytest.raises(ValueError, match="own job"):
        jobs.submit(
            owner=bob,
            operation=operation,
            provider=operation.default_provider,
            params={"format": "jpg"},
            files={"image": make_image()},
            key=None,
            source_job=make_job(alice),
        )


def test_the_retired_vendor_offer_keeps_the_photo(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)
    job.operation, job.provider, job.error_code = "color_migration", "ailabtools", "retired"
    job.save()
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f"?provider=local&amp;from={job.pk}" in page


# --- Comparing the runs on one photo ------------------------------------------------------


def rerun_of(source: Job, **params: object) -> Job:
    job = make_job(source.owner)
    job.source_job = source
    job.params = {**source.params, **params}
    job.save()
    return job


def test_the_job_page_compares_the_runs_on_one_photo(
    client: Client, alice: User, bob: User
) -> None:
    first = make_job(alice)
    second = rerun_of(first, format="webp")
    third = rerun_of(second, format="jpg")
    unrelated = make_job(alice)
    theirs = make_job(bob)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[second.pk])).content.decode()
    assert "Compare variants" in page
    for job in (first, second, third):
        result = job.results.get()
        assert reverse("editor:result_file", args=[job.pk, result.pk]) in page
    for job in (unrelated, theirs):
        assert str(job.pk) not in page
    # The earlier run's settings are shown, the one that differs is marked.
    assert re.search(r'class="is-changed"><dt>Output format</dt><dd>PNG', page)
    assert "Run again from an" in page


def test_compare_picks_which_result_the_slider_shows(client: Client, alice: User) -> None:
    first = make_job(alice)
    second = rerun_of(first, format="webp")
    earlier = first.results.get()
    client.force_login(alice)
    page = client.get(
        reverse("editor:job", args=[second.pk]), {"compare": str(earlier.pk)}
    ).content.decode()
    slider = re.search(r'<img class="ba__after" data-compare-after src="([^"]+)"', page)
    assert slider
    assert slider.group(1) == reverse("editor:result_file", args=[first.pk, earlier.pk])
    # Someone else's result id is not a choice: the slider shows this job's own result.
    page = client.get(
        reverse("editor:job", args=[second.pk]),
        {"compare": str(make_job(User.objects.create_user("carol")).results.get().pk)},
    ).content.decode()
    slider = re.search(r'<img class="ba__after" data-compare-after src="([^"]+)"', page)
    assert slider
    assert str(second.pk) in slider.group(1)


def test_the_slider_is_accessible_and_the_status_fragment_carries_it(
    client: Client, alice: User
) -> None:
    job = make_job(alice)
    client.force_login(alice)
    fragment = client.get(
        reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert 'role="slider"' in fragment
    assert 'aria-valuenow="50"' in fragment
    assert 'alt="Your photo"' in fragment
    assert "Full size" in fragment


def test_a_job_still_running_shows_its_photo_and_no_slider(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.RUNNING)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert 'role="slider"' not in page
    assert 'alt="Your photo"' in page
