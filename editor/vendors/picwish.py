"""PicWish photo colorization: one blocking call, or an asynchronous task created by upload,
then polled.

Contract: vendor-contracts.md section 6 and vendor-docs/picwish-photo-colorization.txt.
Create ``POST {base}/api/tasks/visual/colorization`` (multipart ``image_file``, ``sync``,
``return_type=1``). With ``sync=1`` (``PICWISH_SYNC``, the default) PicWish answers when the
photo is done: one request a job. With ``sync=0`` it answers with a task id, then
``GET {base}/api/tasks/visual/colorization/{task_id}`` about once a second until ``data.state``
is 1 (done) or below 0 (failed). PicWish counts polls against the key's requests per second,
so the blocking call finishes about twice as many jobs per key (bench/pipeline.py measures
both). Success needs HTTP 200, a body ``status`` of 200 and ``state`` 1
(https://picwish.com/states). The key's requests per second are kept by the caller
(editor.pipeline, through the limiter), never here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from editor.images import ImageLimits
from editor.vendors.base import (
    BAD_RESPONSE,
    Done,
    Pending,
    ResultImage,
    VendorAdapter,
    VendorError,
    VendorRequest,
    decode_base64,
    read_int,
    read_json_object,
    read_number,
    read_object,
    read_text,
)
from editor.vendors.http import (
    Answer,
    CallKind,
    Origin,
    call,
    download_result,
    image_from_bytes,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

LABEL = "PicWish"
TASKS_PATH = "/api/tasks/visual/colorization"

# PicWish does not document where result images live. Its API hosts are *.aoscdn.com and its
# signed result links are object-storage URLs (the /qa page speaks of OSS signatures and
# AccessDenied XML), so we allow PicWish's own domains and Alibaba Cloud OSS. Anything else
# must be allowed explicitly with settings.VENDOR_RESULT_HOSTS.
RESULT_ORIGINS = (
    Origin.parse("https://*.aoscdn.com"),
    Origin.parse("https://*.picwish.com"),
    Origin.parse("https://*.aliyuncs.com"),
)

# The official examples and the picwish-skills client poll every second (contracts §6.8).
POLL_AFTER = 1.0
FORMATS = frozenset({"jpg", "jpeg", "png", "webp"})

# The colorization page (Guidelines and Limits #3) says "up to 4096 x 4096" and "up to 20MB",
# but the state table (https://picwish.com/states) fails a task with -5 above 15 MB, and the
# sibling PicWish APIs say 15 MB too (contracts §6.7). We aim for the stricter figure, counted
# in decimal megabytes so that either reading of "15 MB" is satisfied.
LIMITS = ImageLimits(
    formats=frozenset({"JPEG", "PNG", "WEBP"}),
    max_bytes=15 * 1000 * 1000,
    max_width=4096,
    max_height=4096,
    min_width=1,
    min_height=1,
    rgb_only=True,
)

# What a failed task (state < 0) tells the person, and whether a fresh submission may succeed.
# A failed task is final: polling it again never changes its state ("terminate polling when
# state == 1 or state < 0", picwish.com/qa), and the pipeline retries a poll by polling the same
# task again. So a failure seen while polling is never retryable. Only an answer to a submit
# can be retried (by submitting again), and only for failures on PicWish's side that say
# nothing about the photo: a timeout under load (-8), a failed fetch of the upload (-3; we never
# send image_url) and a failed store of the finished result (-2). Failed tasks cost no credit
# ("each successful call consumes 1 credit"). -7 and -5 are about the photo itself and -1 gives
# no reason, so repeating the same photo is not expected to help.
STATE_FAILURES: dict[int, tuple[StrPromise, bool]] = {
    -8: (
        gettext_lazy("PicWish ran out of time colorizing this photo (its limit is 30 seconds)."),
        True,
    ),
    -7: (
        gettext_lazy(
            "PicWish could not read this photo: the file is damaged or not a supported image."
        ),
        False,
    ),
    -5: (gettext_lazy("This photo is larger than PicWish accepts (up to 15 MB)."), False),
    -3: (gettext_lazy("PicWish could not fetch the uploaded photo on its side."), True),
    -2: (gettext_lazy("PicWish colorized the photo but could not store the result."), True),
    -1: (gettext_lazy("PicWish could not colorize this photo (the task failed)."), False),
}

_ESCAPED_CHARACTER = re.compile(r"\\u([0-9a-fA-F]{4})")
_LINK = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S*", re.IGNORECASE)


class PicWishAdapter(VendorAdapter):
    vendor = "picwish"
    label = LABEL
    operations = frozenset({"colorize"})
    poll_every = POLL_AFTER

    @classmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        if operation != "colorize" or role != "image":
            raise ValueError(f"PicWish has no input {role!r} for operation {operation!r}")
        return LIMITS

    def submit(self, request: VendorRequest) -> Done | Pending:
        if request.operation not in self.operations:
            raise VendorError(
                _("PicWish cannot run the operation %(operation)r.")
                % {"operation": request.operation},
                retryable=False,
                code="unsupported_operation",
            )
        image = request.files.get("image")
        if image is None:
            raise VendorError(
                _("PicWish needs a photo to colorize."), retryable=False, code="missing_image"
            )
        result_format = request.params.get("format", "jpg")
        if not isinstance(result_format, str) or result_format.lower() not in FORMATS:
            raise VendorError(
                _("PicWish can return the colorized photo only as JPEG, PNG or WebP."),
                retryable=False,
                code="bad_format",
            )
        sync = "1" if settings.PICWISH_SYNC else "0"
        answer = call(
            self._http(),
            "POST",
            self._base() + TASKS_PATH,
            # A blocking call holds the answer until the photo is done (at most 30 s, §6.7).
            kind=CallKind.PROCESS if settings.PICWISH_SYNC else CallKind.SUBMIT,
            vendor_label=LABEL,
            headers={"X-API-KEY": self._api_key},
            data={"sync": sync, "format": result_format.lower(), "return_type": "1"},
            files=[("image_file", (image.filename, image.data, image.media_type))],
        )
        data = self._payload(answer, polling=False)
        # The documented answer holds only data.task_id (the task is queued); a state in it
        # means PicWish already knows more.
        state = read_int(data.get("state"))
        return self._outcome(data, 0 if state is None else state, task_ref=None)

    def poll(self, task_ref: str) -> Done | Pending:
        if not task_ref.strip():
            raise VendorError(
                _("This job has no PicWish task to check."), retryable=False, code="no_task"
            )
        answer = call(
            self._http(),
            "GET",
            f"{self._base()}{TASKS_PATH}/{quote(task_ref.strip(), safe='')}",
            kind=CallKind.POLL,
            vendor_label=LABEL,
            headers={"X-API-KEY": self._api_key},
        )
        data = self._payload(answer, polling=True)
        state = read_int(data.get("state"))
        if state is None:
            raise _bad_response(_("PicWish sent a task status we could not read."))
        return self._outcome(data, state, task_ref=task_ref.strip())

    # --- Answers ---------------------------------------------------------------------------

    def _outcome(
        self, data: Mapping[str, object], state: int, *, task_ref: str | None
    ) -> Done | Pending:
        """One ``data`` object with a state. ``task_ref`` is None while answering a submit."""
        if state == 1:
            return Done(images=(self._result(data.get("image")),))
        if state < 0:
            raise _state_error(state, polling=task_ref is not None)
        # "greater than 1 means processing" (the colorization page): a state newer than the
        # documented 2, 3 and 4 is still work in progress, not a failure.
        if task_ref is None:
            task_id = read_text(data.get("task_id"))
            if not task_id:
                raise _bad_response(_("PicWish accepted the photo but sent no task id."))
            return Pending(
                task_ref=task_id,
                progress=_progress(data.get("progress")) or 0,
                poll_after=POLL_AFTER,
            )
        return Pending(
            task_ref=task_ref, progress=_progress(data.get("progress")), poll_after=POLL_AFTER
        )

    def _result(self, image: object) -> ResultImage:
        text = read_text(image)
        if not text:
            raise _bad_response(_("PicWish reported the photo as done but sent no result."))
        if text.lower().startswith(("https://", "http://")):
            # Some JSON serializers escape "&" twice, leaving the six characters \u0026 in the
            # signed URL; sent as is, the signature fails with a 403 (picwish.com/qa). A real
            # URL never holds a backslash, so every \uXXXX left in one is such an escape.
            url = _ESCAPED_CHARACTER.sub(lambda match: chr(int(match.group(1), 16)), text)
            return download_result(
                self._http(), url, vendor_origins=RESULT_ORIGINS, vendor_label=LABEL
            )
        data = decode_base64(text, url_safe=True)
        if data is None:
            raise VendorError(
                _("PicWish returned a result that is neither a link nor an image."),
                retryable=False,
                code="bad_result",
            )
        return image_from_bytes(data, LABEL)

    def _payload(self, answer: Answer, *, polling: bool) -> Mapping[str, object]:
        """The ``data`` object of a successful answer; any failure as a VendorError."""
        body = read_json_object(answer.body)
        detail = self._vendor_message(body)
        # The skills client checks both the HTTP status and the body's status (contracts §6.5).
        if answer.status != 200:
            raise _status_error(answer.status, detail, polling=polling)
        if body is None:
            raise _bad_response(_("PicWish sent an answer we could not read."))
        status = read_int(body.get("status"))
        if status is None:
            raise _bad_response(_("PicWish sent an answer without a status."))
        if status != 200:
            raise _status_error(status, detail, polling=polling)
        data = read_object(body.get("data"))
        if data is None:
            raise _bad_response(_("PicWish sent an answer without its data."))
        return data

    def _vendor_message(self, body: Mapping[str, object] | None) -> str:
        """PicWish's own message, made safe to show: no links, never the key, kept short."""
        message = body.get("message") if body is not None else None
        if not isinstance(message, str):
            return ""
        if self._api_key:
            message = message.replace(self._api_key, "••••")
        message = _LINK.sub("[link]", message)
        message = " ".join("".join(c if c.isprintable() else " " for c in message).split())
        return message[:200]

    # --- Plumbing --------------------------------------------------------------------------

    def _base(self) -> str:
        return (self._base_url or settings.PICWISH_BASE_URL).rstrip("/")


def _progress(value: object) -> int | None:
    number = read_number(value)
    return None if number is None else max(0, min(100, int(number)))


def _bad_response(message: str) -> VendorError:
    # A malformed answer is a glitch on PicWish's side: the same call usually works next time.
    return VendorError(message, retryable=True, code=BAD_RESPONSE)


def _state_error(state: int, *, polling: bool) -> VendorError:
    known = STATE_FAILURES.get(state)
    if known is None:
        text = _("PicWish could not colorize this photo (failure %(state)d).") % {"state": state}
        transient = False
    else:
        text, transient = str(known[0]), known[1]
    retryable = transient and not polling
    if transient and not retryable:
        text = _("%(reason)s This is usually temporary: run the job again.") % {"reason": text}
    return VendorError(text, retryable=retryable, code=f"state_{state}")


def _status_error(status: int, detail: str, *, polling: bool) -> VendorError:
    """Statuses from https://picwish.com/states (HTTP, and the same numbers in the body)."""
    if status == 400:
        message = (
            _("PicWish rejected the request: %(detail)s") % {"detail": detail}
            if detail
            else _("PicWish rejected the request (a parameter is wrong or missing).")
        )
        return VendorError(message, retryable=False, code="bad_request")
    if status == 401:
        return VendorError(
            _(
                "PicWish did not accept the API key: the key is wrong, or the photo colorization "
                "service is not enabled on the PicWish account."
            ),
            retryable=False,
            code="unauthorized",
        )
    if status == 404:
        if polling:
            return VendorError(
                _(
                    "PicWish does not know this colorization task: it is unknown or has expired "
                    "(PicWish keeps results for one hour)."
                ),
                retryable=False,
                code="task_not_found",
            )
        return VendorError(
            _("PicWish's colorization service was not found. Check PICWISH_BASE_URL."),
            retryable=False,
            code="not_found",
        )
    if status == 413:
        return VendorError(
            _("This photo is larger than PicWish accepts (up to 15 MB)."),
            retryable=False,
            code="too_large",
        )
    if status == 429:
        return VendorError(
            _("PicWish is limiting how fast this key may send requests."),
            retryable=True,
            code="rate_limited",
            retry_after=1.0,
            throttled=True,
        )
    if 500 <= status <= 599:
        return VendorError(
            _("PicWish had a server error (HTTP %(status)d).") % {"status": status},
            retryable=True,
            code=f"http_{status}",
        )
    return VendorError(
        (
            _("PicWish gave an unexpected answer (status %(status)d). It said: %(detail)s")
            if detail
            else _("PicWish gave an unexpected answer (status %(status)d).")
        )
        % {"status": status, "detail": detail},
        retryable=False,
        code=f"http_{status}",
    )
