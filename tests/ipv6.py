"""Whether this machine has the IPv6 loopback (::1): the tests of servers that listen on both loopbacks
skip without it (`needs_ipv6_loopback`)."""

from __future__ import annotations

import socket

import pytest


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6_loopback = pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no ::1")
