"""AILabTools: photo retouch, image extender, facial expressions (classic and advanced), and the
HD color migration the vendor has retired.

Every fact below comes from the researched contract (``vendor-contracts.md``, cited as §n) and
the vendor's own pages (``vendor-docs/ailabtools-*.txt``, the ``ailabtools-tobias/ailabtools-docs``
Mintlify source and the ``ailabtools/ailabtools-sdk`` spec). We cannot reach the vendor, so this
module follows the written contract exactly and tolerates both envelope generations (§1.2).

Errors are keyed on the vendor's code *string*, never on the HTTP status: AILabTools moved about
50 codes between statuses on 2026-01-08 (§1.3).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from django.conf import settings

from editor.images import ImageLimits, extension_for
from editor.outbound import shared_client
from editor.vendors.base import (
    Done,
    InputImage,
    ParamValue,
    Pending,
    ResultImage,
    VendorAdapter,
    VendorError,
    VendorRequest,
)
from editor.vendors.http import (
    Answer,
    CallKind,
    Origin,
    call,
    download_result,
    image_from_bytes,
)

LABEL = "AILabTools"
DEFAULT_BASE_URL = "https://www.ailabapi.com"  # §1.1, openapi.json `servers`
API_KEY_HEADER = "ailabapi-api-key"  # §1.1, openapi.json securitySchemes.apiKeyAuth
POLL_SECONDS = 5.0  # §2.3 and §2.4: "query every 5 seconds"

RETOUCH_PATH = "/api/image/editing/photo-retouching"  # §3
EXTEND_PATH = "/api/image/editing/ai-image-extender"  # §4
EXPRESSION_PATH = "/api/portrait/effects/emotion-editor"  # §5
EXPRESSION_ADVANCED_PATH = "/api/portrait/effects/emotion-editor-advanced"  # §5, async
COLOR_MIGRATION_PATH = "/api/image/effects/image-hd-color-migration"  # §2, retired
ASYNC_RESULT_PATH = "/api/common/query-async-task-result"  # §2.4 (task_id contract)
LEGACY_RESULT_PATH = "/api/image/asyn-task-results"  # §2.3 (request_id contract)
LEGACY_TASK_TYPE = "HD_COLOUR_MIGRATION"  # §2.3, the `type` query value
CREDITS_PATH = "/api/common/query-credits"  # §1.5, the account's credit balances
UNIVERSAL_CREDITS = "common"  # §1.5: the `unique_sign` of the credits every API spends

# Where result images live is NOT documented: the docs only say result URLs are temporary and
# expire after 24 h (§1.4). These are the vendor's own domains (its doc assets are served from
# ai-resource.ailabtools.com) and Alibaba Cloud OSS, which color migration wraps (§2.1).
# Administrators add any other host with VENDOR_RESULT_HOSTS.
RESULT_ORIGINS: tuple[Origin, ...] = (
    Origin.parse("https://*.ailabapi.com"),
    Origin.parse("https://*.ailabtools.com"),
    Origin.parse("https://*.aliyuncs.com"),
)

# --- Expressions -----------------------------------------------------------------------------

# The classic editor's current `service_choice` values (§5, V1.1.0 / current page).
CLASSIC_EXPRESSIONS: dict[int, str] = {
    10: "Dimple smile",
    11: "Pear dimple smile",
    12: "Big grin",
    13: "Standard grin",
    14: "Cool pose",
    15: "Sad",
    16: "Forced smile",
    100: "Opening eyes",
}
# V1.0.0/V1.0.1 values that V1.1.0 removed (§5); the SDK's spec.json still lists them (stale).
REMOVED_EXPRESSIONS: dict[int, str] = {0: "Big laugh", 1: "Pouting", 2: "Feel sad", 3: "Smile"}

# The advanced editor's `expression` enum: 117 values, in the order of the SDK's generated
# parameter docs ("Allowed values: natural_smile, bright_laugh, …", ailabtools-sdk, Change Facial
# Expressions Advanced API). The same 117 appear, grouped by family, in ailabtools-docs
# docs/ai-portrait/effects/emotion-editor-advanced/api.mdx.
ADVANCED_EXPRESSIONS: tuple[str, ...] = (
    # Happy
    "natural_smile",
    "bright_laugh",
    "sweet_smile",
    "happy_surprise",
    "proud_smirk",
    "laughing_with_tears",
    "crazy_happy_face",
    "overjoyed_screaming_laugh",
    # Angry
    "slight_annoyance",
    "angry_stare",
    "gritted_teeth_anger",
    "furious_shout",
    "cold_glare",
    "cartoon_rage_face",
    "angry_puffed_cheeks",
    "villain_angry_smirk",
    # Sad
    "downcast_sadness",
    "wronged_near_tears",
    "tearful_sadness",
    "heartbroken_breakdown",
    "silent_grief",
    "big_crying_face",
    "puppy_eyes_sad",
    "fake_crying_funny",
    # Funny
    "tongue_out_playful",
    "wink_cute",
    "silly_face",
    "mischievous_smirk",
    "exaggerated_surprised_face",
    "cross_eyed_silly_face",
    "one_eye_squint_funny",
    "duck_face_funny",
    "crazy_tongue_face",
    # Surprised
    "slight_surprise",
    "shocked_open_mouth",
    "disbelief",
    "fearful_surprise",
    "jaw_drop_surprise",
    "cartoon_shocked_face",
    "speechless_shock",
    # Fearful
    "nervous_fear",
    "terrified_expression",
    "timid_withdrawal",
    "panic_breakdown",
    "screaming_fear_face",
    "frozen_in_fear",
    "panic_wide_eyes",
    # Disgusted
    "mild_dislike",
    "strong_aversion",
    "nauseated_disgust",
    "eye_roll_disgust",
    "extreme_disgust_face",
    "grossed_out_face",
    "dramatic_eye_roll",
    # Shy / embarrassed
    "shy_smile",
    "blushing_shyness",
    "awkward_forced_smile",
    "socially_embarrassed",
    "over_shy_blushing_face",
    "awkward_sweat_smile",
    "embarrassed_cover_mouth",
    # Confident / cool
    "confident_smile",
    "dominant_gaze",
    "cold_cool_expression",
    "victorious_pride",
    "super_confident_smirk",
    "bossy_cool_face",
    "winning_smug_face",
    # Confused / thinking
    "slight_confusion",
    "frowning_thought",
    "not_understanding",
    "suspicious_look",
    "confused_tilted_face",
    "what_are_you_doing_face",
    "brain_loading_face",
    # Tired / speechless
    "tired_blank_eyes",
    "helpless_expression",
    "awkward_silence",
    "sleepy_yawn",
    "dead_inside_face",
    "exhausted_melting_face",
    "speechless_blank_stare",
    # Charming
    "charming_smile",
    "flirty_eyebrow_raise",
    "soft_lip_bite",
    "dreamy_gaze",
    "playful_seductive_smirk",
    "wink_flirty_face",
    "dramatic_lip_bite",
    # Affectionate / intimate
    "gentle_gaze",
    "fond_smile",
    "sweet_pouting_affection",
    "deep_affectionate_gaze",
    "heart_eyes_expression",
    "overly_sweet_affection",
    "clingy_cute_pout",
    # Arrogant / contemptuous
    "cold_contempt",
    "sarcastic_sneer",
    "dismissive_pout",
    "in_control_expression",
    "extreme_smug_face",
    "mocking_laugh_face",
    "looking_down_contempt",
    # Cute
    "soft_cute_smile",
    "cute_pout",
    "innocent_big_eyes",
    "expectant_sparkling_eyes",
    "super_cute_pouting_face",
    "sparkling_eyes_cute",
    "baby_like_innocent_face",
    # Painful / enduring
    "frowning_in_pain",
    "holding_back_tears",
    "crying_breakdown",
    "repressed_exhaustion",
    "dramatic_pain_face",
    "holding_back_scream",
    "overwhelmed_breakdown_face",
)
# The vendor may add values before this list learns them: anything shaped like its snake_case
# enum goes through and the vendor judges it (UNSUPPORTED_PARAMETER_VALUES if it disagrees).
EXPRESSION_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,63}")

# --- Costs and limits ------------------------------------------------------------------------

CREDITS: dict[str, int] = {  # §1.5, the intro pages' creditsPerRequest
    "retouch": 3,
    "extend": 25,
    "expression": 12,
    "expression_advanced": 15,
    "color_migration": 4,
}

# "No more than N MB" is read as decimal megabytes: the smaller reading, so a file we send fits
# whichever one the vendor means. Pixel bounds are strict in the docs ("larger than 32x32,
# smaller than 3000x3000"), so the inclusive bounds here sit one pixel inside them.
_MB = 1_000_000
_JPEG_PNG = frozenset({"JPEG", "PNG"})
_RETOUCH = ImageLimits(_JPEG_PNG, 3 * _MB, 2999, 2999, 33, 33)  # §3
_EXTEND = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095, 65, 65)  # §4
# The mask is made by images.fit_mask (grayscale PNG at the photo's size); same file limits as
# the photo, but it must stay single-channel.
_EXTEND_MASK = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095, 65, 65, rgb_only=False)
_EXPRESSION = ImageLimits(_JPEG_PNG, 5 * _MB, 4095, 4095)  # §5: "less than 4096x4096"
_EXPRESSION_ADVANCED = ImageLimits(frozenset({"JPEG", "PNG", "WEBP"}), 10 * _MB, 4095, 4095)
# §2.2: PNG/JPG/JPEG, ≤3 MB, >64x64 and <10000x10000, "RGB 3-channel". `ref`: same [I].
_COLOR_MIGRATION = ImageLimits(_JPEG_PNG, 3 * _MB, 9999, 9999, 65, 65, rgb_only=True)

LIMITS: dict[tuple[str, str], ImageLimits] = {
    ("retouch", "image"): _RETOUCH,
    ("retouch", "style"): _RETOUCH,  # §3: the limits apply to both files [I]
    ("extend", "image"): _EXTEND,
    ("extend", "mask"): _EXTEND_MASK,
    ("expression", "image"): _EXPRESSION,
    ("expression_advanced", "image"): _EXPRESSION_ADVANCED,
    ("color_migration", "image"): _COLOR_MIGRATION,
    ("color_migration", "ref"): _COLOR_MIGRATION,
}

# --- Credit balances ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditPool:
    """One row of the credit query's ``data[]`` (§1.5): a kind of credits and what is left."""

    unique_sign: str  # "common" for the universal credits
    name: str
    balance: int
    total: int | None = None


@dataclass(frozen=True)
class CreditBalance:
    """Every credit pool of the account behind a key."""

    pools: tuple[CreditPool, ...]

    @property
    def universal(self) -> CreditPool | None:
        """The universal credits (``unique_sign`` "common"), which every operation here spends;
        None when the account has none on record."""
        return next((pool for pool in self.pools if pool.unique_sign == UNIVERSAL_CREDITS), None)


# --- Errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorInfo:
    """What we tell a person about one vendor code, and whether the same call may succeed."""

    message: str
    retryable: bool
    retry_after: float | None = None


def _same(info: ErrorInfo, *codes: str) -> dict[str, ErrorInfo]:
    return dict.fromkeys(codes, info)


def _face(problem: str) -> ErrorInfo:
    return ErrorInfo(
        f"No usable face found: {problem} Use a clear, well-lit photo of one face looking at "
        "the camera, with nothing covering it.",
        retryable=False,
    )


_PARAMETERS = ErrorInfo(
    "AILabTools did not accept this job's settings. Check them and run the job again.",
    retryable=False,
)
_BAD_KEY = ErrorInfo(
    "AILabTools did not accept your API key. Check the AILabTools key saved in your vault.",
    retryable=False,
)
_BAD_FILE = ErrorInfo(
    "AILabTools could not read this image. Try another JPEG or PNG file.", retryable=False
)
_NOT_FOUND = ErrorInfo(
    "AILabTools no longer has what this job refers to (its records expire). Run the job again.",
    retryable=False,
)
_TASK_STOPPED = ErrorInfo(
    "AILabTools stopped or withdrew this task. Run the job again.", retryable=False
)
_ACCOUNT_LIMIT = ErrorInfo(
    "Your AILabTools account has reached a storage limit for this kind of request.",
    retryable=False,
)
# The SDK (docs/best-practices.md) retries 429 and transient 5xx with backoff from ~1 s; no
# QPS number is documented (§1.1), so a short fixed hint is as good as any.
_RATE_LIMITED = ErrorInfo(
    "AILabTools is limiting how many requests arrive at once.",
    retryable=True,
    retry_after=5.0,
)
_BUSY = ErrorInfo("AILabTools is having a temporary problem.", retryable=True)
_SLOW = ErrorInfo(
    "AILabTools timed out while working on this image.",
    retryable=True,
)
_RETIRED = ErrorInfo(
    "AILabTools has retired or deactivated this tool; it no longer answers requests.",
    retryable=False,
)
RETIRED_COLOR_MIGRATION = (
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
        "The mask must have exactly the same width and height as the photo. "
        "Draw the mask again on this photo.",
        retryable=False,
    ),
    # 401: "a wrong or unknown API key shows up here" (§1.3).
    **_same(_BAD_KEY, "ERROR_USER_NOT_EXISTS", "ERROR_APPLICATIONS_NOT_EXISTS"),
    # 403
    "ERROR_USER_LOCKED": ErrorInfo(
        "Your AILabTools account is locked. Contact AILabTools support.", retryable=False
    ),
    "ERROR_ILLEGAL_OPERATION": ErrorInfo(
        "AILabTools refused this operation for your account. Contact AILabTools support.",
        retryable=False,
    ),
    # 404: "AI does not exist or has been deactivated": the code a retired endpoint answers.
    "ERROR_AI_NOT_EXISTS": _RETIRED,
    **_same(
        _NOT_FOUND,
        "ERROR_FILE_NOT_FOUND",
        "ERROR_USER_GROUP_NOT_FOUND",
        "ERROR_USER_NOT_FOUND",
        "ERROR_FACE_TOKEN_NOT_FOUND",
        "ERROR_CONTENT_NOT_FOUND",
        "ERROR_RESOURCE_NOT_FOUND",
    ),
    "ERROR_FACE_NOT_FOUND": _face("AILabTools found no face in the photo."),
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
        "The image is larger (in bytes) than AILabTools accepts for this tool.", retryable=False
    ),
    "ERROR_REQUEST_BODY_TOO_LARGE": ErrorInfo(
        "The upload is larger than AILabTools accepts for this tool.", retryable=False
    ),
    "ERROR_TOO_MANY_FILES": _PARAMETERS,
    "ERROR_INCORRECT_FILE_COUNT": _PARAMETERS,
    **_same(
        ErrorInfo(
            "The image has more pixels than AILabTools accepts for this tool.", retryable=False
        ),
        "FILE_RESOLUTION_EXCEEDS_LIMITS",
        "ERROR_HIGH_RESOLUTION",
    ),
    "ERROR_LOW_RESOLUTION": ErrorInfo(
        "The image is too small for AILabTools. Use a larger photo.", retryable=False
    ),
    "UNSUPPORTED_FILE_TYPES": ErrorInfo(
        "AILabTools does not accept this file type for this tool.", retryable=False
    ),
    "ERROR_UNSUPPORTED_GRAYSCALE_IMAGE": ErrorInfo(
        "AILabTools does not accept black-and-white (grayscale) images for this tool.",
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
        "AILabTools's content review refused this image or prompt.", retryable=False
    ),
    "FILE_CONTENT_NON_COMPLIANCE": ErrorInfo(
        "AILabTools says this image's content does not meet its requirements "
        "(for example no usable face, or it failed content review).",
        retryable=False,
    ),
    "ERROR_CONTENT_TOO_LONG": ErrorInfo(
        "The prompt is too long for AILabTools. Shorten it (about 100 words at most).",
        retryable=False,
    ),
    # 422: faces.
    "ERROR_NO_FACE_IN_FILE": _face("AILabTools found no face in the photo."),
    "ERROR_FACE_COUNT_INVALID": _face("the photo has too many or too few faces."),
    **_same(
        _face("the face is too small in the photo."),
        "ERROR_FACE_SIZE_NOT_MEET_REQUIREMENTS",
        "ERROR_FACE_SIZE_RATIO_NOT_MET",
        "ERROR_SMALL_FACE_SIZE",
    ),
    **_same(
        _face("the face is blurry, badly lit or of low quality."),
        "ERROR_POOR_FACE_QUALITY",
        "ERROR_BLURRY_FACE",
        "ERROR_POOR_FACE_LIGHTING",
        "ERROR_QUALITY_SCORE_NOT_MEET_REQUIREMENTS",
        "ERROR_TEMPLATE_IMAGE_QUALITY_TOO_LOW",
    ),
    **_same(
        _face("part of the face is covered or cut off."),
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
    "ERROR_FACE_NOT_FACING_FORWARD": _face("the face is turned away from the camera."),
    "ERROR_CARTOON_FACE_NOT_SUPPORTED": _face("drawn or cartoon faces are not supported."),
    **_same(
        _face("AILabTools could not recognise the face."),
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
        "Your AILabTools account has run out of credits. Top up in the AILabTools developer "
        "console, then run the job again.",
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
        "AILabTools's result was too large to send back. Try a smaller photo or output size.",
        retryable=False,
    ),
    "ERROR_IMAGE_STORAGE_NOT_SUPPORTED": ErrorInfo(
        "AILabTools cannot store results for this request.", retryable=False
    ),
}

# Wording of the retirement notices (§2.1): "permanently discontinued", "no longer available",
# "deprecate", and ERROR_AI_NOT_EXISTS's "has been deactivated". Only consulted for codes we do
# not know, so a known transient code is never mistaken for a retirement.
_RETIRED_WORDS = re.compile(
    r"retire|deactivat|offline|discontinu|deprecat|no longer (?:available|supported)",
    re.IGNORECASE,
)
_DATA_URL = re.compile(r"data:[^,]*;base64,", re.IGNORECASE)
_HEX_COLOR = re.compile(r"[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?")  # RGB, or ARGB as §2.2 says
_TEXT_LIMIT = 200

# `task_status` of the async query (§2.4): 0 queued, 1 processing, 2 done; the SDK's waitForTask
# treats 3 as failed and the contract recommends treating anything else as terminal failure.
_ASYNC_PENDING = {0: 10, 1: 50}
_ASYNC_DONE = 2
# `data.status` of the legacy query (§2.3).
_LEGACY_PENDING = {"QUEUING": 10, "PROCESSING": 50}
_LEGACY_DONE = "PROCESS_SUCCESS"
# Terminal failures. None is retryable: a retryable poll error makes the pipeline poll the same
# task ref again, and a task record in one of these states stays in it (until it expires after
# 30 minutes), so repeating the poll cannot succeed. The person can run the job again.
_LEGACY_FAILED = {
    "PROCESS_FAILED": "AILabTools could not recolor this photo.",
    "TIMEOUT_FAILED": "AILabTools timed out recoloring this photo.",
    "LIMIT_RETRY_FAILED": "AILabTools gave up recoloring this photo after several attempts.",
}


def _bad_response(what: str) -> VendorError:
    return VendorError(
        f"{LABEL} sent an answer we could not read ({what}).",
        retryable=True,
        code="bad_response",
    )


def _refuse(message: str, code: str) -> VendorError:
    """A request we will not send: nothing the vendor could do would make it succeed."""
    return VendorError(message, retryable=False, code=code)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _object(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _integer(value: object) -> int | None:
    """An integer from JSON or multipart text; never a bool or a fractional float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _form_value(value: ParamValue) -> str:
    """One parameter as multipart text: ``0.1`` not ``1e-01``, ``7`` not ``7.0``.

    ``scale`` is a float in the docs but an integer in openapi.json (§4); a whole number
    written without a decimal point parses as either.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, tuple):
        return ",".join(item.strip() for item in value)
    return value.strip()


def _decode_base64(text: str) -> bytes:
    """Base64 image text, with or without a ``data:image/...;base64,`` prefix (§5: real clients
    prefix it; the docs do not say which form the vendor sends)."""
    payload = _DATA_URL.sub("", text.strip(), count=1)
    payload = "".join(payload.split())
    if not payload:
        raise _bad_response("an empty image")
    payload += "=" * (-len(payload) % 4)
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII
        raise _bad_response("an image that is not valid base64") from None


def _upload(field: str, image: InputImage) -> tuple[str, tuple[str, bytes, str]]:
    # Our own file name: the vendor may read the extension, and the person's name stays here.
    return field, (f"{field}.{extension_for(image.media_type)}", image.data, image.media_type)


def _ended_failed(raw: bytes) -> bool:
    """Whether an async query answer says its task ended and did not succeed."""
    try:
        body = json.loads(raw)
    except ValueError:
        return False
    status = _integer(body.get("task_status")) if isinstance(body, dict) else None
    return status is not None and status not in (*_ASYNC_PENDING, _ASYNC_DONE)


class AILabToolsAdapter(VendorAdapter):
    vendor: ClassVar[str] = "ailabtools"
    label: ClassVar[str] = LABEL
    operations: ClassVar[frozenset[str]] = frozenset(CREDITS)

    # --- Declarations -----------------------------------------------------------------------

    @classmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        try:
            return LIMITS[(operation, role)]
        except KeyError:
            raise KeyError(f"AILabTools has no {role!r} input for {operation!r}") from None

    @classmethod
    def credits(cls, operation: str) -> int:
        return CREDITS[operation]

    # --- Submit -----------------------------------------------------------------------------

    def submit(self, request: VendorRequest) -> Done | Pending:
        if request.operation == "retouch":
            return self._retouch(request)
        if request.operation == "extend":
            return self._extend(request)
        if request.operation == "expression":
            return self._expression(request)
        if request.operation == "expression_advanced":
            return self._expression_advanced(request)
        if request.operation == "color_migration":
            return self._color_migration(request)
        raise _refuse(f"{LABEL} does not run {request.operation!r}.", "unsupported_operation")

    def _retouch(self, request: VendorRequest) -> Done:
        # §3: synchronous; files `image` (content) and `style` (reference); result data.image_url
        # is a temporary URL valid 24 h.
        body = self._post(
            RETOUCH_PATH,
            kind=CallKind.PROCESS,
            files=[
                _upload("image", self._file(request, "image")),
                _upload("style", self._file(request, "style")),
            ],
            data={},
            operation=request.operation,
        )
        url = _text(self._data(body).get("image_url"))
        if not url:
            raise _bad_response("no result image link")
        return Done((self._download(url),))

    def _extend(self, request: VendorRequest) -> Done:
        # §4: synchronous diffusion (minutes, hence PROCESS). Two modes: side ratios, or a mask
        # at the photo's resolution. With a mask we send no ratios, so the vendor cannot mix them.
        files = [_upload("image", self._file(request, "image"))]
        names = ["custom_prompt", "steps", "strength", "scale", "seed", "max_width", "max_height"]
        mask = request.files.get("mask")
        if mask is not None:
            files.append(_upload("mask", mask))
        else:
            for side in ("top", "bottom", "left", "right"):
                if side in request.params:
                    ratio = _number(request.params[side])
                    if ratio is None or not 0.0 <= ratio <= 1.0:
                        raise _refuse(
                            f"The {side} extension must be a number from 0 to 1.",
                            "invalid_parameter",
                        )
            names = ["top", "bottom", "left", "right", *names]
        # Only what the job carries: every one of these has a vendor default (§4).
        sent = {name: _form_value(request.params[name]) for name in names if name in request.params}
        data = {name: value for name, value in sent.items() if value}
        body = self._post(
            EXTEND_PATH,
            kind=CallKind.PROCESS,
            files=files,
            data=data,
            operation=request.operation,
        )
        # "Output the processed image as a Base64 array (single image)"; format not stated, so
        # image_from_bytes sniffs it.
        images = self._data(body).get("binary_data_base64")
        if not isinstance(images, list) or not images or not isinstance(images[0], str):
            raise _bad_response("no result image")
        return Done((image_from_bytes(_decode_base64(images[0]), LABEL),))

    def _expression(self, request: VendorRequest) -> Done:
        # §5: synchronous; file field `image_target`; `service_choice` as multipart text.
        raw = request.params.get("service_choice")
        choice = _integer(raw)
        current = ", ".join(f"{name} ({value})" for value, name in CLASSIC_EXPRESSIONS.items())
        if choice in REMOVED_EXPRESSIONS:
            # V1.1.0 removed 0-3 (§5). Refuse before spending a call on a certain rejection.
            raise _refuse(
                f"AILabTools removed the expression “{REMOVED_EXPRESSIONS[choice]}” ({choice}) "
                f"from its classic expression editor. Choose one of: {current}.",
                "expression_removed",
            )
        if choice not in CLASSIC_EXPRESSIONS:
            raise _refuse(
                f"AILabTools's classic expression editor has no expression {raw!r}. "
                f"Choose one of: {current}.",
                "invalid_parameter",
            )
        body = self._post(
            EXPRESSION_PATH,
            kind=CallKind.PROCESS,
            files=[_upload("image_target", self._file(request, "image"))],
            data={"service_choice": str(choice)},
            operation=request.operation,
        )
        image = self._data(body).get("image")
        if not isinstance(image, str):
            raise _bad_response("no result image")
        return Done((image_from_bytes(_decode_base64(image), LABEL),))

    def _expression_advanced(self, request: VendorRequest) -> Pending:
        # §5: asynchronous; file `image`, text `expression`; answers a task_id for the common
        # async query, whose result is data.result_urls[].
        expression = request.params.get("expression")
        if not isinstance(expression, str) or not EXPRESSION_PATTERN.fullmatch(expression):
            raise _refuse(
                "Choose an expression from the list (for example natural_smile).",
                "invalid_parameter",
            )
        body = self._post(
            EXPRESSION_ADVANCED_PATH,
            kind=CallKind.SUBMIT,
            files=[_upload("image", self._file(request, "image"))],
            data={"expression": expression},
            operation=request.operation,
        )
        task_id = self._task_id(body)
        if not task_id:
            raise _bad_response("no task id")
        return Pending(task_ref=f"async:{task_id}", poll_after=POLL_SECONDS)

    def _color_migration(self, request: VendorRequest) -> Done | Pending:
        # §2.2 fields. `task_type=async` belongs to contract B and is harmless to contract A.
        mode = _text(request.params.get("mode")).upper()
        if mode not in {"AUTO", "TEMPLATE", "REF_PIC"}:
            raise _refuse("Choose a color migration mode.", "invalid_parameter")
        degree = _number(request.params.get("degree"))
        if degree is None or not 0.0 <= degree <= 1.0:
            raise _refuse("The strength must be a number from 0 to 1.", "invalid_parameter")
        data = {"task_type": "async", "mode": mode, "degree": _form_value(degree)}
        files = [_upload("image", self._file(request, "image"))]
        if mode == "AUTO" and "color_count" in request.params:
            count = _integer(request.params["color_count"])
            if count is None or not 1 <= count <= 8:
                raise _refuse("Choose 1 to 8 color families.", "invalid_parameter")
            data["color_count"] = str(count)
        elif mode == "TEMPLATE":
            data["color_template"] = self._palette(request.params.get("color_template"))
        elif mode == "REF_PIC":
            files.append(_upload("ref", self._file(request, "ref")))
        body = self._post(
            COLOR_MIGRATION_PATH,
            kind=CallKind.SUBMIT,
            files=files,
            data=data,
            operation=request.operation,
        )
        # Contract A (v1.0.0) may already hold the result "in synchronous state".
        data_field = _object(body.get("data"))
        if data_field is not None:
            urls = data_field.get("image_list")
            if isinstance(urls, list) and urls:
                return Done(self._download_all(urls))
        # Contract B (v1.1.0 / last current page): a task_id for the common async query.
        task_id = self._task_id(body)
        if task_id:
            return Pending(task_ref=f"async:{task_id}", poll_after=POLL_SECONDS)
        # Contract A: keep request_id and query the legacy endpoint with it as job_id.
        request_id = _text(body.get("request_id"))
        if request_id:
            return Pending(task_ref=f"legacy:{request_id}", poll_after=POLL_SECONDS)
        raise _bad_response("neither a result nor a task id")

    @staticmethod
    def _palette(value: object) -> str:
        # §2.2: comma-separated hex, 1-7 entries, e.g. `056A6B,0A0B0C`; the intro page's
        # example carries '#', the API page's does not, so we send it without.
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, tuple | list):
            items = ()
        colors = [item.strip().lstrip("#") for item in items if isinstance(item, str)]
        colors = [color for color in colors if color]
        if not 1 <= len(colors) <= 7 or not all(_HEX_COLOR.fullmatch(c) for c in colors):
            raise _refuse(
                "The palette needs 1 to 7 colors written as hex, such as DB0D0D.",
                "invalid_parameter",
            )
        return ",".join(color.upper() for color in colors)

    # --- Credits ----------------------------------------------------------------------------

    def query_credits(self) -> CreditBalance:
        """The account's remaining credits (§1.5): ``GET /api/common/query-credits`` with the
        key header; the answer's ``data[]`` lists each pool's ``unique_sign``, ``name``,
        ``balance`` and ``total``. Errors come back as ``VendorError`` like any call's."""
        answer = self._call("GET", CREDITS_PATH, kind=CallKind.POLL)
        body = self._envelope(answer, retired_context=None)
        rows = body.get("data")
        if isinstance(rows, dict):  # one pool, not wrapped in a list
            rows = [rows]
        if not isinstance(rows, list):
            raise _bad_response("no credit list")
        pools: list[CreditPool] = []
        for row in rows:
            pool = _object(row) or {}
            sign = _text(pool.get("unique_sign"))
            balance = _number(pool.get("balance"))
            if not sign or balance is None:
                continue
            total = _number(pool.get("total"))
            pools.append(
                CreditPool(
                    unique_sign=sign,
                    name=_text(pool.get("name")),
                    balance=max(0, int(balance)),
                    total=max(0, int(total)) if total is not None else None,
                )
            )
        if rows and not pools:
            raise _bad_response("a credit list without balances")
        return CreditBalance(tuple(pools))

    # --- Poll -------------------------------------------------------------------------------

    def poll(self, task_ref: str) -> Done | Pending:
        kind, _, task_id = task_ref.partition(":")
        if kind == "async" and task_id:
            return self._poll_async(task_ref, task_id)
        if kind == "legacy" and task_id:
            return self._poll_legacy(task_ref, task_id)
        raise _refuse(f"{LABEL} cannot resume this job (unknown task reference).", "bad_task_ref")

    def _poll_async(self, task_ref: str, task_id: str) -> Done | Pending:
        # §2.4: GET with the task_id; results stay 24 h.
        answer = self._call(
            "GET", ASYNC_RESULT_PATH, kind=CallKind.POLL, params={"task_id": task_id}
        )
        try:
            body = self._envelope(answer, retired_context=None)
        except VendorError as error:
            # A task that ended failed (the SDK's task_status 3) stays failed: polling the same
            # task again cannot help, whatever the code says about the service.
            # The code's own text ("a temporary problem") would promise a wait that never
            # comes, so the person is told the task failed and what to do.
            if error.retryable and _ended_failed(answer.body):
                raise VendorError(
                    f"{LABEL} could not finish this task. Run the job again.",
                    retryable=False,
                    code=error.code,
                ) from None
            raise
        raw_status = body.get("task_status")
        if raw_status is None:  # documented at the top level; tolerate it inside data
            raw_status = (_object(body.get("data")) or {}).get("task_status")
        status = _integer(raw_status)
        if status is None:
            raise _bad_response("no task status")
        if status in _ASYNC_PENDING:
            return Pending(task_ref, progress=_ASYNC_PENDING[status], poll_after=POLL_SECONDS)
        if status != _ASYNC_DONE:
            raise VendorError(
                f"{LABEL} could not finish this task. Run the job again.",
                retryable=False,
                code="task_failed",
            )
        # `data` holds image_list[] for color migration and result_urls[] for the advanced
        # expression editor.
        data = self._data(body)
        for key in ("image_list", "result_urls"):
            urls = data.get(key)
            if isinstance(urls, list) and urls:
                return Done(self._download_all(urls))
        raise _bad_response("a finished task without result links")

    def _poll_legacy(self, task_ref: str, job_id: str) -> Done | Pending:
        # §2.3: only HD color migration uses this contract here. Task records live 30 minutes;
        # an expired one comes back as a vendor error code and is mapped like any other.
        answer = self._call(
            "GET",
            LEGACY_RESULT_PATH,
            kind=CallKind.POLL,
            params={"job_id": job_id, "type": LEGACY_TASK_TYPE},
        )
        body = self._envelope(answer, retired_context="color_migration")
        data = self._data(body)
        status = _text(data.get("status"))
        if status in _LEGACY_PENDING:
            return Pending(task_ref, progress=_LEGACY_PENDING[status], poll_after=POLL_SECONDS)
        if status in _LEGACY_FAILED:
            raise VendorError(
                f"{_LEGACY_FAILED[status]} Run the job again, or choose the built-in engine.",
                retryable=False,
                code=status,
            )
        if status != _LEGACY_DONE:
            raise _bad_response("an unknown task status")
        urls = data.get("image_list")
        if not isinstance(urls, list) or not urls:
            raise _bad_response("a finished task without result links")
        return Done(self._download_all(urls))

    # --- HTTP and envelopes -----------------------------------------------------------------

    def _http(self) -> httpx.Client:
        return self._client or shared_client()

    def _call(
        self,
        method: str,
        path: str,
        *,
        kind: CallKind,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> Answer:
        # Read at call time so a stand-in (the sandbox, a recording proxy) can be configured.
        base = self._base_url or str(
            getattr(settings, "AILABTOOLS_BASE_URL", DEFAULT_BASE_URL)
        ).rstrip("/")
        return call(
            self._http(),
            method,
            f"{base}{path}",
            kind=kind,
            vendor_label=LABEL,
            headers={API_KEY_HEADER: self._api_key},
            params=params,
            data=data,
            files=files,
        )

    def _post(
        self,
        path: str,
        *,
        kind: CallKind,
        files: list[tuple[str, tuple[str, bytes, str]]],
        data: dict[str, str],
        operation: str,
    ) -> dict[str, Any]:
        # §1.1: every endpoint here is multipart/form-data; text fields ride beside the files.
        answer = self._call("POST", path, kind=kind, data=data, files=files)
        return self._envelope(answer, retired_context=operation)

    def _envelope(self, answer: Answer, *, retired_context: str | None) -> dict[str, Any]:
        """The JSON body when the public fields say success, else the mapped ``VendorError``.

        §1.2, both generations: failed if HTTP != 200, or ``error_code`` present and != 0, or
        ``error_detail.code`` non-empty, or ``error_code_str`` non-empty.
        """
        try:
            body = _object(json.loads(answer.body))
        except (ValueError, UnicodeDecodeError):
            body = None
        if body is None:
            if answer.status == 200:
                raise _bad_response("not a JSON object")
            raise self._error("", answer, "", retired_context)
        detail = _object(body.get("error_detail")) or {}
        code = _text(detail.get("code")) or _text(body.get("error_code_str"))
        error_code = body.get("error_code")
        numeric = _integer(error_code)
        legacy_failed = error_code not in (None, "") and numeric != 0
        if answer.status == 200 and not code and not legacy_failed:
            return body
        # Where the vendor explains itself, in the contract's order.
        vendor_text = next(
            (
                text
                for text in (
                    _text(detail.get("message")),
                    _text(detail.get("code_message")),
                    _text(body.get("error_msg")),
                    _text(body.get("error_code_str")),
                )
                if text
            ),
            "",
        )
        # Legacy `error_code` equals the HTTP status, so it is the hint when HTTP says 200.
        hint = answer.status if answer.status != 200 else (numeric or 0)
        raise self._error(code, answer, vendor_text, retired_context, status=hint)

    def _error(
        self,
        code: str,
        answer: Answer,
        vendor_text: str,
        retired_context: str | None,
        *,
        status: int | None = None,
    ) -> VendorError:
        status = answer.status if status is None else status
        known = ERRORS.get(code)
        retired = (
            code == "ERROR_AI_NOT_EXISTS"
            or (known is None and bool(_RETIRED_WORDS.search(vendor_text)))
            # A bare 404/410 from the retired endpoint: its route is gone.
            or (not code and status in {404, 410} and retired_context == "color_migration")
        )
        if retired:
            message = (
                RETIRED_COLOR_MIGRATION
                if retired_context == "color_migration"
                else _RETIRED.message
            )
            return VendorError(message, retryable=False, code=code or "retired")
        suffix = self._vendor_detail(vendor_text, code)
        if known is not None:
            retry_after = known.retry_after
            if known.retryable:
                retry_after = self._retry_after(answer) or retry_after
            return VendorError(
                known.message + suffix,
                retryable=known.retryable,
                code=code,
                retry_after=retry_after,
            )
        # A code we do not know (or none): the HTTP status is the only hint left.
        retryable = status == 429 or status >= 500
        name = code or f"HTTP {status}"
        if retryable:
            message = f"{LABEL} had a temporary problem ({name})."
        else:
            message = f"{LABEL} refused the request ({name})."
        return VendorError(
            message + suffix,
            retryable=retryable,
            code=code or f"http_{status}",
            retry_after=self._retry_after(answer) if retryable else None,
        )

    def _vendor_detail(self, text: str, code: str) -> str:
        """The vendor's own words, when they add something and cannot leak a link or the key."""
        text = " ".join(text.split())[:_TEXT_LIMIT]
        lowered = text.lower()
        if (
            not text
            or text == code
            or "://" in text
            or "www." in lowered
            or (self._api_key and self._api_key.lower() in lowered)
        ):
            return ""
        return f" ({LABEL} said: {text})"

    @staticmethod
    def _retry_after(answer: Answer) -> float | None:
        value = answer.headers.get("Retry-After", "")
        return float(value) if value.isdigit() and 0 < int(value) <= 600 else None

    # --- Small readers ----------------------------------------------------------------------

    @staticmethod
    def _data(body: Mapping[str, Any]) -> dict[str, Any]:
        data = _object(body.get("data"))
        if data is None:
            raise _bad_response("no data")
        return data

    @staticmethod
    def _task_id(body: Mapping[str, Any]) -> str:
        # Documented at the top level; the SDK also looks in data (`task.task_id ||
        # task.data?.task_id`, docs/tutorials/async-task-polling.md).
        raw = body.get("task_id")
        if raw is None:
            raw = (_object(body.get("data")) or {}).get("task_id")
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        return _text(raw)

    @staticmethod
    def _file(request: VendorRequest, role: str) -> InputImage:
        image = request.files.get(role)
        if image is None:
            raise _refuse(f"This job is missing its {role} file.", "missing_file")
        return image

    def _download(self, url: str) -> ResultImage:
        return download_result(self._http(), url, vendor_origins=RESULT_ORIGINS, vendor_label=LABEL)

    def _download_all(self, urls: list[Any]) -> tuple[ResultImage, ...]:
        # AUTO color migration gives one image per color family (§2.2: color_count).
        if not all(isinstance(url, str) and url.strip() for url in urls):
            raise _bad_response("a result link that is not text")
        return tuple(self._download(url.strip()) for url in urls)
