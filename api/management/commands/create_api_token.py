"""``manage.py create_api_token USERNAME [--name NAME]``: make a personal access token for a
person (for admins and automation). Only the token goes to stdout, so a script can capture it:
``TOKEN=$(python manage.py create_api_token alice)``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import ApiToken


class Command(BaseCommand):
    help = "Create a personal access token for USERNAME and print it (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        try:
            owner = model.objects.get(**{model.USERNAME_FIELD: options["username"]})
        except model.DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        name = str(options["name"]).strip()[:80]
        if not name:
            raise CommandError("The token needs a name.")
        _token, plaintext = ApiToken.create(owner, name)
        self.stdout.write(plaintext)
