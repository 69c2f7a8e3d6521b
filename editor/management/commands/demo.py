"""Create the demo account on first run and print how to log in (used by ``make run``)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from editor.models import Vendor, VendorKey


class Command(BaseCommand):
    help = "Create the demo account if it does not exist yet, and print its login."

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = settings.DEMO_USERNAME
        credentials = settings.VAR_DIR / "demo-login.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(
                username=username, email=f"{username}@example.com", password=password
            )
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.write_text(password + "\n")
            credentials.chmod(0o600)
            note = "created"
        else:
            note = "exists"
        if settings.SANDBOX_ENABLED:
            self._sandbox_keys(user)
        password_text = (
            credentials.read_text().strip()
            if credentials.exists()
            else "(set when it was created; reset it with manage.py changepassword)"
        )
        sandbox = (
            f"  Vendor sandbox at {settings.SANDBOX_URL}: the demo account has sandbox keys.\n"
            if settings.SANDBOX_ENABLED
            else ""
        )
        self.stdout.write(
            "\n"
            f"  Photo Studio is starting at {settings.SITE_URL}/\n"
            f"  Log in at {settings.SITE_URL}/accounts/login/\n"
            f"  Demo account ({note}): username {username}  password {password_text}\n"
            f"{sandbox}"
        )

    def _sandbox_keys(self, user: Any) -> None:
        """Keys the sandbox accepts (its prefix), so the demo can run every operation."""
        for vendor in Vendor:
            if VendorKey.objects.filter(owner=user, vendor=vendor).exists():
                continue
            key = VendorKey(owner=user, vendor=vendor, label=f"Sandbox {vendor.label}")
            key.set_secret(f"{settings.SANDBOX_KEY_PREFIX}demo-{secrets.token_hex(8)}")
            key.save()
