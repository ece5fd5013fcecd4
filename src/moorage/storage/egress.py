"""What a team's storage may contact: the endpoint policy and the loopback proxy enforcing it.

A team names its own endpoints (``endpoint_url``, an Azure ``BlobEndpoint``, a GCS key's
``token_uri``). Checking such a URL once is not enough: a name can resolve to another address
at connect time (DNS rebinding) and a server can redirect. So every request to a team-named
endpoint goes through :class:`EgressProxy`, a small forward proxy on loopback owned by this
process. It resolves the target itself, checks every address against :class:`EgressPolicy`, and
connects to exactly the address it checked. The HTTP clients (obstore's reqwest, ``requests``)
send everything through it, redirects included, as new proxied requests. The proxy lives in
``egress_proxy.py`` (it imports this module, never the other way round).

The proxy answers only to the adapters that registered with it (a random token in
``Proxy-Authorization``), so it is no open relay for other local users.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from moorage.storage.base import StorageError

__all__ = ["EgressPolicy", "EndpointRefused", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: cloud metadata services, refused whatever they resolve to (and some are public addresses)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
     "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com"}
)  # fmt: skip
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.170.23", "fd00:ec2::254",
              "fd00:ec2::23", "100.100.100.200", "168.63.129.16", "192.0.0.192")
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# dotted quads only: ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` are other spellings of loopback
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]*))*\.?$", re.I)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$", re.I)


class EndpointRefused(StorageError):
    """The network policy refuses an endpoint (a private address, a bad scheme...)."""

    reason = "STORAGE_ENDPOINT_REFUSED"

    def __init__(self, message: str, *, field: str = "endpoint_url", key: str | None = None):
        super().__init__(message, key=key)
        #: the storage field the refused value came from
        self.field = field


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the proxy calls this at connect time)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def _embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address, else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _is_internal(address: IPAddress) -> bool:
    """Loopback, link-local, private, unique-local, shared, multicast, reserved, metadata..."""
    address = _embedded(address)
    return (
        address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class EgressPolicy:
    """Internal addresses are refused unless allow-listed by network or by exact host name."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> EgressPolicy:
        """``MOORAGE_ALLOWED_ENDPOINTS``: comma-separated hosts or CIDR ranges."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in (text or "").split(","):
            entry = raw.strip().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not _HOST.match(entry):
                    raise ValueError(
                        f"{raw.strip()!r} is neither a host name nor a CIDR range"
                    ) from None
                hosts.add(entry.lower().rstrip("."))
        return cls(networks=tuple(networks), hosts=frozenset(hosts))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, host: str, addresses: Iterable[IPAddress]) -> str | None:
        """Why connecting to ``host`` at ``addresses`` is refused, or ``None``."""
        if self.host_allowed(host):
            return None
        if host.lower().rstrip(".") in METADATA_HOSTS:
            return f"{host} is a cloud metadata service"
        for address in addresses:
            if any(address in n or _embedded(address) in n for n in self.networks):
                continue
            if _is_internal(address):
                kind = (
                    "a cloud metadata address"
                    if _embedded(address) in METADATA_ADDRESSES
                    else ("a loopback, link-local, private or otherwise non-public address")
                )
                shown = host if host == str(address) else f"{host} ({address})"
                return (
                    f"{shown} is {kind}; the server's operator can allow it with "
                    "MOORAGE_ALLOWED_ENDPOINTS"
                )
        return None

    def check_url(self, url: str) -> str:
        """Refuse a URL by its form and by the addresses its host resolves to now.

        Connect-time checks still follow (the proxy): this one gives a clear early answer.
        """
        host, port = split_url(url)
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            addresses = []  # unknown now; the proxy checks again when connecting
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        problem = self.refusal(host, addresses)
        if problem:
            raise EndpointRefused(f"The endpoint {url!r} is refused: {problem}.")
        return url


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def split_url(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; anything else is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefused(f"The endpoint {url!r} is not a valid URL ({exc}).") from None
    if parts.scheme not in ("http", "https"):
        raise EndpointRefused(f"The endpoint {url!r} must start with http:// or https://.")
    host = parts.hostname or ""
    if not host:
        raise EndpointRefused(f"The endpoint {url!r} has no host.")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused(f"The endpoint {url!r} must not carry a user name or password.")
    if _literal(host) is None and (_NUMERIC.match(host) or not _HOST.match(host)):
        raise EndpointRefused(
            f"The endpoint {url!r} is refused: its host {host!r} is not a host name or a "
            "plainly written IP address."
        )
    return host, port or (443 if parts.scheme == "https" else 80)
