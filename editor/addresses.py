"""Which internet addresses the studio may call on someone else's say-so (a webhook URL): the one
address policy, for the check when a URL is given and for the look-up right before a call.

Only public unicast addresses pass: ``ipaddress``'s ``is_global``, judged on the IPv4 address
inside the IPv6 forms that carry one (IPv4-mapped, 6to4, Teredo, NAT64), since a packet to
``2002:7f00:1::`` or ``64:ff9b::7f00:1`` can end at 127.0.0.1. Loopback, private, link-local,
shared (100.64.0.0/10, where some clouds keep their metadata service), 192.0.0.0/24, multicast,
reserved and unspecified addresses are refused. A host is looked up once: the caller connects
to exactly the address this module checked (editor.outbound.pin), so a name that answers
differently the second time (DNS rebinding) gets no second chance.

Numeric hosts must be written the one canonical way: ``0177.0.0.1``, ``0x7f.1`` and
``2130706433`` all mean 127.0.0.1 to the C resolver, and a check that reads them otherwise is
fooled.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not global, though not every Python's ipaddress says so (its tables grew in 3.12 and 3.13).
NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "100.64.0.0/10",  # shared address space (carrier NAT); 100.100.100.200 is a metadata host
        "192.0.0.0/24",  # IETF protocol assignments
        "::/96",  # IPv4-compatible IPv6, deprecated
        "64:ff9b:1::/48",  # local-use NAT64: the studio's own translator (RFC 8215)
        "2001::/23",  # IETF protocol assignments (Teredo is read below, before this)
    )
)
# The well-known NAT64 prefix: the last 32 bits are the IPv4 address (RFC 6052).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# A DNS label, loosely: letters, digits, hyphens and the underscores some names carry.
LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# A host whose last label is a number is an IPv4 address to URL parsers and to inet_aton.
NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


class Refused(Exception):
    """The studio will not call this host; ``str()`` says why, for the person who gave it (it
    never repeats the host or the URL)."""


class Unresolved(Exception):
    """The host name has no address right now: a later try may find one."""


@dataclass(frozen=True)
class Target:
    """A host checked by this module: the name to send (``Host`` header, TLS) and the
    addresses, each checked, to connect to."""

    host: str
    addresses: tuple[IPAddress, ...]


def canonical_host(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (IPv6 without brackets), None for a name;
    Refused for anything written another way (octal, hex, a bare number, a zone id, a name no
    resolver should be asked about)."""
    host = host.lower()
    if "%" in host:
        raise Refused(_("Give the address without a zone or an escape."))
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise Refused(_("Not a valid IPv6 address.")) from None
    labels = host.removesuffix(".").split(".")
    if NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise Refused(_("Write an IPv4 address as four decimal numbers, like 203.0.113.7."))
        return address
    if len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise Refused(_("Not a valid host name."))
    if labels[-1] == "localhost":
        raise Refused(_("The studio does not call its own host."))
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a packet to ``address`` really goes to, when it is one of the IPv6
    forms that carry them; () otherwise."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client): both must be public
    if address in NAT64:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address, looking through IPv6 wrappers."""
    if isinstance(address, ipaddress.IPv6Address):
        inside = embedded_ipv4(address)
        if inside:
            return all(is_public(each) for each in inside)
    return bool(
        address.is_global
        and not (
            address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or address.is_loopback
            or address.is_link_local
            or any(address in network for network in NOT_GLOBAL)
        )
    )


def check(address: IPAddress, also_allowed: Sequence[IPNetwork] = ()) -> None:
    """Refused unless ``address`` is public or inside ``also_allowed`` (networks a deployment
    lets through on purpose, e.g. loopback for the tests' receivers)."""
    if any(address in network for network in also_allowed):
        return
    if not is_public(address):
        raise Refused(
            _(
                "The studio calls only public internet addresses (not loopback, private, "
                "link-local, shared or reserved ones)."
            )
        )


def resolve(host: str, port: int, also_allowed: Sequence[IPNetwork] = ()) -> Target:
    """Look ``host`` up once and check every answer: Refused when any of them is not allowed
    (a name with one internal answer among public ones is an attempt, not an accident),
    Unresolved when there is none."""
    literal = canonical_host(host)
    if literal is not None:
        check(literal, also_allowed)
        return Target(host, (literal,))
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise Unresolved(_("The receiver's host name does not resolve.")) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        # A scoped answer (fe80::1%eth0) keeps its scope after the "%": link-local anyway.
        text = str(sockaddr[0])
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise Refused(_("The receiver's host name points at a non-public address.")) from None
        try:
            check(address, also_allowed)
        except Refused:
            raise Refused(
                _(
                    "The receiver's host name points at an address that is not on the public "
                    "internet (loopback, private, link-local, shared or reserved)."
                )
            ) from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolved(_("The receiver's host name does not resolve."))
    return Target(host, tuple(addresses))
