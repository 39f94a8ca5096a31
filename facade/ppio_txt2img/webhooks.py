"""Webhooks as a wait mode: the API tells your server when a task ends, and the waits of your clients
wake at once instead of polling.

    receiver = WebhookReceiver("https://example.com/ppio-webhook")   # where the API can reach you
    app.router.routes.append(Route("/ppio-webhook", receiver, methods=["POST"]))  # FastAPI, Starlette
    client = ppio_txt2img.AsyncClient(webhooks=receiver)
    generation = await client.txt2img("a red fox")                    # sends webhook_url, waits for it

An ASGI app: route it at its URL's exact path (`starlette.routing.Route`, as above); mounted
(`app.mount`), Starlette answers that path with a redirect to the path with a trailing slash.

For scripts, `receiver.serve(port=8080)` runs a small HTTP server in a thread instead, and
`async with receiver.serve_async(port=8080)` one on the running event loop (asyncio or trio): async apps
should prefer it, as a webhook then wakes its wait without a thread competing for the GIL.

The API does not sign its webhooks, so one is only a hint: the woken wait confirms with one poll
(`get_task`) before it believes anything, and a forged webhook costs one request. If a webhook never
comes, the wait still polls, slowly (every `fallback_poll` seconds, 15 by default), until its deadline.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from ._constants import WEBHOOK_FALLBACK_POLL
from ._errors import PPIOError, ValidationError
from ._wakeups import Wakeups
from ._webhook_http import (
    IDLE_TIMEOUT,
    LINGER,
    MAX_WEBHOOK_BYTES,
    AsyncioServer,
    RequestReader,
    ThreadedServer,
    host_addresses,
    is_numeric_host,
    listening_sockets,
)
from ._webhooks import webhook_task_id

__all__ = ["MAX_WEBHOOK_BYTES", "WebhookReceiver"]

_log = logging.getLogger(__name__)

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WebhookReceiver:
    """Receives `ASYNC_TASK_RESULT` webhooks and wakes the waits of the clients it is given to.

    `url` is the address the API should POST to (what `webhook_url` is set to); `serve()` fills it in
    when it is None. `fallback_poll`: how often a wait polls anyway, in case its webhook never comes.
    `received` counts the events read, `woken` the waits they woke.
    """

    def __init__(self, url: str | None = None, *, fallback_poll: float = WEBHOOK_FALLBACK_POLL) -> None:
        if not (isinstance(fallback_poll, int | float) and 0 < fallback_poll < float("inf")):
            raise ValidationError("fallback_poll", fallback_poll, "a finite number of seconds > 0")
        self.url = url
        self.wakeups = Wakeups(float(fallback_poll))
        self.received = 0
        self.woken = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebhookReceiver(url={self.url!r}, received={self.received}, woken={self.woken})"

    def handle(self, method: str, body: bytes) -> int:
        """Read one request to the webhook endpoint; the HTTP status to answer."""
        if method != "POST":  # methods are case-sensitive (RFC 9110 9.1); ASGI servers send them as read
            return 405
        try:
            task_id = webhook_task_id(body)  # all a wake needs: the woken wait polls before believing
        except PPIOError:
            return 400
        with self._lock:
            self.received += 1
        if task_id is not None:  # another event type: acknowledged and ignored, as the docs ask
            woken = self.wakeups.notify(task_id)
            with self._lock:
                self.woken += woken
        return 200

    # -- as an ASGI application
    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        status = 200
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_WEBHOOK_BYTES:
                status = 413
                break
            if not message.get("more_body", False):
                break
        if status == 200:
            status = self.handle(scope["method"], body)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    # -- as a stand-alone server, for scripts
    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0, path: str = "/") -> Iterator[str]:
        """Run a small HTTP/1.1 server in threads (a thread per connection) while the block runs; yields
        the URL it listens on, which becomes `url` for the block's length if `url` was unset. A host name
        is served on every address it resolves to, on one port (`localhost` on 127.0.0.1 and ::1). It
        answers every request as `serve_async` does (`_webhook_http.py`); when the block ends, its
        threads have ended and its sockets are closed."""
        _check_bind(host, path, self.url)
        # A lone `::` keeps the system's default here (IPv4 as well, on Linux), as it always has.
        with ThreadedServer(self.handle, listening_sockets(host, port, v6only=False)) as server:
            url = _url(host, server.port, path)
            with self._url_while_serving(url):
                yield url

    @contextlib.asynccontextmanager
    async def serve_async(
        self, host: str = "127.0.0.1", port: int = 0, path: str = "/"
    ) -> AsyncIterator[str]:
        """Run a small HTTP/1.1 server on the running event loop (asyncio or trio) while the block runs;
        yields the URL it listens on, which becomes `url` for the block's length if `url` was unset (set
        `url` to the public address the API can reach when this one is behind a tunnel or a proxy). A
        host name is served on every address it resolves to, on one port (`localhost` on 127.0.0.1 and
        ::1). A webhook wakes its wait in the loop's own thread. Exceptions of the block come out as
        they are."""
        import anyio
        import sniffio
        from anyio.abc import SocketListener

        _check_bind(host, path, self.url)
        # IPv6 sockets are IPv6-only here, a lone `::` too, as they always were (anyio's choice). A name
        # is resolved in a worker thread: it may ask DNS.
        sockets: list[socket.socket] = []
        bind = functools.partial(_bind_into, sockets, host, port)
        try:
            bind() if is_numeric_host(host) else await anyio.to_thread.run_sync(bind)
        except BaseException:  # cancelled while the thread bound them: none is left open
            for sock in sockets:
                sock.close()
            raise
        url = _url(host, int(sockets[0].getsockname()[1]), path)
        if sniffio.current_async_library() == "asyncio":  # its own server: see `_webhook_http.py`
            async with AsyncioServer(self.handle, sockets):  # which closes them, whatever happens
                with self._url_while_serving(url):
                    yield url
            return
        listeners: list[SocketListener] = []
        try:
            for sock in sockets:
                listeners.append(await SocketListener.from_socket(sock))
        except BaseException:
            for sock in sockets[len(listeners) :]:
                sock.close()
            with anyio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()
            raise
        block_error: Exception | None = None
        try:
            try:
                async with anyio.create_task_group() as group:
                    for each in listeners:
                        group.start_soon(self._accept, each, group)
                    with self._url_while_serving(url):
                        try:
                            yield url
                        except Exception as exc:  # kept out of the task group, which would wrap or split it
                            block_error = exc
                        finally:
                            group.cancel_scope.cancel()
            finally:
                # Every listener closed, in a cancelled block too: trio's `aclose` checkpoints after
                # closing its socket, which a cancelled scope ends (anyio's MultiListener then left the
                # others listening).
                with anyio.CancelScope(shield=True):
                    for listener in listeners:
                        await listener.aclose()
        except BaseExceptionGroup as group_error:
            # The server's own tasks never raise (see `_accept`): what the group holds is the block's,
            # re-raised as it was (its own cause and context kept, not the group's).
            if len(group_error.exceptions) != 1:
                raise
            inner = group_error.exceptions[0]
            chain = inner.__cause__, inner.__context__, inner.__suppress_context__
            try:
                raise inner
            finally:
                inner.__cause__, inner.__context__, inner.__suppress_context__ = chain
        if block_error is not None:
            raise block_error

    @contextlib.contextmanager
    def _url_while_serving(self, url: str) -> Iterator[None]:
        """`url` is this server's while it serves, unless the caller set one; unset again after. When
        the last server ends, the waits sleeping for a webhook look at their task at once, then poll on
        its own schedule (`Wakeups.serving`): no webhook can come any more."""
        own = self.url is None
        if own:
            self.url = url
        try:
            with self.wakeups.serving():
                yield
        finally:
            if own and self.url == url:
                self.url = None

    async def _accept(self, listener: Any, group: Any) -> None:
        """Accept connections until cancelled, each answered in a task of its own. Accepting can fail
        (out of file descriptors, a connection reset before it was accepted): the server waits a moment
        and goes on, where `Listener.serve` would end, and take the app's block with it."""
        import anyio

        while True:
            try:
                stream = await listener.accept()
            except (OSError, anyio.BrokenResourceError) as exc:
                _log.warning("accepting a webhook connection failed (%s); retrying", type(exc).__name__)
                await anyio.sleep(0.1)
                continue
            group.start_soon(self._serve_connection, stream)

    async def _serve_connection(self, stream: Any) -> None:
        """Answer one request with `handle`, then close the connection (an HTTP/1.1 client opens the
        next): nothing a client sends after it is read, so no client can make the server hold more
        than one request's bytes. Whatever one connection does, the server goes on."""
        try:
            await self._answer(stream)
        except Exception as exc:  # one connection's failure must not stop the server
            _log.warning("webhook connection ended by %s", type(exc).__name__)

    async def _answer(self, stream: Any) -> None:
        import anyio

        reader = RequestReader(self.handle)
        async with stream:
            try:
                with anyio.fail_after(IDLE_TIMEOUT):
                    while True:
                        try:
                            data = await stream.receive(65536)
                        except anyio.EndOfStream:
                            data = b""
                        step = reader.feed(data)
                        if step.send:
                            await stream.send(step.send)
                        if step.closed or step.status is not None:
                            break
            except (TimeoutError, anyio.BrokenResourceError):
                return
            if step.status is None:
                return
            with (
                contextlib.suppress(TimeoutError, anyio.BrokenResourceError, anyio.ClosedResourceError),
                anyio.fail_after(IDLE_TIMEOUT),
            ):
                await stream.send(reader.answer(step.status))
            # A lingering close: what the client still sends is read and dropped for a moment (at most a
            # body's worth), so that closing with it unread does not reset the connection under the
            # answer before the client has read it.
            with contextlib.suppress(Exception), anyio.move_on_after(LINGER):
                await stream.send_eof()
                dropped = 0
                while dropped <= MAX_WEBHOOK_BYTES:
                    dropped += len(await stream.receive(65536))


def _bind_into(sockets: list[socket.socket], host: str, port: int) -> None:
    """`listening_sockets` for `serve_async` (IPv6-only, a lone `::` too, as anyio made them), put in
    `sockets` as soon as they are bound: a cancelled wait for the thread that binds them closes them."""
    sockets.extend(listening_sockets(host, port, v6only=True))


def _check_bind(host: str, path: str, url: str | None) -> None:
    if not (isinstance(path, str) and path.startswith("/")):
        raise ValidationError("path", path, "a URL path starting with /")
    if not _host_name(host):
        raise ValidationError("host", host, 'a host name or an IP address ("127.0.0.1", "localhost")')
    if url is None and _unspecified(host) is not None:
        raise ValidationError(
            "url",
            None,
            f"the public URL the API calls, given to WebhookReceiver(url=...) when serving on {host!r}"
            " (every interface has no one address to call)",
            "is required",
        )


def _host_name(host: object) -> bool:
    """Whether `host` is text a server can be asked to listen on: a host name or an IP address (or "",
    every IPv4 interface), whether or not it resolves."""
    if not isinstance(host, str) or any(c.isspace() or not c.isprintable() for c in host):
        return False
    try:
        host.encode("idna")  # labels of at most 63 characters, no lone surrogate
    except UnicodeError:
        return is_numeric_host(host)  # an IPv6 address is no IDNA name
    return True


def _unspecified(host: str) -> str | None:
    """The loopback address that reaches a server on `host` when `host` means "every interface" (`""`,
    `0.0.0.0`, `::`, and their other spellings: `0`, `::0`...), whose URL no one else can call; None for
    any other host."""
    if not is_numeric_host(host):
        return None
    addresses = host_addresses(host)  # an IP address as itself: no resolver is asked
    if not any(ipaddress.ip_address(address.sockaddr[0]).is_unspecified for address in addresses):
        return None
    return "::1" if addresses[0].family == socket.AF_INET6 else "127.0.0.1"


def _url(host: str, port: int, path: str) -> str:
    """The URL a server on `host`:`port` answers `path` at (on this machine, for every interface)."""
    local = _unspecified(host) or host
    return f"http://[{local}]:{port}{path}" if ":" in local else f"http://{local}:{port}{path}"
