"""The JSON API (django-ninja) at /api/v1/: personal access tokens (api.auth), JSON errors
(api.errors), one router per noun. The OpenAPI document is at /api/v1/openapi.json and the
interactive docs at /api/v1/docs.

Every endpoint works through the same code as the pages: operations from
editor/operations.py, submissions through editor.submissions and editor.jobs.start, the same
quotas and the same checks.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from api import albums, batches, catalog, errors, idempotency, jobs, keys, recipes, shares, usage
from api.auth import TokenAuth

# Answers any endpoint behind a token can give, whatever it does.
TOKEN_ANSWERS = {
    401: "No token, or an unknown or revoked one.",
    429: "This token sent more requests than API_RATE_LIMIT allows; see Retry-After.",
}


class StudioAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        """The document, with the token answers on every operation that needs a token, and the
        Idempotency-Key answers on every operation that takes the header."""
        schema = super().get_openapi_schema(**kwargs)
        error = {"$ref": "#/components/schemas/Error"}
        for operations in schema["paths"].values():
            for operation in operations.values():
                if not operation.get("security"):
                    continue
                responses = operation.setdefault("responses", {})
                answers = dict(TOKEN_ANSWERS)
                if any(
                    parameter.get("name") == idempotency.HEADER
                    for parameter in operation.get("parameters", ())
                ):
                    answers.update(idempotency.ANSWERS)
                for status, description in answers.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": error}},
                        },
                    )
        return schema


api = StudioAPI(
    title="Photo Studio API",
    version="1",
    urls_namespace="api-v1",
    description=(
        "Run the studio's photo operations from scripts and other apps. Authenticate with a "
        "personal access token (Account → API tokens): `Authorization: Bearer <token>`. "
        'Errors are JSON `{"code": ..., "message": ...}`.'
    ),
    auth=TokenAuth(),
)
errors.install(api)
api.add_router("", catalog.router)
api.add_router("", jobs.router)
api.add_router("", batches.router)
api.add_router("", keys.router)
api.add_router("", recipes.router)
api.add_router("", shares.router)
api.add_router("", usage.router)
api.add_router("", albums.router)
