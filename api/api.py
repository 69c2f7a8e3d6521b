"""The JSON API (django-ninja) at /api/v1/: personal access tokens (api.auth), JSON errors
(api.errors), one router per noun. The OpenAPI document is at /api/v1/openapi.json and the
interactive docs at /api/v1/docs.

Every endpoint works through the same code as the pages: operations from
editor/operations.py, jobs through editor.jobs.submit(), the same quotas and the same checks.
"""

from __future__ import annotations

from ninja import NinjaAPI

from api import catalog, errors, jobs, keys, shares, usage
from api.auth import TokenAuth

api = NinjaAPI(
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
api.add_router("", keys.router)
api.add_router("", shares.router)
api.add_router("", usage.router)
