from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.utils import translation
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from config import catalogs
from editor import polling
from tests.broker import SentTasks, capture_tasks
from tests.factories import make_user

_real_connect = socket.socket.connect


def pytest_configure(config: pytest.Config) -> None:
    """The compiled catalogs are built by `make install`; a bare `pytest` after a change to a
    .po builds them too (once, before any xdist worker starts), so no test reads stale ones."""
    if hasattr(config, "workerinput"):
        return
    stale = [
        po.parent.parent.name
        for po in catalogs.LOCALE_DIR.glob("*/LC_MESSAGES/django.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        catalogs.compile_all(stale)


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise OSError(f"tests must not reach the network (tried {address!r})")
    _real_connect(self, address)


_real_getaddrinfo = socket.getaddrinfo
LOCAL_NAMES = {"localhost", "testserver"}


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """Names are looked up as on a machine without a network: only local ones and literal
    addresses resolve. A lookup of a vendor's real host fails at once rather than waiting on a
    resolver (CI's may answer, or time out after seconds)."""
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in LOCAL_NAMES and not str(name).endswith(".localhost"):
        try:
            ipaddress.ip_address(str(name).strip("[]").split("%")[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"tests look up no names ({name!r})") from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    """Only loopback and Unix sockets, and no name lookups: no test may reach a real vendor."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def _isolated_state(settings: SettingsWrapper, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Production's PBKDF2 costs half a second a password by design; the tests make a user (or
    # a share link's password) in most of their fixtures. What they check is the studio's use
    # of the hasher, not its cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A request in another language leaves it active in this thread (Django resets it per
    # request, not after one): each test starts in the default language.
    translation.activate(settings.LANGUAGE_CODE)
    cache.clear()
    polling._known.clear()
    _forget_rate_budgets(settings.RATE_LIMIT_URL)
    yield
    cache.clear()


def _forget_rate_budgets(url: str) -> None:
    """Budgets on Redis outlive a test's rolled-back transaction (on the database they do not):
    each test starts with none, as it starts with an empty cache."""
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(url)
        names = list(client.scan_iter("limiter:*", count=1000))
        if names:
            client.delete(*names)


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    """The messages the code sends by task name, kept instead of reaching the broker."""
    return capture_tasks(monkeypatch)


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")
