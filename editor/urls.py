from __future__ import annotations

from django.urls import path

from editor import views

app_name = "editor"

urlpatterns = [
    path("", views.home, name="home"),
    path("studio/", views.studio, name="studio"),
]
