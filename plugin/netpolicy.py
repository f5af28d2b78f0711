"""Which addresses the app may call when someone else chose the URL.

A Saleor API URL arrives in a header of an unauthenticated request, and merchants type webhook
URLs into settings: both could point the app at its own network (loopback, the cloud metadata
service, a database port). Every such URL passes here first:

    from plugin.netpolicy import UrlRefused, check_url
    check_url(url, allow_loopback=False, allow_private=False)   # raises UrlRefused(reason)

`check_url` checks the text (http/https, a host, no user-info, no backslash, whitespace or control
characters, no fragment) and then every address the host resolves to. `check_address` is the same
rule for one IP address; `plugin.outbound` applies it again to the address a connection actually
reached, so a name that resolves differently a moment later gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
SCHEMES = ("http", "https")
_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
# RFC 6598 shared address space (carrier-grade NAT): not global, but not in `is_private` either.
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


class UrlRefused(ValueError):
    """The URL or the address it leads to may not be called. `reason` says why, for logs and errors."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class HostUnresolvable(UrlRefused):
    """The host name does not resolve (a typo, or DNS is down): nothing to call."""


def parse_url(url: object) -> SplitResult:
    """The URL split into parts, or UrlRefused when its text is not one we will ever call."""
    if not isinstance(url, str) or not url:
        raise UrlRefused("not a URL")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused("URL too long")
    if "\\" in url:
        raise UrlRefused("backslash in URL")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in url):
        raise UrlRefused("whitespace or control character in URL")
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise UrlRefused("scheme must be http or https")
    if "@" in parts.netloc:
        raise UrlRefused("user-info in URL")
    if parts.fragment or url.endswith("#"):
        raise UrlRefused("fragment in URL")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise UrlRefused("invalid port") from None
    host = parts.hostname
    if not host:
        raise UrlRefused("no host in URL")
    if not _is_ip_literal(host) and not is_dns_name(host):
        raise UrlRefused("host is not a DNS name or an IP address")
    return parts


def is_dns_name(host: str) -> bool:
    """LDH labels of 1..63 characters (IDNs in their xn-- form), at most 253 characters."""
    host = host.rstrip(".")
    if not host or len(host) > 253:
        return False
    for label in host.lower().split("."):
        if not 1 <= len(label) <= 63 or label[0] == "-" or label[-1] == "-" or not set(label) <= _LABEL_CHARS:
            return False
    return True


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_class(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """ "loopback", "private" (private, link-local, shared/CGNAT), "global" or "reserved"."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_class(address.ipv4_mapped)
        address = ipaddress.ip_address(address.compressed.split("%", 1)[0])
    if address.is_loopback or address.is_unspecified:  # 0.0.0.0 and :: reach this machine too
        return "loopback"
    if address.is_multicast or address.is_reserved:
        return "reserved"
    if address.is_link_local or address.is_private or address in _SHARED_ADDRESS_SPACE:
        return "private"
    return "global" if address.is_global else "reserved"


def check_address(ip: str, *, allow_loopback: bool, allow_private: bool) -> None:
    kind = address_class(ip)
    if kind == "global" or (kind == "loopback" and allow_loopback) or (kind == "private" and allow_private):
        return
    raise UrlRefused(f"{kind} address refused")


def resolve(host: str, port: int) -> list[str]:
    if _is_ip_literal(host):
        return [host]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostUnresolvable("host does not resolve") from None
    return sorted({info[4][0] for info in infos})


def check_url(url: str, *, allow_loopback: bool, allow_private: bool) -> None:
    """Refuse the URL unless its text is clean and every address of its host may be called."""
    parts = parse_url(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for address in resolve(parts.hostname, port):
        check_address(address, allow_loopback=allow_loopback, allow_private=allow_private)
