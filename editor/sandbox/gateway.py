"""What the gateway in front of both fake vendors does by itself, as a real API's gateway does.

Whole answers declare their length, a refused request says when to come back, and a path no
endpoint serves, or a crash, answers JSON whatever DEBUG says (the URLconf's error handlers).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse


def finish(response: HttpResponseBase) -> HttpResponseBase:
    """Declare the length of whole answers so connections stay alive, as a real API's do."""
    if isinstance(response, HttpResponse) and not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


def slow_down(response: HttpResponse) -> HttpResponse:
    # Real rate limiters say when to come back; a client that reads the header waits that long.
    response["Retry-After"] = "1"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"status": 404, "message": "Not Found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": 500, "message": "Internal Server Error"}, status=500)
