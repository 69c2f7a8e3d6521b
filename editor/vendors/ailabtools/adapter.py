"""The AILabTools adapter: requests built from the studio's parameters, the two envelope
generations of its answers read (§1.2), and synchronous results or asynchronous tasks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from editor.images import ImageLimits, extension_for
from editor.vendors.ailabtools.contract import (
    API_KEY_HEADER,
    ASYNC_RESULT_PATH,
    COLOR_MIGRATION_PATH,
    CREDITS_PATH,
    EXPRESSION_ADVANCED_PATH,
    EXPRESSION_PATH,
    EXTEND_PATH,
    LABEL,
    LEGACY_RESULT_PATH,
    LEGACY_TASK_TYPE,
    LIMITS,
    POLL_SECONDS,
    RESULT_ORIGINS,
    RETOUCH_PATH,
)
from editor.vendors.ailabtools.credits import CreditBalance
from editor.vendors.ailabtools.errors import (
    ERRORS,
    RETIRED,
    RETIRED_COLOR_MIGRATION,
    bad_response,
    refuse,
)
from editor.vendors.ailabtools.expressions import (
    CLASSIC_EXPRESSIONS,
    EXPRESSION_PATTERN,
    REMOVED_EXPRESSIONS,
)
from editor.vendors.base import (
    Done,
    InputImage,
    ParamValue,
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
from editor.vendors.http import Answer, CallKind, call, download_result, image_from_bytes

# Wording of the retirement notices (§2.1): "permanently discontinued", "no longer available",
# "deprecate", and ERROR_AI_NOT_EXISTS's "has been deactivated". Only consulted for codes we do
# not know, so a known transient code is never mistaken for a retirement.
_RETIRED_WORDS = re.compile(
    r"retire|deactivat|offline|discontinu|deprecat|no longer (?:available|supported)",
    re.IGNORECASE,
)
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
    "PROCESS_FAILED": gettext_lazy("AILabTools could not recolor this photo."),
    "TIMEOUT_FAILED": gettext_lazy("AILabTools timed out recoloring this photo."),
    "LIMIT_RETRY_FAILED": gettext_lazy(
        "AILabTools gave up recoloring this photo after several attempts."
    ),
}


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


def _image_from_base64(text: str) -> ResultImage:
    """A result sent as base64 text, with or without a ``data:image/...;base64,`` prefix (§5:
    real clients prefix it; the docs do not say which form the vendor sends)."""
    data = decode_base64(text)
    if data is None:
        raise bad_response(_("an image that is not valid base64"))
    if not data:
        raise bad_response(_("an empty image"))
    return image_from_bytes(data, LABEL)


def _upload(field: str, image: InputImage) -> tuple[str, tuple[str, bytes, str]]:
    # Our own file name: the vendor may read the extension, and the person's name stays here.
    return field, (f"{field}.{extension_for(image.media_type)}", image.data, image.media_type)


def _ended_failed(raw: bytes) -> bool:
    """Whether an async query answer says its task ended and did not succeed."""
    body = read_json_object(raw)
    status = read_int(body.get("task_status")) if body is not None else None
    return status is not None and status not in (*_ASYNC_PENDING, _ASYNC_DONE)


class AILabToolsAdapter(VendorAdapter):
    vendor: ClassVar[str] = "ailabtools"
    label: ClassVar[str] = LABEL
    operations: ClassVar[frozenset[str]] = frozenset(
        {"retouch", "extend", "expression", "expression_advanced", "color_migration"}
    )
    poll_every: ClassVar[float] = POLL_SECONDS

    # --- Declarations -----------------------------------------------------------------------

    @classmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        try:
            return LIMITS[(operation, role)]
        except KeyError:
            raise KeyError(f"AILabTools has no {role!r} input for {operation!r}") from None

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
        raise refuse(
            _("%(vendor)s does not run %(operation)r.")
            % {"vendor": LABEL, "operation": request.operation},
            "unsupported_operation",
        )

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
        url = read_text(self._data(body).get("image_url"))
        if not url:
            raise bad_response(_("no result image link"))
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
                    ratio = read_number(request.params[side])
                    if ratio is None or not 0.0 <= ratio <= 1.0:
                        raise refuse(
                            _("The %(side)s extension must be a number from 0 to 1.")
                            % {"side": side},
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
            raise bad_response(_("no result image"))
        return Done((_image_from_base64(images[0]),))

    def _expression(self, request: VendorRequest) -> Done:
        # §5: synchronous; file field `image_target`; `service_choice` as multipart text.
        raw = request.params.get("service_choice")
        choice = read_int(raw)
        current = ", ".join(f"{name} ({value})" for value, name in CLASSIC_EXPRESSIONS.items())
        if choice in REMOVED_EXPRESSIONS:
            # V1.1.0 removed 0-3 (§5). Refuse before spending a call on a certain rejection.
            raise refuse(
                _(
                    "AILabTools removed the expression “%(name)s” (%(choice)s) from its classic "
                    "expression editor. Choose one of: %(current)s."
                )
                % {"name": REMOVED_EXPRESSIONS[choice], "choice": choice, "current": current},
                "expression_removed",
            )
        if choice not in CLASSIC_EXPRESSIONS:
            raise refuse(
                _(
                    "AILabTools's classic expression editor has no expression %(raw)r. "
                    "Choose one of: %(current)s."
                )
                % {"raw": raw, "current": current},
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
            raise bad_response(_("no result image"))
        return Done((_image_from_base64(image),))

    def _expression_advanced(self, request: VendorRequest) -> Pending:
        # §5: asynchronous; file `image`, text `expression`; answers a task_id for the common
        # async query, whose result is data.result_urls[].
        expression = request.params.get("expression")
        if not isinstance(expression, str) or not EXPRESSION_PATTERN.fullmatch(expression):
            raise refuse(
                _("Choose an expression from the list (for example natural_smile)."),
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
            raise bad_response(_("no task id"))
        return Pending(task_ref=f"async:{task_id}", poll_after=POLL_SECONDS)

    def _color_migration(self, request: VendorRequest) -> Done | Pending:
        # §2.2 fields. `task_type=async` belongs to contract B and is harmless to contract A.
        mode = read_text(request.params.get("mode")).upper()
        if mode not in {"AUTO", "TEMPLATE", "REF_PIC"}:
            raise refuse(_("Choose a color migration mode."), "invalid_parameter")
        degree = read_number(request.params.get("degree"))
        if degree is None or not 0.0 <= degree <= 1.0:
            raise refuse(_("The strength must be a number from 0 to 1."), "invalid_parameter")
        data = {"task_type": "async", "mode": mode, "degree": _form_value(degree)}
        files = [_upload("image", self._file(request, "image"))]
        if mode == "AUTO" and "color_count" in request.params:
            count = read_int(request.params["color_count"])
            if count is None or not 1 <= count <= 8:
                raise refuse(_("Choose 1 to 8 color families."), "invalid_parameter")
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
        data_field = read_object(body.get("data"))
        if data_field is not None:
            urls = data_field.get("image_list")
            if isinstance(urls, list) and urls:
                return Done(self._download_all(urls))
        # Contract B (v1.1.0 / last current page): a task_id for the common async query.
        task_id = self._task_id(body)
        if task_id:
            return Pending(task_ref=f"async:{task_id}", poll_after=POLL_SECONDS)
        # Contract A: keep request_id and query the legacy endpoint with it as job_id.
        request_id = read_text(body.get("request_id"))
        if request_id:
            return Pending(task_ref=f"legacy:{request_id}", poll_after=POLL_SECONDS)
        raise bad_response(_("neither a result nor a task id"))

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
            raise refuse(
                _("The palette needs 1 to 7 colors written as hex, such as DB0D0D."),
                "invalid_parameter",
            )
        return ",".join(color.upper() for color in colors)

    # --- Credits ----------------------------------------------------------------------------

    def query_credits(self, *, kind: CallKind = CallKind.POLL) -> CreditBalance:
        """The account's remaining credits (§1.5): ``GET /api/common/query-credits`` with the
        key header; the answer's ``data[]`` lists each pool's ``unique_sign``, ``name``,
        ``balance`` and ``total``. Errors come back as ``VendorError`` like any call's.
        ``kind`` CHECK: the short budget of a key checked while a person waits."""
        answer = self._call("GET", CREDITS_PATH, kind=kind)
        body = self._envelope(answer, retired_context=None)
        return CreditBalance.from_data(body.get("data"))

    # --- Poll -------------------------------------------------------------------------------

    def poll(self, task_ref: str) -> Done | Pending:
        kind, _colon, task_id = task_ref.partition(":")
        if kind == "async" and task_id:
            return self._poll_async(task_ref, task_id)
        if kind == "legacy" and task_id:
            return self._poll_legacy(task_ref, task_id)
        raise refuse(
            _("%(vendor)s cannot resume this job (unknown task reference).") % {"vendor": LABEL},
            "bad_task_ref",
        )

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
                    _("%(vendor)s could not finish this task. Run the job again.")
                    % {"vendor": LABEL},
                    retryable=False,
                    code=error.code,
                ) from None
            raise
        raw_status = body.get("task_status")
        if raw_status is None:  # documented at the top level; tolerate it inside data
            raw_status = (read_object(body.get("data")) or {}).get("task_status")
        status = read_int(raw_status)
        if status is None:
            raise bad_response(_("no task status"))
        if status in _ASYNC_PENDING:
            return Pending(task_ref, progress=_ASYNC_PENDING[status], poll_after=POLL_SECONDS)
        if status != _ASYNC_DONE:
            raise VendorError(
                _("%(vendor)s could not finish this task. Run the job again.") % {"vendor": LABEL},
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
        raise bad_response(_("a finished task without result links"))

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
        status = read_text(data.get("status"))
        if status in _LEGACY_PENDING:
            return Pending(task_ref, progress=_LEGACY_PENDING[status], poll_after=POLL_SECONDS)
        if status in _LEGACY_FAILED:
            raise VendorError(
                _("%(reason)s Run the job again, or choose the built-in engine.")
                % {"reason": _LEGACY_FAILED[status]},
                retryable=False,
                code=status,
            )
        if status != _LEGACY_DONE:
            raise bad_response(_("an unknown task status"))
        urls = data.get("image_list")
        if not isinstance(urls, list) or not urls:
            raise bad_response(_("a finished task without result links"))
        return Done(self._download_all(urls))

    # --- HTTP and envelopes -----------------------------------------------------------------

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
        base = self._base_url or settings.AILABTOOLS_BASE_URL.rstrip("/")
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
        body = read_json_object(answer.body)
        if body is None:
            if answer.status == 200:
                raise bad_response(_("not a JSON object"))
            raise self._error("", answer, "", retired_context)
        detail = read_object(body.get("error_detail")) or {}
        code = read_text(detail.get("code")) or read_text(body.get("error_code_str"))
        error_code = body.get("error_code")
        numeric = read_int(error_code)
        legacy_failed = error_code not in (None, "") and numeric != 0
        if answer.status == 200 and not code and not legacy_failed:
            return body
        # Where the vendor explains itself, in the contract's order.
        vendor_text = next(
            (
                text
                for text in (
                    read_text(detail.get("message")),
                    read_text(detail.get("code_message")),
                    read_text(body.get("error_msg")),
                    read_text(body.get("error_code_str")),
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
            retirement = (
                RETIRED_COLOR_MIGRATION if retired_context == "color_migration" else RETIRED.message
            )
            return VendorError(retirement, retryable=False, code=code or "retired")
        suffix = self._vendor_detail(vendor_text, code)
        if known is not None:
            retry_after = known.retry_after
            if known.retryable:
                retry_after = self._retry_after(answer) or retry_after
            return VendorError(
                str(known.message) + suffix,
                retryable=known.retryable,
                code=code,
                retry_after=retry_after,
                throttled=known.throttled,
            )
        # A code we do not know (or none): the HTTP status is the only hint left.
        retryable = status == 429 or status >= 500
        name = code or f"HTTP {status}"
        if retryable:
            wording = _("%(vendor)s had a temporary problem (%(name)s).")
        else:
            wording = _("%(vendor)s refused the request (%(name)s).")
        message = wording % {"vendor": LABEL, "name": name}
        return VendorError(
            message + suffix,
            retryable=retryable,
            code=code or f"http_{status}",
            retry_after=self._retry_after(answer) if retryable else None,
            throttled=status == 429,
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
        return " " + _("(%(vendor)s said: %(text)s)") % {"vendor": LABEL, "text": text}

    @staticmethod
    def _retry_after(answer: Answer) -> float | None:
        value = answer.headers.get("Retry-After", "")
        return float(value) if value.isdigit() and 0 < int(value) <= 600 else None

    # --- Small readers ----------------------------------------------------------------------

    @staticmethod
    def _data(body: Mapping[str, Any]) -> dict[str, Any]:
        data = read_object(body.get("data"))
        if data is None:
            raise bad_response(_("no data"))
        return data

    @staticmethod
    def _task_id(body: Mapping[str, Any]) -> str:
        # Documented at the top level; the SDK also looks in data (`task.task_id ||
        # task.data?.task_id`, docs/tutorials/async-task-polling.md).
        raw = body.get("task_id")
        if raw is None:
            raw = (read_object(body.get("data")) or {}).get("task_id")
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        return read_text(raw)

    @staticmethod
    def _file(request: VendorRequest, role: str) -> InputImage:
        image = request.files.get(role)
        if image is None:
            raise refuse(
                _("This job is missing its %(role)s file.") % {"role": role}, "missing_file"
            )
        return image

    def _download(self, url: str) -> ResultImage:
        return download_result(self._http(), url, vendor_origins=RESULT_ORIGINS, vendor_label=LABEL)

    def _download_all(self, urls: list[Any]) -> tuple[ResultImage, ...]:
        # AUTO color migration gives one image per color family (§2.2: color_count).
        if not all(isinstance(url, str) and url.strip() for url in urls):
            raise bad_response(_("a result link that is not text"))
        return tuple(self._download(url.strip()) for url in urls)
