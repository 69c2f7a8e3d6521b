"""Serve the sandbox (simulated AILabTools and PicWish APIs) in the foreground."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from editor.sandbox.server import make_server


class Command(BaseCommand):
    help = (
        "Serve the simulated AILabTools and PicWish APIs for demos and tests. Point "
        "AILABTOOLS_BASE_URL and PICWISH_BASE_URL at it and use keys starting with 'sandbox-'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (127.0.0.1).")
        parser.add_argument("--port", type=int, default=9000, help="Port to bind (9000).")
        parser.add_argument(
            "--public-url",
            default=None,
            help="Base of the result URLs it hands out (default: settings.SANDBOX_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "The sandbox is disabled (SANDBOX_ENABLED is false, the default when DEBUG is "
                "off). It simulates vendors and must not run beside a production studio."
            )
        host: str = options["host"]
        port: int = options["port"]
        public_url: str = (options["public_url"] or settings.SANDBOX_URL).rstrip("/")
        try:
            server = make_server(host, port, public_url=public_url)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        bound_port = server.server_address[1]
        if urlsplit(public_url).port not in {bound_port, None}:
            self.stderr.write(
                f"Warning: result URLs start with {public_url}, which is not this port. "
                "Set SANDBOX_URL or pass --public-url so clients can download results."
            )
        self.stdout.write(
            f"Sandbox listening on http://{host}:{bound_port}/ (result URLs: {public_url}/...)\n"
            f"  AILABTOOLS_BASE_URL={public_url}  PICWISH_BASE_URL={public_url}\n"
            f"  VENDOR_RESULT_HOSTS={public_url}  keys: {settings.SANDBOX_KEY_PREFIX}...\n"
            "Quit with CONTROL-C."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
