"""The language switcher at the foot of every page: the choice is this browser's and, for a
signed-in person, their account's (accounts.languages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import languages


@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    # Back to the page the switcher was on: the same-origin Referer (SECURE_REFERRER_POLICY),
    # not a field in the form, so that a page's HTML never repeats its own address.
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("editor:home")
    response = HttpResponseRedirect(back)
    if not languages.choose(request, response, request.POST.get("language", "")):
        return HttpResponse(_("The studio does not speak that language."), status=400)
    return response
