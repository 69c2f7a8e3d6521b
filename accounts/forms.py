"""allauth's forms, adjusted where the studio differs from its defaults."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm


class LoginForm(AllauthLoginForm):  # type: ignore[misc]
    """Sign-in by username or email. allauth marks that field ``autocomplete="email"``, so
    password managers offer an email where most people type their username; ``username`` is
    the token for "whatever identifies the account" and offers both."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].widget.attrs["autocomplete"] = "username"
