"""Whose address is the client's: X-Forwarded-For counts only from trusted proxies."""

import pytest

from costsvc.api.clients import client_address, is_trusted_peer, parse_trusted
from costsvc.settings import from_environ

PROXIES = parse_trusted("10.0.0.0/8, 192.168.1.7, ::1")


def _scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 40000), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


@pytest.mark.parametrize(("scope", "client"), [
    (_scope("203.0.113.5"), "203.0.113.5"),  # no proxy
    (_scope("203.0.113.5", "198.51.100.1"), "203.0.113.5"),  # an untrusted peer's header counts for nothing
    (_scope("10.1.2.3", "198.51.100.1"), "198.51.100.1"),
    (_scope("10.1.2.3", "6.6.6.6, 198.51.100.1"), "198.51.100.1"),  # the client's own entries are left of the proxy's
    (_scope("10.1.2.3", "198.51.100.1, 10.4.4.4, 192.168.1.7"), "198.51.100.1"),  # a chain of trusted proxies
    (_scope("10.1.2.3", "6.6.6.6", "198.51.100.1"), "198.51.100.1"),  # several headers are one list
    (_scope("10.1.2.3", "10.9.9.9"), "10.9.9.9"),  # all trusted: the leftmost
    (_scope("10.1.2.3"), "10.1.2.3"),  # a proxy that sent no header
    (_scope("::ffff:10.1.2.3", "198.51.100.1"), "198.51.100.1"),  # IPv4 on a dual-stack socket
    (_scope("::1", "2001:db8::7"), "2001:db8::7"),
    (_scope("10.1.2.3", "6.6.6.6, not-an-ip"), "not-an-ip"),  # what the proxy wrote is the key
])
def test_client_address(scope, client):
    assert client_address(scope, PROXIES) == client


def test_no_trusted_proxies_means_the_peer():
    assert client_address(_scope("10.1.2.3", "198.51.100.1"), ()) == "10.1.2.3"
    assert parse_trusted(None) == () and parse_trusted(" , ") == ()


def test_a_bad_entry_names_the_variable():
    with pytest.raises(ValueError, match="COSTSVC_TRUSTED_PROXIES: 'proxy.local'"):
        parse_trusted("10.0.0.0/8, proxy.local")


def test_trusted_peers_are_the_listed_ips_and_networks():
    networks = parse_trusted(from_environ({"COSTSVC_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,::1"}).trusted_proxies)
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    assert all(is_trusted_peer(host, networks) for host in ("10.2.3.4", "192.168.1.7", "::1", "::ffff:10.2.3.4"))
    assert not any(is_trusted_peer(host, networks) for host in ("192.168.1.8", "127.0.0.1", None, "/run/costsvc.sock"))
    assert not is_trusted_peer("10.2.3.4", parse_trusted(None))
