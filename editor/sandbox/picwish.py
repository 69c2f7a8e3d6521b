"""The fake PicWish: photo colorization as vendor-contracts.md section 6 describes it.

The create call (image_file or image_url; sync; format; return_type), the task query with its
states and progress, the per-key QPS limit and the ``{"status", "message"}`` errors follow the
contract, so any client written against the vendor's docs works here unchanged. Markers in the
key inject faults (see ``editor.sandbox.faults``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any, Concatenate, Final, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from editor.sandbox import imaging
from editor.sandbox.ailabtools_codes import STATUS_BY_CODE
from editor.sandbox.callers import Caller, flaky, identify, is_sandbox_key, request_number
from editor.sandbox.faults import bad_json, delay, gateway_error, rate_limited, shape
from editor.sandbox.gateway import finish, slow_down
from editor.sandbox.results import inline, store
from editor.sandbox.state import MEDIA_TYPES, STATE, Task, new_task_id, task_seconds

P = ParamSpec("P")
MB: Final = 1024 * 1024
HOUR: Final = 3600.0


class PicWishError(Exception):
    """Raised by an endpoint; answered as PicWish's ``{"status", "message"}`` with that status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


KEY_HEADER: Final = "X-API-KEY"
OUTPUT_FORMATS: Final = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
INPUT_FORMATS: Final = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF"})
MAX_BYTES: Final = 15 * MB
MAX_SIDE: Final = 4096  # inclusive ("up to 4096 x 4096")
MAX_SECONDS: Final = 30.0  # state -8 past this (contracts 6.7)
STATE_DETAILS: Final = {
    1: "Complete",
    0: "Queued",
    2: "Preparing",
    3: "Waiting",
    4: "Processing",
    -1: "Task failed",
    -2: "Uploading the result failed",
    -3: "Failed to download image_url",
    -5: "Image exceeds the size limit",
    -7: "Invalid image file",
    -8: "Processing timeout",
}


def _phrase(status: int) -> str:
    """An injected error's message: the status's reason phrase, as PicWish's own errors give."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message}, status=status)


def _ok(data: dict[str, Any]) -> JsonResponse:
    return JsonResponse({"status": 200, "message": "success", "data": data})


def _injected(caller: Caller) -> HttpResponseBase | None:
    delay(caller.faults.api)
    number = request_number(caller)
    if flaky(caller, number):
        return gateway_error(503)
    if http := caller.faults.get("http"):
        return gateway_error(http.number)
    if rate_limited(caller.faults, number):
        return slow_down(_error(429, "Too Many Requests"))
    if error := caller.faults.get("error"):
        status = int(error.arg) if error.arg.isdigit() else STATUS_BY_CODE.get(error.arg, 500)
        status = status if 400 <= status <= 599 else 500
        return _error(status, _phrase(status))
    if caller.faults.get("badjson"):
        return bad_json('{"status":200,"message":"success","data":{"task_id":')
    return None


def _endpoint(
    view: Callable[Concatenate[HttpRequest, Caller, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Key check, the QPS limit, fault injection and the error body around a PicWish endpoint."""

    @wraps(view)
    def endpoint(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        key = request.headers.get(KEY_HEADER, "").strip()
        if not is_sandbox_key(key):
            return finish(_error(401, "Unauthorized"))
        caller = identify(request, key)
        if not isinstance(caller, Caller):
            return finish(caller)
        # Default QPS 2 per key, polls included (contracts 6.6), in SANDBOX_PICWISH_WINDOW.
        if not STATE.admit(key, int(settings.SANDBOX_PICWISH_QPS)):
            return finish(_error(429, "Too Many Requests"))
        response = _injected(caller)
        if response is None:
            try:
                response = view(request, caller, *args, **kwargs)
            except PicWishError as error:
                response = _error(error.status, error.message)
        return finish(shape(finish(response), caller.faults.api))

    return endpoint


def _choice(request: HttpRequest, name: str, allowed: tuple[int, ...], default: int) -> int:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in allowed:
        raise PicWishError(400, f"{name} must be one of {', '.join(map(str, allowed))}.")
    return value


def _colorization_outcome(
    caller: Caller, image_data: bytes | None, output_format: str
) -> tuple[int, bytes | None]:
    """The final state of a colorization task and its image (for state 1)."""
    if forced := caller.faults.get("state"):
        return -abs(forced.number) or -1, None
    if image_data is None:
        return -3, None  # image_url: the sandbox never fetches anything
    try:
        image = imaging.open_image(image_data)
    except imaging.TooManyPixels:
        return -5, None
    except imaging.Undecodable:
        return -7, None
    if imaging.format_of(image) not in INPUT_FORMATS:
        return -7, None
    if image.width > MAX_SIDE or image.height > MAX_SIDE:
        return -5, None
    try:
        imaging.decode(image)
    except imaging.Undecodable:
        return -7, None
    return 1, imaging.finish(imaging.colorize(image), output_format)


def _colorization_data(task: Task, now: float) -> dict[str, Any]:
    """A task as the query answers it: state 0 -> 2 -> 4 -> final, with progress."""
    fraction = task.fraction(now)
    data: dict[str, Any] = {"task_id": task.task_id, "created_at": int(task.created_at)}
    if fraction >= 0.25:
        data["processed_at"] = int(task.created_at + task.duration * 0.25)
    if fraction >= 1:
        state = task.outcome
        progress = 100 if state == 1 else 0
        data["completed_at"] = int(task.finished_at)
    elif fraction >= 0.5:
        state, progress = 4, min(99, int(fraction * 100))
    elif fraction >= 0.25:
        state, progress = 2, int(fraction * 100)
    else:
        state, progress = 0, 0
    data.update(
        progress=progress,
        state=state,
        state_detail=STATE_DETAILS.get(state, "Task failed"),
        return_type=task.return_type,
    )
    if state == 1:
        data["image"] = task.result_urls[0] if task.result_urls else task.image_base64
    return data


@csrf_exempt
@require_POST
@_endpoint
def colorization_create(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 6.3: image_file or image_url; sync 0/1; format; return_type 1/2/3."""
    upload = request.FILES.get("image_file")
    image_url = request.POST.get("image_url", "").strip()
    if upload is not None and image_url:
        raise PicWishError(400, "Send either image_file or image_url, not both.")
    if upload is None and not image_url:
        raise PicWishError(400, "image_file or image_url is required.")
    sync = _choice(request, "sync", (0, 1), 0)
    return_type = _choice(request, "return_type", (1, 2, 3), 1)
    format_name = request.POST.get("format", "").strip().lower() or "jpg"
    if format_name not in OUTPUT_FORMATS:
        raise PicWishError(400, "format must be jpg, jpeg, png or webp.")
    if return_type == 3 and sync != 1:
        raise PicWishError(400, "return_type 3 (binary) needs sync=1.")
    if upload is not None and (upload.size or 0) > MAX_BYTES:
        raise PicWishError(413, "The image is larger than 15 MB.")
    output_format = OUTPUT_FORMATS[format_name]
    duration = task_seconds()
    state, output = _colorization_outcome(
        caller, upload.read() if upload is not None else None, output_format
    )
    urls: tuple[str, ...] = ()
    encoded = ""
    if output is not None and return_type == 1:
        urls = (store(caller, output, output_format, after=duration),)
    elif output is not None:
        encoded = inline(output)
    task = Task(
        task_id=new_task_id(),
        key=caller.key,
        kind="colorization",
        created_at=time.time(),
        duration=duration,
        outcome=state,
        keep_for=HOUR,  # results are kept up to 1 h (contracts 6.3)
        result_urls=urls,
        image_base64=encoded,
        return_type=return_type,
    )
    STATE.add_task(task)
    if not sync:
        return _ok({"task_id": task.task_id})
    time.sleep(min(duration, MAX_SECONDS))
    if return_type == 3 and output is not None:
        return HttpResponse(output, content_type=MEDIA_TYPES[output_format])
    return _ok(_colorization_data(task, time.time()))


@csrf_exempt
@require_GET
@_endpoint
def colorization_result(request: HttpRequest, caller: Caller, task_id: str) -> HttpResponseBase:
    """vendor-contracts.md 6.4: GET /api/tasks/visual/colorization/{task_id}."""
    task = STATE.get_task(caller.key, task_id, frozenset({"colorization"}))
    if task is None:
        raise PicWishError(404, "Task not found")
    return _ok(_colorization_data(task, time.time()))
