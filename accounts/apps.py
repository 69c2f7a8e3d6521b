from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.account.signals import password_reset, user_logged_in
        from django.contrib.auth import signals as auth_signals

        from accounts.adapter import forget_failed_sign_ins
        from accounts.languages import remember_browser_language
        from accounts.social import apply_company_plan

        password_reset.connect(forget_failed_sign_ins, dispatch_uid="forget_failed_sign_ins")
        user_logged_in.connect(apply_company_plan, dispatch_uid="apply_company_plan")
        # Django's signal: every sign-in, company, password or code alike.
        auth_signals.user_logged_in.connect(
            remember_browser_language, dispatch_uid="remember_browser_language"
        )
