"""The account page where a person chooses whether the studio emails them when their work ends
(editor.notifications sends them)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from editor.forms import NotificationsForm

TEMPLATE = "editor/notifications.html"


@require_http_methods(["GET", "POST"])
@login_required
def notifications(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    initial = {"email_when_done": user.email_when_done}
    form = NotificationsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            user.email_when_done = form.cleaned_data["email_when_done"]
            user.save(update_fields=["email_when_done"])
            if user.email_when_done:
                messages.success(request, _("You will get an email when your work ends."))
            else:
                messages.success(request, _("You will not get emails when your work ends."))
            return redirect("editor:notifications")
        return render(request, TEMPLATE, {"form": form}, status=400)
    return render(request, TEMPLATE, {"form": form})
