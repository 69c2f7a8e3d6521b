from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("editor:studio")
    return render(request, "editor/home.html")


@require_GET
@login_required
def studio(request: HttpRequest) -> HttpResponse:
    return render(request, "editor/studio.html")
