"""What each AILabTools error code means for the person who ran the job, and whether the same
call may succeed later (vendor-contracts.md §1.2 and §1.3).

Errors are keyed on the vendor's code *string*, never on the HTTP status: AILabTools moved about
50 codes between statuses on 2026-01-08 (§1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from editor.vendors.ailabtools.contract import LABEL
from editor.vendors.base import BAD_RESPONSE, VendorError

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


@dataclass(frozen=True)
class ErrorInfo:
    """What we tell a person about one vendor code, and whether the same call may succeed."""

    message: str | StrPromise
    retryable: bool
    retry_after: float | None = None
    throttled: bool = False  # the vendor limits this key's request rate


def _same(info: ErrorInfo, *codes: str) -> dict[str, ErrorInfo]:
    return dict.fromkeys(codes, info)


def _face(problem: StrPromise) -> ErrorInfo:
    return ErrorInfo(
        format_lazy(
            _(
                "No usable face found: {problem} Use a clear, well-lit photo of one face looking "
                "at the camera, with nothing covering it."
            ),
            problem=problem,
        ),
        retryable=False,
    )


_PARAMETERS = ErrorInfo(
    _("AILabTools did not accept this job's settings. Check them and run the job again."),
    retryable=False,
)
_BAD_KEY = ErrorInfo(
    _("AILabTools did not accept your API key. Check the AILabTools key saved in your vault."),
    retryable=False,
)
_BAD_FILE = ErrorInfo(
    _("AILabTools could not read this image. Try another JPEG or PNG file."), retryable=False
)
_NOT_FOUND = ErrorInfo(
    _("AILabTools no longer has what this job refers to (its records expire). Run the job again."),
    retryable=False,
)
_TASK_STOPPED = ErrorInfo(
    _("AILabTools stopped or withdrew this task. Run the job again."), retryable=False
)
_ACCOUNT_LIMIT = ErrorInfo(
    _("Your AILabTools account has reached a storage limit for this kind of request."),
    retryable=False,
)
# The SDK (docs/best-practices.md) retries 429 and transient 5xx with backoff from ~1 s; no
# QPS number is documented (§1.1), so a short fixed hint is as good as any.
_RATE_LIMITED = ErrorInfo(
    _("AILabTools is limiting how many requests arrive at once."),
    retryable=True,
    retry_after=5.0,
    throttled=True,
)
_BUSY = ErrorInfo(_("AILabTools is having a temporary problem."), retryable=True)
_SLOW = ErrorInfo(
    _("AILabTools timed out while working on this image."),
    retryable=True,
)
RETIRED = ErrorInfo(
    _("AILabTools has retired or deactivated this tool; it no longer answers requests."),
    retryable=False,
)
RETIRED_COLOR_MIGRATION = _(
    "AILabTools has retired HD color migration; choose the built-in engine instead."
)

# Every code of §1.3 (the current table, HTTP status in comments only as a reading aid) plus the
# legacy `error_code_str` values (§1.2). SDK guidance (docs/errors.md, best-practices.md): do not
# retry parameter, auth, content or face errors; retry the 429 family and transient 5xx.
ERRORS: dict[str, ErrorInfo] = {
    # 400: parameters. Our forms validate the documented ranges, so these mean the vendor reads
    # a field differently than documented; retrying the same request cannot help.
    **_same(
        _PARAMETERS,
        "ERROR_PARAMETERS",
        "MISSING_PARAMETERS",
        "ERROR_INVALID_PARAMETER",
        "PARAMETERS_CANNOT_EMPTY",
        "ERROR_MISSING_LIMIT_PARAMETER",
        "ERROR_MISSING_TASKS_PARAMETER",
        "ERROR_MISSING_ASSURE_DIRECTION_PARAMETER",
        "ERROR_MISSING_MIN_HEIGHT_PARAMETER",
        "ERROR_INVALID_SIDE_PARAMETER",
        "ERROR_INVALID_URL",
        "ERROR_UNSUPPORTED_RESPONSE_FORMAT",
        "ERROR_INVALID_OUTPUT_FORMAT",
        "ERROR_MISSING_OUTPUT_FORMAT",
        "UNSUPPORTED_PARAMETER_VALUES",
        "ERROR_INVALID_PARAMETER_FORMAT",
        "ERROR_PARAMETER_CONVERSION_FAILED",
        "ERROR_QUALITY_CONTROL_ERROR",
        "ERROR_LIVENESS_CONTROL_ERROR",
        "ERROR_TOO_MANY_GROUPS_IN_GROUP_LIST",
        "ERROR_TOO_MANY_UIDS_IN_UID_LIST",
        "ERROR_TOO_MANY_APPS_IN_APP_LIST",
        "ERROR_INVALID_FACE_BOX_PARAMETER",
        "ERROR_INVALID_BIG_EYES_PARAMETER",
        "ERROR_INVALID_FACE_SLIMMING_PARAMETER",
        "ERROR_INVALID_SMOOTHING_PARAMETER",
        "ERROR_INVALID_SKIN_WHITENING_PARAMETER",
        "ERROR_INVALID_RESPONSE_FORMAT",  # 406
    ),
    # §4: "Resolution of mask and image must be the same".
    "ERROR_MASK_IMAGE_RESOLUTION_MISMATCH": ErrorInfo(
        _(
            "The mask must have exactly the same width and height as the photo. "
            "Draw the mask again on this photo."
        ),
        retryable=False,
    ),
    # 401: "a wrong or unknown API key shows up here" (§1.3).
    **_same(_BAD_KEY, "ERROR_USER_NOT_EXISTS", "ERROR_APPLICATIONS_NOT_EXISTS"),
    # 403
    "ERROR_USER_LOCKED": ErrorInfo(
        _("Your AILabTools account is locked. Contact AILabTools support."), retryable=False
    ),
    "ERROR_ILLEGAL_OPERATION": ErrorInfo(
        _("AILabTools refused this operation for your account. Contact AILabTools support."),
        retryable=False,
    ),
    # 404: "AI does not exist or has been deactivated": the code a retired endpoint answers.
    "ERROR_AI_NOT_EXISTS": RETIRED,
    **_same(
        _NOT_FOUND,
        "ERROR_FILE_NOT_FOUND",
        "ERROR_USER_GROUP_NOT_FOUND",
        "ERROR_USER_NOT_FOUND",
        "ERROR_FACE_TOKEN_NOT_FOUND",
        "ERROR_CONTENT_NOT_FOUND",
        "ERROR_RESOURCE_NOT_FOUND",
    ),
    "ERROR_FACE_NOT_FOUND": _face(_("AILabTools found no face in the photo.")),
    # 409 and 410: the task or resource is in a state that repeating the call will not change.
    **_same(
        _TASK_STOPPED,
        "ERROR_FACE_ALREADY_EXISTS",
        "ERROR_DATA_ALREADY_EXISTS",
        "ERROR_USER_GROUP_ALREADY_EXISTS",
        "ERROR_USER_ALREADY_EXISTS",
        "ERROR_DUPLICATE_GROUP_NAME",
        "ERROR_RESOURCE_IN_USE",
        "ERROR_TASK_CONFLICT",
        "ERROR_TASK_STOPPED_PROCESSING",
        "ERROR_TASK_REVOCATION_FAILED",
        "ERROR_TASK_REVOKED",
        "ERROR_RESOURCE_RECLAIMED",
    ),
    # 413, 415, 422: the file itself.
    "FILE_SIZE_EXCEEDS_LIMIT": ErrorInfo(
        _("The image is larger (in bytes) than AILabTools accepts for this tool."), retryable=False
    ),
    "ERROR_REQUEST_BODY_TOO_LARGE": ErrorInfo(
        _("The upload is larger than AILabTools accepts for this tool."), retryable=False
    ),
    "ERROR_TOO_MANY_FILES": _PARAMETERS,
    "ERROR_INCORRECT_FILE_COUNT": _PARAMETERS,
    **_same(
        ErrorInfo(
            _("The image has more pixels than AILabTools accepts for this tool."), retryable=False
        ),
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_HIGH_RESOLUTION",
    ),
    "ERROR_LOW_RESOLUTION": ErrorInfo(
        _("The image is too small for AILabTools. Use a larger photo."), retryable=False
    ),
    "UNSUPPORTED_FILE_TYPES": ErrorInfo(
        _("AILabTools does not accept this file type for this tool."), retryable=False
    ),
    "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE": ErrorInfo(
        _("AILabTools does not accept black-and-white (grayscale) images for this tool."),
        retryable=False,
    ),
    **_same(
        _BAD_FILE,
        "FILE_DECODING_FAILURE",
        "ERROR_ILLEGAL_FILE",
        "ERROR_INVALID_FILE",
        "ERROR_VIDEO_DURATION_EXCEEDED",
        "ERROR_IMAGE_RECOGNITION_FAILED",
    ),
    # 422: content review. The legacy coarse FILE_CONTENT_NON_COMPLIANCE also wraps face
    # failures ("pic not has face", §1.2 example), so its text covers both.
    "ERROR_CONTENT_NON_COMPLIANCE": ErrorInfo(
        _("AILabTools's content review refused this image or prompt."), retryable=False
    ),
    "FILE_CONTENT_NON_COMPLIANCE": ErrorInfo(
        _(
            "AILabTools says this image's content does not meet its requirements "
            "(for example no usable face, or it failed content review)."
        ),
        retryable=False,
    ),
    "ERROR_CONTENT_TOO_LONG": ErrorInfo(
        _("The prompt is too long for AILabTools. Shorten it (about 100 words at most)."),
        retryable=False,
    ),
    # 422: faces.
    "ERROR_NO_FACE_IN_FILE": _face(_("AILabTools found no face in the photo.")),
    "ERROR_FACE_COUNT_INVALID": _face(_("the photo has too many or too few faces.")),
    **_same(
        _face(_("the face is too small in the photo.")),
        "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS",
        "ERROR_FACE_SIZE_RATIO_NOT_MET",
        "ERROR_SMALL_FACE_SIZE",
    ),
    **_same(
        _face(_("the face is blurry, badly lit or of low quality.")),
        "ERROR_POOR_FACE_QUALITY",
        "ERROR_BLURRY_FACE",
        "ERROR_POOR_FACE_LIGHTING",
        "ERROR_QUALITY_SCORE_NOT_MEET_REQUIREMENTS",
        "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW",
    ),
    **_same(
        _face(_("part of the face is covered or cut off.")),
        "ERROR_OBSTRUCTED_FACE",
        "ERROR_INCOMPLETE_FACE",
        "ERROR_LEFT_EYE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_EYE_OCCLUSION_TOO_HIGH",
        "ERROR_LEFT_FACE_OCCLUSION_TOO_HIGH",
        "ERROR_RIGHT_FACE_OCCLUSION_TOO_HIGH",
        "ERROR_CHIN_OCCLUSION_TOO_HIGH",
        "ERROR_NOSE_OCCLUSION_TOO_HIGH",
        "ERROR_MOUTH_OCCLUSION_TOO_HIGH",
    ),
    "ERROR_FACE_NOT_FACING_FORWARD": _face(_("the face is turned away from the camera.")),
    "ERROR_CARTOON_FACE_NOT_SUPPORTED": _face(_("drawn or cartoon faces are not supported.")),
    **_same(
        _face(_("AILabTools could not recognise the face.")),
        "ERROR_FACE_UNRECOGNIZABLE",
        "ERROR_FACE_COPY_SCENE_MISMATCH",
        "ERROR_SCENE_TYPE_MISMATCH",
        "ERROR_ACTION_VERIFICATION_FAILED",
        "ERROR_SYNTHESIS_DETECTION_FAILED",
        "ERROR_LIVENESS_DETECTION_FAILED",
        "ERROR_NO_RECOGNITION_TARGET_DETECTED",
        "ERROR_POSE_NOT_ENOUGH_KEYPOINTS",
    ),
    # 429: credits are not a rate limit; waiting does not refill them.
    "ERROR_NOT_ENOUGH_CREDITS": ErrorInfo(
        _(
            "Your AILabTools account has run out of credits. Top up in the AILabTools developer "
            "console, then run the job again."
        ),
        retryable=False,
    ),
    "EXCEEDING_LIMITS": _RATE_LIMITED,
    "ERROR_BATCH_TASK_LIMIT_EXCEEDED": _RATE_LIMITED,  # too many tasks in flight: they drain
    # Face-database quotas do not drain by waiting (and none of our endpoints uses them).
    **_same(_ACCOUNT_LIMIT, "ERROR_FACE_TRACE_LIMIT_EXCEEDED", "ERROR_DATABASE_LIMIT_EXCEEDED"),
    # 500-504: transient on the vendor's side.
    **_same(
        _BUSY,
        "PROCESSING_FAILURE",
        "UNKNOWN_ERROR",
        "SERVICE_INTERNAL_ERROR",
        "ERROR_FILE_DOWNLOAD_FAILED",
        "ERROR_FILE_UPLOAD_FAILED",
        "ERROR_DATA_TRANSFER_FAILED",
        "ERROR_GET_FACE_IMAGE_FAILED",
        "ERROR_FACE_IMAGE_ADDITION_FAILED",
        "ERROR_FACE_BLENDING_FAILED",
        "FILE_SERVICE_ERROR",
        "AI_SERVICE_ERROR",
        "AI_SERVICE_INTERNAL_ERROR",
        "AI_SERVICE_UNAUTHORIZED",  # the vendor's own upstream credentials, not the user's key
        "AI_SERVICE_NOT_FOUND",
        "ERROR_GATEWAY",
        "ERROR_CLEANING_USER_GROUP_DATA",
        "ERROR_INSUFFICIENT_RESOURCES",
        "ERROR_RESOURCE_IN_TRANSIT",
        "ERROR_RESOURCE_UNAVAILABLE",
    ),
    "AI_SERVICE_FLOW_RESTRICTION": _RATE_LIMITED,  # 503: "upstream rate-limited"
    **_same(_SLOW, "ERROR_FILE_DOWNLOAD_TIMEOUT", "AI_SERVICE_TIMEOUT"),
    # The result would not fit in the vendor's answer: the same input gives the same result.
    "ERROR_RESPONSE_BODY_TOO_LARGE": ErrorInfo(
        _("AILabTools's result was too large to send back. Try a smaller photo or output size."),
        retryable=False,
    ),
    "ERROR_IMAGE_STORAGE_NOT_SUPPORTED": ErrorInfo(
        _("AILabTools cannot store results for this request."), retryable=False
    ),
}


def bad_response(what: str) -> VendorError:
    """An answer we could not read: a glitch on the vendor's side, so the call may be repeated."""
    return VendorError(
        gettext("%(vendor)s sent an answer we could not read (%(what)s).")
        % {"vendor": LABEL, "what": what},
        retryable=True,
        code=BAD_RESPONSE,
    )


def refuse(message: str | StrPromise, code: str) -> VendorError:
    """A request we will not send: nothing the vendor could do would make it succeed."""
    return VendorError(message, retryable=False, code=code)
