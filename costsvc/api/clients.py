"""Who the client is when proxies stand in front of the API.

``X-Forwarded-For`` is believed only from the proxies an operator lists in
``COSTSVC_TRUSTED_PROXIES``: anyone else could write any address into it, and a
rate limit keyed by it would be a limit nobody is held to.  The header is read right
to left, each proxy having appended the address it received the request from; the
first address that is not a trusted proxy is the client.  The server's own
proxy-header rewriting is off (``costsvc serve``), so ``scope["client"]`` is always the
peer of the TCP connection and this is the one place the header is interpreted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(text: str | None) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.168.1.7"`` as networks (a bare address is a /32 or /128).
    A malformed entry is a ValueError naming it and the variable."""
    networks = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"COSTSVC_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: Iterable[Network]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in trusted)


def is_trusted_peer(host: str | None, trusted: Sequence[Network]) -> bool:
    """True when ``host`` (a peer address as the server reports it) is one of the trusted proxies."""
    return bool(host) and bool(trusted) and _trusted(_address(host), trusted)


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, in order (several headers are one list)."""
    entries: list[str] = []
    for name, value in headers:
        if name.lower() == b"x-forwarded-for":
            entries.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [e for e in entries if e]


def client_address(scope: Any, trusted: Sequence[Network]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy, in which
    case the rightmost ``X-Forwarded-For`` entry that is not a trusted proxy (or the
    leftmost, when all are).  An entry that is not an IP address ends the walk there:
    it is whatever the last trusted proxy received, taken as the client's key."""
    client = scope.get("client")
    peer = client[0] if client else ""
    if not trusted or not _trusted(_address(peer), trusted):
        return peer
    chain = _forwarded_for(scope.get("headers") or ())
    for entry in reversed(chain):
        address = _address(entry)
        if not _trusted(address, trusted):
            return str(address) if address is not None else entry[:100]
    return str(_address(chain[0])) if chain else peer


def client_of(request: Any) -> str | None:
    """The client address of a Litestar request, by the app's trusted proxies (an audit's "from where")."""
    trusted = getattr(request.app.state, "trusted_proxies", ())
    return client_address(request.scope, trusted) or None
