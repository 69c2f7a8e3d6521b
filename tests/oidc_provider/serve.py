"""Start the test OpenID Connect provider: ``python -m tests.oidc_provider.serve CONFIG``.

CONFIG is a JSON file the test wrote: the client (id, secret, redirect URI) and the people
(username, password, email, groups). The provider migrates its own SQLite database, creates them,
listens on a free port of 127.0.0.1 and prints ``port <n>`` when it is ready.
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def seed(config: dict[str, Any]) -> None:
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application  # type: ignore[import-untyped]

    for person in config["people"]:
        user = User.objects.create_user(
            person["username"], email=person.get("email", ""), password=person["password"]
        )
        for name in person.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    Application.objects.create(
        name="Photo studio",
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(config["redirect_uris"]),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    seed(config)
    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), ThreadingServer, handler_class=QuietHandler
    )
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
