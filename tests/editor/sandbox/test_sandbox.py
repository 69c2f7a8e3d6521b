"""The sandbox over real HTTP on loopback, spoken to as any client of the vendors' docs would."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from editor.sandbox import server
from editor.sandbox.faults import Fault, UnknownFault, parse
from editor.sandbox.state import STATE
from tests.images import make_image, open_image

AILAB_KEY = "ailabapi-api-key"
PICWISH_KEY = "X-API-KEY"
RETOUCH = "/api/image/editing/photo-retouching"
EXTENDER = "/api/image/editing/ai-image-extender"
EMOTION = "/api/portrait/effects/emotion-editor"
EMOTION_ADVANCED = "/api/portrait/effects/emotion-editor-advanced"
COLOR_MIGRATION = "/api/image/effects/image-hd-color-migration"
QUERY_ASYNC = "/api/common/query-async-task-result"
LEGACY_QUERY = "/api/image/asyn-task-results"
CREDITS = "/api/common/query-credits"
COLORIZE = "/api/tasks/visual/colorization"

Files = dict[str, tuple[str, bytes, str]]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _fast_sandbox(settings: SettingsWrapper) -> None:
    # The server thread reads settings per request, so these apply across threads.
    settings.SANDBOX_TASK_MS = 300
    settings.SANDBOX_RESULT_TTL = 3600
    settings.SANDBOX_PICWISH_QPS = 1000
    settings.SANDBOX_FAULT_TIMEOUT_S = 2
    settings.SANDBOX_FAULT_DRIP_BYTES = 48
    settings.SANDBOX_FAULT_DRIP_INTERVAL_S = 0.05
    STATE.reset()


@pytest.fixture
def client(sandbox: server.RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        yield http


def key(*markers: str) -> str:
    """A fresh sandbox key (state such as rate windows and credits is per key). The suffix
    starts with a letter: one of digits alone would be read as the last marker's number
    (``oversize-<mb>``), as happened once in some forty runs."""
    return "-".join(("sandbox", *markers, "k" + uuid.uuid4().hex[:8]))


def jpeg(
    size: tuple[int, int] = (160, 120), color: tuple[int, int, int] = (128, 128, 128)
) -> Files:
    return {"image": ("photo.jpg", make_image(size, "JPEG", color=color), "image/jpeg")}


def upload(
    name: str, data: bytes, filename: str = "photo.jpg", media_type: str = "image/jpeg"
) -> Files:
    return {name: (filename, data, media_type)}


def ailab_post(
    client: httpx.Client, path: str, api_key: str, files: Files, data: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(path, headers={AILAB_KEY: api_key}, files=files, data=data or {})


def ailab_get(
    client: httpx.Client, path: str, api_key: str, params: dict[str, str] | None = None
) -> httpx.Response:
    return client.get(path, headers={AILAB_KEY: api_key}, params=params or {})


def picwish_create(
    client: httpx.Client, api_key: str, files: Files | None = None, **fields: str
) -> httpx.Response:
    if files is None:
        files = upload("image_file", make_image((160, 120), "JPEG", color=(128, 128, 128)))
    return client.post(COLORIZE, headers={PICWISH_KEY: api_key}, files=files, data=fields)


def picwish_query(client: httpx.Client, api_key: str, task_id: str) -> httpx.Response:
    return client.get(f"{COLORIZE}/{task_id}", headers={PICWISH_KEY: api_key})


def wait_for(
    poll: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Poll until ``done``; returns every answer seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen.append(poll())
        if done(seen[-1]):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never finished: {seen[-1]}")


def assert_current_success(body: dict[str, Any]) -> None:
    assert body["request_id"]
    assert "log_id" in body
    assert body["error_detail"] == {"code": "", "code_message": "", "message": ""}
    assert "error_code" not in body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_detail"]["code"] == code
    assert body["error_detail"]["code_message"]
    return body


def assert_marked(image: Image.Image) -> None:
    """The "SANDBOX" box sits in the bottom-right corner: dark pixels on a light picture."""
    corner = image.convert("L").crop(
        (image.width - 12, image.height - 10, image.width - 4, image.height - 4)
    )
    darkest, _ = corner.getextrema()
    assert isinstance(darkest, int)
    assert darkest < 60


# --- Keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, "", "sk-live-0123456789", "sandbox-"])
def test_ailabtools_answers_a_bad_key_with_401_in_both_envelope_generations(
    client: httpx.Client, api_key: str | None
) -> None:
    headers = {AILAB_KEY: api_key} if api_key is not None else {}
    response = client.post(RETOUCH, headers=headers, files=jpeg())
    body = assert_error(response, 401, "ERROR_APPLICATIONS_NOT_EXISTS")
    assert body["error_code"] == 401
    assert body["error_code_str"] == "ERROR_APPLICATIONS_NOT_EXISTS"
    assert body["error_msg"]
    assert body["error_detail"]["status_code"] == 401
    assert body["request_id"]
    assert body["log_id"]


@pytest.mark.parametrize("api_key", [None, "wrong-key"])
def test_picwish_answers_a_bad_key_with_401(client: httpx.Client, api_key: str | None) -> None:
    headers = {PICWISH_KEY: api_key} if api_key is not None else {}
    created = client.post(COLORIZE, headers=headers, files=upload("image_file", make_image()))
    queried = client.get(f"{COLORIZE}/{uuid.uuid4()}", headers=headers)
    for response in (created, queried):
        assert response.status_code == 401
        assert response.json() == {"status": 401, "message": "Unauthorized"}


# --- AILabTools: photo retouch ----------------------------------------------------------------


def test_photo_retouching_returns_a_url_to_the_restyled_image(
    client: httpx.Client, sandbox: server.RunningSandbox
) -> None:
    files = jpeg(color=(200, 200, 200)) | upload(
        "style", make_image((90, 90), "PNG", color=(30, 190, 60)), "style.png", "image/png"
    )
    response = ailab_post(client, RETOUCH, key(), files)

    assert response.status_code == 200
    body = response.json()
    assert_current_success(body)
    url = body["data"]["image_url"]
    assert url.startswith(f"{sandbox.url}/results/")
    downloaded = httpx.get(url)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "image/jpeg"
    image = open_image(downloaded.content)
    assert image.size == (160, 120)
    red, green, blue = image.convert("RGB").getpixel((40, 40))  # type: ignore[misc]
    assert green > 150
    assert red < 80
    assert blue < 100
    assert_marked(image)


def test_legacy_marker_answers_the_legacy_envelope(client: httpx.Client) -> None:
    files = jpeg() | upload("style", make_image((90, 90), "JPEG"))
    body = ailab_post(client, RETOUCH, key("legacy"), files).json()

    assert body["error_code"] == 0
    assert body["error_code_str"] == ""
    assert body["error_msg"] == ""
    assert body["error_detail"] == {
        "status_code": 200,
        "code": "",
        "code_message": "",
        "message": "",
    }
    assert body["data"]["image_url"]


def test_legacy_marker_also_shapes_errors(client: httpx.Client) -> None:
    body = assert_error(
        ailab_post(client, RETOUCH, key("legacy"), jpeg()), 400, "MISSING_PARAMETERS"
    )
    assert body["error_code"] == 400
    assert body["error_detail"]["status_code"] == 400
    assert "style" in body["error_msg"]


def test_a_missing_file_is_missing_parameters_in_the_current_envelope(client: httpx.Client) -> None:
    body = assert_error(ailab_post(client, RETOUCH, key(), jpeg()), 400, "MISSING_PARAMETERS")
    assert "error_code" not in body
    assert "style" in body["error_detail"]["message"]


def _truncated_jpeg() -> bytes:
    data = make_image((400, 300), "JPEG", color=(10, 20, 30))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"\xff\xd8\xff" + b"x" * (3 * 1024 * 1024), 413, "FILE_SIZE_EXCEEDS_LIMIT"),
        (make_image((3000, 40), "JPEG"), 413, "FILE_RESOLUTION_EXCEEDS_LIMITS"),
        (make_image((32, 100), "JPEG"), 422, "ERROR_LOW_RESOLUTION"),
        (make_image((100, 100), "WEBP"), 415, "UNSUPPORTED_FILE_TYPES"),
        (b"this is not an image", 422, "FILE_DECODING_FAILURE"),
        (_truncated_jpeg(), 422, "FILE_DECODING_FAILURE"),
    ],
    ids=["size", "too-large", "too-small", "webp", "garbage", "truncated"],
)
def test_photo_retouching_enforces_the_documented_image_limits(
    client: httpx.Client, data: bytes, status: int, code: str
) -> None:
    files = upload("image", data) | upload("style", make_image((90, 90), "JPEG"))
    assert_error(ailab_post(client, RETOUCH, key(), files), status, code)


# --- AILabTools: AI image extender ------------------------------------------------------------


def _extended(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    data = response.json()["data"]["binary_data_base64"]
    assert len(data) == 1
    raw = base64.b64decode(data[0])
    assert raw.startswith(b"\x89PNG")
    return open_image(raw)


def test_extender_pads_by_the_ratios(client: httpx.Client) -> None:
    fields = {"top": "0", "bottom": "0.25", "left": "0.5", "right": "0.5"}
    image = _extended(ailab_post(client, EXTENDER, key(), jpeg((160, 120)), fields))
    assert image.size == (320, 150)


def test_extender_defaults_to_ten_percent_each_side_and_honours_max_size(
    client: httpx.Client,
) -> None:
    assert _extended(ailab_post(client, EXTENDER, key(), jpeg((200, 100)))).size == (240, 120)
    fields = {"left": "1", "right": "1", "max_width": "300"}
    assert _extended(ailab_post(client, EXTENDER, key(), jpeg((200, 100)), fields)).size == (
        300,
        60,
    )


def test_extender_fills_a_mask_of_the_same_size(client: httpx.Client) -> None:
    mask = upload("mask", make_image((160, 120), "PNG", mode="L", color=255), "m.png", "image/png")
    image = _extended(ailab_post(client, EXTENDER, key(), jpeg((160, 120)) | mask))
    assert image.size == (160, 120)


def test_extender_rejects_a_mask_of_another_size(client: httpx.Client) -> None:
    mask = upload("mask", make_image((100, 120), "PNG"), "m.png", "image/png")
    assert_error(
        ailab_post(client, EXTENDER, key(), jpeg((160, 120)) | mask),
        400,
        "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH",
    )


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("top", "1.5", "ERROR_INVALID_PARAMETER"),
        ("left", "wide", "ERROR_INVALID_PARAMETER_FORMAT"),
        ("strength", "0.05", "ERROR_INVALID_PARAMETER"),
        ("steps", "0", "ERROR_INVALID_PARAMETER"),
    ],
)
def test_extender_validates_its_parameters(
    client: httpx.Client, field: str, value: str, code: str
) -> None:
    assert_error(ailab_post(client, EXTENDER, key(), jpeg(), {field: value}), 400, code)


def test_extender_needs_more_than_64_pixels(client: httpx.Client) -> None:
    assert_error(ailab_post(client, EXTENDER, key(), jpeg((64, 200))), 422, "ERROR_LOW_RESOLUTION")


# --- AILabTools: emotion editor ---------------------------------------------------------------


def test_emotion_editor_returns_a_base64_jpeg(client: httpx.Client) -> None:
    files = {"image_target": jpeg()["image"]}
    response = ailab_post(client, EMOTION, key(), files, {"service_choice": "12"})
    assert response.status_code == 200
    raw = base64.b64decode(response.json()["data"]["image"])
    assert raw.startswith(b"\xff\xd8\xff")
    image = open_image(raw)
    assert image.size == (160, 120)
    red, _, blue = image.convert("RGB").getpixel((40, 40))  # type: ignore[misc]
    assert red > blue  # warmer


@pytest.mark.parametrize("choice", ["0", "1", "2", "3", "5", "101"])
def test_emotion_editor_refuses_retired_and_unknown_choices(
    client: httpx.Client, choice: str
) -> None:
    files = {"image_target": jpeg()["image"]}
    assert_error(
        ailab_post(client, EMOTION, key(), files, {"service_choice": choice}),
        400,
        "UNSUPPORTED_PARAMETER_VALUES",
    )


def test_emotion_editor_needs_service_choice(client: httpx.Client) -> None:
    files = {"image_target": jpeg()["image"]}
    assert_error(ailab_post(client, EMOTION, key(), files), 400, "MISSING_PARAMETERS")


def test_emotion_editor_advanced_runs_as_an_async_task(client: httpx.Client) -> None:
    api_key = key()
    response = ailab_post(client, EMOTION_ADVANCED, api_key, jpeg(), {"expression": "big_smile"})
    assert response.status_code == 200
    body = response.json()
    assert_current_success(body)
    task_id = body["task_id"]

    def poll() -> dict[str, Any]:
        answer = ailab_get(client, QUERY_ASYNC, api_key, {"task_id": task_id})
        assert answer.status_code == 200
        result: dict[str, Any] = answer.json()
        return result

    seen = wait_for(poll, lambda body: body["task_status"] == 2)
    statuses = [body["task_status"] for body in seen]
    assert statuses[0] == 0
    assert statuses == sorted(statuses)
    assert all("data" not in body for body in seen[:-1])
    urls = seen[-1]["data"]["result_urls"]
    assert len(urls) == 1
    downloaded = httpx.get(urls[0])
    assert downloaded.headers["content-type"] == "image/jpeg"
    assert open_image(downloaded.content).size == (160, 120)


def test_async_tasks_are_private_to_their_key_and_unknown_ids_are_not_found(
    client: httpx.Client,
) -> None:
    response = ailab_post(client, EMOTION_ADVANCED, key(), jpeg(), {"expression": "sad"})
    task_id = response.json()["task_id"]
    for task in (task_id, str(uuid.uuid4())):
        answer = ailab_get(client, QUERY_ASYNC, key(), {"task_id": task})
        assert_error(answer, 404, "ERROR_RESOURCE_NOT_FOUND")
    assert_error(ailab_get(client, QUERY_ASYNC, key()), 400, "MISSING_PARAMETERS")


def test_emotion_editor_advanced_validates_the_expression(client: httpx.Client) -> None:
    answer = ailab_post(client, EMOTION_ADVANCED, key(), jpeg(), {"expression": "Big Smile!"})
    assert_error(answer, 400, "UNSUPPORTED_PARAMETER_VALUES")


# --- AILabTools: HD color migration (retired) -------------------------------------------------

MIGRATION_FIELDS = {"mode": "AUTO", "degree": "0.5", "color_count": "3"}


def _colorful(size: tuple[int, int] = (160, 120)) -> Files:
    return jpeg(size, color=(200, 60, 40))


def test_color_migration_is_retired_by_default(client: httpx.Client) -> None:
    fields = MIGRATION_FIELDS | {"task_type": "async"}
    body = assert_error(
        ailab_post(client, COLOR_MIGRATION, key(), _colorful(), fields), 404, "ERROR_AI_NOT_EXISTS"
    )
    assert body["error_detail"]["code_message"] == "AI does not exist or has been deactivated."
    legacy_query = ailab_get(
        client, LEGACY_QUERY, key(), {"job_id": "x", "type": "HD_COLOUR_MIGRATION"}
    )
    assert_error(legacy_query, 404, "ERROR_AI_NOT_EXISTS")


def test_color_migration_marker_gives_the_async_contract(client: httpx.Client) -> None:
    api_key = key("colormig")
    fields = MIGRATION_FIELDS | {"task_type": "async"}
    body = ailab_post(client, COLOR_MIGRATION, api_key, _colorful(), fields).json()
    assert body["task_type"] == "async"

    def poll() -> dict[str, Any]:
        result: dict[str, Any] = ailab_get(
            client, QUERY_ASYNC, api_key, {"task_id": body["task_id"]}
        ).json()
        return result

    done = wait_for(poll, lambda answer: answer["task_status"] == 2)[-1]
    urls = done["data"]["image_list"]
    assert len(urls) == 3
    images = [httpx.get(url) for url in urls]
    assert all(image.headers["content-type"] == "image/png" for image in images)
    assert len({image.content for image in images}) == 3  # three color families


def test_color_migration_without_task_type_gives_the_legacy_contract(
    client: httpx.Client,
) -> None:
    api_key = key("colormig")
    fields = {"mode": "TEMPLATE", "degree": "1", "color_template": "#0E0CBB,056A6B"}
    body = ailab_post(client, COLOR_MIGRATION, api_key, _colorful(), fields).json()
    assert "task_id" not in body
    job = {"job_id": body["request_id"], "type": "HD_COLOUR_MIGRATION"}

    def poll() -> dict[str, Any]:
        result: dict[str, Any] = ailab_get(client, LEGACY_QUERY, api_key, job).json()["data"]
        return result

    seen = wait_for(poll, lambda data: data["status"] == "PROCESS_SUCCESS")
    assert seen[0]["status"] == "QUEUING"
    assert len(seen[-1]["image_list"]) == 1


def test_color_migration_by_reference_picture(client: httpx.Client) -> None:
    ref = upload("ref", make_image((100, 100), "PNG", color=(20, 40, 220)), "ref.png", "image/png")
    fields = {"mode": "REF_PIC", "degree": "0.8", "task_type": "async"}
    response = ailab_post(client, COLOR_MIGRATION, key("colormig"), _colorful() | ref, fields)
    assert response.status_code == 200
    assert response.json()["task_id"]


@pytest.mark.parametrize(
    ("files", "fields", "status", "code"),
    [
        (
            upload("image", make_image((100, 100), "JPEG", mode="L", color=90)),
            MIGRATION_FIELDS,
            415,
            "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
        ),
        (_colorful(), {"mode": "TEMPLATE", "degree": "0.5"}, 400, "MISSING_PARAMETERS"),
        (_colorful(), {"mode": "SEPIA", "degree": "0.5"}, 400, "UNSUPPORTED_PARAMETER_VALUES"),
        (_colorful(), {"mode": "AUTO", "degree": "2"}, 400, "ERROR_INVALID_PARAMETER"),
        (_colorful(), {"mode": "AUTO"}, 400, "MISSING_PARAMETERS"),
        (_colorful((64, 100)), MIGRATION_FIELDS, 422, "ERROR_LOW_RESOLUTION"),
        (
            _colorful(),
            {"mode": "TEMPLATE", "degree": "1", "color_template": "red"},
            400,
            "ERROR_INVALID_PARAMETER_FORMAT",
        ),
    ],
    ids=["grayscale", "no-template", "bad-mode", "bad-degree", "no-degree", "small", "bad-color"],
)
def test_color_migration_validates_its_request(
    client: httpx.Client, files: Files, fields: dict[str, str], status: int, code: str
) -> None:
    assert_error(ailab_post(client, COLOR_MIGRATION, key("colormig"), files, fields), status, code)


# --- AILabTools: credits ----------------------------------------------------------------------


def test_credits_are_charged_per_call(client: httpx.Client) -> None:
    api_key = key()
    before = ailab_get(client, CREDITS, api_key).json()["data"]
    assert before[0]["unique_sign"] == "common"
    assert {"balance", "total", "last_recharge_balance", "first_buy_time"} <= before[0].keys()
    ailab_post(client, RETOUCH, api_key, jpeg() | upload("style", make_image((90, 90), "JPEG")))
    after = ailab_get(client, CREDITS, api_key).json()["data"]
    assert after[0]["balance"] == before[0]["balance"] - 3


def test_credits_follow_each_key_and_its_credits_marker(client: httpx.Client) -> None:
    small, other = key("credits-30"), key()
    answer = ailab_get(client, CREDITS, small)
    assert answer.status_code == 200
    assert_current_success(answer.json())
    (pool,) = answer.json()["data"]
    assert (pool["balance"], pool["total"], pool["last_recharge_balance"]) == (30, 30, 30)
    both = jpeg() | upload("style", make_image((90, 90), "JPEG"))
    for _ in range(10):
        assert ailab_post(client, RETOUCH, small, both).status_code == 200
    assert ailab_get(client, CREDITS, small).json()["data"][0]["balance"] == 0
    # Dry: the next call is refused and charges nothing.
    assert_error(ailab_post(client, RETOUCH, small, both), 429, "ERROR_NOT_ENOUGH_CREDITS")
    assert ailab_get(client, CREDITS, small).json()["data"][0]["balance"] == 0
    # Another key's account is untouched.
    assert ailab_get(client, CREDITS, other).json()["data"][0]["balance"] == 100_000


def test_credits_in_the_legacy_envelope(client: httpx.Client) -> None:
    body = ailab_get(client, CREDITS, key("legacy")).json()
    assert body["error_code"] == 0
    assert body["data"][0]["unique_sign"] == "common"


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [
        ("fault-error-ERROR_APPLICATIONS_NOT_EXISTS", 401, "ERROR_APPLICATIONS_NOT_EXISTS"),
        ("fault-error-ERROR_USER_LOCKED", 403, "ERROR_USER_LOCKED"),
        ("fault-ratelimit", 429, "EXCEEDING_LIMITS"),
    ],
)
def test_credits_answer_fault_markers(
    client: httpx.Client, marker: str, status: int, code: str
) -> None:
    assert_error(ailab_get(client, CREDITS, key(marker)), status, code)


def test_credits_answer_transport_faults(client: httpx.Client) -> None:
    assert ailab_get(client, CREDITS, key("fault-http-502")).status_code == 502
    broken = ailab_get(client, CREDITS, key("fault-badjson"))
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()


def test_credits_refuse_a_real_key(client: httpx.Client) -> None:
    assert_error(
        ailab_get(client, CREDITS, "ak-live-0123456789"), 401, "ERROR_APPLICATIONS_NOT_EXISTS"
    )


# --- PicWish: colorization --------------------------------------------------------------------


def test_colorization_async_lifecycle(client: httpx.Client) -> None:
    api_key = key()
    created = picwish_create(client, api_key, format="png")
    assert created.status_code == 200
    body = created.json()
    assert body["status"] == 200
    assert body["message"] == "success"
    task_id = body["data"]["task_id"]

    def poll() -> dict[str, Any]:
        answer = picwish_query(client, api_key, task_id)
        assert answer.status_code == 200
        data: dict[str, Any] = answer.json()["data"]
        return data

    seen = wait_for(poll, lambda data: data["state"] == 1)
    assert seen[0]["state"] == 0
    assert seen[0]["progress"] == 0
    assert {data["state"] for data in seen[:-1]} <= {0, 2, 4}
    assert all(data["progress"] < 100 and "image" not in data for data in seen[:-1])
    done = seen[-1]
    assert done["progress"] == 100
    assert done["state_detail"] == "Complete"
    assert done["created_at"] <= done["processed_at"] <= done["completed_at"]
    assert done["task_id"] == task_id
    downloaded = httpx.get(done["image"])
    assert downloaded.headers["content-type"] == "image/png"
    image = open_image(downloaded.content).convert("RGB")
    red, _, blue = image.getpixel((40, 40))  # type: ignore[misc]
    assert red > blue + 40  # a gray photo, tinted
    assert_marked(image)


def test_colorization_sync_base64(client: httpx.Client) -> None:
    response = picwish_create(client, key(), sync="1", return_type="2")
    data = response.json()["data"]
    assert data["state"] == 1
    assert data["progress"] == 100
    assert base64.b64decode(data["image"]).startswith(b"\xff\xd8\xff")


def test_colorization_sync_binary(client: httpx.Client) -> None:
    response = picwish_create(client, key(), sync="1", return_type="3", format="webp")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert open_image(response.content).format == "WEBP"


@pytest.mark.parametrize(
    ("fields", "with_file"),
    [
        ({"return_type": "3"}, True),
        ({"image_url": "https://example.com/a.jpg"}, True),
        ({}, False),
        ({"format": "bmp"}, True),
        ({"sync": "2"}, True),
    ],
    ids=["binary-async", "both-sources", "no-source", "bad-format", "bad-sync"],
)
def test_colorization_rejects_bad_requests_with_400(
    client: httpx.Client, fields: dict[str, str], with_file: bool
) -> None:
    files = upload("image_file", make_image()) if with_file else {}
    response = client.post(COLORIZE, headers={PICWISH_KEY: key()}, files=files, data=fields)
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert response.json()["message"]


def test_colorization_refuses_files_over_15_mb(client: httpx.Client) -> None:
    big = upload("image_file", b"\xff\xd8\xff" + b"\0" * (15 * 1024 * 1024))
    response = picwish_create(client, key(), big)
    assert response.status_code == 413
    assert response.json()["status"] == 413


@pytest.mark.parametrize(
    ("files", "fields", "state"),
    [
        ({}, {"image_url": "https://example.com/photo.jpg"}, -3),
        (upload("image_file", b"garbage"), {}, -7),
    ],
    ids=["image-url", "corrupt"],
)
def test_colorization_tasks_that_fail(
    client: httpx.Client, files: Files, fields: dict[str, str], state: int
) -> None:
    response = client.post(
        COLORIZE, headers={PICWISH_KEY: key()}, files=files, data=fields | {"sync": "1"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["state"] == state
    assert "image" not in data


def test_colorization_unknown_task_is_404(client: httpx.Client) -> None:
    api_key = key()
    task_id = picwish_create(client, api_key).json()["data"]["task_id"]
    for answer in (
        picwish_query(client, api_key, str(uuid.uuid4())),
        picwish_query(client, key(), task_id),  # another account's task
    ):
        assert answer.status_code == 404
        assert answer.json() == {"status": 404, "message": "Task not found"}


def test_picwish_allows_two_requests_per_second_per_key(
    client: httpx.Client, settings: SettingsWrapper
) -> None:
    settings.SANDBOX_PICWISH_QPS = 2
    api_key = key()
    answers = [picwish_query(client, api_key, "unknown") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [404, 404, 429]
    assert answers[2].json() == {"status": 429, "message": "Too Many Requests"}
    assert picwish_query(client, key(), "unknown").status_code == 404  # another key
    time.sleep(1.05)
    assert picwish_query(client, api_key, "unknown").status_code == 404


def test_picwish_counts_creates_and_polls_alike_and_logs_them(
    client: httpx.Client, settings: SettingsWrapper
) -> None:
    # How the window slides is tested with a clock of our own in test_rates.py.
    settings.SANDBOX_PICWISH_QPS = 2
    settings.SANDBOX_PICWISH_WINDOW = "sliding"
    api_key = key()
    started = time.monotonic()
    created = picwish_create(client, api_key)
    polled = picwish_query(client, api_key, created.json()["data"]["task_id"])
    refused = [picwish_create(client, api_key), picwish_query(client, api_key, "unknown")]
    if time.monotonic() - started >= 0.9:
        pytest.skip("this machine took a second for four requests: the window moved on")
    assert (created.status_code, polled.status_code) == (200, 200)
    assert [answer.status_code for answer in refused] == [429, 429]
    log = STATE.rate_log(api_key)
    assert (len(log.admitted), log.refused, log.max_in_any_second()) == (2, 2, 2)
    assert STATE.rate_log(key()).admitted == ()


# --- Result URLs ------------------------------------------------------------------------------


def _retouch_url(client: httpx.Client, api_key: str) -> str:
    files = jpeg() | upload("style", make_image((90, 90), "JPEG"))
    response = ailab_post(client, RETOUCH, api_key, files)
    assert response.status_code == 200, response.text
    url: str = response.json()["data"]["image_url"]
    return url


def test_result_urls_expire_after_the_ttl(client: httpx.Client, settings: SettingsWrapper) -> None:
    settings.SANDBOX_RESULT_TTL = 1
    url = _retouch_url(client, key())
    assert httpx.get(url).status_code == 200
    time.sleep(1.1)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in expired.text


def test_result_urls_need_their_signature_and_unknown_ones_are_404(client: httpx.Client) -> None:
    url = _retouch_url(client, key())
    unsigned = httpx.get(url.split("?")[0])
    assert unsigned.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in unsigned.text
    assert httpx.get(url.replace("&", "\\u0026")).status_code == 403
    missing = client.get("/results/nothing-here.png")
    assert missing.status_code == 404
    assert "<Code>NoSuchKey</Code>" in missing.text


def test_result_tokens_are_unguessable(client: httpx.Client) -> None:
    url = _retouch_url(client, key())
    token = url.split("/results/")[1].split(".")[0]
    assert len(token) >= 40


def test_unknown_paths_and_wrong_methods(client: httpx.Client) -> None:
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/nothing").json()["status"] == 404
    assert client.get(RETOUCH, headers={AILAB_KEY: key()}).status_code == 405


# --- Faults -----------------------------------------------------------------------------------


def test_fault_markers_parse() -> None:
    faults = parse("sandbox-legacy-fault-latency-5-fault-error-error_x-resultfault-drip-abc")
    assert faults.api == (Fault("latency", "5"), Fault("error", "ERROR_X"))
    assert faults.result == (Fault("drip"),)
    assert parse("sandbox-fault-state--7-x").api == (Fault("state", "7"),)
    assert parse("sandbox-fault-oversize-stream").api == (Fault("oversize", "stream"),)
    assert parse("sandbox-fault-ratelimit-3-x").api == (Fault("ratelimit", "3"),)
    assert parse("sandbox-fault-ratelimit-x").api == (Fault("ratelimit"),)
    assert parse("sandbox-faulty-x").api == ()
    for bad in ("sandbox-fault-bogus", "sandbox-fault-http-200", "sandbox-resultfault-badjson"):
        with pytest.raises(UnknownFault):
            parse(bad)


def test_unknown_fault_marker_is_a_plain_400(client: httpx.Client) -> None:
    response = ailab_get(client, CREDITS, "sandbox-fault-bogus-x")
    assert response.status_code == 400
    assert "bogus" in response.text


def test_latency_fault(client: httpx.Client) -> None:
    started = time.monotonic()
    response = ailab_get(client, CREDITS, key("fault-latency-300"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ERROR_NOT_ENOUGH_CREDITS", 429),
        ("PROCESSING_FAILURE", 500),
        ("FILE_RESOLUTION_EXCEEDS_LIMITS", 413),
        ("ERROR_NO_FACE_IN_FILE", 422),
        ("AI_SERVICE_TIMEOUT", 504),
        ("SOMETHING_NEW", 500),
    ],
)
def test_error_fault_uses_the_vendor_status_for_the_code(
    client: httpx.Client, code: str, status: int
) -> None:
    assert_error(ailab_get(client, CREDITS, key("fault-error", code)), status, code)


def test_error_fault_for_picwish(client: httpx.Client) -> None:
    response = picwish_create(client, key("fault-error-500"))
    assert response.status_code == 500
    assert response.json()["status"] == 500


def test_http_fault_is_an_html_gateway_page(client: httpx.Client) -> None:
    for response in (
        ailab_get(client, CREDITS, key("fault-http-503")),
        picwish_query(client, key("fault-http-502"), "x"),
    ):
        assert response.status_code in {502, 503}
        assert response.headers["content-type"].startswith("text/html")


def test_flaky_fault_fails_then_recovers(client: httpx.Client) -> None:
    api_key = key("fault-flaky-2")
    statuses = [ailab_get(client, CREDITS, api_key).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_ratelimit_fault(client: httpx.Client) -> None:
    limited = ailab_get(client, CREDITS, "sandbox-fault-ratelimit-a")
    assert_error(limited, 429, "EXCEEDING_LIMITS")
    assert limited.headers["Retry-After"] == "1"
    response = picwish_create(client, "sandbox-fault-ratelimit-p")
    assert response.status_code == 429
    assert response.json() == {"status": 429, "message": "Too Many Requests"}
    assert response.headers["Retry-After"] == "1"
    # Without a count the storm never passes.
    assert ailab_get(client, CREDITS, "sandbox-fault-ratelimit-a").status_code == 429


def test_ratelimit_fault_with_a_count_passes(client: httpx.Client) -> None:
    ailab_key = "sandbox-fault-ratelimit-2-a" + uuid.uuid4().hex[:6]
    statuses = [ailab_get(client, CREDITS, ailab_key).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    picwish_key = "sandbox-fault-ratelimit-1-p" + uuid.uuid4().hex[:6]
    first, second = picwish_create(client, picwish_key), picwish_create(client, picwish_key)
    assert (first.status_code, second.status_code) == (429, 200)
    assert second.json()["data"]["task_id"]


def test_flaky_and_a_passing_ratelimit_count_the_same_requests(client: httpx.Client) -> None:
    api_key = "sandbox-fault-flaky-1-fault-ratelimit-2-x" + uuid.uuid4().hex[:6]
    statuses = [ailab_get(client, CREDITS, api_key).status_code for _ in range(3)]
    assert statuses == [503, 429, 200]


def test_timeout_fault_outlasts_the_read_timeout(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get(CREDITS, headers={AILAB_KEY: key("fault-timeout")}, timeout=0.3)


def test_badjson_fault(client: httpx.Client) -> None:
    for response in (
        ailab_get(client, CREDITS, key("fault-badjson")),
        picwish_create(client, key("fault-badjson")),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)


def test_truncated_fault_closes_mid_body(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        ailab_get(client, CREDITS, key("fault-truncated"))
    with pytest.raises(httpx.RemoteProtocolError):
        picwish_create(client, key("fault-truncated"))
    assert ailab_get(client, CREDITS, key()).status_code == 200  # the server is fine


def test_drip_fault_sends_the_real_answer_slowly(client: httpx.Client) -> None:
    started = time.monotonic()
    chunks: list[bytes] = []
    with client.stream("GET", CREDITS, headers={AILAB_KEY: key("fault-drip")}) as response:
        for chunk in response.iter_raw():
            chunks.append(chunk)
    elapsed = time.monotonic() - started
    body = b"".join(chunks)
    assert len(chunks) > 3
    assert elapsed >= 0.05 * (len(body) // 48)
    assert json.loads(body)["data"][0]["unique_sign"] == "common"


@pytest.mark.parametrize(
    ("marker", "declared"), [("oversize", 200 * 1024 * 1024), ("oversize-stream", None)]
)
def test_oversize_fault(client: httpx.Client, marker: str, declared: int | None) -> None:
    headers = {AILAB_KEY: key("fault", marker)}
    with client.stream("GET", CREDITS, headers=headers) as response:
        assert response.status_code == 200
        length = response.headers.get("content-length")
        assert (int(length) if length else None) == declared
        first = next(response.iter_raw())
        assert first.strip() == b""


def test_oversize_fault_with_a_size(client: httpx.Client) -> None:
    response = ailab_get(client, CREDITS, key("fault-oversize-1"))
    assert len(response.content) == 1024 * 1024


def test_expired_fault_hands_out_dead_urls(client: httpx.Client) -> None:
    response = httpx.get(_retouch_url(client, key("fault-expired")))
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


@pytest.mark.parametrize(("marker", "state"), [("state-7", -7), ("state--8", -8)])
def test_state_fault_ends_picwish_tasks_in_that_state(
    client: httpx.Client, marker: str, state: int
) -> None:
    data = picwish_create(client, key("fault", marker), sync="1").json()["data"]
    assert data["state"] == state
    assert data["state_detail"]
    assert "image" not in data


def test_taskfail_fault_fails_ailabtools_tasks(client: httpx.Client) -> None:
    api_key = key("colormig", "fault-taskfail")
    fields = MIGRATION_FIELDS | {"task_type": "async"}
    task_id = ailab_post(client, COLOR_MIGRATION, api_key, _colorful(), fields).json()["task_id"]

    def poll() -> dict[str, Any]:
        result: dict[str, Any] = ailab_get(
            client, QUERY_ASYNC, api_key, {"task_id": task_id}
        ).json()
        return result

    failed = wait_for(poll, lambda body: body["task_status"] not in {0, 1})[-1]
    assert failed["task_status"] == 3
    assert failed["error_detail"]["code"] == "PROCESSING_FAILURE"
    assert "data" not in failed

    legacy_id = ailab_post(client, COLOR_MIGRATION, api_key, _colorful(), MIGRATION_FIELDS).json()[
        "request_id"
    ]
    job = {"job_id": legacy_id, "type": "HD_COLOUR_MIGRATION"}

    def poll_legacy() -> dict[str, Any]:
        result: dict[str, Any] = ailab_get(client, LEGACY_QUERY, api_key, job).json()["data"]
        return result

    assert wait_for(poll_legacy, lambda data: data["status"] not in {"QUEUING", "PROCESSING"})[
        -1
    ] == {"status": "PROCESS_FAILED"}


def test_result_faults_apply_to_downloads_only(client: httpx.Client) -> None:
    url = _retouch_url(client, key("resultfault-truncated"))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert httpx.get(_retouch_url(client, key("resultfault-http-502"))).status_code == 502


# --- The command ------------------------------------------------------------------------------


def test_runsandbox_refuses_when_disabled(settings: SettingsWrapper) -> None:
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="disabled"):
        call_command("runsandbox", port=0, stdout=io.StringIO())
