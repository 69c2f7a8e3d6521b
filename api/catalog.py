"""``GET /api/v1/operations``: every operation as editor/operations.py declares it, so scripts
read the same parameters, ranges, defaults and files the forms are built from."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from api.schemas import Error, FileOut, OperationOut, ParamOut, ProviderOut
from editor import operations
from editor.operations import FileInput, Operation, Param

router = Router(tags=["operations"])


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
