"""The JSON API (django-ninja). Endpoints arrive with Step 7; the OpenAPI document and the
interactive docs are served from day one at /api/v1/openapi.json and /api/v1/docs."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(
    title="Photo Studio API",
    version="1",
    urls_namespace="api-v1",
    description="Run the studio's photo operations from scripts and other apps.",
)
