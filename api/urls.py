"""The API tokens page, under /account/tokens/ (allauth's own pages are under /accounts/)."""

from __future__ import annotations

from django.urls import path

from api import views

urlpatterns = [
    path("", views.tokens, name="api_tokens"),
    path("<uuid:token_id>/revoke/", views.revoke, name="api_token_revoke"),
]
