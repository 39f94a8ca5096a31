"""Redirects as gateways send them: to the same path again, to another host, or round in a loop.

The other host is a second listener on another loopback address (127.0.0.2: all of 127.0.0.0/8 is
loopback on Linux) and another port, serving the same app. `Hosts` knows both listeners, so the app
can tell which one a request reached (from the ASGI `scope["server"]`) and where to send it next.
"""

from __future__ import annotations

import threading
from typing import Literal
from urllib.parse import urlsplit

RedirectTarget = Literal["same_host", "other_host", "loop"]
REDIRECT_TARGETS: tuple[str, ...] = ("same_host", "other_host", "loop")
REDIRECT_STATUSES: tuple[int, ...] = (301, 302, 303, 307, 308)

#: A same-host redirect goes to this prefix + the path; a request under it is served normally (one hop).
HOP_PREFIX = "/_r"

Server = tuple[str, int | None]


def other_address(host: str) -> str:
    """The loopback address of the second listener: 127.0.0.2, or 127.0.0.3 when the sandbox is on .2."""
    return "127.0.0.3" if host == "127.0.0.2" else "127.0.0.2"


def server_of(url: str) -> Server:
    """`(host, port)` of a base URL, as in an ASGI `scope["server"]` (port None when the URL has none)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port


def host_key(server: object) -> str:
    """ "host:port" of an ASGI `scope["server"]` (just "host" without a port, "?" when unknown), as the
    per-host counters name hosts."""
    if not (isinstance(server, list | tuple) and len(server) >= 2):
        return "?"
    host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
    return host if server[1] is None else f"{host}:{server[1]}"


def redirect_location(
    target: str, *, path_and_query: str, own_base: str, on_other_host: bool, primary: str, other: str
) -> str | None:
    """Where to redirect a request, or None to serve it.

    "same_host": to `HOP_PREFIX` + the path on the same host, unless already there (one hop).
    "other_host": to the same path on the other host, unless already there.
    "loop": from the first host to the other and back, forever.
    """
    if target == "same_host":
        if path_and_query.startswith(HOP_PREFIX + "/"):
            return None
        return own_base + HOP_PREFIX + path_and_query
    if target == "other_host":
        return None if on_other_host else other + path_and_query
    if target == "loop":
        return (primary if on_other_host else other) + path_and_query
    raise ValueError(f"unknown redirect target {target!r}")


class Hosts:
    """The base URLs of the sandbox's two listeners while it serves.

    In process (`httpx.ASGITransport`, no listener) they are http://127.0.0.1 and http://127.0.0.2: any
    URL reaches the app there, and the URL's host tells the two apart."""

    DEFAULT_PRIMARY = "http://127.0.0.1"
    DEFAULT_OTHER = "http://127.0.0.2"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._primary = self.DEFAULT_PRIMARY
        self._other = self.DEFAULT_OTHER

    def listening(self, primary: str, other: str | None) -> None:
        """Record the listeners' base URLs (`other` None: no second listener, keep the default)."""
        with self._lock:
            self._primary = primary
            self._other = other or self.DEFAULT_OTHER

    def reset(self) -> None:
        self.listening(self.DEFAULT_PRIMARY, None)

    @property
    def primary(self) -> str:
        with self._lock:
            return self._primary

    @property
    def other(self) -> str:
        with self._lock:
            return self._other

    def is_other(self, server: object) -> bool:
        """Whether a request with this ASGI `scope["server"]` reached the other host."""
        return host_key(server) == host_key(server_of(self.other))
