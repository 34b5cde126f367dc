"""SSRF guard for callback URLs (docs/events.md, "Webhook delivery"), used at submit and at delivery.

A URL passes when its scheme is https (http only if allowed, for local development), its port is
an allowed one (443 and 8443 unless configured otherwise; any port in local development) and every
address its host resolves to is a public unicast address. Refused: loopback, private, link-local
(incl. 169.254.169.254, the metadata service), CGNAT 100.64.0.0/10, multicast, reserved,
unspecified, and other non-global ranges, in IPv4 and IPv6, including addresses embedded in IPv6
(IPv4-mapped, NAT64, 6to4, Teredo) and numeric spellings other than dotted decimal (`2130706433`,
`0177.0.0.1`, `0x7f.1`), which resolvers and HTTP stacks read differently.

The checked address is returned: the deliverer connects to it (sending the original Host and SNI),
so a DNS answer that changes between check and use cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from runway_bridge.errors import CallbackUrlRefusedError
from runway_bridge.models.records import CheckedUrl
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

# Callback ports allowed unless a deployment lists others (BridgeSettings.callback_ports).
DEFAULT_PORTS: Final = frozenset({443, 8443})
# Lookups still running at once, in all, and of one name / one parent zone: a tenant whose names
# hang fills its own slots (further lookups of them fail at once), never everybody's.
MAX_LOOKUPS_IN_FLIGHT: Final = 64
MAX_LOOKUPS_PER_NAME: Final = 2
MAX_LOOKUPS_PER_ZONE: Final = 4


def _getaddrinfo(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class BoundedResolver:
    """getaddrinfo with a deadline (it has none of its own), one daemon thread per lookup.

    A lookup that outlives its deadline keeps its thread (getaddrinfo cannot be interrupted) and
    its slots until the system resolver gives up. Slots are counted per name and per parent zone
    (the last two labels), with a global ceiling; a lookup whose slots are all held by unanswered
    lookups fails at once instead of queueing behind them. So slow names of one tenant cannot
    starve the lookups of another (a shared fixed-size pool could be filled by four hung names).
    """

    def __init__(
        self,
        lookup: Resolver = _getaddrinfo,
        *,
        timeout_s: float | None = None,
        max_in_flight: int = MAX_LOOKUPS_IN_FLIGHT,
        max_per_name: int = MAX_LOOKUPS_PER_NAME,
        max_per_zone: int = MAX_LOOKUPS_PER_ZONE,
    ) -> None:
        self._lookup = lookup
        self._timeout_s = timeout_s
        self._max_in_flight = max_in_flight
        self._limits = (max_per_name, max_per_zone)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._held: Counter[str] = Counter()

    def __call__(self, host: str) -> list[str]:
        host = host.lower().rstrip(".")
        keys = (f"name:{host}", "zone:" + ".".join(host.split(".")[-2:]))
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                raise OSError(f"{self._in_flight} DNS lookups are still unanswered; try again later")
            for key, limit in zip(keys, self._limits, strict=True):
                if self._held[key] >= limit:
                    where = key.split(":", 1)[1]
                    raise OSError(f"earlier lookups of {where} are still unanswered; try again later")
            self._in_flight += 1
            self._held.update(keys)
        answer: list[list[str]] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                answer.append(list(self._lookup(host)))
            except (OSError, UnicodeError, ValueError) as exc:  # handed to the caller below
                failure.append(exc)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._held.subtract(keys)
                    for key in keys:
                        if self._held[key] <= 0:
                            del self._held[key]
                done.set()

        threading.Thread(target=run, name=f"url-guard-dns-{host[:40]}", daemon=True).start()
        timeout_s = RESOLVE_TIMEOUT_S if self._timeout_s is None else self._timeout_s
        if not done.wait(timeout_s):
            raise OSError(f"resolving {host} took longer than {timeout_s:g} s")
        if failure:
            raise failure[0]
        if not answer:
            raise OSError(f"resolving {host} failed")
        return answer[0]


system_resolver: Resolver = BoundedResolver()


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
        ports: Collection[int] | None = DEFAULT_PORTS,
        resolver: Resolver = system_resolver,
        subject: str = "callbackUrl",
    ) -> None:
        """`ports`: the ports a URL may name (explicitly or by its scheme's default); None: any.
        `subject` names the URL in refusals ("callbackUrl refused: ...")."""
        self._allow_http = allow_http
        self._allow_private = allow_private
        self._ports = None if ports is None else frozenset(ports)
        self._resolver = resolver
        self._subject = subject

    @classmethod
    def from_settings(cls, settings: BridgeSettings, resolver: Resolver | None = None) -> UrlGuard:
        """The guard the settings ask for; `callback_host_overrides` answer before DNS."""
        return cls(
            allow_http=settings.allow_http_callbacks,
            allow_private=settings.allow_private_callbacks,
            ports=None if settings.allow_any_callback_port else settings.callback_ports,
            resolver=resolver or resolver_with_overrides(settings.callback_host_overrides),
        )

    @classmethod
    def for_outputs(cls, settings: BridgeSettings, resolver: Resolver | None = None) -> UrlGuard:
        """The guard of Runway's output URLs (fetched by the copier): https and public addresses,
        any port; `allow_local_outputs` (a local Runway on loopback http) relaxes both."""
        return cls(
            allow_http=settings.allow_local_outputs,
            allow_private=settings.allow_local_outputs,
            ports=None,
            resolver=resolver or system_resolver,
            subject="output URL",
        )

    def check(self, url: str) -> CheckedUrl:
        """The checked URL and the address to connect to; `CallbackUrlRefusedError` otherwise."""
        if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
            raise self._refused("malformed", "it is too long or contains whitespace/control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise self._refused("malformed", "it is not a valid URL") from None
        scheme = parts.scheme.lower()
        allowed = ("https", "http") if self._allow_http else ("https",)
        if scheme not in allowed:
            raise self._refused("scheme", f"only {' or '.join(allowed)} URLs are allowed")
        if parts.username is not None or parts.password is not None:
            raise self._refused("credentials", "credentials in the URL are not allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise self._refused("malformed", "it has no host")
        if port == 0:
            raise self._refused("malformed", "port 0 is not a port")
        port = port or (443 if scheme == "https" else 80)
        if self._ports is not None and port not in self._ports:
            ports = ", ".join(str(number) for number in sorted(self._ports))
            raise self._refused("port", f"port {port} is not allowed (allowed: {ports})")
        addresses = self._addresses(url, host)
        if not self._allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    raise self._refused("address", f"{host} is a {problem} ({address})")
        return CheckedUrl(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))

    def _addresses(self, url: str, host: str) -> list[IPAddress]:
        if "%" in host:
            raise self._refused("address", "scoped IPv6 addresses are not allowed")
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
            raise self._refused("address", f"{host} is an unusual spelling of {numeric}{kind}; write a.b.c.d")
        if _NUMERIC_HOST.match(host):
            raise self._refused("malformed", f"{host} is not a valid address")
        try:
            resolved = [ipaddress.ip_address(address.split("%", 1)[0]) for address in self._resolver(host)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise self._refused("unresolvable", f"{host} does not resolve ({exc})") from None
        if not resolved:
            raise self._refused("unresolvable", f"{host} does not resolve")
        return resolved

    def _refused(self, reason: str, detail: str) -> CallbackUrlRefusedError:
        return CallbackUrlRefusedError(f"{self._subject} refused: {detail}", reason=reason)


def pinned_target(checked: CheckedUrl) -> tuple[str, str]:
    """The URL that connects to the checked address itself, and the Host header naming the
    original host (send it with `extensions={"sni_hostname": checked.host}` for TLS)."""
    parts = urlsplit(checked.url)
    address = f"[{checked.address}]" if ":" in checked.address else checked.address
    default_port = 443 if checked.scheme == "https" else 80
    host = f"[{checked.host}]" if ":" in checked.host else checked.host  # an IPv6 literal host
    host_header = host if checked.port == default_port else f"{host}:{checked.port}"
    target = urlunsplit((checked.scheme, f"{address}:{checked.port}", parts.path or "/", parts.query, ""))
    return target, host_header
