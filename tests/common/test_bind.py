"""The listening address as an operator writes it: a literal, every address, a name."""

from __future__ import annotations

import socket

import pytest

from servers.common.listeners import listening_sockets
from servers.common.serve import bind


def test_a_name_is_bound_on_every_address_it_resolves_to(monkeypatch: pytest.MonkeyPatch):
    """``localhost`` is 127.0.0.1 and, where the hosts file says so, ::1: a client that
    tries ::1 first (Node's fetch) found nothing there when one address was bound. (This
    machine's hosts file gives localhost one address: a name that gives both.)"""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "dual.test":
            return real(host, *args, **kwargs)
        return [*real("127.0.0.1", *args, **kwargs), *real("::1", *args, **kwargs)]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    socks = bind("dual.test", 0)
    try:
        assert sorted(s.getsockname()[0] for s in socks) == ["127.0.0.1", "::1"]
        assert len({s.getsockname()[1] for s in socks}) == 1  # port 0: one port for all
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("sockets", [bind, listening_sockets])  # a server's, a worker's
@pytest.mark.parametrize("host, v6only", [("::", 0), ("::1", 1)])
def test_every_address_is_dual_stack_and_an_ipv6_address_is_itself(host: str, v6only: int,
                                                                    sockets):
    """``::`` is IPv4 too whatever the system's default (net.ipv6.bindv6only)."""
    (sock,) = sockets(host, 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == v6only
    finally:
        sock.close()


def test_a_name_that_resolves_to_nothing_is_an_error_to_name():
    with pytest.raises(OSError):
        bind("bogus.invalid", 0)
