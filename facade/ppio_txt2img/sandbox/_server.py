"""Running the app with uvicorn on a real loopback socket, in the foreground or in a background thread.

Dropped connections need the socket: uvicorn's h11 protocol is subclassed only to remember each
connection's transport by peer address, so the app can close the connection of the request it is
serving without answering (see `_app.Drop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

Peer = tuple[str, int]
_STARTUP_TIMEOUT = 10.0
_SHUTDOWN_TIMEOUT = 10.0


def peer_of(client: Any) -> Peer | None:
    """`(host, port)` from an ASGI scope's `client` or a socket's `peername`."""
    if isinstance(client, list | tuple) and len(client) >= 2:
        return str(client[0]), int(client[1])
    return None


class TransportRegistry:
    """The open connections of a server, by peer address."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transports: dict[Peer, asyncio.BaseTransport] = {}

    def add(self, peer: Peer, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            self._transports[peer] = transport

    def remove(self, peer: Peer, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            if self._transports.get(peer) is transport:
                del self._transports[peer]

    def get(self, peer: Peer | None) -> asyncio.BaseTransport | None:
        if peer is None:
            return None
        with self._lock:
            return self._transports.get(peer)


def protocol_class(registry: TransportRegistry) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, registering every connection's transport in `registry`."""

    class RegisteringH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            peer = peer_of(transport.get_extra_info("peername"))
            if peer is not None:
                registry.add(peer, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            peer = peer_of(self.transport.get_extra_info("peername"))
            if peer is not None:
                registry.remove(peer, self.transport)
            super().connection_lost(exc)

    return RegisteringH11Protocol


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # With the protocol given explicitly, asyncio sets TCP_NODELAY on accepted connections; without
    # it, Nagle and delayed ACKs add 40 ms to every request but the first on a connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(app: Any, registry: TransportRegistry, *, quiet: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=protocol_class(registry),
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        timeout_graceful_shutdown=2,
    )


@contextlib.contextmanager
def serve_in_thread(app: Any, registry: TransportRegistry, host: str, port: int) -> Iterator[str]:
    """Serve `app` in a background thread; yield the base URL once it accepts connections."""
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(app, registry, quiet=True))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ppio-sandbox-server", daemon=True
    )
    try:
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start in time")
            time.sleep(0.005)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - uvicorn did not stop in time
            server.force_exit = True
            thread.join(_SHUTDOWN_TIMEOUT)
        sock.close()


def serve_forever(app: Any, registry: TransportRegistry, host: str, port: int) -> None:
    """Serve `app` in this thread until interrupted (Ctrl-C or SIGTERM)."""
    sock = bind(host, port)
    try:
        print(f"ppio sandbox listening on {base_url(sock)} (Ctrl-C to stop)", flush=True)
        uvicorn.Server(uvicorn_config(app, registry, quiet=False)).run(sockets=[sock])
    finally:
        sock.close()
