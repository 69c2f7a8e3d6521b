"""The fake AILabTools: its endpoints as vendor-contracts.md sections 1-5 describe them.

Paths, the key header, multipart fields, both envelope generations, error codes with their
statuses, image limits, async tasks and the credit query follow the contract, so any client
written against the vendor's docs works here unchanged. Markers in the key pick the legacy
envelope (``legacy``), bring back the retired color migration (``colormig``) and inject faults
(see ``editor.sandbox.faults``).
"""

from __future__ import annotations

import math
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, Final, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from editor.sandbox import imaging
from editor.sandbox.ailabtools_codes import STATUS_BY_CODE, code_message
from editor.sandbox.callers import Caller, flaky, identify, is_sandbox_key, request_number
from editor.sandbox.faults import bad_json, delay, gateway_error, rate_limited, shape
from editor.sandbox.gateway import finish, slow_down
from editor.sandbox.results import inline, store
from editor.sandbox.state import STATE, Task, new_task_id, starting_credits, task_seconds

P = ParamSpec("P")
MB: Final = 1024 * 1024
HOUR: Final = 3600.0
DAY: Final = 24 * HOUR

CREDITS: Final = {
    "retouch": 3,
    "extender": 25,
    "emotion": 12,
    "emotion-advanced": 15,
    "color-migration": 4,
}


class AilabError(Exception):
    """Raised by an endpoint; answered in the envelope with the status the code's table gives."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message


KEY_HEADER: Final = "ailabapi-api-key"


def _body(
    *,
    legacy: bool,
    status: int,
    code: str = "",
    message: str = "",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The public envelope: current generation, or the legacy one with its extra fields."""
    body: dict[str, Any] = {
        "request_id": request_id or str(uuid.uuid4()),
        "log_id": secrets.token_hex(16),
    }
    wording = code_message(code) if code else ""
    detail: dict[str, Any] = {"code": code, "code_message": wording, "message": message}
    if legacy:
        body["error_code"] = 0 if status == 200 else status
        body["error_code_str"] = code
        body["error_msg"] = f"{wording} - {message}" if code and message else wording
        detail = {"status_code": status, **detail}
    body["error_detail"] = detail
    return body


def _ok(caller: Caller, fields: dict[str, Any], *, request_id: str | None = None) -> JsonResponse:
    body = _body(legacy=caller.legacy, status=200, request_id=request_id)
    body.update(fields)
    return JsonResponse(body)


def _error(code: str, message: str, *, legacy: bool) -> JsonResponse:
    status = STATUS_BY_CODE.get(code, 500)
    body = _body(legacy=legacy, status=status, code=code, message=message)
    return JsonResponse(body, status=status)


def _injected(caller: Caller) -> HttpResponseBase | None:
    delay(caller.faults.api)
    number = request_number(caller)
    if flaky(caller, number):
        return gateway_error(503)
    if http := caller.faults.get("http"):
        return gateway_error(http.number)
    if rate_limited(caller.faults, number):
        return slow_down(
            _error("EXCEEDING_LIMITS", "Too many requests; slow down.", legacy=caller.legacy)
        )
    if error := caller.faults.get("error"):
        return _error(error.arg, "Injected by the sandbox's fault marker.", legacy=caller.legacy)
    if caller.faults.get("badjson"):
        return bad_json('{"request_id":"' + str(uuid.uuid4()) + '","log_id":"","error_detail":{')
    return None


def _endpoint(
    view: Callable[Concatenate[HttpRequest, Caller, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Key check, fault injection and the error envelope around an AILabTools endpoint."""

    @wraps(view)
    def endpoint(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        key = request.headers.get(KEY_HEADER, "").strip()
        if not is_sandbox_key(key):
            # Live answers mix both generations' fields; so does this one.
            return finish(
                _error(
                    "ERROR_APPLICATIONS_NOT_EXISTS",
                    "The API key is missing or unknown (sandbox keys start with "
                    f"{settings.SANDBOX_KEY_PREFIX!r}).",
                    legacy=True,
                )
            )
        caller = identify(request, key)
        if not isinstance(caller, Caller):
            return finish(caller)
        response = _injected(caller)
        if response is None:
            try:
                response = view(request, caller, *args, **kwargs)
            except AilabError as error:
                response = _error(error.code, error.message, legacy=caller.legacy)
        return finish(shape(finish(response), caller.faults.api))

    return endpoint


@dataclass(frozen=True)
class Limits:
    """One endpoint's documented image limits; the pixel bounds are strict on both sides."""

    formats: frozenset[str]
    max_bytes: int
    min_side: int  # both sides must be larger
    max_side: int  # both sides must be smaller
    rgb_only: bool = False


_JPEG_PNG: Final = frozenset({"JPEG", "PNG"})
RETOUCH_LIMITS: Final = Limits(_JPEG_PNG, 3 * MB, 32, 3000)
EXTENDER_LIMITS: Final = Limits(_JPEG_PNG, 5 * MB, 64, 4096)
EMOTION_LIMITS: Final = Limits(_JPEG_PNG, 5 * MB, 0, 4096)
EMOTION_ADVANCED_LIMITS: Final = Limits(frozenset({"JPEG", "PNG", "WEBP"}), 10 * MB, 0, 4096)
COLOR_MIGRATION_LIMITS: Final = Limits(_JPEG_PNG, 3 * MB, 64, 10000, rgb_only=True)


def _require(
    request: HttpRequest, *, files: Sequence[str] = (), fields: Sequence[str] = ()
) -> None:
    missing = [name for name in files if name not in request.FILES]
    missing += [name for name in fields if not request.POST.get(name, "").strip()]
    if missing:
        raise AilabError("MISSING_PARAMETERS", f"Missing required parameter: {', '.join(missing)}.")


def _image(request: HttpRequest, name: str, limits: Limits) -> Image.Image:
    upload = request.FILES.get(name)
    if upload is None:
        raise AilabError("MISSING_PARAMETERS", f"Missing required parameter: {name}.")
    if (upload.size or 0) > limits.max_bytes:
        raise AilabError(
            "FILE_SIZE_EXCEEDS_LIMIT", f"{name} must be no more than {limits.max_bytes // MB} MB."
        )
    try:
        image = imaging.open_image(upload.read())
    except imaging.TooManyPixels:
        raise AilabError("FILE_RESOLUTION_EXCEEDS_LIMITS", f"{name} has too many pixels.") from None
    except imaging.Undecodable:
        raise AilabError("FILE_DECODING_FAILURE", f"{name} is not a readable image.") from None
    if imaging.format_of(image) not in limits.formats:
        allowed = "/".join(sorted(limits.formats))
        raise AilabError("UNSUPPORTED_FILE_TYPES", f"{name} must be {allowed}.")
    width, height = image.size
    if width >= limits.max_side or height >= limits.max_side:
        raise AilabError(
            "FILE_RESOLUTION_EXCEEDS_LIMITS",
            f"{name} must be smaller than {limits.max_side}x{limits.max_side}px.",
        )
    if width <= limits.min_side or height <= limits.min_side:
        raise AilabError(
            "ERROR_LOW_RESOLUTION",
            f"{name} must be larger than {limits.min_side}x{limits.min_side}px.",
        )
    try:
        imaging.decode(image)
    except imaging.Undecodable:
        raise AilabError("FILE_DECODING_FAILURE", f"{name} is not a readable image.") from None
    if limits.rgb_only and image.mode != "RGB":
        if image.mode in {"1", "L", "LA", "I", "I;16", "F"}:
            raise AilabError("ERROR_UNSUPPORTED_GRAYSCALE_IMAGE", f"{name} must be RGB.")
        raise AilabError("FILE_CONTENT_NON_COMPLIANCE", f"{name} must be RGB 3-channel.")
    return image


def _float_param(
    request: HttpRequest, name: str, default: float, low: float, high: float | None
) -> float:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise AilabError("ERROR_INVALID_PARAMETER_FORMAT", f"{name} must be a number.") from None
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f"at least {low}"
        raise AilabError("ERROR_INVALID_PARAMETER", f"{name} must be {bound}.")
    return value


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AilabError("ERROR_INVALID_PARAMETER_FORMAT", f"{name} must be an integer.") from None
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f"at least {low}"
        raise AilabError("ERROR_INVALID_PARAMETER", f"{name} must be {bound}.")
    return value


def _charge(caller: Caller, operation: str) -> None:
    if not STATE.charge(caller.key, CREDITS[operation]):
        raise AilabError("ERROR_NOT_ENOUGH_CREDITS", "Top up credits to continue.")


def _async_task(
    caller: Caller,
    kind: str,
    produce: Callable[[], list[bytes]],
    image_format: str,
    *,
    keep_for: float,
) -> Task:
    """An async task; its images are made now and revealed when its time is up."""
    duration = task_seconds()
    failed = caller.faults.get("taskfail") is not None
    urls = (
        ()
        if failed
        else tuple(store(caller, data, image_format, after=duration) for data in produce())
    )
    task = Task(
        task_id=new_task_id(),
        key=caller.key,
        kind=kind,
        created_at=time.time(),
        duration=duration,
        outcome=3 if failed else 2,
        keep_for=keep_for,
        result_urls=urls,
    )
    STATE.add_task(task)
    return task


# --- Endpoints -------------------------------------------------------------------------------


@csrf_exempt
@require_POST
@_endpoint
def photo_retouching(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 3: image + style -> data.image_url (valid 24 h at the vendor)."""
    _require(request, files=("image", "style"))
    image = _image(request, "image", RETOUCH_LIMITS)
    style = _image(request, "style", RETOUCH_LIMITS)
    _charge(caller, "retouch")
    output_format = "PNG" if image.format == "PNG" else "JPEG"
    output = imaging.finish(imaging.transfer_style(image, style), output_format)
    return _ok(caller, {"data": {"image_url": store(caller, output, output_format)}})


@csrf_exempt
@require_POST
@_endpoint
def ai_image_extender(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 4: ratios or a same-size mask -> data.binary_data_base64 (one PNG)."""
    _require(request, files=("image",))
    image = _image(request, "image", EXTENDER_LIMITS)
    _int_param(request, "steps", 30, 1, None)
    _float_param(request, "strength", 0.8, 0.1, 1.0)
    _float_param(request, "scale", 7.0, 1.0, 20.0)
    _int_param(request, "seed", 0, -1, None)
    max_height = _int_param(request, "max_height", 1920, 0, None)
    max_width = _int_param(request, "max_width", 1920, 0, None)
    if "mask" in request.FILES:
        mask = _image(request, "mask", EXTENDER_LIMITS)
        if mask.size != image.size:
            raise AilabError(
                "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH",
                f"mask is {mask.width}x{mask.height}px, image is {image.width}x{image.height}px.",
            )
        _charge(caller, "extender")
        extended = imaging.fill_mask(image, mask)
    else:
        top, bottom, left, right = (
            _float_param(request, side, 0.1, 0.0, 1.0)
            for side in ("top", "bottom", "left", "right")
        )
        _charge(caller, "extender")
        extended = imaging.extend(image, top, bottom, left, right)
    output = imaging.finish(imaging.fit_within(extended, max_width, max_height), "PNG")
    return _ok(caller, {"data": {"binary_data_base64": [inline(output)]}})


# service_choice -> (brightness, warmth): smiles warm up and brighten, sadness cools and dims.
EXPRESSIONS: Final[dict[int, tuple[float, float]]] = {
    10: (1.05, 1.0),
    11: (1.05, 1.0),
    12: (1.07, 1.0),
    13: (1.05, 0.8),
    14: (1.0, 0.4),
    15: (0.94, -0.6),
    16: (1.02, 0.5),
    100: (1.04, 0.3),
}
RETIRED_EXPRESSIONS: Final = frozenset({0, 1, 2, 3})  # removed in V1.1.0


@csrf_exempt
@require_POST
@_endpoint
def emotion_editor(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 5: image_target + service_choice (10-16, 100) -> data.image base64."""
    _require(request, files=("image_target",), fields=("service_choice",))
    raw = request.POST["service_choice"].strip()
    try:
        choice = int(raw)
    except ValueError:
        raise AilabError(
            "ERROR_INVALID_PARAMETER_FORMAT", "service_choice must be an integer."
        ) from None
    if choice not in EXPRESSIONS:
        note = " (0-3 are no longer supported)" if choice in RETIRED_EXPRESSIONS else ""
        raise AilabError(
            "UNSUPPORTED_PARAMETER_VALUES",
            f"service_choice must be one of 10, 11, 12, 13, 14, 15, 16, 100{note}.",
        )
    image = _image(request, "image_target", EMOTION_LIMITS)
    _charge(caller, "emotion")
    brightness, warmth = EXPRESSIONS[choice]
    output = imaging.finish(imaging.change_expression(image, brightness, warmth), "JPEG")
    return _ok(caller, {"data": {"image": inline(output)}})


EXPRESSION_NAME: Final = re.compile(r"[a-z][a-z0-9_]{1,63}")
_DOWNCAST_WORDS: Final = ("sad", "cry", "angry", "fear", "disgust", "tired", "pout", "frown")


@csrf_exempt
@require_POST
@_endpoint
def emotion_editor_advanced(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 5 (async alternative): image + expression -> task_id."""
    _require(request, files=("image",), fields=("expression",))
    expression = request.POST["expression"].strip()
    if not EXPRESSION_NAME.fullmatch(expression):
        raise AilabError(
            "UNSUPPORTED_PARAMETER_VALUES", "expression must be a snake_case expression name."
        )
    image = _image(request, "image", EMOTION_ADVANCED_LIMITS)
    _charge(caller, "emotion-advanced")
    downcast = any(word in expression for word in _DOWNCAST_WORDS)
    brightness, warmth = (0.95, -0.5) if downcast else (1.05, 0.8)

    def produce() -> list[bytes]:
        changed = imaging.change_expression(image, brightness, warmth)
        return [imaging.finish(changed, "JPEG")]

    task = _async_task(caller, "emotion-advanced", produce, "JPEG", keep_for=DAY)
    return _ok(caller, {"task_id": task.task_id})


COLOR_MIGRATION_MODES: Final = frozenset({"AUTO", "TEMPLATE", "REF_PIC"})
_HEX_COLOR: Final = re.compile(r"(?:[0-9A-Fa-f]{2})?([0-9A-Fa-f]{6})")


def _template_colors(raw: str) -> list[tuple[int, int, int]]:
    """``056A6B,0A0B0C`` or ``#DB0D0D,...``: 1-7 RGB or ARGB hex colors."""
    colors: list[tuple[int, int, int]] = []
    for item in raw.split(","):
        match = _HEX_COLOR.fullmatch(item.strip().lstrip("#"))
        if match is None:
            raise AilabError(
                "ERROR_INVALID_PARAMETER_FORMAT",
                "color_template must be comma-separated hex colors such as 056A6B,0A0B0C.",
            )
        rgb = match.group(1)
        colors.append((int(rgb[0:2], 16), int(rgb[2:4], 16), int(rgb[4:6], 16)))
    if not 1 <= len(colors) <= 7:
        raise AilabError("ERROR_INVALID_PARAMETER", "color_template takes 1 to 7 colors.")
    return colors


def _hue_delta(source: float, target: float) -> float:
    return (target - source + 180) % 360 - 180


@csrf_exempt
@require_POST
@_endpoint
def hd_color_migration(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 2: retired by the vendor. With the ``colormig`` key marker it
    answers as it used to: ``task_type=async`` -> task_id (contract B), otherwise only a
    request_id for the legacy asyn-task-results query (contract A)."""
    if not caller.colormig:
        raise AilabError("ERROR_AI_NOT_EXISTS", "AI does not exist or has been deactivated.")
    task_type = request.POST.get("task_type", "").strip()
    if task_type not in {"", "async"}:
        raise AilabError("UNSUPPORTED_PARAMETER_VALUES", "task_type must be async.")
    _require(request, files=("image",), fields=("mode", "degree"))
    mode = request.POST["mode"].strip()
    if mode not in COLOR_MIGRATION_MODES:
        raise AilabError("UNSUPPORTED_PARAMETER_VALUES", "mode must be AUTO, TEMPLATE or REF_PIC.")
    degree = _float_param(request, "degree", 0.0, 0.0, 1.0)
    image = _image(request, "image", COLOR_MIGRATION_LIMITS)
    if mode == "AUTO":
        count = _int_param(request, "color_count", 1, 1, 8)
        strength = 0.25 + 0.75 * degree  # one distinct color family per output
        angles = [strength * 360 * (k + 1) / (count + 1) for k in range(count)]
    elif mode == "TEMPLATE":
        _require(request, fields=("color_template",))
        target = imaging.hue_of(*_template_colors(request.POST["color_template"])[0])
        angles = [degree * _hue_delta(imaging.mean_hue(image), target)]
    else:
        _require(request, files=("ref",))
        ref = _image(request, "ref", COLOR_MIGRATION_LIMITS)
        angles = [degree * _hue_delta(imaging.mean_hue(image), imaging.mean_hue(ref))]
    _charge(caller, "color-migration")

    def produce() -> list[bytes]:
        return [imaging.finish(imaging.rotate_hue(image, angle), "PNG") for angle in angles]

    if task_type == "async":
        task = _async_task(caller, "color-migration", produce, "PNG", keep_for=DAY)
        return _ok(caller, {"task_type": "async", "task_id": task.task_id})
    # Legacy records live 30 minutes (vendor-contracts.md 2.3); the job id is the request_id.
    task = _async_task(caller, "color-migration-legacy", produce, "PNG", keep_for=HOUR / 2)
    return _ok(caller, {}, request_id=task.task_id)


ASYNC_KINDS: Final = frozenset({"emotion-advanced", "color-migration"})


@csrf_exempt
@require_GET
@_endpoint
def query_async_task_result(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """task_status 0 (queued) -> 1 (processing) -> 2 (done, with data); 3 when it failed."""
    task_id = request.GET.get("task_id", "").strip()
    if not task_id:
        raise AilabError("MISSING_PARAMETERS", "Missing required parameter: task_id.")
    task = STATE.get_task(caller.key, task_id, ASYNC_KINDS)
    if task is None:
        raise AilabError("ERROR_RESOURCE_NOT_FOUND", "No task with this task_id.")
    fraction = task.fraction(time.time())
    if fraction < 1:
        return _ok(caller, {"task_status": 0 if fraction < 1 / 3 else 1})
    if task.outcome != 2:
        # Undocumented; the official SDK treats task_status 3 as failed (contracts 2.4).
        body = _body(legacy=caller.legacy, status=200)
        body["error_detail"].update(
            code="PROCESSING_FAILURE",
            code_message=code_message("PROCESSING_FAILURE"),
            message="The task failed (sandbox fault marker taskfail).",
        )
        body["task_status"] = 3
        return JsonResponse(body)
    name = "image_list" if task.kind == "color-migration" else "result_urls"
    return _ok(caller, {"task_status": 2, "data": {name: list(task.result_urls)}})


@csrf_exempt
@require_GET
@_endpoint
def asyn_task_results(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """The legacy query for color migration jobs (retired with it): QUEUING -> PROCESSING ->
    PROCESS_SUCCESS with data.image_list, or PROCESS_FAILED."""
    if not caller.colormig:
        raise AilabError("ERROR_AI_NOT_EXISTS", "AI does not exist or has been deactivated.")
    job_id = request.GET.get("job_id", "").strip()
    job_type = request.GET.get("type", "").strip()
    missing = [name for name, value in (("job_id", job_id), ("type", job_type)) if not value]
    if missing:
        raise AilabError("MISSING_PARAMETERS", f"Missing required parameter: {', '.join(missing)}.")
    if job_type not in {"HD_COLOUR_MIGRATION", "GENERATE_CARTOONIZED_IMAGE"}:
        raise AilabError("UNSUPPORTED_PARAMETER_VALUES", "type must be HD_COLOUR_MIGRATION.")
    task = (
        STATE.get_task(caller.key, job_id, frozenset({"color-migration-legacy"}))
        if job_type == "HD_COLOUR_MIGRATION"
        else None
    )
    if task is None:
        raise AilabError("ERROR_RESOURCE_NOT_FOUND", "No job with this job_id (kept 30 minutes).")
    fraction = task.fraction(time.time())
    data: dict[str, Any]
    if fraction < 1:
        data = {"status": "QUEUING" if fraction < 1 / 3 else "PROCESSING"}
    elif task.outcome != 2:
        data = {"status": "PROCESS_FAILED"}
    else:
        data = {"status": "PROCESS_SUCCESS", "image_list": list(task.result_urls)}
    return _ok(caller, {"data": data})


_STARTED: Final = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


@csrf_exempt
@require_GET
@_endpoint
def query_credits(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 1.5: the universal credits, charged per successful call."""
    balance = STATE.balance(caller.key)
    bought = starting_credits(caller.key)
    credits = {
        "unique_sign": "common",
        "name": "Universal credits",
        "balance": balance,
        "total": bought,
        "last_recharge_balance": bought,
        "balance_warning": 0,
        "first_buy_time": _STARTED,
        "last_update_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return _ok(caller, {"data": [credits]})
