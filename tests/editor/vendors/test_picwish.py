from __future__ import annotations

import base64
import email.parser
import email.policy
import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from pytest_django import Settings as SettingsWrapper

from editor.outbound import make_client
from editor.vendors.base import Done, InputImage, Pending, VendorError, VendorRequest
from editor.vendors.picwish import PicWishAdapter
from tests.images import make_image

KEY = "pw-SECRET-key-0123456789"
BASE = "https://picwish.test"
TASKS = f"{BASE}/api/tasks/visual/colorization"
RESULT_URL = (
    "https://wxtechhk.oss-cn-hongkong.aliyuncs.com/tasks/output/colorization/r.jpg"
    "?Expires=1700000000&OSSAccessKeyId=LTAI&Signature=abc%3D"
)
JPEG = make_image((32, 24), "JPEG", mode="RGB")
PNG = make_image((16, 16), "PNG", mode="RGB")

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _picwish_settings(settings: SettingsWrapper) -> None:
    settings.PICWISH_BASE_URL = BASE
    settings.VENDOR_RESULT_HOSTS = []
    settings.PICWISH_SYNC = False  # the tests below that need the blocking mode say so


@dataclass
class Vendor:
    """A scripted PicWish: answers in order and keeps every request it saw."""

    answers: list[httpx.Response]
    seen: list[httpx.Request]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return self.answers.pop(0)


def vendor(*answers: httpx.Response) -> Vendor:
    return Vendor(list(answers), [])


def adapter_for(
    handler: Handler, api_key: str = KEY, base_url: str | None = None
) -> PicWishAdapter:
    client = make_client(transport=httpx.MockTransport(handler))
    return PicWishAdapter(api_key, client=client, base_url=base_url)


def envelope(data: object, status: int = 200, http_status: int = 200) -> httpx.Response:
    return httpx.Response(http_status, json={"status": status, "message": "success", "data": data})


def task(state: int, **fields: object) -> httpx.Response:
    return envelope({"task_id": "t-1", "state": state, **fields})


def image_answer(data: bytes = JPEG, media_type: str = "image/jpeg") -> httpx.Response:
    return httpx.Response(200, content=data, headers={"Content-Type": media_type})


def colorize(**params: str) -> VendorRequest:
    photo = InputImage(JPEG, "image/jpeg", "prepared-image.jpg")
    return VendorRequest(operation="colorize", files={"image": photo}, params=params)


def multipart_fields(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """Each form field as (filename, content type, bytes), parsed as a mail parser would."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert message.is_multipart()
    fields: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        fields[name] = (part.get_filename(), part.get_content_type(), payload)
    return fields


def assert_safe(error: VendorError) -> None:
    assert KEY not in error.message
    assert "://" not in error.message
    assert "aliyuncs" not in error.message


def fail(call: Callable[[], object]) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call()
    assert_safe(caught.value)
    return caught.value


# --- Declaration -----------------------------------------------------------------------------


def test_declares_vendor_label_and_operation() -> None:
    assert PicWishAdapter.vendor == "picwish"
    assert PicWishAdapter.label == "PicWish"
    assert PicWishAdapter.operations == frozenset({"colorize"})
    assert KEY not in repr(PicWishAdapter(KEY))


def test_limits_for_the_photo() -> None:
    limits = PicWishAdapter.limits("colorize", "image")
    assert limits.formats == frozenset({"JPEG", "PNG", "WEBP"})
    assert limits.max_bytes <= 15 * 1024 * 1024
    assert limits.max_bytes >= 15 * 1000 * 1000
    assert (limits.max_width, limits.max_height) == (4096, 4096)
    assert (limits.min_width, limits.min_height) == (1, 1)
    assert limits.rgb_only


def test_limits_for_an_unknown_role_are_an_error() -> None:
    with pytest.raises(ValueError, match="style"):
        PicWishAdapter.limits("colorize", "style")


# --- Submit ----------------------------------------------------------------------------------


def test_submit_sends_the_documented_request() -> None:
    fake = vendor(envelope({"task_id": "task-123"}))

    outcome = adapter_for(fake).submit(colorize())

    assert outcome == Pending(task_ref="task-123", progress=0, poll_after=1.0)
    [request] = fake.seen
    assert request.method == "POST"
    assert str(request.url) == TASKS
    assert request.headers["X-API-KEY"] == KEY
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    fields = multipart_fields(request)
    assert set(fields) == {"image_file", "sync", "format", "return_type"}
    assert fields["image_file"] == ("prepared-image.jpg", "image/jpeg", JPEG)
    assert fields["sync"][2] == b"0"
    assert fields["format"][2] == b"jpg"
    assert fields["return_type"][2] == b"1"
    assert b'name="image_file"; filename="prepared-image.jpg"' in request.content


@pytest.mark.parametrize(("given", "sent"), [("png", b"png"), ("webp", b"webp"), ("JPEG", b"jpeg")])
def test_submit_sends_the_chosen_result_format(given: str, sent: bytes) -> None:
    fake = vendor(envelope({"task_id": "t"}))
    adapter_for(fake).submit(colorize(format=given))
    assert multipart_fields(fake.seen[0])["format"][2] == sent


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (colorize(format="gif"), "bad_format"),
        (VendorRequest(operation="colorize", files={}), "missing_image"),
        (VendorRequest(operation="retouch", files=colorize().files), "unsupported_operation"),
    ],
)
def test_submit_refuses_a_bad_request_without_sending_it(
    request_: VendorRequest, code: str
) -> None:
    fake = vendor()
    error = fail(lambda: adapter_for(fake).submit(request_))
    assert error.code == code
    assert not error.retryable
    assert fake.seen == []


def test_base_url_is_read_at_call_time(settings: SettingsWrapper) -> None:
    fake = vendor(envelope({"task_id": "t"}))
    adapter = adapter_for(fake)
    settings.PICWISH_BASE_URL = "https://techsz.aoscdn.com/"
    adapter.submit(colorize())
    assert str(fake.seen[0].url) == "https://techsz.aoscdn.com/api/tasks/visual/colorization"


def test_an_adapter_base_url_overrides_the_setting() -> None:
    fake = vendor(envelope({"task_id": "t"}))
    adapter_for(fake, base_url="http://127.0.0.1:9000/").submit(colorize())
    assert str(fake.seen[0].url) == "http://127.0.0.1:9000/api/tasks/visual/colorization"


def test_submit_accepts_an_answer_that_is_already_done() -> None:
    fake = vendor(task(1, image=RESULT_URL, progress=100), image_answer())

    outcome = adapter_for(fake).submit(colorize())

    assert isinstance(outcome, Done)
    assert outcome.data == JPEG
    assert outcome.media_type == "image/jpeg"
    assert str(fake.seen[1].url) == RESULT_URL


def test_submit_accepts_an_answer_that_is_already_in_progress() -> None:
    fake = vendor(envelope({"task_id": "t-9", "state": 4, "progress": 30}))
    assert adapter_for(fake).submit(colorize()) == Pending("t-9", progress=30, poll_after=1.0)


@pytest.mark.parametrize(
    "data", [{}, {"task_id": ""}, {"task_id": 12}, {"state": 0}, {"state": "soon"}]
)
def test_submit_answer_without_a_task_is_a_retryable_bad_response(data: object) -> None:
    error = fail(lambda: adapter_for(vendor(envelope(data))).submit(colorize()))
    assert error.code == "bad_response"
    assert error.retryable


@pytest.mark.parametrize(
    ("state", "retryable"),
    [(-8, True), (-3, True), (-2, True), (-7, False), (-5, False), (-1, False)],
)
def test_a_failed_task_in_the_submit_answer_is_retried_only_when_transient(
    state: int, retryable: bool
) -> None:
    error = fail(lambda: adapter_for(vendor(task(state))).submit(colorize()))
    assert error.code == f"state_{state}"
    assert error.retryable is retryable


# --- Poll ------------------------------------------------------------------------------------


def test_poll_sends_the_documented_request() -> None:
    fake = vendor(task(4, progress=40))

    outcome = adapter_for(fake).poll("task-123")

    assert outcome == Pending(task_ref="task-123", progress=40, poll_after=1.0)
    [request] = fake.seen
    assert request.method == "GET"
    assert str(request.url) == f"{TASKS}/task-123"
    assert request.headers["X-API-KEY"] == KEY
    assert request.content == b""


def test_poll_quotes_the_task_id_into_one_path_segment() -> None:
    fake = vendor(task(0))
    adapter_for(fake).poll("a/../b c")
    assert fake.seen[0].url.raw_path == b"/api/tasks/visual/colorization/a%2F..%2Fb%20c"


def test_poll_without_a_task_ref_sends_nothing() -> None:
    fake = vendor()
    error = fail(lambda: adapter_for(fake).poll("  "))
    assert not error.retryable
    assert fake.seen == []


@pytest.mark.parametrize("state", [0, 2, 3, 4, 5])  # "greater than 1 means processing"
def test_unfinished_states_ask_to_poll_again_in_a_second(state: int) -> None:
    outcome = adapter_for(vendor(task(state, progress=25))).poll("t-1")
    assert outcome == Pending(task_ref="t-1", progress=25, poll_after=1.0)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (None, None),
        (57.9, 57),
        ("45", 45),
        (150, 100),
        (-3, 0),
        ("soon", None),
        (True, None),
        ("1e999", None),  # infinite: no progress, rather than an error
        ("-inf", None),
    ],
)
def test_progress_is_read_leniently(progress: object, expected: int | None) -> None:
    outcome = adapter_for(vendor(task(2, progress=progress))).poll("t-1")
    assert isinstance(outcome, Pending)
    assert outcome.progress == expected


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (-8, "30 seconds"),
        (-7, "damaged or not a supported image"),
        (-5, "15 MB"),
        (-3, "could not fetch"),
        (-2, "could not store the result"),
        (-1, "task failed"),
        (-6, "failure -6"),  # undocumented: still a failure ("less than 0 means failed")
    ],
)
def test_a_failed_task_ends_polling_and_is_not_retried(state: int, words: str) -> None:
    # A failed task never changes state, and a retried poll asks about the same task again.
    error = fail(lambda: adapter_for(vendor(task(state))).poll("t-1"))
    assert error.code == f"state_{state}"
    assert not error.retryable
    assert words in error.message


def test_transient_task_failures_suggest_running_the_job_again() -> None:
    error = fail(lambda: adapter_for(vendor(task(-8))).poll("t-1"))
    assert "run the job again" in error.message


@pytest.mark.parametrize("state", ["done", None, True, 1.5, [1]])
def test_an_unreadable_state_is_a_retryable_bad_response(state: object) -> None:
    error = fail(lambda: adapter_for(vendor(envelope({"state": state}))).poll("t-1"))
    assert error.code == "bad_response"
    assert error.retryable


def test_state_sent_as_a_string_is_understood() -> None:
    outcome = adapter_for(vendor(envelope({"state": "3", "progress": 10}))).poll("t-1")
    assert outcome == Pending("t-1", progress=10, poll_after=1.0)


# --- Results ---------------------------------------------------------------------------------


def test_a_finished_task_downloads_the_result_without_the_key() -> None:
    fake = vendor(task(1, image=RESULT_URL, progress=100), image_answer())

    outcome = adapter_for(fake).poll("t-1")

    assert isinstance(outcome, Done)
    assert outcome.data == JPEG
    assert outcome.media_type == "image/jpeg"
    download = fake.seen[1]
    assert download.method == "GET"
    assert str(download.url) == RESULT_URL
    assert "X-API-KEY" not in download.headers


def test_a_double_escaped_ampersand_in_the_signed_url_is_restored() -> None:
    escaped = RESULT_URL.replace("&", "\\\\u0026")  # JSON text \\u0026: the string keeps \u0026
    body = (
        f'{{"status":200,"data":{{"task_id":"t-1","state":1,"progress":100,"image":"{escaped}"}}}}'
    ).encode()
    assert b"\\\\u0026" in body
    assert "\\u0026" in json.loads(body)["data"]["image"]
    fake = vendor(httpx.Response(200, content=body), image_answer())

    outcome = adapter_for(fake).poll("t-1")

    assert isinstance(outcome, Done)
    download = fake.seen[1]
    assert str(download.url) == RESULT_URL
    assert dict(download.url.params) == {
        "Expires": "1700000000",
        "OSSAccessKeyId": "LTAI",
        "Signature": "abc=",
    }


def test_a_properly_escaped_ampersand_needs_no_repair() -> None:
    escaped = RESULT_URL.replace("&", "\\u0026")  # JSON text \u0026: the string holds "&"
    body = f'{{"status":200,"data":{{"state":1,"image":"{escaped}"}}}}'.encode()
    assert json.loads(body)["data"]["image"] == RESULT_URL
    fake = vendor(httpx.Response(200, content=body), image_answer())
    adapter_for(fake).poll("t-1")
    assert str(fake.seen[1].url) == RESULT_URL


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/r.jpg?sig=1",
        "https://aoscdn.com.evil.example/r.jpg",
        "http://wxtechhk.oss-cn-hongkong.aliyuncs.com/r.jpg",  # plain http
        "https://user:pw@techhk.aoscdn.com/r.jpg",
    ],
)
def test_a_result_on_a_host_we_do_not_trust_is_refused(url: str) -> None:
    fake = vendor(task(1, image=url))
    error = fail(lambda: adapter_for(fake).poll("t-1"))
    assert error.code == "result_host_not_allowed"
    assert not error.retryable
    assert len(fake.seen) == 1  # nothing was downloaded


@pytest.mark.parametrize(
    "url",
    [
        "https://techhk.aoscdn.com/r.jpg",
        "https://cdn.picwish.com/r.jpg",
        "https://picwish-result.oss-accelerate.aliyuncs.com/r.jpg",
    ],
)
def test_results_on_picwish_origins_are_downloaded(url: str) -> None:
    fake = vendor(task(1, image=url), image_answer())
    assert isinstance(adapter_for(fake).poll("t-1"), Done)


def test_an_administrator_can_allow_another_result_host(settings: SettingsWrapper) -> None:
    settings.VENDOR_RESULT_HOSTS = ["https://files.example.net"]
    fake = vendor(task(1, image="https://files.example.net/r.png"), image_answer(PNG, "image/png"))
    outcome = adapter_for(fake).poll("t-1")
    assert isinstance(outcome, Done)
    assert outcome.media_type == "image/png"


def test_an_expired_result_link_is_not_retried() -> None:
    expired = httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>")
    error = fail(lambda: adapter_for(vendor(task(1, image=RESULT_URL), expired)).poll("t-1"))
    assert error.code == "result_expired"
    assert not error.retryable


def test_a_busy_file_server_is_retried() -> None:
    error = fail(
        lambda: adapter_for(vendor(task(1, image=RESULT_URL), httpx.Response(503))).poll("t-1")
    )
    assert error.retryable


@pytest.mark.parametrize(
    "encode",
    [
        lambda data: base64.b64encode(data).decode(),
        lambda data: "data:image/png;base64," + base64.b64encode(data).decode(),
        lambda data: base64.b64encode(data).decode().rstrip("="),
        lambda data: base64.urlsafe_b64encode(data).decode(),
        lambda data: base64.encodebytes(data).decode(),  # with line breaks
    ],
)
def test_a_base64_result_is_decoded(encode: Callable[[bytes], str]) -> None:
    outcome = adapter_for(vendor(task(1, image=encode(PNG)))).poll("t-1")
    assert isinstance(outcome, Done)
    assert outcome.data == PNG
    assert outcome.media_type == "image/png"


@pytest.mark.parametrize(
    "image", ["!!! not base64 !!!", base64.b64encode(b"plain text, not an image").decode()]
)
def test_a_result_that_is_not_an_image_is_refused(image: str) -> None:
    error = fail(lambda: adapter_for(vendor(task(1, image=image))).poll("t-1"))
    assert error.code == "bad_result"
    assert not error.retryable


@pytest.mark.parametrize("image", [None, "", "   ", 42])
def test_done_without_a_result_is_a_retryable_bad_response(image: object) -> None:
    error = fail(lambda: adapter_for(vendor(task(1, image=image))).poll("t-1"))
    assert error.code == "bad_response"
    assert error.retryable


# --- HTTP statuses and the body's status ------------------------------------------------------


def failure(http_status: int, message: str = "") -> httpx.Response:
    return httpx.Response(http_status, json={"status": http_status, "message": message})


@pytest.mark.parametrize("operation", ["submit", "poll"])
@pytest.mark.parametrize(
    ("http_status", "code", "retryable", "words"),
    [
        (400, "bad_request", False, "PicWish rejected the request"),
        (401, "unauthorized", False, "service is not enabled"),
        (413, "too_large", False, "15 MB"),
        (429, "rate_limited", True, "limiting"),
        (500, "http_500", True, "server error"),
        (502, "http_502", True, "server error"),
        (503, "http_503", True, "server error"),
        (403, "http_403", False, "unexpected"),
    ],
)
def test_http_statuses(
    operation: str, http_status: int, code: str, retryable: bool, words: str
) -> None:
    adapter = adapter_for(vendor(failure(http_status, "nope")))
    error = fail(
        lambda: adapter.submit(colorize()) if operation == "submit" else adapter.poll("t-1")
    )
    assert error.code == code
    assert error.retryable is retryable
    assert words in error.message


def test_unauthorized_explains_the_key_or_the_service() -> None:
    error = fail(lambda: adapter_for(vendor(failure(401))).poll("t-1"))
    assert "API key" in error.message
    assert "colorization" in error.message


def test_too_many_requests_waits_a_second() -> None:
    error = fail(lambda: adapter_for(vendor(failure(429))).submit(colorize()))
    assert error.retry_after == 1.0


def test_bad_request_shows_picwish_message_without_links_or_the_key() -> None:
    said = f"Invalid image_url https://internal.example/x.jpg for key {KEY}"
    error = fail(lambda: adapter_for(vendor(failure(400, said))).submit(colorize()))
    assert error.message.startswith("PicWish rejected the request: Invalid image_url [link]")
    assert "••••" in error.message


def test_an_unknown_task_is_not_retried() -> None:
    error = fail(lambda: adapter_for(vendor(failure(404))).poll("t-1"))
    assert error.code == "task_not_found"
    assert not error.retryable
    assert "unknown or has expired" in error.message


def test_a_missing_endpoint_on_submit_points_at_the_base_url_setting() -> None:
    error = fail(lambda: adapter_for(vendor(failure(404))).submit(colorize()))
    assert error.code == "not_found"
    assert not error.retryable
    assert "PICWISH_BASE_URL" in error.message


@pytest.mark.parametrize(
    ("body_status", "code", "retryable"),
    [(401, "unauthorized", False), (429, "rate_limited", True), (400, "bad_request", False)],
)
def test_a_failure_status_in_the_body_of_an_http_200_answer(
    body_status: int, code: str, retryable: bool
) -> None:
    answer = envelope({"task_id": "t-1", "state": 1}, status=body_status)
    error = fail(lambda: adapter_for(vendor(answer)).poll("t-1"))
    assert error.code == code
    assert error.retryable is retryable


def test_a_failure_http_status_with_a_success_body() -> None:
    answer = envelope({"task_id": "t-1"}, status=200, http_status=500)
    error = fail(lambda: adapter_for(vendor(answer)).submit(colorize()))
    assert error.code == "http_500"
    assert error.retryable


def test_an_html_error_page_is_judged_by_its_http_status() -> None:
    page = httpx.Response(502, content=b"<html><body>Bad Gateway</body></html>")
    error = fail(lambda: adapter_for(vendor(page)).poll("t-1"))
    assert error.code == "http_502"
    assert error.retryable


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'"success"',
        b'{"message": "success", "data": {"state": 1}}',
        b'{"status": "ok", "data": {"state": 1}}',
        b'{"status": 200}',
        b'{"status": 200, "data": "t-1"}',
        b'{"status": 200, "data": null}',
        b"[" * 100_000,
    ],
)
@pytest.mark.parametrize("operation", ["submit", "poll"])
def test_a_malformed_answer_is_a_retryable_bad_response(body: bytes, operation: str) -> None:
    adapter = adapter_for(vendor(httpx.Response(200, content=body)))
    error = fail(
        lambda: adapter.submit(colorize()) if operation == "submit" else adapter.poll("t-1")
    )
    assert error.code == "bad_response"
    assert error.retryable


# --- The blocking mode (sync=1) ------------------------------------------------------------


def test_the_blocking_mode_asks_once_and_is_done(settings: SettingsWrapper) -> None:
    settings.PICWISH_SYNC = True
    fake = vendor(task(1, image=RESULT_URL, progress=100), image_answer())

    outcome = adapter_for(fake).submit(colorize())

    assert isinstance(outcome, Done)
    assert outcome.data == JPEG
    submit, download = fake.seen
    assert multipart_fields(submit)["sync"][2] == b"1"
    assert download.url == RESULT_URL  # one request to PicWish's API, then the result file


def test_the_blocking_mode_still_polls_a_task_that_is_not_done(settings: SettingsWrapper) -> None:
    settings.PICWISH_SYNC = True
    fake = vendor(task(2, task_id="t-9", progress=40))
    assert adapter_for(fake).submit(colorize()) == Pending("t-9", progress=40, poll_after=1.0)


def test_the_adapter_keeps_no_rate_budget_of_its_own() -> None:
    # The key's requests per second are kept by the pipeline through the limiter, for every
    # process at once; the adapter sends what it is asked to.
    fake = vendor(task(2), task(2), task(2), task(2))
    adapter = adapter_for(fake)
    for _ in range(4):
        adapter.poll("t-1")
    assert len(fake.seen) == 4
