from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from api.api import api
from config.views import healthz, metrics_page
from editor.pages import dashboard

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_page, name="metrics"),
    # Before the admin's own URLs, which answer every other path under admin/.
    path("admin/dashboard/", dashboard.dashboard, name="admin_dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/tokens/", include("api.urls")),
    path("api/v1/", api.urls),
    path("", include("editor.urls")),
]
