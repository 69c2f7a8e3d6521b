"""Serve the sandbox over real HTTP from any process, without touching ROOT_URLCONF.

``SandboxHandler`` is a WSGI handler that routes every request through ``editor.sandbox.urls``
and skips the studio's middleware: a vendor's API has no sessions, CSRF, host checks or security
headers, and the sandbox must answer whatever Host name it is reached by. ``start()`` runs a
threaded server in a background thread (tests, integration runs); ``make_server()`` gives one
to serve in the foreground (``manage.py runsandbox``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final
from wsgiref.headers import Headers

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ServerHandler, ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from editor.sandbox.faults import CLOSE_CONNECTION_HEADER

URLCONF: Final = "editor.sandbox.urls"
# The WSGI environ key that carries the base of result URLs when the server knows it better
# than settings.SANDBOX_URL (a test server on a random port).
PUBLIC_URL_ENVIRON_KEY: Final = "sandbox.public_url"


class SandboxHandler(WSGIHandler):
    def __init__(self, public_url: str | None = None) -> None:
        super().__init__()
        self.public_url = public_url.rstrip("/") if public_url else None

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        # Replace the chain built from settings.MIDDLEWARE with the bare dispatcher, wrapped
        # the way Django wraps it (exceptions become responses).
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(
            self._get_response  # type: ignore[attr-defined]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> HttpResponseBase:
        if self.public_url:
            environ[PUBLIC_URL_ENVIRON_KEY] = self.public_url
        return super().__call__(environ, start_response)

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = URLCONF  # type: ignore[attr-defined]
        return super().get_response(request)


class _ServerHandler(ServerHandler):
    """Closes the connection when a response asks for it (the ``truncated`` fault)."""

    request_handler: WSGIRequestHandler
    headers: Headers

    def cleanup_headers(self) -> None:
        close = CLOSE_CONNECTION_HEADER in self.headers
        if close:
            del self.headers[CLOSE_CONNECTION_HEADER]
        super().cleanup_headers()
        if close:
            self.headers["Connection"] = "close"
            self.request_handler.close_connection = True


class _RequestHandler(WSGIRequestHandler):
    # wsgiref writes a response's headers and its body separately: with Nagle's algorithm on,
    # the body of a kept-alive connection waits for the client's delayed ACK (about 40 ms), a
    # stall no real vendor has and which would hide the studio's own overhead in the bench.
    disable_nagle_algorithm = True

    def handle_one_request(self) -> None:
        # Django's own handle_one_request, with our ServerHandler.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ())
        handler.request_handler = self
        app = self.server.get_app()  # type: ignore[attr-defined]
        handler.run(app)


def make_server(host: str, port: int, *, public_url: str | None = None) -> ThreadedWSGIServer:
    """A threaded server bound to ``host:port`` (port 0 picks a free one); not yet serving.

    Result URLs start with ``public_url``, or ``settings.SANDBOX_URL`` (read per request) when
    it is None.
    """
    server = ThreadedWSGIServer((host, port), _RequestHandler, ipv6=":" in host)
    server.set_app(SandboxHandler(public_url))
    return server


@dataclass
class RunningSandbox:
    server: ThreadedWSGIServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start(
    host: str = "127.0.0.1", port: int = 0, *, public_url: str | None = None
) -> RunningSandbox:
    """Serve in a background thread. Result URLs use the bound address unless ``public_url``
    is given. Call ``stop()`` when done."""
    server = make_server(host, port)
    bound_port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    server.set_app(SandboxHandler(public_url or url))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox", daemon=True
    )
    thread.start()
    return RunningSandbox(server=server, thread=thread, url=url)
