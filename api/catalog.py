"""``GET /api/v1/operations``: every operation as editor/operations.py declares it, so scripts
read the same parameters, ranges, defaults and files the forms are built from."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from api.errors import Error
from editor import operations
from editor.operations import FileInput, Operation, Param

router = Router(tags=["operations"])


class ParamOut(Schema):
    name: str
    label: str
    type: str  # "choice", "int", "float", "text", "colors"
    required: bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: list[str] | None = None
    max_items: int | None = None
    max_words: int | None = None
    providers: list[str] | None = None  # only for these providers; absent: every one
    when: dict[str, str] | None = None  # only when another parameter has this value
    help: str = ""


class FileOut(Schema):
    role: str
    label: str
    required: bool
    when: dict[str, str] | None = None
    providers: list[str] | None = None
    help: str = ""


class ProviderOut(Schema):
    name: str
    label: str
    vendor: str | None
    credits: int


class OperationOut(Schema):
    slug: str
    label: str
    summary: str
    default_provider: str
    providers: list[ProviderOut]
    params: list[ParamOut]
    files: list[FileOut]


def _when(condition: tuple[str, str] | None) -> dict[str, str] | None:
    return {condition[0]: condition[1]} if condition else None


def _param(param: Param) -> ParamOut:
    return ParamOut(
        name=param.name,
        label=str(param.label),
        type=param.kind,
        required=param.required,
        default=list(param.default) if isinstance(param.default, tuple) else param.default,
        minimum=param.minimum,
        maximum=param.maximum,
        step=param.step,
        choices=[value for value, _label in param.choices] or None,
        max_items=param.max_items or None,
        max_words=param.max_words or None,
        providers=sorted(param.providers) if param.providers is not None else None,
        when=_when(param.when),
        help=str(param.help),
    )


def _file(spec: FileInput) -> FileOut:
    return FileOut(
        role=spec.role,
        label=str(spec.label),
        required=spec.required,
        when=_when(spec.when),
        providers=sorted(spec.providers) if spec.providers is not None else None,
        help=str(spec.help),
    )


def describe(operation: Operation) -> OperationOut:
    return OperationOut(
        slug=operation.slug,
        label=str(operation.label),
        summary=str(operation.summary),
        default_provider=operation.default_provider.name,
        providers=[
            ProviderOut(
                name=provider.name,
                label=str(provider.label),
                vendor=provider.vendor.value if provider.vendor else None,
                credits=provider.credits,
            )
            for provider in operation.providers
        ],
        params=[_param(param) for param in operation.params],
        files=[_file(spec) for spec in operation.files],
    )


@router.get(
    "/operations", response={200: list[OperationOut], 401: Error}, summary="Every operation"
)
def list_operations(request: HttpRequest) -> list[OperationOut]:
    return [describe(operation) for operation in operations.OPERATIONS]
