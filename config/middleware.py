"""Counts every web request for the metrics page (editor.instruments), by view rather than by
path: the view's name is bounded, a path is whatever a client sends."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from editor import instruments

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        instruments.http_requests.labels(view, method, str(response.status_code)).inc()
        instruments.http_seconds.labels(view).observe(time.perf_counter() - started)
        return response
