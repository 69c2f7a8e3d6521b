"""The sandbox's endpoints: AILabTools and PicWish as their documented contracts describe them.

Paths, key headers, multipart fields, envelopes, error codes and statuses follow
vendor-contracts.md (AILabTools sections 1-5, PicWish section 6) so any client written against
the vendors' docs works here unchanged. Keys must start with ``settings.SANDBOX_KEY_PREFIX``;
markers in a key pick the envelope generation and inject faults (see ``faults``).
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from http import HTTPStatus
from typing import Any, Concatenate, Final, ParamSpec
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from editor.sandbox import imaging
from editor.sandbox.faults import (
    Faults,
    UnknownFault,
    bad_json,
    counted,
    delay,
    find,
    gateway_error,
    rate_limited,
    shape,
    unknown_marker,
)
from editor.sandbox.faults import parse as parse_faults
from editor.sandbox.server import PUBLIC_URL_ENVIRON_KEY
from editor.sandbox.state import MEDIA_TYPES, STATE, Task, new_task_id, starting_credits

P = ParamSpec("P")
MB: Final = 1024 * 1024
HOUR: Final = 3600.0
DAY: Final = 24 * HOUR

# --- AILabTools: error codes by HTTP status (vendor-contracts.md 1.3, current mapping) --------

_CODES_BY_STATUS: Final[dict[int, str]] = {
    400: "ERROR_PARAMETERS MISSING_PARAMETERS ERROR_INVALID_PARAMETER PARAMETERS_CANNOT_EMPTY "
    "ERROR_MISSING_LIMIT_PARAMETER ERROR_MISSING_TASKS_PARAMETER "
    "ERROR_MISSING_ASSURE_DIRECTION_PARAMETER ERROR_MISSING_MIN_HEIGHT_PARAMETER "
    "ERROR_INVALID_SIDE_PARAMETER ERROR_INVALID_URL ERROR_UNSUPPORTED_RESPONSE_FORMAT "
    "ERROR_INVALID_OUTPUT_FORMAT ERROR_MISSING_OUTPUT_FORMAT UNSUPPORTED_PARAMETER_VALUES "
    "ERROR_INVALID_PARAMETER_FORMAT ERROR_PARAMETER_CONVERSION_FAILED "
    "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH ERROR_QUALITY_CONTROL_ERROR "
    "ERROR_LIVENESS_CONTROL_ERROR ERROR_TOO_MANY_GROUPS_IN_GROUP_LIST "
    "ERROR_TOO_MANY_UIDS_IN_UID_LIST ERROR_TOO_MANY_APPS_IN_APP_LIST "
    "ERROR_INVALID_FACE_BOX_PARAMETER ERROR_INVALID_BIG_EYES_PARAMETER "
    "ERROR_INVALID_FACE_SLIMMING_PARAMETER ERROR_INVALID_SMOOTHING_PARAMETER "
    "ERROR_INVALID_SKIN_WHITENING_PARAMETER",
    401: "ERROR_USER_NOT_EXISTS ERROR_APPLICATIONS_NOT_EXISTS",
    403: "ERROR_USER_LOCKED ERROR_ILLEGAL_OPERATION",
    404: "ERROR_AI_NOT_EXISTS ERROR_FILE_NOT_FOUND ERROR_FACE_NOT_FOUND ERROR_USER_GROUP_NOT_FOUND "
    "ERROR_USER_NOT_FOUND ERROR_FACE_TOKEN_NOT_FOUND ERROR_CONTENT_NOT_FOUND "
    "ERROR_RESOURCE_NOT_FOUND",
    406: "ERROR_INVALID_RESPONSE_FORMAT",
    409: "ERROR_FACE_ALREADY_EXISTS ERROR_DATA_ALREADY_EXISTS ERROR_USER_GROUP_ALREADY_EXISTS "
    "ERROR_USER_ALREADY_EXISTS ERROR_DUPLICATE_GROUP_NAME ERROR_RESOURCE_IN_USE "
    "ERROR_TASK_CONFLICT ERROR_TASK_STOPPED_PROCESSING ERROR_TASK_REVOCATION_FAILED",
    410: "ERROR_TASK_REVOKED ERROR_RESOURCE_RECLAIMED",
    413: "ERROR_TOO_MANY_FILES FILE_SIZE_EXCEEDS_LIMIT FILE_RESOLUTION_EXCEEDS_LIMITS "
    "ERROR_HIGH_RESOLUTION ERROR_REQUEST_BODY_TOO_LARGE",
    415: "UNSUPPORTED_FILE_TYPES ERROR_UNSUPPORTED_GRAYSCALE_IMAGE",
    422: "FILE_DECODING_FAILURE ERROR_ILLEGAL_FILE ERROR_INVALID_FILE ERROR_LOW_RESOLUTION "
    "FILE_CONTENT_NON_COMPLIANCE ERROR_CONTENT_NON_COMPLIANCE ERROR_CONTENT_TOO_LONG "
    "ERROR_VIDEO_DURATION_EXCEEDED ERROR_INCORRECT_FILE_COUNT ERROR_NO_FACE_IN_FILE "
    "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS ERROR_FACE_SIZE_RATIO_NOT_MET ERROR_SMALL_FACE_SIZE "
    "ERROR_FACE_COPY_SCENE_MISMATCH ERROR_FACE_UNRECOGNIZABLE ERROR_POOR_FACE_QUALITY "
    "ERROR_BLURRY_FACE ERROR_OBSTRUCTED_FACE ERROR_POOR_FACE_LIGHTING ERROR_INCOMPLETE_FACE "
    "ERROR_FACE_NOT_FACING_FORWARD ERROR_QUALITY_SCORE_NOT_MEET_REQUIREMENTS "
    "ERROR_SCENE_TYPE_MISMATCH ERROR_CARTOON_FACE_NOT_SUPPORTED "
    "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW ERROR_ACTION_VERIFICATION_FAILED "
    "ERROR_LEFT_EYE_OCCLUSION_TOO_HIGH ERROR_RIGHT_EYE_OCCLUSION_TOO_HIGH "
    "ERROR_LEFT_FACE_OCCLUSION_TOO_HIGH ERROR_RIGHT_FACE_OCCLUSION_TOO_HIGH "
    "ERROR_CHIN_OCCLUSION_TOO_HIGH ERROR_NOSE_OCCLUSION_TOO_HIGH ERROR_MOUTH_OCCLUSION_TOO_HIGH "
    "ERROR_SYNTHESIS_DETECTION_FAILED ERROR_LIVENESS_DETECTION_FAILED "
    "ERROR_NO_RECOGNITION_TARGET_DETECTED ERROR_IMAGE_RECOGNITION_FAILED "
    "ERROR_POSE_NOT_ENOUGH_KEYPOINTS ERROR_FACE_COUNT_INVALID",
    429: "ERROR_NOT_ENOUGH_CREDITS ERROR_FACE_TRACE_LIMIT_EXCEEDED ERROR_DATABASE_LIMIT_EXCEEDED "
    "ERROR_BATCH_TASK_LIMIT_EXCEEDED EXCEEDING_LIMITS",
    500: "PROCESSING_FAILURE ERROR_RESPONSE_BODY_TOO_LARGE UNKNOWN_ERROR SERVICE_INTERNAL_ERROR",
    501: "ERROR_IMAGE_STORAGE_NOT_SUPPORTED",
    502: "ERROR_FILE_DOWNLOAD_FAILED ERROR_FILE_UPLOAD_FAILED ERROR_DATA_TRANSFER_FAILED "
    "ERROR_GET_FACE_IMAGE_FAILED ERROR_FACE_IMAGE_ADDITION_FAILED ERROR_FACE_BLENDING_FAILED "
    "FILE_SERVICE_ERROR AI_SERVICE_ERROR AI_SERVICE_INTERNAL_ERROR AI_SERVICE_UNAUTHORIZED "
    "AI_SERVICE_NOT_FOUND ERROR_GATEWAY",
    503: "ERROR_CLEANING_USER_GROUP_DATA ERROR_INSUFFICIENT_RESOURCES ERROR_RESOURCE_IN_TRANSIT "
    "ERROR_RESOURCE_UNAVAILABLE AI_SERVICE_FLOW_RESTRICTION",
    504: "ERROR_FILE_DOWNLOAD_TIMEOUT AI_SERVICE_TIMEOUT",
}
AILABTOOLS_STATUS: Final[dict[str, int]] = {
    code: status for status, codes in _CODES_BY_STATUS.items() for code in codes.split()
}
_CODE_MESSAGES: Final[dict[str, str]] = {
    "ERROR_APPLICATIONS_NOT_EXISTS": "Application does not exist.",
    "ERROR_AI_NOT_EXISTS": "AI does not exist or has been deactivated.",
    "ERROR_NOT_ENOUGH_CREDITS": "Insufficient credits.",
    "ERROR_PARAMETERS": "Parameter error.",
    "MISSING_PARAMETERS": "Parameters are missing.",
    "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH": "Resolution of mask and image must be the same.",
    "ERROR_NO_FACE_IN_FILE": "No face detected in the file.",
    "EXCEEDING_LIMITS": "The request limit was exceeded.",
    "FILE_CONTENT_NON_COMPLIANCE": "File content does not meet requirements.",
    "FILE_DECODING_FAILURE": "The file could not be decoded.",
    "FILE_RESOLUTION_EXCEEDS_LIMITS": "The file resolution exceeds the limits.",
    "FILE_SIZE_EXCEEDS_LIMIT": "The file size exceeds the limit.",
    "ERROR_LOW_RESOLUTION": "The image resolution is too low.",
    "UNSUPPORTED_FILE_TYPES": "Unsupported file type.",
    "UNSUPPORTED_PARAMETER_VALUES": "Unsupported parameter values.",
}

CREDITS: Final = {
    "retouch": 3,
    "extender": 25,
    "emotion": 12,
    "emotion-advanced": 15,
    "color-migration": 4,
}


def _code_message(code: str) -> str:
    if code in _CODE_MESSAGES:
        return _CODE_MESSAGES[code]
    return code.removeprefix("ERROR_").replace("_", " ").capitalize() + "."


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class AilabError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class PicWishError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who is calling and what they asked the sandbox to pretend, from the key."""

    key: str
    faults: Faults
    public_url: str

    @property
    def legacy(self) -> bool:
        return "legacy" in self.key

    @property
    def colormig(self) -> bool:
        return "colormig" in self.key


# --- Shared plumbing -------------------------------------------------------------------------


def _is_sandbox_key(key: str) -> bool:
    prefix: str = settings.SANDBOX_KEY_PREFIX
    return len(key) > len(prefix) and key.startswith(prefix)


def _public_url(request: HttpRequest) -> str:
    return str(request.META.get(PUBLIC_URL_ENVIRON_KEY) or settings.SANDBOX_URL).rstrip("/")


def _task_seconds() -> float:
    return max(0, settings.SANDBOX_TASK_MS) / 1000


def _finish(response: HttpResponseBase) -> HttpResponseBase:
    """Declare the length of whole answers so connections stay alive, as a real API's do."""
    if isinstance(response, HttpResponse) and not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


def _store(caller: Caller, data: bytes, image_format: str, *, after: float = 0.0) -> str:
    """Keep a result and return its signed URL, valid for SANDBOX_RESULT_TTL seconds from the
    moment it exists (``after`` seconds from now, for an async task still running)."""
    expired = caller.faults.get("expired") or find(caller.faults.result, "expired")
    lifetime = 0.0 if expired else after + settings.SANDBOX_RESULT_TTL
    stored = STATE.add_result(data, image_format, lifetime=lifetime, faults=caller.faults.result)
    return f"{caller.public_url}/results/{stored.token}.{stored.ext}?{stored.query}"


def _caller(request: HttpRequest, key: str) -> Caller | HttpResponseBase:
    try:
        faults = parse_faults(key)
    except UnknownFault as error:
        return unknown_marker(error)
    return Caller(key=key, faults=faults, public_url=_public_url(request))


def _request_number(caller: Caller) -> int:
    """This request's number among the key's requests, counted only for markers that need it."""
    return STATE.count(caller.key) if counted(caller.faults) else 0


def _flaky(caller: Caller, number: int) -> bool:
    flaky = caller.faults.get("flaky")
    return flaky is not None and number <= flaky.number


def _slow_down(response: HttpResponse) -> HttpResponse:
    # Real rate limiters say when to come back; a client that reads the header waits that long.
    response["Retry-After"] = "1"
    return response


# --- AILabTools plumbing ---------------------------------------------------------------------

AILABTOOLS_KEY_HEADER: Final = "ailabapi-api-key"


def _ailab_body(
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
    code_message = _code_message(code) if code else ""
    detail: dict[str, Any] = {"code": code, "code_message": code_message, "message": message}
    if legacy:
        body["error_code"] = 0 if status == 200 else status
        body["error_code_str"] = code
        body["error_msg"] = f"{code_message} - {message}" if code and message else code_message
        detail = {"status_code": status, **detail}
    body["error_detail"] = detail
    return body


def _ailab_ok(
    caller: Caller, fields: dict[str, Any], *, request_id: str | None = None
) -> JsonResponse:
    body = _ailab_body(legacy=caller.legacy, status=200, request_id=request_id)
    body.update(fields)
    return JsonResponse(body)


def _ailab_error(code: str, message: str, *, legacy: bool) -> JsonResponse:
    status = AILABTOOLS_STATUS.get(code, 500)
    body = _ailab_body(legacy=legacy, status=status, code=code, message=message)
    return JsonResponse(body, status=status)


def _ailab_injected(caller: Caller) -> HttpResponseBase | None:
    delay(caller.faults.api)
    number = _request_number(caller)
    if _flaky(caller, number):
        return gateway_error(503)
    if http := caller.faults.get("http"):
        return gateway_error(http.number)
    if rate_limited(caller.faults, number):
        return _slow_down(
            _ailab_error("EXCEEDING_LIMITS", "Too many requests; slow down.", legacy=caller.legacy)
        )
    if error := caller.faults.get("error"):
        return _ailab_error(
            error.arg, "Injected by the sandbox's fault marker.", legacy=caller.legacy
        )
    if caller.faults.get("badjson"):
        return bad_json('{"request_id":"' + str(uuid.uuid4()) + '","log_id":"","error_detail":{')
    return None


def _ailabtools(
    view: Callable[Concatenate[HttpRequest, Caller, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Key check, fault injection and the error envelope around an AILabTools endpoint."""

    @wraps(view)
    def endpoint(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        key = request.headers.get(AILABTOOLS_KEY_HEADER, "").strip()
        if not _is_sandbox_key(key):
            # Live answers mix both generations' fields; so does this one.
            return _finish(
                _ailab_error(
                    "ERROR_APPLICATIONS_NOT_EXISTS",
                    "The API key is missing or unknown (sandbox keys start with "
                    f"{settings.SANDBOX_KEY_PREFIX!r}).",
                    legacy=True,
                )
            )
        caller = _caller(request, key)
        if not isinstance(caller, Caller):
            return _finish(caller)
        response = _ailab_injected(caller)
        if response is None:
            try:
                response = view(request, caller, *args, **kwargs)
            except AilabError as error:
                response = _ailab_error(error.code, error.message, legacy=caller.legacy)
        return _finish(shape(_finish(response), caller.faults.api))

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


def _pillow_format(image: Image.Image) -> str:
    return "JPEG" if image.format == "MPO" else image.format or ""


def _require(
    request: HttpRequest, *, files: Sequence[str] = (), fields: Sequence[str] = ()
) -> None:
    missing = [name for name in files if name not in request.FILES]
    missing += [name for name in fields if not request.POST.get(name, "").strip()]
    if missing:
        raise AilabError("MISSING_PARAMETERS", f"Missing required parameter: {', '.join(missing)}.")


def _ailab_image(request: HttpRequest, name: str, limits: Limits) -> Image.Image:
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
    if _pillow_format(image) not in limits.formats:
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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ailab_task(
    caller: Caller,
    kind: str,
    produce: Callable[[], list[bytes]],
    image_format: str,
    *,
    keep_for: float,
) -> Task:
    """An async task; its images are made now and revealed when its time is up."""
    duration = _task_seconds()
    failed = caller.faults.get("taskfail") is not None
    urls = (
        ()
        if failed
        else tuple(_store(caller, data, image_format, after=duration) for data in produce())
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


# --- AILabTools endpoints --------------------------------------------------------------------


@csrf_exempt
@require_POST
@_ailabtools
def photo_retouching(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 3: image + style -> data.image_url (valid 24 h at the vendor)."""
    _require(request, files=("image", "style"))
    image = _ailab_image(request, "image", RETOUCH_LIMITS)
    style = _ailab_image(request, "style", RETOUCH_LIMITS)
    _charge(caller, "retouch")
    output_format = "PNG" if image.format == "PNG" else "JPEG"
    output = imaging.finish(imaging.transfer_style(image, style), output_format)
    return _ailab_ok(caller, {"data": {"image_url": _store(caller, output, output_format)}})


@csrf_exempt
@require_POST
@_ailabtools
def ai_image_extender(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 4: ratios or a same-size mask -> data.binary_data_base64 (one PNG)."""
    _require(request, files=("image",))
    image = _ailab_image(request, "image", EXTENDER_LIMITS)
    _int_param(request, "steps", 30, 1, None)
    _float_param(request, "strength", 0.8, 0.1, 1.0)
    _float_param(request, "scale", 7.0, 1.0, 20.0)
    _int_param(request, "seed", 0, -1, None)
    max_height = _int_param(request, "max_height", 1920, 0, None)
    max_width = _int_param(request, "max_width", 1920, 0, None)
    if "mask" in request.FILES:
        mask = _ailab_image(request, "mask", EXTENDER_LIMITS)
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
    return _ailab_ok(caller, {"data": {"binary_data_base64": [_b64(output)]}})


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
@_ailabtools
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
    image = _ailab_image(request, "image_target", EMOTION_LIMITS)
    _charge(caller, "emotion")
    brightness, warmth = EXPRESSIONS[choice]
    output = imaging.finish(imaging.change_expression(image, brightness, warmth), "JPEG")
    return _ailab_ok(caller, {"data": {"image": _b64(output)}})


EXPRESSION_NAME: Final = re.compile(r"[a-z][a-z0-9_]{1,63}")
_DOWNCAST_WORDS: Final = ("sad", "cry", "angry", "fear", "disgust", "tired", "pout", "frown")


@csrf_exempt
@require_POST
@_ailabtools
def emotion_editor_advanced(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 5 (async alternative): image + expression -> task_id."""
    _require(request, files=("image",), fields=("expression",))
    expression = request.POST["expression"].strip()
    if not EXPRESSION_NAME.fullmatch(expression):
        raise AilabError(
            "UNSUPPORTED_PARAMETER_VALUES", "expression must be a snake_case expression name."
        )
    image = _ailab_image(request, "image", EMOTION_ADVANCED_LIMITS)
    _charge(caller, "emotion-advanced")
    downcast = any(word in expression for word in _DOWNCAST_WORDS)
    brightness, warmth = (0.95, -0.5) if downcast else (1.05, 0.8)

    def produce() -> list[bytes]:
        changed = imaging.change_expression(image, brightness, warmth)
        return [imaging.finish(changed, "JPEG")]

    task = _ailab_task(caller, "emotion-advanced", produce, "JPEG", keep_for=DAY)
    return _ailab_ok(caller, {"task_id": task.task_id})


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
@_ailabtools
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
    image = _ailab_image(request, "image", COLOR_MIGRATION_LIMITS)
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
        ref = _ailab_image(request, "ref", COLOR_MIGRATION_LIMITS)
        angles = [degree * _hue_delta(imaging.mean_hue(image), imaging.mean_hue(ref))]
    _charge(caller, "color-migration")

    def produce() -> list[bytes]:
        return [imaging.finish(imaging.rotate_hue(image, angle), "PNG") for angle in angles]

    if task_type == "async":
        task = _ailab_task(caller, "color-migration", produce, "PNG", keep_for=DAY)
        return _ailab_ok(caller, {"task_type": "async", "task_id": task.task_id})
    # Legacy records live 30 minutes (vendor-contracts.md 2.3); the job id is the request_id.
    task = _ailab_task(caller, "color-migration-legacy", produce, "PNG", keep_for=HOUR / 2)
    return _ailab_ok(caller, {}, request_id=task.task_id)


ASYNC_KINDS: Final = frozenset({"emotion-advanced", "color-migration"})


@csrf_exempt
@require_GET
@_ailabtools
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
        return _ailab_ok(caller, {"task_status": 0 if fraction < 1 / 3 else 1})
    if task.outcome != 2:
        # Undocumented; the official SDK treats task_status 3 as failed (contracts 2.4).
        body = _ailab_body(legacy=caller.legacy, status=200)
        body["error_detail"].update(
            code="PROCESSING_FAILURE",
            code_message=_code_message("PROCESSING_FAILURE"),
            message="The task failed (sandbox fault marker taskfail).",
        )
        body["task_status"] = 3
        return JsonResponse(body)
    name = "image_list" if task.kind == "color-migration" else "result_urls"
    return _ailab_ok(caller, {"task_status": 2, "data": {name: list(task.result_urls)}})


@csrf_exempt
@require_GET
@_ailabtools
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
    return _ailab_ok(caller, {"data": data})


_STARTED: Final = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


@csrf_exempt
@require_GET
@_ailabtools
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
    return _ailab_ok(caller, {"data": [credits]})


# --- PicWish ---------------------------------------------------------------------------------

PICWISH_KEY_HEADER: Final = "X-API-KEY"
PICWISH_OUTPUT_FORMATS: Final = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
PICWISH_INPUT_FORMATS: Final = frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF"})
PICWISH_MAX_BYTES: Final = 15 * MB
PICWISH_MAX_SIDE: Final = 4096  # inclusive ("up to 4096 x 4096")
PICWISH_MAX_SECONDS: Final = 30.0  # state -8 past this (contracts 6.7)
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


def _picwish_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message}, status=status)


def _picwish_ok(data: dict[str, Any]) -> JsonResponse:
    return JsonResponse({"status": 200, "message": "success", "data": data})


def _picwish_injected(caller: Caller) -> HttpResponseBase | None:
    delay(caller.faults.api)
    number = _request_number(caller)
    if _flaky(caller, number):
        return gateway_error(503)
    if http := caller.faults.get("http"):
        return gateway_error(http.number)
    if rate_limited(caller.faults, number):
        return _slow_down(_picwish_error(429, "Too Many Requests"))
    if error := caller.faults.get("error"):
        status = int(error.arg) if error.arg.isdigit() else AILABTOOLS_STATUS.get(error.arg, 500)
        status = status if 400 <= status <= 599 else 500
        return _picwish_error(status, _phrase(status))
    if caller.faults.get("badjson"):
        return bad_json('{"status":200,"message":"success","data":{"task_id":')
    return None


def _picwish(
    view: Callable[Concatenate[HttpRequest, Caller, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Key check, the QPS limit, fault injection and the error body around a PicWish endpoint."""

    @wraps(view)
    def endpoint(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        key = request.headers.get(PICWISH_KEY_HEADER, "").strip()
        if not _is_sandbox_key(key):
            return _finish(_picwish_error(401, "Unauthorized"))
        caller = _caller(request, key)
        if not isinstance(caller, Caller):
            return _finish(caller)
        # Default QPS 2 per key, polls included (contracts 6.6).
        if not STATE.admit(key, int(settings.SANDBOX_PICWISH_QPS)):
            return _finish(_picwish_error(429, "Too Many Requests"))
        response = _picwish_injected(caller)
        if response is None:
            try:
                response = view(request, caller, *args, **kwargs)
            except PicWishError as error:
                response = _picwish_error(error.status, error.message)
        return _finish(shape(_finish(response), caller.faults.api))

    return endpoint


def _picwish_choice(request: HttpRequest, name: str, allowed: tuple[int, ...], default: int) -> int:
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
    if _pillow_format(image) not in PICWISH_INPUT_FORMATS:
        return -7, None
    if image.width > PICWISH_MAX_SIDE or image.height > PICWISH_MAX_SIDE:
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
@_picwish
def colorization_create(request: HttpRequest, caller: Caller) -> HttpResponseBase:
    """vendor-contracts.md 6.3: image_file or image_url; sync 0/1; format; return_type 1/2/3."""
    upload = request.FILES.get("image_file")
    image_url = request.POST.get("image_url", "").strip()
    if upload is not None and image_url:
        raise PicWishError(400, "Send either image_file or image_url, not both.")
    if upload is None and not image_url:
        raise PicWishError(400, "image_file or image_url is required.")
    sync = _picwish_choice(request, "sync", (0, 1), 0)
    return_type = _picwish_choice(request, "return_type", (1, 2, 3), 1)
    format_name = request.POST.get("format", "").strip().lower() or "jpg"
    if format_name not in PICWISH_OUTPUT_FORMATS:
        raise PicWishError(400, "format must be jpg, jpeg, png or webp.")
    if return_type == 3 and sync != 1:
        raise PicWishError(400, "return_type 3 (binary) needs sync=1.")
    if upload is not None and (upload.size or 0) > PICWISH_MAX_BYTES:
        raise PicWishError(413, "The image is larger than 15 MB.")
    output_format = PICWISH_OUTPUT_FORMATS[format_name]
    duration = _task_seconds()
    state, output = _colorization_outcome(
        caller, upload.read() if upload is not None else None, output_format
    )
    urls: tuple[str, ...] = ()
    encoded = ""
    if output is not None and return_type == 1:
        urls = (_store(caller, output, output_format, after=duration),)
    elif output is not None:
        encoded = _b64(output)
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
        return _picwish_ok({"task_id": task.task_id})
    time.sleep(min(duration, PICWISH_MAX_SECONDS))
    if return_type == 3 and output is not None:
        return HttpResponse(output, content_type=MEDIA_TYPES[output_format])
    return _picwish_ok(_colorization_data(task, time.time()))


@csrf_exempt
@require_GET
@_picwish
def colorization_result(request: HttpRequest, caller: Caller, task_id: str) -> HttpResponseBase:
    """vendor-contracts.md 6.4: GET /api/tasks/visual/colorization/{task_id}."""
    task = STATE.get_task(caller.key, task_id, frozenset({"colorization"}))
    if task is None:
        raise PicWishError(404, "Task not found")
    return _picwish_ok(_colorization_data(task, time.time()))


# --- Result files ----------------------------------------------------------------------------


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _storage_error(
    status: int, code: str, message: str, *, expires: float | None = None
) -> HttpResponse:
    """The XML error a cloud bucket answers for a bad or expired signed URL."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<Error>",
        f"  <Code>{code}</Code>",
        f"  <Message>{escape(message)}</Message>",
        f"  <RequestId>{secrets.token_hex(12).upper()}</RequestId>",
    ]
    if expires is not None:
        lines += [
            f"  <Expires>{_iso(expires)}</Expires>",
            f"  <ServerTime>{_iso(time.time())}</ServerTime>",
        ]
    lines.append("</Error>")
    return HttpResponse("\n".join(lines) + "\n", status=status, content_type="application/xml")


@csrf_exempt
@require_GET
def result_file(request: HttpRequest, token: str, ext: str) -> HttpResponseBase:
    """A signed result URL: the bytes until SANDBOX_RESULT_TTL passes, then 403 AccessDenied."""
    stored = STATE.get_result(token)
    if stored is None or stored.ext != ext:
        return _finish(_storage_error(404, "NoSuchKey", "The specified key does not exist."))
    delay(stored.faults)
    if http := find(stored.faults, "http"):
        return _finish(gateway_error(http.number))
    signature_ok = request.GET.get("Signature") == stored.signature
    if not signature_ok or request.GET.get("Expires") != str(int(stored.expires_at)):
        return _finish(
            _storage_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        )
    data = stored.data
    if data is None:
        return _finish(
            _storage_error(403, "AccessDenied", "Request has expired.", expires=stored.expires_at)
        )
    response = HttpResponse(data, content_type=stored.media_type)
    return _finish(shape(_finish(response), stored.faults))


# --- Error handlers (editor.sandbox.urls) ----------------------------------------------------


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"status": 404, "message": "Not Found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": 500, "message": "Internal Server Error"}, status=500)
