from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from api.api import api
from config.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", api.urls),
    path("", include("editor.urls")),
]
