"""The API tokens page (/account/tokens/): a person makes, lists and revokes their personal
access tokens.

A new token is shown once, in the answer to the form that made it (never put in the session
or a redirect), with a Copy button; afterwards only its masked hint is shown. Revoking works by
HTMX (the row swaps in place) and as a plain form post (a message and a redirect).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from accounts.models import User
from api.models import ApiToken
from editor.models import plain_text

TEMPLATE = "api/tokens.html"


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        help_text=gettext_lazy("What the token is for, such as “backup script”."),
    )

    def clean_name(self) -> str:
        # Without the characters that would make the name display reversed.
        name = plain_text(str(self.cleaned_data["name"])).strip()
        if not name:
            raise forms.ValidationError(_("Give the token a name."))
        return name


def get_token_for_user(user: User, token_id: uuid.UUID) -> ApiToken:
    return get_object_or_404(ApiToken, pk=token_id, owner=user)


def _page(request: AuthenticatedHttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("form", TokenForm())
    tokens = ApiToken.objects.filter(owner=request.user)
    return render(request, TEMPLATE, {"tokens": tokens, **context}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@never_cache  # the answer to a POST holds the new token: no cache keeps it
def tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, form=form)
    made, plaintext = ApiToken.create(request.user, form.cleaned_data["name"])
    return _page(request, status=201, made=made, plaintext=plaintext)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def revoke(request: HtmxHttpRequest, token_id: uuid.UUID) -> HttpResponse:
    token = get_token_for_user(request.user, token_id)
    token.revoke()
    if request.htmx:
        return render(request, f"{TEMPLATE}#row", {"token": token})
    messages.success(
        request, _("Token “%(name)s” revoked. It no longer opens the API.") % {"name": token.name}
    )
    return redirect("api_tokens")
