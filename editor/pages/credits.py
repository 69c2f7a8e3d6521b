"""The remaining-credits line on a key's row in the vault (templates/editor/_key_credits.html).

The row loads the fragment once; the fragment shows the cached figure or, when there is none,
asks a worker to check the key (editor.credits) and polls every 2 s until the figure, or the
reason there is none, arrives. "Check again" (a POST) forgets the figure and asks anew.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from accounts.http import HtmxHttpRequest
from editor import access, credits

TEMPLATE = "editor/_key_credits.html"
POLL_SECONDS = 2
WAITING = "waiting"
STALLED = "stalled"  # asked, but no answer came in credits.WAIT_SECONDS
# Younger figures read "checked just now" rather than "0 minutes ago".
JUST_NOW = dt.timedelta(minutes=1)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def key_credits(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    # Only a key of a vendor with a credit query; any other is a 404.
    key = access.get_key_for_user(request.user, key_id, vendors=credits.CHECKABLE_VENDORS)
    vault_row = f"{reverse('editor:vault')}#key-{key.pk}"
    if not request.htmx and request.method == "GET":
        # The line lives in the vault's key row; a plain request goes there.
        return redirect(vault_row)
    if request.method == "POST":
        credits.forget(key)
    figure = credits.cached(key)
    state = figure.outcome if figure else WAITING
    if figure is None:
        since = credits.pending_since(key)
        if since is None:
            credits.request_check(key)
        elif time.time() - since > credits.WAIT_SECONDS:
            state = STALLED
    if not request.htmx:
        return redirect(vault_row)  # "Check again" without JavaScript
    fresh = figure is not None and timezone.now() - figure.checked_at < JUST_NOW
    return render(
        request,
        f"{TEMPLATE}#credits",
        {
            "key": key,
            "state": state,
            "figure": figure,
            "fresh": fresh,
            "poll_seconds": POLL_SECONDS,
        },
    )
