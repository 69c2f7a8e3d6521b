"""The address policy: public unicast only, judged through IPv6 wrappers; numeric hosts written
one way only; one look-up, every answer checked."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from editor import addresses

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata service
    "100.64.0.1",  # shared address space
    "100.100.100.200",  # a cloud metadata service, in the shared space
    "192.0.0.1",
    "192.0.0.9",  # 192.0.0.0/24, which older Pythons call global past its first /29
    "0.0.0.0",
    "224.0.0.1",
    "233.252.0.1",  # multicast that Python calls global
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::7f00:1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "fe80::1",
    "fc00::1",
    "ff02::1",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address
]


@pytest.mark.parametrize("text", REFUSED)
def test_addresses_off_the_public_internet_are_refused(text: str) -> None:
    address = ipaddress.ip_address(text)
    assert not addresses.is_public(address)
    with pytest.raises(addresses.Refused, match="only public internet addresses"):
        addresses.check(address)


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_are_allowed(text: str) -> None:
    address = ipaddress.ip_address(text)
    assert addresses.is_public(address)
    addresses.check(address)


def test_a_network_allowed_on_purpose_lets_its_addresses_through() -> None:
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    addresses.check(ipaddress.ip_address("127.0.0.1"), loopback)
    with pytest.raises(addresses.Refused):
        addresses.check(ipaddress.ip_address("10.0.0.1"), loopback)


@pytest.mark.parametrize(
    "host",
    [
        "0177.0.0.1",  # octal
        "0x7f.1",  # hex, two parts
        "0x7f000001",
        "2130706433",  # one number
        "127.1",
        "127.0.0.1.",
        "010.0.0.1",
        "1.2.3.4.5",
        "fe80::1%eth0",
        "fe80::1%25eth0",
        "exa mple.com",
        "-bad.example.com",
        "a..b",
        "",
        "localhost",
        "api.localhost",
        "x" * 64 + ".example.com",
    ],
)
def test_hosts_written_another_way_are_refused(host: str) -> None:
    with pytest.raises(addresses.Refused):
        addresses.canonical_host(host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("203.0.113.7", ipaddress.ip_address("203.0.113.7")),
        ("2001:db8::1", ipaddress.ip_address("2001:db8::1")),
        ("hooks.example.com", None),
        ("hooks.example.com.", None),
        ("xn--bcher-kva.example", None),
        ("3com.example", None),
        ("_hooks.example.com", None),
    ],
)
def test_canonical_hosts(host: str, expected: object) -> None:
    assert addresses.canonical_host(host) == expected


def answers(*texts: str) -> list[tuple[Any, ...]]:
    return [
        (socket.AF_INET6 if ":" in text else socket.AF_INET, socket.SOCK_STREAM, 6, "", (text, 443))
        for text in texts
    ]


def test_a_name_is_looked_up_once_and_every_answer_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[object, object]] = []

    def lookup(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        asked.append((host, port))
        return answers("93.184.216.34", "2606:4700:4700::1111", "93.184.216.34")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    target = addresses.resolve("hooks.example.com", 8443)
    assert asked == [("hooks.example.com", 8443)]
    assert target == addresses.Target(
        "hooks.example.com",
        (ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("2606:4700:4700::1111")),
    )


@pytest.mark.parametrize("internal", ["127.0.0.1", "100.100.100.200", "::ffff:10.0.0.1"])
def test_one_internal_answer_among_public_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch, internal: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers("8.8.8.8", internal))
    with pytest.raises(addresses.Refused, match="not on the public internet") as refusal:
        addresses.resolve("hooks.example.com", 443)
    assert internal not in str(refusal.value)
    assert "hooks.example.com" not in str(refusal.value)


def test_a_name_without_an_answer_is_unresolved(monkeypatch: pytest.MonkeyPatch) -> None:
    def lookup(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with pytest.raises(addresses.Unresolved):
        addresses.resolve("hooks.example.com", 443)


def test_an_ip_literal_is_checked_without_a_look_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def lookup(*args: object, **kwargs: object) -> list[Any]:
        raise AssertionError("no look-up for an IP literal")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    target = addresses.resolve("93.184.216.34", 443)
    assert target.addresses == (ipaddress.ip_address("93.184.216.34"),)
    with pytest.raises(addresses.Refused):
        addresses.resolve("169.254.169.254", 443)
