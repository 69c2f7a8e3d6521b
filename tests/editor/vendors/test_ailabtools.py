"""The AILabTools adapter against its written contract (vendor-contracts.md §1-§5).

Every test talks to a stand-in over ``httpx.MockTransport`` and checks the exact request that
would reach the vendor, then the adapter's reading of each documented answer shape.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pytest_django import Settings as SettingsWrapper

from editor import operations
from editor.outbound import make_client
from editor.vendors import http
from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.ailabtools.credits import CreditBalance, CreditPool
from editor.vendors.ailabtools.errors import ERRORS, RETIRED_COLOR_MIGRATION
from editor.vendors.ailabtools.expressions import (
    ADVANCED_EXPRESSIONS,
    CLASSIC_EXPRESSIONS,
    EXPRESSION_PATTERN,
)
from editor.vendors.base import (
    Done,
    InputImage,
    ParamValue,
    Pending,
    VendorError,
    VendorRequest,
)
from editor.vendors.http import CallKind
from tests.images import make_image

BASE = "https://ailab.test"
FILES = "https://files.ailab.test"
KEY = "ak-7f3c9e1d2b4a6c8e0f1a3b5c7d9e1f2a"

JPEG = make_image((80, 60), "JPEG")
PNG = make_image((80, 60), "PNG")
RESULT_JPEG = make_image((40, 30), "JPEG", color=(10, 200, 30))
RESULT_PNG = make_image((40, 30), "PNG", color=(200, 10, 30))

# --- A stand-in vendor ---------------------------------------------------------------------


class Vendor:
    """Answers by URL (without query), in order, the last answer repeating; records requests.

    A request to any URL without an answer fails the test: nothing leaves unexpectedly.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._answers: dict[str, list[httpx.Response]] = {}

    def on(self, url: str, *responses: httpx.Response) -> None:
        self._answers[url] = list(responses)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url.copy_with(query=None))
        queue = self._answers.get(url)
        if not queue:
            raise AssertionError(f"unexpected request to {url}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, [str(request.url) for request in self.requests]
        return self.requests[0]

    def to(self, host: str) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.host == host]


@dataclass(frozen=True)
class Part:
    filename: str | None
    content_type: str | None
    data: bytes


def form(request: httpx.Request) -> dict[str, Part]:
    """The multipart fields of a request, parsed from its raw bytes."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts: dict[str, Part] = {}
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk[2:-2].partition(b"\r\n\r\n")
        text = head.decode()
        name = re.search(r'name="([^"]*)"', text)
        filename = re.search(r'filename="([^"]*)"', text)
        media = re.search(r"Content-Type: (\S+)", text)
        assert name is not None
        assert name.group(1) not in parts, f"field {name.group(1)} sent twice"
        parts[name.group(1)] = Part(
            filename.group(1) if filename else None, media.group(1) if media else None, body
        )
    return parts


def texts(request: httpx.Request) -> dict[str, str]:
    return {name: part.data.decode() for name, part in form(request).items() if not part.filename}


def read_timeout(request: httpx.Request) -> float:
    timeout: dict[str, float] = request.extensions["timeout"]
    return timeout["read"]


def legacy_ok(**business: Any) -> dict[str, Any]:
    """Success in the legacy envelope (§1.2), as the per-endpoint examples still show it."""
    return {
        "request_id": "req-1",
        "log_id": "log-1",
        "error_code": 0,
        "error_code_str": "",
        "error_msg": "",
        "error_detail": {"status_code": 200, "code": "", "code_message": "", "message": ""},
        **business,
    }


def current_ok(**business: Any) -> dict[str, Any]:
    """Success in the current envelope (§1.2, since 2026-04): no error_code, no error_msg."""
    return {
        "request_id": "req-1",
        "log_id": "log-1",
        "error_detail": {"code": "", "code_message": "", "message": ""},
        **business,
    }


def current_failure(code: str, message: str = "", code_message: str = "") -> dict[str, Any]:
    return {
        "request_id": "req-9",
        "log_id": "log-9",
        "error_detail": {"code": code, "code_message": code_message, "message": message},
    }


def reply(body: dict[str, Any], status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def image_reply(data: bytes, media_type: str = "image/jpeg") -> httpx.Response:
    return httpx.Response(200, content=data, headers={"Content-Type": media_type})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def photo(data: bytes = JPEG, media_type: str = "image/jpeg") -> InputImage:
    return InputImage(data, media_type, "holiday.jpg")


def request_for(
    operation: str,
    params: dict[str, ParamValue] | None = None,
    **files: InputImage,
) -> VendorRequest:
    return VendorRequest(operation, files or {"image": photo()}, params or {})


@pytest.fixture(autouse=True)
def _vendor_settings(settings: SettingsWrapper) -> None:
    settings.AILABTOOLS_BASE_URL = BASE
    settings.VENDOR_RESULT_HOSTS = [FILES]


@pytest.fixture
def vendor() -> Vendor:
    return Vendor()


@pytest.fixture
def adapter(vendor: Vendor) -> AILabToolsAdapter:
    return AILabToolsAdapter(KEY, client=make_client(transport=httpx.MockTransport(vendor.handle)))


def assert_vendor_call(request: httpx.Request, method: str, url: str) -> None:
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["ailabapi-api-key"] == KEY


# --- Photo retouch (§3) ----------------------------------------------------------------------


def test_retouch_sends_photo_and_style_and_downloads_the_result(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/image/editing/photo-retouching",
        reply(legacy_ok(data={"image_url": f"{FILES}/r/1.jpg?sig=abc"})),
    )
    vendor.on(f"{FILES}/r/1.jpg", image_reply(RESULT_JPEG))

    outcome = adapter.submit(
        VendorRequest("retouch", {"image": photo(), "style": photo(PNG, "image/png")})
    )

    assert isinstance(outcome, Done)
    assert outcome.images[0].data == RESULT_JPEG
    assert outcome.media_type == "image/jpeg"
    sent = vendor.requests[0]
    assert_vendor_call(sent, "POST", f"{BASE}/api/image/editing/photo-retouching")
    parts = form(sent)
    assert set(parts) == {"image", "style"}
    assert parts["image"] == Part("image.jpg", "image/jpeg", JPEG)
    assert parts["style"] == Part("style.png", "image/png", PNG)
    assert read_timeout(sent) == http.BUDGETS[CallKind.PROCESS].timeout.read  # synchronous
    assert str(vendor.requests[1].url) == f"{FILES}/r/1.jpg?sig=abc"
    assert "ailabapi-api-key" not in vendor.requests[1].headers  # the key stays with the API


def test_the_person_s_file_name_is_not_sent(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(f"{BASE}/api/image/editing/photo-retouching", reply(current_failure("UNKNOWN")))
    with pytest.raises(VendorError):
        adapter.submit(VendorRequest("retouch", {"image": photo(), "style": photo()}))
    assert b"holiday" not in vendor.only.content


# --- AI image extender (§4) --------------------------------------------------------------------


def test_extend_with_side_ratios_sends_exactly_the_documented_fields(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/image/editing/ai-image-extender",
        reply(legacy_ok(data={"binary_data_base64": [b64(RESULT_PNG)]})),
    )
    params: dict[str, ParamValue] = {
        "top": 0.1,
        "bottom": 0.25,
        "left": 0.0,
        "right": 1.0,
        "custom_prompt": "a sandy beach at sunset",
        "steps": 30,
        "strength": 0.8,
        "scale": 7.0,
        "seed": -1,
        "max_width": 1920,
        "max_height": 1080,
    }

    outcome = adapter.submit(request_for("extend", params))

    assert isinstance(outcome, Done)
    assert outcome.data == RESULT_PNG
    assert outcome.media_type == "image/png"  # sniffed: the docs do not name the format
    sent = vendor.only
    assert_vendor_call(sent, "POST", f"{BASE}/api/image/editing/ai-image-extender")
    assert form(sent)["image"] == Part("image.jpg", "image/jpeg", JPEG)
    assert texts(sent) == {
        "top": "0.1",
        "bottom": "0.25",
        "left": "0",
        "right": "1",
        "custom_prompt": "a sandy beach at sunset",
        "steps": "30",
        "strength": "0.8",
        "scale": "7",
        "seed": "-1",
        "max_width": "1920",
        "max_height": "1080",
    }
    assert read_timeout(sent) == http.BUDGETS[CallKind.PROCESS].timeout.read


def test_extend_with_a_mask_sends_the_mask_and_no_ratios(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/image/editing/ai-image-extender",
        reply(current_ok(data={"binary_data_base64": [b64(RESULT_JPEG)]})),
    )
    mask = make_image((80, 60), "PNG", mode="L", color=255)

    adapter.submit(
        VendorRequest(
            "extend",
            {"image": photo(), "mask": InputImage(mask, "image/png", "mask.png")},
            {"top": 0.2, "bottom": 0.2, "left": 0.2, "right": 0.2, "steps": 20},
        )
    )

    sent = vendor.only
    parts = form(sent)
    assert parts["mask"] == Part("mask.png", "image/png", mask)
    assert texts(sent) == {"steps": "20"}
    for side in ("top", "bottom", "left", "right"):
        assert f'name="{side}"'.encode() not in sent.content


def test_extend_sends_only_the_parameters_the_job_carries(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/image/editing/ai-image-extender",
        reply(legacy_ok(data={"binary_data_base64": [b64(RESULT_JPEG)]})),
    )
    adapter.submit(request_for("extend", {"left": 0.5, "custom_prompt": "  "}))
    assert texts(vendor.only) == {"left": "0.5"}


@pytest.mark.parametrize("ratio", [-0.1, 1.5, "wide", float("nan")])
def test_extend_refuses_a_ratio_outside_0_to_1_before_any_call(
    adapter: AILabToolsAdapter, vendor: Vendor, ratio: ParamValue
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("extend", {"top": ratio}))
    assert not caught.value.retryable
    assert vendor.requests == []


def test_extend_explains_a_mask_of_the_wrong_size(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/image/editing/ai-image-extender",
        reply(
            current_failure(
                "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH",
                code_message="Resolution of mask and image must be the same",
            ),
            400,
        ),
    )
    mask = InputImage(make_image((10, 10), "PNG", mode="L", color=0), "image/png")
    with pytest.raises(VendorError) as caught:
        adapter.submit(VendorRequest("extend", {"image": photo(), "mask": mask}))
    assert caught.value.code == "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH"
    assert not caught.value.retryable
    assert "same width and height as the photo" in caught.value.message


# --- Emotion editor (§5) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "sent"), [(10, "10"), ("12", "12"), (" 16 ", "16"), (100, "100")]
)
@pytest.mark.parametrize("prefix", ["", "data:image/jpeg;base64,", "data:image/png;base64,"])
def test_expression_sends_image_target_and_service_choice_as_text(
    adapter: AILabToolsAdapter, vendor: Vendor, choice: ParamValue, sent: str, prefix: str
) -> None:
    vendor.on(
        f"{BASE}/api/portrait/effects/emotion-editor",
        reply(legacy_ok(data={"image": prefix + b64(RESULT_JPEG)})),
    )

    outcome = adapter.submit(request_for("expression", {"service_choice": choice}))

    assert isinstance(outcome, Done)
    assert outcome.data == RESULT_JPEG
    assert outcome.media_type == "image/jpeg"
    request = vendor.only
    assert_vendor_call(request, "POST", f"{BASE}/api/portrait/effects/emotion-editor")
    assert b'name="image_target"' in request.content
    parts = form(request)
    assert set(parts) == {"image_target", "service_choice"}
    assert parts["image_target"] == Part("image_target.jpg", "image/jpeg", JPEG)
    assert texts(request) == {"service_choice": sent}


def test_expression_reads_base64_with_line_breaks_and_without_padding(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    encoded = b64(RESULT_PNG).rstrip("=")
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    vendor.on(
        f"{BASE}/api/portrait/effects/emotion-editor", reply(current_ok(data={"image": wrapped}))
    )
    outcome = adapter.submit(request_for("expression", {"service_choice": "11"}))
    assert isinstance(outcome, Done)
    assert outcome.data == RESULT_PNG


@pytest.mark.parametrize("choice", [0, 1, 2, 3, "0", "3"])
def test_removed_expressions_are_refused_before_any_call(
    adapter: AILabToolsAdapter, vendor: Vendor, choice: ParamValue
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("expression", {"service_choice": choice}))
    error = caught.value
    assert error.code == "expression_removed"
    assert not error.retryable
    assert "removed" in error.message
    for name in CLASSIC_EXPRESSIONS.values():
        assert name in error.message
    assert vendor.requests == []


@pytest.mark.parametrize("choice", [9, 17, "smile", "", True, 10.5])
def test_unknown_classic_expressions_are_refused_before_any_call(
    adapter: AILabToolsAdapter, vendor: Vendor, choice: ParamValue
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("expression", {"service_choice": choice}))
    assert caught.value.code == "invalid_parameter"
    assert not caught.value.retryable
    assert vendor.requests == []


def test_classic_expressions_are_the_current_documented_set() -> None:
    assert set(CLASSIC_EXPRESSIONS) == {10, 11, 12, 13, 14, 15, 16, 100}


# --- Emotion editor advanced (§5, async) --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        current_ok(task_id="T-42"),
        legacy_ok(task_type="async", task_id="T-42"),
        current_ok(data={"task_id": "T-42"}),  # where the SDK also looks
    ],
)
def test_advanced_expression_submits_and_waits_on_the_task(
    adapter: AILabToolsAdapter, vendor: Vendor, body: dict[str, Any]
) -> None:
    vendor.on(f"{BASE}/api/portrait/effects/emotion-editor-advanced", reply(body))

    outcome = adapter.submit(request_for("expression_advanced", {"expression": "bright_laugh"}))

    assert outcome == Pending(task_ref="async:T-42", poll_after=5.0)
    request = vendor.only
    assert_vendor_call(request, "POST", f"{BASE}/api/portrait/effects/emotion-editor-advanced")
    assert form(request)["image"] == Part("image.jpg", "image/jpeg", JPEG)
    assert texts(request) == {"expression": "bright_laugh"}
    assert read_timeout(request) == http.BUDGETS[CallKind.SUBMIT].timeout.read


def test_advanced_expression_list_is_the_documented_enum() -> None:
    assert len(ADVANCED_EXPRESSIONS) == 117
    assert len(set(ADVANCED_EXPRESSIONS)) == 117
    assert ADVANCED_EXPRESSIONS[0] == "natural_smile"
    assert {"bright_laugh", "heart_eyes_expression", "overwhelmed_breakdown_face"} <= set(
        ADVANCED_EXPRESSIONS
    )
    assert all(EXPRESSION_PATTERN.fullmatch(value) for value in ADVANCED_EXPRESSIONS)


def test_advanced_expression_lets_the_vendor_judge_a_new_snake_case_value(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/portrait/effects/emotion-editor-advanced", reply(current_ok(task_id="T"))
    )
    adapter.submit(request_for("expression_advanced", {"expression": "quiet_smile_2027"}))
    assert texts(vendor.only) == {"expression": "quiet_smile_2027"}


@pytest.mark.parametrize("value", ["", "x", "Big Smile", "smile; drop", "_smile", "a" * 65, 3])
def test_advanced_expression_refuses_malformed_values_before_any_call(
    adapter: AILabToolsAdapter, vendor: Vendor, value: ParamValue
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("expression_advanced", {"expression": value}))
    assert not caught.value.retryable
    assert vendor.requests == []


# --- HD color migration (§2, retired) ----------------------------------------------------------

MIGRATION = f"{BASE}/api/image/effects/image-hd-color-migration"


def test_color_migration_auto_on_contract_b_waits_on_the_common_query(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(MIGRATION, reply(legacy_ok(task_type="async", task_id="CM-1")))

    outcome = adapter.submit(
        request_for(
            "color_migration",
            {"mode": "AUTO", "degree": 0.4, "color_count": 3, "color_template": ("DB0D0D",)},
        )
    )

    assert outcome == Pending(task_ref="async:CM-1", poll_after=5.0)
    request = vendor.only
    assert_vendor_call(request, "POST", MIGRATION)
    assert form(request)["image"] == Part("image.jpg", "image/jpeg", JPEG)
    assert texts(request) == {
        "task_type": "async",
        "mode": "AUTO",
        "degree": "0.4",
        "color_count": "3",
    }


def test_color_migration_template_on_contract_a_waits_on_the_legacy_query(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    # v1.0.0: the public envelope only; keep request_id (§2.3).
    vendor.on(MIGRATION, reply(legacy_ok(request_id="RQ-7")))

    outcome = adapter.submit(
        request_for(
            "color_migration",
            {
                "mode": "TEMPLATE",
                "degree": 1,
                "color_count": 2,
                "color_template": ("#db0d0d", "0E0CBB", "FF0A0B0C"),
            },
        )
    )

    assert outcome == Pending(task_ref="legacy:RQ-7", poll_after=5.0)
    assert texts(vendor.only) == {
        "task_type": "async",
        "mode": "TEMPLATE",
        "degree": "1",
        "color_template": "DB0D0D,0E0CBB,FF0A0B0C",
    }


def test_color_migration_reference_with_results_already_in_the_answer(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    # v1.0.0: image_list comes back at once when the result is ready "in synchronous state".
    vendor.on(
        MIGRATION,
        reply(legacy_ok(data={"image_list": [f"{FILES}/cm/a.png", f"{FILES}/cm/b.png"]})),
    )
    vendor.on(f"{FILES}/cm/a.png", image_reply(RESULT_PNG, "image/png"))
    vendor.on(f"{FILES}/cm/b.png", image_reply(RESULT_JPEG, "image/png"))  # header is wrong

    outcome = adapter.submit(
        VendorRequest(
            "color_migration",
            {"image": photo(), "ref": photo(PNG, "image/png")},
            {"mode": "REF_PIC", "degree": 0.5},
        )
    )

    assert isinstance(outcome, Done)
    assert [image.data for image in outcome.images] == [RESULT_PNG, RESULT_JPEG]
    assert [image.media_type for image in outcome.images] == ["image/png", "image/jpeg"]
    parts = form(vendor.requests[0])
    assert parts["ref"] == Part("ref.png", "image/png", PNG)
    assert texts(vendor.requests[0]) == {"task_type": "async", "mode": "REF_PIC", "degree": "0.5"}


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "SEPIA", "degree": 0.4},
        {"mode": "AUTO"},
        {"mode": "AUTO", "degree": 1.5},
        {"mode": "AUTO", "degree": 0.4, "color_count": 9},
        {"mode": "TEMPLATE", "degree": 0.4},
        {"mode": "TEMPLATE", "degree": 0.4, "color_template": ("red",)},
        {"mode": "TEMPLATE", "degree": 0.4, "color_template": ("000000",) * 8},
    ],
)
def test_color_migration_refuses_bad_settings_before_any_call(
    adapter: AILabToolsAdapter, vendor: Vendor, params: dict[str, ParamValue]
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("color_migration", params))
    assert not caught.value.retryable
    assert vendor.requests == []


def test_color_migration_by_reference_needs_the_reference(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("color_migration", {"mode": "REF_PIC", "degree": 0.4}))
    assert caught.value.code == "missing_file"
    assert vendor.requests == []


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (
            reply(
                current_failure(
                    "ERROR_AI_NOT_EXISTS", code_message="AI does not exist or has been deactivated"
                ),
                404,
            ),
            "ERROR_AI_NOT_EXISTS",
        ),
        (
            reply(
                {
                    "error_code": 404,
                    "error_code_str": "ERROR_AI_NOT_EXISTS",
                    "error_msg": "AI does not exist or has been deactivated",
                    "error_detail": {"status_code": 404, "code": "", "message": ""},
                },
                200,
            ),
            "ERROR_AI_NOT_EXISTS",
        ),
        (
            reply(
                current_failure(
                    "ERROR_API_OFFLINE", message="This API has been permanently discontinued."
                ),
                400,
            ),
            "ERROR_API_OFFLINE",
        ),
        (reply({"error_code": 410, "error_msg": "service retired"}), "retired"),
        (httpx.Response(404, text="<html>Not Found</html>"), "retired"),
    ],
)
def test_retired_color_migration_points_to_the_built_in_engine(
    adapter: AILabToolsAdapter, vendor: Vendor, response: httpx.Response, code: str
) -> None:
    vendor.on(MIGRATION, response)
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("color_migration", {"mode": "AUTO", "degree": 0.4}))
    error = caught.value
    assert error.message == str(RETIRED_COLOR_MIGRATION)
    assert error.code == code
    assert not error.retryable


def test_a_retired_tool_other_than_color_migration_says_so_plainly(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/portrait/effects/emotion-editor",
        reply(current_failure("ERROR_AI_NOT_EXISTS"), 404),
    )
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("expression", {"service_choice": 10}))
    assert caught.value.code == "ERROR_AI_NOT_EXISTS"
    assert "retired" in caught.value.message
    assert "color migration" not in caught.value.message
    assert not caught.value.retryable


# --- The common async query (§2.4) -------------------------------------------------------------

ASYNC = f"{BASE}/api/common/query-async-task-result"


@pytest.mark.parametrize(
    ("body", "progress"),
    [
        (current_ok(task_status=0), 10),
        (current_ok(task_status=1), 50),
        # The legacy-envelope variant seen on older pages, with an empty list while pending.
        (legacy_ok(task_status=0, data={"image_list": []}), 10),
        (current_ok(task_status="1"), 50),
    ],
)
def test_poll_async_while_the_task_runs(
    adapter: AILabToolsAdapter, vendor: Vendor, body: dict[str, Any], progress: int
) -> None:
    vendor.on(ASYNC, reply(body))
    outcome = adapter.poll("async:T-42")
    assert outcome == Pending(task_ref="async:T-42", progress=progress, poll_after=5.0)
    assert_vendor_call(vendor.only, "GET", f"{ASYNC}?task_id=T-42")
    assert read_timeout(vendor.only) == http.BUDGETS[CallKind.POLL].timeout.read


@pytest.mark.parametrize("key", ["image_list", "result_urls"])
def test_poll_async_downloads_every_result(
    adapter: AILabToolsAdapter, vendor: Vendor, key: str
) -> None:
    vendor.on(
        ASYNC,
        reply(current_ok(task_status=2, data={key: [f"{FILES}/a.jpg", f"{FILES}/b.png"]})),
    )
    vendor.on(f"{FILES}/a.jpg", image_reply(RESULT_JPEG))
    vendor.on(f"{FILES}/b.png", image_reply(RESULT_PNG, "image/png"))

    outcome = adapter.poll("async:T-42")

    assert isinstance(outcome, Done)
    assert [image.media_type for image in outcome.images] == ["image/jpeg", "image/png"]


@pytest.mark.parametrize("status", [3, 4, -1])
def test_poll_async_any_other_status_is_a_final_failure(
    adapter: AILabToolsAdapter, vendor: Vendor, status: int
) -> None:
    vendor.on(ASYNC, reply(current_ok(task_status=status)))
    with pytest.raises(VendorError) as caught:
        adapter.poll("async:T-42")
    assert caught.value.code == "task_failed"
    assert not caught.value.retryable


def test_poll_async_error_code_on_http_200_stops_polling(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(ASYNC, reply(current_failure("ERROR_NO_FACE_IN_FILE", message="pic not has face")))
    with pytest.raises(VendorError) as caught:
        adapter.poll("async:T-42")
    assert caught.value.code == "ERROR_NO_FACE_IN_FILE"
    assert not caught.value.retryable


def test_poll_async_busy_vendor_is_retried(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(ASYNC, reply(current_failure("SERVICE_INTERNAL_ERROR"), 500))
    with pytest.raises(VendorError) as caught:
        adapter.poll("async:T-42")
    assert caught.value.retryable


# --- The legacy query (§2.3) -------------------------------------------------------------------

LEGACY = f"{BASE}/api/image/asyn-task-results"


@pytest.mark.parametrize(("status", "progress"), [("QUEUING", 10), ("PROCESSING", 50)])
def test_poll_legacy_while_the_task_runs(
    adapter: AILabToolsAdapter, vendor: Vendor, status: str, progress: int
) -> None:
    vendor.on(LEGACY, reply(legacy_ok(data={"status": status})))
    outcome = adapter.poll("legacy:RQ-7")
    assert outcome == Pending(task_ref="legacy:RQ-7", progress=progress, poll_after=5.0)
    assert_vendor_call(vendor.only, "GET", f"{LEGACY}?job_id=RQ-7&type=HD_COLOUR_MIGRATION")


def test_poll_legacy_success_downloads_every_color_family(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    # openapi example-0 (§2.3).
    vendor.on(
        LEGACY,
        reply(
            legacy_ok(
                data={
                    "status": "PROCESS_SUCCESS",
                    "image_list": [f"{FILES}/1.png", f"{FILES}/2.png", f"{FILES}/3.png"],
                }
            )
        ),
    )
    for name in ("1", "2", "3"):
        vendor.on(f"{FILES}/{name}.png", image_reply(RESULT_PNG, "image/png"))
    outcome = adapter.poll("legacy:RQ-7")
    assert isinstance(outcome, Done)
    assert len(outcome.images) == 3


@pytest.mark.parametrize("status", ["PROCESS_FAILED", "TIMEOUT_FAILED", "LIMIT_RETRY_FAILED"])
def test_poll_legacy_terminal_failures_are_not_retried(
    adapter: AILabToolsAdapter, vendor: Vendor, status: str
) -> None:
    # A retryable poll error would poll the same finished record again: it cannot change.
    vendor.on(LEGACY, reply(legacy_ok(data={"status": status})))
    with pytest.raises(VendorError) as caught:
        adapter.poll("legacy:RQ-7")
    assert caught.value.code == status
    assert not caught.value.retryable
    assert "built-in engine" in caught.value.message


def test_poll_legacy_on_the_retired_endpoint(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(LEGACY, reply(current_failure("ERROR_AI_NOT_EXISTS"), 404))
    with pytest.raises(VendorError) as caught:
        adapter.poll("legacy:RQ-7")
    assert caught.value.message == str(RETIRED_COLOR_MIGRATION)


@pytest.mark.parametrize("ref", ["", "async:", "legacy:", "T-42", "picwish:T-42"])
def test_poll_refuses_a_task_ref_it_did_not_make(
    adapter: AILabToolsAdapter, vendor: Vendor, ref: str
) -> None:
    with pytest.raises(VendorError) as caught:
        adapter.poll(ref)
    assert caught.value.code == "bad_task_ref"
    assert not caught.value.retryable
    assert vendor.requests == []


# --- Envelopes (§1.2) ----------------------------------------------------------------------------

RETOUCH = f"{BASE}/api/image/editing/photo-retouching"


def retouch(adapter: AILabToolsAdapter) -> VendorError:
    with pytest.raises(VendorError) as caught:
        adapter.submit(VendorRequest("retouch", {"image": photo(), "style": photo()}))
    return caught.value


def test_legacy_failure_example_from_the_docs(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(
        RETOUCH,
        reply(
            {
                "request_id": "r",
                "log_id": "l",
                "error_code": 422,
                "error_detail": {
                    "status_code": 422,
                    "code": "ERROR_NO_FACE_IN_FILE",
                    "code_message": "No face detected in the file.",
                    "message": "pic not has face",
                },
                "error_code_str": "FILE_CONTENT_NON_COMPLIANCE",
                "error_msg": "File content does not meet requirements. - 222202 - pic not has face",
            },
            422,
        ),
    )
    error = retouch(adapter)
    assert error.code == "ERROR_NO_FACE_IN_FILE"  # the precise code wins over the coarse one
    assert error.message.startswith("No usable face found")
    assert error.message.endswith("(AILabTools said: pic not has face)")
    assert not error.retryable


def test_current_failure_uses_code_message_when_message_is_empty(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        RETOUCH,
        reply(
            current_failure("ERROR_NOT_ENOUGH_CREDITS", code_message="Insufficient credits."), 429
        ),
    )
    error = retouch(adapter)
    assert error.code == "ERROR_NOT_ENOUGH_CREDITS"
    assert error.message.startswith("Your AILabTools account has run out of credits")
    assert "Insufficient credits." in error.message
    assert not error.retryable


def test_legacy_coarse_code_alone_on_http_200(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(
        RETOUCH,
        reply(
            {
                "error_code": 429,
                "error_code_str": "ERROR_NOT_ENOUGH_CREDITS",
                "error_msg": "",
                "error_detail": {"status_code": 429, "code": "", "message": ""},
            }
        ),
    )
    error = retouch(adapter)
    assert error.code == "ERROR_NOT_ENOUGH_CREDITS"
    assert not error.retryable


@pytest.mark.parametrize(("error_code", "retryable"), [(503, True), (429, True), (400, False)])
def test_legacy_error_code_alone_on_http_200(
    adapter: AILabToolsAdapter, vendor: Vendor, error_code: int, retryable: bool
) -> None:
    vendor.on(RETOUCH, reply({"error_code": error_code, "error_msg": "something"}))
    error = retouch(adapter)
    assert error.code == f"http_{error_code}"
    assert error.retryable is retryable


def test_success_needs_http_200_even_without_any_code(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(RETOUCH, reply(current_ok(data={"image_url": f"{FILES}/x.jpg"}), 502))
    error = retouch(adapter)
    assert error.code == "http_502"
    assert error.retryable


# --- The error table (§1.3) ----------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_documented_code_maps_to_a_safe_message(
    adapter: AILabToolsAdapter, vendor: Vendor, code: str
) -> None:
    # HTTP 418 on purpose: the mapping must come from the code string alone.
    leaky = f"key {KEY} rejected, see https://www.ailabtools.com/console?k={KEY}"
    vendor.on(RETOUCH, reply(current_failure(code, message=leaky), 418))
    error = retouch(adapter)
    info = ERRORS[code]
    assert error.code == code
    assert error.retryable is info.retryable
    if code != "ERROR_AI_NOT_EXISTS":
        assert error.message == info.message  # the vendor's leaky detail is dropped
    assert KEY not in error.message
    assert KEY[-8:] not in error.message
    assert "://" not in error.message
    # Messages state the problem; the job page says when it is being retried.
    assert "retried" not in error.message


def test_the_table_covers_every_documented_code() -> None:
    documented = {
        "ERROR_PARAMETERS", "MISSING_PARAMETERS", "ERROR_INVALID_PARAMETER",
        "PARAMETERS_CANNOT_EMPTY", "ERROR_MISSING_LIMIT_PARAMETER",
        "ERROR_MISSING_TASKS_PARAMETER", "ERROR_MISSING_ASSURE_DIRECTION_PARAMETER",
        "ERROR_MISSING_MIN_HEIGHT_PARAMETER", "ERROR_INVALID_SIDE_PARAMETER", "ERROR_INVALID_URL",
        "ERROR_UNSUPPORTED_RESPONSE_FORMAT", "ERROR_INVALID_OUTPUT_FORMAT",
        "ERROR_MISSING_OUTPUT_FORMAT", "UNSUPPORTED_PARAMETER_VALUES",
        "ERROR_INVALID_PARAMETER_FORMAT", "ERROR_PARAMETER_CONVERSION_FAILED",
        "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH", "ERROR_QUALITY_CONTROL_ERROR",
        "ERROR_LIVENESS_CONTROL_ERROR", "ERROR_TOO_MANY_GROUPS_IN_GROUP_LIST",
        "ERROR_TOO_MANY_UIDS_IN_UID_LIST", "ERROR_TOO_MANY_APPS_IN_APP_LIST",
        "ERROR_INVALID_FACE_BOX_PARAMETER", "ERROR_INVALID_BIG_EYES_PARAMETER",
        "ERROR_INVALID_FACE_SLIMMING_PARAMETER", "ERROR_INVALID_SMOOTHING_PARAMETER",
        "ERROR_INVALID_SKIN_WHITENING_PARAMETER", "ERROR_USER_NOT_EXISTS",
        "ERROR_APPLICATIONS_NOT_EXISTS", "ERROR_USER_LOCKED", "ERROR_ILLEGAL_OPERATION",
        "ERROR_AI_NOT_EXISTS", "ERROR_FILE_NOT_FOUND", "ERROR_FACE_NOT_FOUND",
        "ERROR_USER_GROUP_NOT_FOUND", "ERROR_USER_NOT_FOUND", "ERROR_FACE_TOKEN_NOT_FOUND",
        "ERROR_CONTENT_NOT_FOUND", "ERROR_RESOURCE_NOT_FOUND", "ERROR_INVALID_RESPONSE_FORMAT",
        "ERROR_FACE_ALREADY_EXISTS", "ERROR_DATA_ALREADY_EXISTS",
        "ERROR_USER_GROUP_ALREADY_EXISTS", "ERROR_USER_ALREADY_EXISTS",
        "ERROR_DUPLICATE_GROUP_NAME", "ERROR_RESOURCE_IN_USE", "ERROR_TASK_CONFLICT",
        "ERROR_TASK_STOPPED_PROCESSING", "ERROR_TASK_REVOCATION_FAILED", "ERROR_TASK_REVOKED",
        "ERROR_RESOURCE_RECLAIMED", "ERROR_TOO_MANY_FILES", "FILE_SIZE_EXCEEDS_LIMIT",
        "FILE_RESOLUTION_EXCEEDS_LIMITS", "ERROR_HIGH_RESOLUTION", "ERROR_REQUEST_BODY_TOO_LARGE",
        "UNSUPPORTED_FILE_TYPES", "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", "FILE_DECODING_FAILURE",
        "ERROR_ILLEGAL_FILE", "ERROR_INVALID_FILE", "ERROR_LOW_RESOLUTION",
        "FILE_CONTENT_NON_COMPLIANCE", "ERROR_CONTENT_NON_COMPLIANCE", "ERROR_CONTENT_TOO_LONG",
        "ERROR_VIDEO_DURATION_EXCEEDED", "ERROR_INCORRECT_FILE_COUNT", "ERROR_NO_FACE_IN_FILE",
        "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS", "ERROR_FACE_SIZE_RATIO_NOT_MET",
        "ERROR_SMALL_FACE_SIZE", "ERROR_FACE_COPY_SCENE_MISMATCH", "ERROR_FACE_UNRECOGNIZABLE",
        "ERROR_POOR_FACE_QUALITY", "ERROR_BLURRY_FACE", "ERROR_OBSTRUCTED_FACE",
        "ERROR_POOR_FACE_LIGHTING", "ERROR_INCOMPLETE_FACE", "ERROR_FACE_NOT_FACING_FORWARD",
        "ERROR_QUALITY_SCORE_NOT_MEET_REQUIREMENTS", "ERROR_SCENE_TYPE_MISMATCH",
        "ERROR_CARTOON_FACE_NOT_SUPPORTED", "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW",
        "ERROR_ACTION_VERIFICATION_FAILED", "ERROR_LEFT_EYE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_EYE_OCCLUSION_TOO_HIGH", "ERROR_LEFT_FACE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_FACE_OCCLUSION_TOO_HIGH", "ERROR_CHIN_OCCLUSION_TOO_HIGH",
        "ERROR_NOSE_OCCLUSION_TOO_HIGH", "ERROR_MOUTH_OCCLUSION_TOO_HIGH",
        "ERROR_SYNTHESIS_DETECTION_FAILED", "ERROR_LIVENESS_DETECTION_FAILED",
        "ERROR_NO_RECOGNITION_TARGET_DETECTED", "ERROR_IMAGE_RECOGNITION_FAILED",
        "ERROR_POSE_NOT_ENOUGH_KEYPOINTS", "ERROR_FACE_COUNT_INVALID", "ERROR_NOT_ENOUGH_CREDITS",
        "ERROR_FACE_TRACE_LIMIT_EXCEEDED", "ERROR_DATABASE_LIMIT_EXCEEDED",
        "ERROR_BATCH_TASK_LIMIT_EXCEEDED", "EXCEEDING_LIMITS", "PROCESSING_FAILURE",
        "ERROR_RESPONSE_BODY_TOO_LARGE", "UNKNOWN_ERROR", "SERVICE_INTERNAL_ERROR",
        "ERROR_IMAGE_STORAGE_NOT_SUPPORTED", "ERROR_FILE_DOWNLOAD_FAILED",
        "ERROR_FILE_UPLOAD_FAILED", "ERROR_DATA_TRANSFER_FAILED", "ERROR_GET_FACE_IMAGE_FAILED",
        "ERROR_FACE_IMAGE_ADDITION_FAILED", "ERROR_FACE_BLENDING_FAILED", "FILE_SERVICE_ERROR",
        "AI_SERVICE_ERROR", "AI_SERVICE_INTERNAL_ERROR", "AI_SERVICE_UNAUTHORIZED",
        "AI_SERVICE_NOT_FOUND", "ERROR_GATEWAY", "ERROR_CLEANING_USER_GROUP_DATA",
        "ERROR_INSUFFICIENT_RESOURCES", "ERROR_RESOURCE_IN_TRANSIT", "ERROR_RESOURCE_UNAVAILABLE",
        "AI_SERVICE_FLOW_RESTRICTION", "ERROR_FILE_DOWNLOAD_TIMEOUT", "AI_SERVICE_TIMEOUT",
    }  # fmt: skip
    assert documented == set(ERRORS)


@pytest.mark.parametrize(
    "detail",
    [
        "see https://support.ailabtools.com/faq?id=1",
        "read www.ailabtools.com/docs first",
        f"api key {KEY} is not valid",
        f"API KEY {KEY.upper()} IS NOT VALID",
    ],
)
def test_vendor_detail_with_a_link_or_the_key_is_dropped(
    adapter: AILabToolsAdapter, vendor: Vendor, detail: str
) -> None:
    vendor.on(RETOUCH, reply(current_failure("ERROR_APPLICATIONS_NOT_EXISTS", message=detail), 401))
    error = retouch(adapter)
    assert error.message == ERRORS["ERROR_APPLICATIONS_NOT_EXISTS"].message


def test_long_vendor_detail_is_cut_short(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(RETOUCH, reply(current_failure("UNKNOWN_ERROR", message="x " * 500), 500))
    error = retouch(adapter)
    assert len(error.message) < len(ERRORS["UNKNOWN_ERROR"].message) + 250


@pytest.mark.parametrize(
    ("code", "retryable", "starts"),
    [
        # SDK guidance: never retry parameter, auth, content or face errors...
        ("ERROR_NOT_ENOUGH_CREDITS", False, "Your AILabTools account has run out of credits"),
        ("ERROR_APPLICATIONS_NOT_EXISTS", False, "AILabTools did not accept your API key"),
        ("ERROR_USER_NOT_EXISTS", False, "AILabTools did not accept your API key"),
        ("ERROR_USER_LOCKED", False, "Your AILabTools account is locked"),
        ("ERROR_NO_FACE_IN_FILE", False, "No usable face found"),
        ("ERROR_MOUTH_OCCLUSION_TOO_HIGH", False, "No usable face found"),
        ("ERROR_CONTENT_NON_COMPLIANCE", False, "AILabTools's content review"),
        ("UNSUPPORTED_PARAMETER_VALUES", False, "AILabTools did not accept this job's settings"),
        ("FILE_SIZE_EXCEEDS_LIMIT", False, "The image is larger"),
        ("ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", False, "AILabTools does not accept black-and-white"),
        # ...retry the 429 family's rate limits and transient 5xx.
        ("EXCEEDING_LIMITS", True, "AILabTools is limiting"),
        ("AI_SERVICE_FLOW_RESTRICTION", True, "AILabTools is limiting"),
        ("PROCESSING_FAILURE", True, "AILabTools is having a temporary problem"),
        ("ERROR_GATEWAY", True, "AILabTools is having a temporary problem"),
        ("ERROR_INSUFFICIENT_RESOURCES", True, "AILabTools is having a temporary problem"),
        ("ERROR_FILE_DOWNLOAD_TIMEOUT", True, "AILabTools timed out"),
        ("AI_SERVICE_TIMEOUT", True, "AILabTools timed out"),
    ],
)
def test_sdk_retry_guidance(code: str, retryable: bool, starts: str) -> None:
    assert ERRORS[code].retryable is retryable
    assert ERRORS[code].message.startswith(starts)


@pytest.mark.parametrize("code", ["EXCEEDING_LIMITS", "AI_SERVICE_FLOW_RESTRICTION"])
def test_rate_limits_carry_a_retry_hint(
    adapter: AILabToolsAdapter, vendor: Vendor, code: str
) -> None:
    vendor.on(RETOUCH, reply(current_failure(code), 429))
    assert retouch(adapter).retry_after == 5.0


def test_a_retry_after_header_wins_over_the_default_hint(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(RETOUCH, reply(current_failure("EXCEEDING_LIMITS"), 429, **{"Retry-After": "12"}))
    assert retouch(adapter).retry_after == 12.0


@pytest.mark.parametrize(
    ("code", "old_status", "retryable"),
    [  # statuses before the 2026-01-08 move (§1.3): the code decides, not the status
        ("PROCESSING_FAILURE", 400, True),
        ("EXCEEDING_LIMITS", 422, True),
        ("ERROR_INSUFFICIENT_RESOURCES", 400, True),
        ("ERROR_FILE_DOWNLOAD_TIMEOUT", 400, True),
        ("AI_SERVICE_ERROR", 500, True),
        ("FILE_DECODING_FAILURE", 400, False),
        ("UNSUPPORTED_PARAMETER_VALUES", 422, False),
        ("FILE_RESOLUTION_EXCEEDS_LIMITS", 422, False),
        ("ERROR_TASK_REVOKED", 409, False),
    ],
)
def test_codes_that_moved_status_keep_their_meaning(
    adapter: AILabToolsAdapter, vendor: Vendor, code: str, old_status: int, retryable: bool
) -> None:
    vendor.on(RETOUCH, reply(current_failure(code), old_status))
    error = retouch(adapter)
    assert error.code == code
    assert error.retryable is retryable


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (404, False), (429, True), (500, True), (503, True)]
)
def test_an_unknown_code_falls_back_on_the_http_status(
    adapter: AILabToolsAdapter, vendor: Vendor, status: int, retryable: bool
) -> None:
    vendor.on(RETOUCH, reply(current_failure("ERROR_BRAND_NEW", message="new thing"), status))
    error = retouch(adapter)
    assert error.code == "ERROR_BRAND_NEW"
    assert error.retryable is retryable
    assert "ERROR_BRAND_NEW" in error.message
    assert "(AILabTools said: new thing)" in error.message


def test_an_html_error_page_falls_back_on_the_http_status(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(RETOUCH, httpx.Response(502, text="<html>Bad Gateway</html>"))
    error = retouch(adapter)
    assert error.code == "http_502"
    assert error.retryable


# --- Malformed answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "url", "response"),
    [
        ("retouch", RETOUCH, httpx.Response(200, text="<html>ok</html>")),
        ("retouch", RETOUCH, httpx.Response(200, content=b"\xff\xfe\x00garbage")),
        ("retouch", RETOUCH, httpx.Response(200, content=b"[" * 100_000)),  # too deep to parse
        ("retouch", RETOUCH, reply([1, 2])),  # type: ignore[arg-type]
        ("retouch", RETOUCH, reply(legacy_ok())),
        ("retouch", RETOUCH, reply(legacy_ok(data="https://x"))),
        ("retouch", RETOUCH, reply(legacy_ok(data={"image_url": 5}))),
        ("retouch", RETOUCH, reply(legacy_ok(data={"image_url": ""}))),
        ("retouch", RETOUCH, reply({"error_detail": "nope", "data": {}})),
        ("extend", f"{BASE}/api/image/editing/ai-image-extender", reply(legacy_ok(data={}))),
        (
            "extend",
            f"{BASE}/api/image/editing/ai-image-extender",
            reply(legacy_ok(data={"binary_data_base64": []})),
        ),
        (
            "extend",
            f"{BASE}/api/image/editing/ai-image-extender",
            reply(legacy_ok(data={"binary_data_base64": b64(RESULT_PNG)})),
        ),
        (
            "extend",
            f"{BASE}/api/image/editing/ai-image-extender",
            reply(legacy_ok(data={"binary_data_base64": ["not*base64!"]})),
        ),
        (
            "extend",
            f"{BASE}/api/image/editing/ai-image-extender",
            reply(legacy_ok(data={"binary_data_base64": ["données"]})),
        ),
        (
            "expression",
            f"{BASE}/api/portrait/effects/emotion-editor",
            reply(legacy_ok(data={"image": None})),
        ),
        (
            "expression",
            f"{BASE}/api/portrait/effects/emotion-editor",
            reply(legacy_ok(data={"image": "data:image/jpeg;base64,"})),
        ),
        (
            "expression_advanced",
            f"{BASE}/api/portrait/effects/emotion-editor-advanced",
            reply(current_ok()),
        ),
        (
            "expression_advanced",
            f"{BASE}/api/portrait/effects/emotion-editor-advanced",
            reply(current_ok(task_id={"id": 1})),
        ),
        ("color_migration", MIGRATION, reply({"error_detail": {"code": ""}})),
    ],
)
def test_malformed_answers_are_retryable_bad_responses(
    adapter: AILabToolsAdapter,
    vendor: Vendor,
    operation: str,
    url: str,
    response: httpx.Response,
) -> None:
    vendor.on(url, response)
    params: dict[str, ParamValue] = {
        "service_choice": 10,
        "expression": "natural_smile",
        "mode": "AUTO",
        "degree": 0.4,
    }
    with pytest.raises(VendorError) as caught:
        adapter.submit(VendorRequest(operation, {"image": photo(), "style": photo()}, params))
    assert caught.value.code == "bad_response"
    assert caught.value.retryable


@pytest.mark.parametrize(
    "body",
    [
        current_ok(),
        current_ok(task_status="two"),
        current_ok(task_status=2),
        current_ok(task_status=2, data={"image_list": []}),
        current_ok(task_status=2, data={"result_urls": [7]}),
    ],
)
def test_malformed_async_answers_are_retryable_bad_responses(
    adapter: AILabToolsAdapter, vendor: Vendor, body: dict[str, Any]
) -> None:
    vendor.on(ASYNC, reply(body))
    with pytest.raises(VendorError) as caught:
        adapter.poll("async:T-1")
    assert caught.value.code == "bad_response"
    assert caught.value.retryable


@pytest.mark.parametrize(
    "body",
    [
        legacy_ok(),
        legacy_ok(data={"status": "SOMETHING_NEW"}),
        legacy_ok(data={"status": "PROCESS_SUCCESS"}),
        legacy_ok(data={"status": "PROCESS_SUCCESS", "image_list": "x"}),
    ],
)
def test_malformed_legacy_answers_are_retryable_bad_responses(
    adapter: AILabToolsAdapter, vendor: Vendor, body: dict[str, Any]
) -> None:
    vendor.on(LEGACY, reply(body))
    with pytest.raises(VendorError) as caught:
        adapter.poll("legacy:RQ-1")
    assert caught.value.code == "bad_response"


def test_a_result_that_is_not_an_image_is_refused(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(
        f"{BASE}/api/portrait/effects/emotion-editor",
        reply(legacy_ok(data={"image": b64(b"GIF89a not for us")})),
    )
    with pytest.raises(VendorError) as caught:
        adapter.submit(request_for("expression", {"service_choice": 10}))
    assert caught.value.code == "bad_result"


# --- Result downloads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/r.jpg",
        "http://files.ailab.test/r.jpg",  # plain http
        "https://ailabapi.com.evil.example/r.jpg",
        f"https://user:pass@{FILES[8:]}/r.jpg",
    ],
)
def test_result_links_on_other_hosts_are_not_downloaded(
    adapter: AILabToolsAdapter, vendor: Vendor, url: str
) -> None:
    vendor.on(RETOUCH, reply(legacy_ok(data={"image_url": url})))
    error = retouch(adapter)
    assert error.code == "result_host_not_allowed"
    assert not error.retryable
    assert len(vendor.requests) == 1  # only the API call
    assert url not in error.message


@pytest.mark.parametrize(
    "url",
    [
        "https://ai-result.ailabapi.com/r/1.jpg",
        "https://ai-resource.ailabtools.com/r/1.jpg",
        "https://bucket.oss-cn-shanghai.aliyuncs.com/r/1.jpg",
    ],
)
def test_the_vendor_s_own_hosts_need_no_configuration(
    adapter: AILabToolsAdapter, vendor: Vendor, settings: SettingsWrapper, url: str
) -> None:
    settings.VENDOR_RESULT_HOSTS = []
    vendor.on(RETOUCH, reply(legacy_ok(data={"image_url": url})))
    vendor.on(url, image_reply(RESULT_JPEG))
    outcome = adapter.submit(VendorRequest("retouch", {"image": photo(), "style": photo()}))
    assert isinstance(outcome, Done)


def test_an_expired_result_link_is_final(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(RETOUCH, reply(legacy_ok(data={"image_url": f"{FILES}/gone.jpg"})))
    vendor.on(f"{FILES}/gone.jpg", httpx.Response(404))
    error = retouch(adapter)
    assert error.code == "result_expired"
    assert not error.retryable


# --- Configuration, declarations ------------------------------------------------------------------


def test_the_base_url_is_read_at_call_time(
    adapter: AILabToolsAdapter, vendor: Vendor, settings: SettingsWrapper
) -> None:
    settings.AILABTOOLS_BASE_URL = "https://sandbox.test/"
    vendor.on(
        "https://sandbox.test/api/common/query-async-task-result", reply(current_ok(task_status=0))
    )
    adapter.poll("async:T-1")
    assert (
        str(vendor.only.url)
        == "https://sandbox.test/api/common/query-async-task-result?task_id=T-1"
    )


def test_unknown_operations_and_missing_files_are_refused(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    with pytest.raises(VendorError) as unknown:
        adapter.submit(request_for("colorize"))
    assert unknown.value.code == "unsupported_operation"
    with pytest.raises(VendorError) as missing:
        adapter.submit(request_for("retouch"))
    assert missing.value.code == "missing_file"
    assert vendor.requests == []


def test_declarations() -> None:
    assert AILabToolsAdapter.vendor == "ailabtools"
    assert AILabToolsAdapter.label == "AILabTools"
    assert AILabToolsAdapter.operations == {
        "retouch",
        "extend",
        "expression",
        "expression_advanced",
        "color_migration",
    }
    assert "••••" in repr(AILabToolsAdapter(KEY))
    assert KEY not in repr(AILabToolsAdapter(KEY))


@pytest.mark.parametrize(
    ("operation", "credits"),
    [
        ("retouch", 3),
        ("extend", 25),
        ("expression", 12),
        ("expression_advanced", 15),
        ("color_migration", 4),
    ],
)
def test_credits_per_call(operation: str, credits: int) -> None:
    # §1.5's creditsPerRequest, as the one price table (each provider in editor.operations) has it.
    (provider,) = (
        provider
        for declared in operations.OPERATIONS
        for provider in declared.providers
        if provider.adapter is AILabToolsAdapter and provider.vendor_operation == operation
    )
    assert provider.credits == credits


@pytest.mark.parametrize(
    ("operation", "role", "formats", "max_bytes", "max_side", "min_side"),
    [
        ("retouch", "image", {"JPEG", "PNG"}, 3_000_000, 2999, 33),
        ("retouch", "style", {"JPEG", "PNG"}, 3_000_000, 2999, 33),
        ("extend", "image", {"JPEG", "PNG"}, 5_000_000, 4095, 65),
        ("extend", "mask", {"JPEG", "PNG"}, 5_000_000, 4095, 65),
        ("expression", "image", {"JPEG", "PNG"}, 5_000_000, 4095, 1),
        ("expression_advanced", "image", {"JPEG", "PNG", "WEBP"}, 10_000_000, 4095, 1),
        ("color_migration", "image", {"JPEG", "PNG"}, 3_000_000, 9999, 65),
        ("color_migration", "ref", {"JPEG", "PNG"}, 3_000_000, 9999, 65),
    ],
)
def test_limits_sit_inside_the_documented_ones(
    operation: str, role: str, formats: set[str], max_bytes: int, max_side: int, min_side: int
) -> None:
    limits = AILabToolsAdapter.limits(operation, role)
    assert limits.formats == formats
    assert limits.max_bytes == max_bytes
    assert (limits.max_width, limits.max_height) == (max_side, max_side)
    assert (limits.min_width, limits.min_height) == (min_side, min_side)
    assert limits.rgb_only is (role != "mask")  # color migration: "RGB 3-channel" (§2.2)


def test_limits_for_an_unknown_role() -> None:
    with pytest.raises(KeyError):
        AILabToolsAdapter.limits("retouch", "mask")


# --- Credit query (§1.5) -------------------------------------------------------------------------

CREDITS_URL = f"{BASE}/api/common/query-credits"
COMMON = {
    "unique_sign": "common",
    "name": "Universal credits",
    "balance": 1234,
    "total": 5000,
    "last_recharge_balance": 5000,
    "balance_warning": 100,
    "first_buy_time": "2026-01-02 10:00:00",
    "last_update_time": "2026-03-14 09:30:00",
}


def test_query_credits_sends_a_bare_get_with_the_key_header(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(CREDITS_URL, reply(current_ok(data=[COMMON])))

    balance = adapter.query_credits()

    sent = vendor.only
    assert_vendor_call(sent, "GET", CREDITS_URL)  # no query string, nothing else in the URL
    assert sent.content == b""
    assert "content-type" not in sent.headers
    assert read_timeout(sent) == http.BUDGETS[CallKind.POLL].timeout.read  # a small JSON answer
    assert balance == CreditBalance((CreditPool("common", "Universal credits", 1234, 5000),))
    assert balance.universal == CreditPool("common", "Universal credits", 1234, 5000)


def test_query_credits_reads_every_pool_and_picks_the_universal_one(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    portrait = {"unique_sign": "portrait", "name": "Portrait pack", "balance": "40", "total": 50}
    vendor.on(CREDITS_URL, reply(legacy_ok(data=[portrait, {**COMMON, "balance": 99.0}])))
    balance = adapter.query_credits()
    assert [pool.unique_sign for pool in balance.pools] == ["portrait", "common"]
    assert balance.pools[0] == CreditPool("portrait", "Portrait pack", 40, 50)
    assert balance.universal is not None
    assert balance.universal.balance == 99


def test_query_credits_of_an_account_without_credits(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(CREDITS_URL, reply(current_ok(data=[])))
    balance = adapter.query_credits()
    assert balance.pools == ()
    assert balance.universal is None


def test_query_credits_tolerates_one_pool_not_in_a_list(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(CREDITS_URL, reply(current_ok(data={**COMMON, "total": None})))
    assert adapter.query_credits().universal == CreditPool(
        "common", "Universal credits", 1234, None
    )


@pytest.mark.parametrize(
    "body",
    [
        current_ok(),  # no data at all
        current_ok(data="1234"),
        current_ok(data=[{"name": "no sign", "balance": 5}, {"unique_sign": "common"}]),
    ],
    ids=["no-data", "text", "no-balances"],
)
def test_query_credits_unreadable_answers_are_retryable(
    adapter: AILabToolsAdapter, vendor: Vendor, body: dict[str, Any]
) -> None:
    vendor.on(CREDITS_URL, reply(body))
    with pytest.raises(VendorError) as raised:
        adapter.query_credits()
    assert raised.value.code == "bad_response"
    assert raised.value.retryable


def test_query_credits_with_a_refused_key(adapter: AILabToolsAdapter, vendor: Vendor) -> None:
    vendor.on(
        CREDITS_URL,
        reply(current_failure("ERROR_APPLICATIONS_NOT_EXISTS", f"unknown key {KEY}"), 401),
    )
    with pytest.raises(VendorError) as raised:
        adapter.query_credits()
    assert raised.value.code == "ERROR_APPLICATIONS_NOT_EXISTS"
    assert not raised.value.retryable
    assert KEY not in raised.value.message


def test_query_credits_rate_limited_is_retryable(
    adapter: AILabToolsAdapter, vendor: Vendor
) -> None:
    vendor.on(CREDITS_URL, reply(current_failure("EXCEEDING_LIMITS"), 429, **{"Retry-After": "7"}))
    with pytest.raises(VendorError) as raised:
        adapter.query_credits()
    assert raised.value.code == "EXCEEDING_LIMITS"
    assert raised.value.retryable
    assert raised.value.retry_after == 7.0


def test_query_credits_goes_to_the_adapter_s_own_base_url(vendor: Vendor) -> None:
    sandbox = AILabToolsAdapter(
        KEY,
        client=make_client(transport=httpx.MockTransport(vendor.handle)),
        base_url="http://127.0.0.1:9000/",
    )
    vendor.on("http://127.0.0.1:9000/api/common/query-credits", reply(current_ok(data=[COMMON])))
    assert sandbox.query_credits().universal is not None
    assert str(vendor.only.url) == "http://127.0.0.1:9000/api/common/query-credits"
