"""SSRF guard for callback URLs (DESIGN.md, "SSRF guard"), used at submit and at delivery.

A URL passes when its scheme is https (http only if allowed, for local development) and every
address its host resolves to is a public unicast address. Refused: loopback, private, link-local
(incl. 169.254.169.254, the metadata service), CGNAT 100.64.0.0/10, multicast, reserved,
unspecified, and other non-global ranges, in IPv4 and IPv6, including addresses embedded in IPv6
(IPv4-mapped, NAT64, 6to4, Teredo) and numeric spellings other than dotted decimal (`2130706433`,
`0177.0.0.1`, `0x7f.1`), which resolvers and HTTP stacks read differently.

The checked address is returned: the deliverer connects to it (sending the original Host and SNI),
so a DNS answer that changes between check and use cannot redirect the request.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit

from runway_bridge.errors import CallbackUrlRefusedError
from runway_bridge.logic.ports import CheckedUrl
from runway_bridge.settings import BridgeSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host → addresses (strings); raises OSError when the name does not resolve.
Resolver = Callable[[str], Sequence[str]]

RESOLVE_TIMEOUT_S: Final = 2.0
MAX_URL_LENGTH: Final = 2048
CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")
# Anything made only of digits, dots and hex/octal prefixes is a numeric host, not a DNS name.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)

_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="url-guard-dns")


def system_resolver(host: str) -> list[str]:
    """getaddrinfo with a deadline (it has none of its own)."""

    def lookup() -> list[str]:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]

    future = _resolver_pool.submit(lookup)
    try:
        return future.result(timeout=RESOLVE_TIMEOUT_S)
    except concurrent.futures.TimeoutError as exc:
        raise OSError(f"resolving {host} took longer than {RESOLVE_TIMEOUT_S} s") from exc


def resolver_with_overrides(overrides: Mapping[str, str], fallback: Resolver = system_resolver) -> Resolver:
    table = {host.lower(): address for host, address in overrides.items()}

    def resolve(host: str) -> list[str]:
        if host.lower() in table:
            return [table[host.lower()]]
        return list(fallback(host))

    return resolve


def parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read a numeric host the way inet_aton does (1-4 parts, each decimal, 0-octal or 0x-hex;
    the last part fills the remaining bytes). None if `host` is not numeric or out of range."""
    if not _NUMERIC_HOST.match(host):
        return None
    parts = host.rstrip(".").split(".")
    if len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10))
        except ValueError:
            return None  # e.g. "08": not octal
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = 0
    for number in leading:
        value = value * 256 + number
    value = value * 256 ** (4 - len(leading)) + last
    return ipaddress.IPv4Address(value)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms that route to it."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why `address` must not be called back, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "scoped IPv6 address"
        inner = embedded_ipv4(address)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem} (embedded in IPv6)" if problem else None
        if address in NAT64_LOCAL:
            return "private address"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback address"),
        (address.is_link_local, "link-local address (includes the cloud metadata service)"),
        (address.is_multicast, "multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in CGNAT, "carrier-grade NAT address"),
        (address.is_reserved, "reserved address"),  # before private: Python counts 240/4 as both
        (address.is_private, "private address"),
        (not address.is_global, "non-public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


class UrlGuard:
    def __init__(
        self,
        *,
        allow_http: bool = False,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._allow_http = allow_http
        self._allow_private = allow_private
        self._resolver = resolver

    @classmethod
    def from_settings(cls, settings: BridgeSettings, resolver: Resolver | None = None) -> UrlGuard:
        """The guard the settings ask for; `callback_host_overrides` answer before DNS."""
        return cls(
            allow_http=settings.allow_http_callbacks,
            allow_private=settings.allow_private_callbacks,
            resolver=resolver or resolver_with_overrides(settings.callback_host_overrides),
        )

    def check(self, url: str) -> CheckedUrl:
        """The checked URL and the address to connect to; `CallbackUrlRefusedError` otherwise."""
        if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
            raise _refused(url, "malformed", "it is too long or contains whitespace/control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _refused(url, "malformed", "it is not a valid URL") from None
        scheme = parts.scheme.lower()
        allowed = ("https", "http") if self._allow_http else ("https",)
        if scheme not in allowed:
            raise _refused(url, "scheme", f"only {' or '.join(allowed)} callbacks are allowed")
        if parts.username is not None or parts.password is not None:
            raise _refused(url, "credentials", "credentials in the URL are not allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise _refused(url, "malformed", "it has no host")
        if port == 0:
            raise _refused(url, "malformed", "port 0 is not a port")
        port = port or (443 if scheme == "https" else 80)
        addresses = self._addresses(url, host)
        if not self._allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise _refused(url, "address", f"{host} is a {problem} ({address})")
        return CheckedUrl(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))

    def _addresses(self, url: str, host: str) -> list[IPAddress]:
        if "%" in host:
            raise _refused(url, "address", "scoped IPv6 addresses are not allowed")
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        # Canonical dotted decimal was parsed above; any other numeric spelling is refused, since
        # resolvers and HTTP stacks disagree on what it means.
        numeric = parse_numeric_ipv4(host)
        if numeric is not None:
            problem = address_problem(numeric)
            kind = f", a {problem}" if problem else ""
            raise _refused(url, "address", f"{host} is an unusual spelling of {numeric}{kind}; write a.b.c.d")
        if _NUMERIC_HOST.match(host):
            raise _refused(url, "malformed", f"{host} is not a valid address")
        try:
            resolved = [ipaddress.ip_address(address.split("%", 1)[0]) for address in self._resolver(host)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise _refused(url, "unresolvable", f"{host} does not resolve ({exc})") from None
        if not resolved:
            raise _refused(url, "unresolvable", f"{host} does not resolve")
        return resolved


def _refused(url: str, reason: str, detail: str) -> CallbackUrlRefusedError:
    return CallbackUrlRefusedError(f"callbackUrl refused: {detail}", reason=reason)
