"""Which addresses the webhook servers listen on for a host (`host_addresses`), and the one port all of
them share (`bind_listening`): real sockets on loopback."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from ppio_txt2img._webhook_http import Address, bind_listening, host_addresses, is_numeric_host
from tests.ipv6 import needs_ipv6_loopback

IPV4_LOOPBACK = Address(socket.AF_INET, ("127.0.0.1", 0))
IPV6_LOOPBACK = Address(socket.AF_INET6, ("::1", 0, 0, 0))
#: TEST-NET-1 (RFC 5737): an address no machine has, so binding it fails as for one this machine lacks.
ELSEWHERE = Address(socket.AF_INET, ("192.0.2.1", 0))
FDS = Path("/proc/self/fd")


needs_proc = pytest.mark.skipif(not FDS.is_dir(), reason="no /proc/self/fd to count open files in")


def open_files() -> int:
    return len(os.listdir(FDS))


def ips(addresses: list[Address]) -> list[str]:
    return [str(address.sockaddr[0]) for address in addresses]


@pytest.mark.parametrize("host", ["localhost", "LocalHost", "localhost."])
def test_localhost_is_both_loopbacks_whatever_the_resolver_says(host: str) -> None:
    # As curl and browsers resolve it: this machine's /etc/hosts may name 127.0.0.1 alone, and its
    # resolver may not know `localhost.` at all.
    addresses = ips(host_addresses(host))
    assert {"127.0.0.1", "::1"} <= set(addresses)
    assert len(addresses) == len(set(addresses))
    assert not is_numeric_host(host)


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("0.0.0.0", "0.0.0.0"), ("::", "::"), ("", "0.0.0.0")],  # noqa: S104
)
def test_an_ip_address_is_its_own_one_address(host: str, address: str) -> None:
    assert is_numeric_host(host)  # served without asking any resolver
    assert ips(host_addresses(host)) == [address]


@needs_ipv6_loopback
def test_several_addresses_share_the_port_the_system_picks_for_the_first() -> None:
    sockets = bind_listening([IPV4_LOOPBACK, IPV6_LOOPBACK], 0, v6only=False)
    try:
        assert [sock.family for sock in sockets] == [socket.AF_INET, socket.AF_INET6]
        assert len({sock.getsockname()[1] for sock in sockets}) == 1
    finally:
        for sock in sockets:
            sock.close()


@needs_ipv6_loopback
def test_ipv6_keeps_to_itself_beside_ipv4_and_alone_only_when_asked() -> None:
    # `::` beside `0.0.0.0` on one port: without IPV6_V6ONLY, `::` would claim IPv4's port as well.
    every = [Address(socket.AF_INET, ("0.0.0.0", 0)), Address(socket.AF_INET6, ("::", 0, 0, 0))]  # noqa: S104
    with socket.socket(socket.AF_INET6) as fresh:
        default = fresh.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
    for addresses, v6only, expected in [(every, False, 1), (every[1:], True, 1), (every[1:], False, default)]:
        sockets = bind_listening(addresses, 0, v6only=v6only)
        try:
            assert sockets[-1].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == expected
        finally:
            for sock in sockets:
                sock.close()


@needs_proc
def test_a_port_always_taken_on_a_later_address_is_given_up_after_a_few_fresh_ones() -> None:
    # The same address twice: the second is refused, every time, the port the first was given; after
    # `PORT_ATTEMPTS` tries the error is raised, and nothing is left open.
    before = open_files()
    with pytest.raises(OSError, match=os.strerror(errno.EADDRINUSE)) as caught:
        bind_listening([IPV4_LOOPBACK, IPV4_LOOPBACK], 0, v6only=False)
    assert caught.value.errno == errno.EADDRINUSE
    assert open_files() == before


@needs_proc
def test_a_port_given_is_never_traded_for_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = open_files()
        with pytest.raises(OSError, match=os.strerror(errno.EADDRINUSE)):
            bind_listening([IPV4_LOOPBACK], port, v6only=False)
        assert open_files() == before


@needs_proc
def test_an_address_this_machine_lacks_is_passed_over_only_when_asked() -> None:
    # For a host name (whose resolver may give an address of another host, or ::1 with IPv6 off), not
    # for an IP address given as the host.
    sockets = bind_listening([ELSEWHERE, IPV4_LOOPBACK], 0, v6only=False, skip_unavailable=True)
    try:
        assert [sock.getsockname()[0] for sock in sockets] == ["127.0.0.1"]
    finally:
        for sock in sockets:
            sock.close()
    before = open_files()
    for addresses, skip in [([IPV4_LOOPBACK, ELSEWHERE], False), ([ELSEWHERE], True)]:
        with pytest.raises(OSError, match=os.strerror(errno.EADDRNOTAVAIL)):
            bind_listening(addresses, 0, v6only=False, skip_unavailable=skip)
    assert open_files() == before
