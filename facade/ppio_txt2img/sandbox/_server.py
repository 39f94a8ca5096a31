"""Running the app with uvicorn on a real loopback socket, in the foreground or in a background thread.

Dropped connections need the socket: uvicorn's h11 protocol is subclassed only to remember each
connection's transport by its two addresses (the listener's and the peer's), so the app can close the
connection of the request it is serving without answering (see `_app.Drop`).

One server may listen on several sockets (the second one is the "other host" redirects point at);
the caller binds them (`bind`) and hands them over: the server closes them when it stops.
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
#: A connection: the listener's address and the peer's.
Connection = tuple[Peer, Peer]
_STARTUP_TIMEOUT = 10.0
_SHUTDOWN_TIMEOUT = 10.0


def peer_of(client: Any) -> Peer | None:
    """`(host, port)` from an ASGI scope's `client` or `server`, or a socket's `peername` or `sockname`;
    None when it has no port (in process, `httpx.ASGITransport` gives none for a URL without one)."""
    if isinstance(client, list | tuple) and len(client) >= 2 and isinstance(client[1], int):
        return str(client[0]), client[1]
    return None


def connection_of(server: Any, client: Any) -> Connection | None:
    """The connection of an ASGI scope's `server` and `client`, or of a socket's `sockname` and `peername`."""
    local, peer = peer_of(server), peer_of(client)
    return None if local is None or peer is None else (local, peer)


class TransportRegistry:
    """The open connections of a server, by their two addresses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transports: dict[Connection, asyncio.BaseTransport] = {}

    def add(self, connection: Connection, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            self._transports[connection] = transport

    def remove(self, connection: Connection, transport: asyncio.BaseTransport) -> None:
        with self._lock:
            if self._transports.get(connection) is transport:
                del self._transports[connection]

    def get(self, connection: Connection | None) -> asyncio.BaseTransport | None:
        if connection is None:
            return None
        with self._lock:
            return self._transports.get(connection)


def protocol_class(registry: TransportRegistry) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, registering every connection's transport in `registry`."""

    def connection(transport: asyncio.BaseTransport) -> Connection | None:
        return connection_of(transport.get_extra_info("sockname"), transport.get_extra_info("peername"))

    class RegisteringH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            key = connection(transport)
            if key is not None:
                registry.add(key, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            key = connection(self.transport)
            if key is not None:
                registry.remove(key, self.transport)
            super().connection_lost(exc)

    return RegisteringH11Protocol


class ListenError(OSError):
    """The sandbox cannot listen on an address. `invalid`: the address itself is wrong (a port out of
    range, an unknown host); otherwise it is unavailable (in use, not an address of this machine)."""

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        self.invalid = invalid


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port. Raises `ListenError` (one line) when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"cannot listen on {host}:{port}"
    # With the protocol given explicitly, asyncio sets TCP_NODELAY on accepted connections; without
    # it, Nagle and delayed ACKs add 40 ms to every request but the first on a connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OverflowError:
        sock.close()
        raise ListenError(f"{where}: the port must be from 0 to 65535", invalid=True) from None
    except socket.gaierror as exc:
        sock.close()
        raise ListenError(f"{where}: unknown host ({exc.strerror})", invalid=True) from None
    except OSError as exc:
        sock.close()
        raise ListenError(f"{where}: {exc.strerror or exc}", invalid=False) from None
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


def bind_all(addresses: list[tuple[str, int]]) -> list[socket.socket]:
    """Listening sockets on all these addresses, or none (the ones bound are closed on an error)."""
    sockets: list[socket.socket] = []
    try:
        for host, port in addresses:
            sockets.append(bind(host, port))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@contextlib.contextmanager
def serve_in_thread(app: Any, registry: TransportRegistry, sockets: list[socket.socket]) -> Iterator[None]:
    """Serve `app` on the bound `sockets` in a background thread; return once it accepts connections."""
    server = uvicorn.Server(uvicorn_config(app, registry, quiet=True))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": sockets}, name="ppio-sandbox-server", daemon=True
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
        yield
    finally:
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - uvicorn did not stop in time
            server.force_exit = True
            thread.join(_SHUTDOWN_TIMEOUT)
        for sock in sockets:
            sock.close()


def serve_forever(app: Any, registry: TransportRegistry, sockets: list[socket.socket]) -> None:
    """Serve `app` on the bound `sockets` in this thread until interrupted (Ctrl-C or SIGTERM)."""
    try:
        urls = " and ".join(base_url(sock) for sock in sockets)
        print(f"ppio sandbox listening on {urls} (Ctrl-C to stop)", flush=True)
        uvicorn.Server(uvicorn_config(app, registry, quiet=False)).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
