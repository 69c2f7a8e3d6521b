from __future__ import annotations

from accounts.models import User

PASSWORD = "correct horse battery staple"


def make_user(username: str, password: str = PASSWORD) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=password
    )
