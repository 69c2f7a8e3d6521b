from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.account.signals import password_reset

        from accounts.adapter import forget_failed_sign_ins

        password_reset.connect(forget_failed_sign_ins, dispatch_uid="forget_failed_sign_ins")
