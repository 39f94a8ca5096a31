"""Webhooks as a wait mode: the API tells your server when a task ends, and the waits of your clients
wake at once instead of polling.

    receiver = WebhookReceiver("https://example.com/ppio-webhook")   # where the API can reach you
    app.mount("/ppio-webhook", receiver)                              # any ASGI app: FastAPI, Starlette
    client = ppio_txt2img.AsyncClient(webhooks=receiver)
    generation = await client.txt2img("a red fox")                    # sends webhook_url, waits for it

For scripts, `receiver.serve(port=8080)` runs a small HTTP server in a thread instead, and
`async with receiver.serve_async(port=8080)` one on the running event loop (asyncio or trio): async apps
should prefer it, as a webhook then wakes its wait without a thread competing for the GIL.

The API does not sign its webhooks, so one is only a hint: the woken wait confirms with one poll
(`get_task`) before it believes anything, and a forged webhook costs one request. If a webhook never
comes, the wait still polls, slowly (every `fallback_poll` seconds, 15 by default), until its deadline.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._constants import WEBHOOK_FALLBACK_POLL
from ._errors import PPIOError, ValidationError
from ._wakeups import Wakeups
from ._webhooks import parse_webhook

__all__ = ["MAX_WEBHOOK_BYTES", "WebhookReceiver"]

#: The largest webhook body read (an event is a few KiB).
MAX_WEBHOOK_BYTES = 1024 * 1024
#: `serve_async`: the longest a connection may sit idle, or take to send one request, before it is closed.
IDLE_TIMEOUT = 30.0
#: `serve_async`: the largest request line plus headers read.
MAX_HEAD_BYTES = 16 * 1024

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
        if method.upper() != "POST":
            return 405
        try:
            task = parse_webhook(body)
        except PPIOError:
            return 400
        with self._lock:
            self.received += 1
        if task is not None:  # another event type: acknowledged and ignored, as the docs ask
            woken = self.wakeups.notify(task.id)
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
        """Run a small HTTP server in a thread; yields (and sets, if unset) the webhook URL."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_WEBHOOK_BYTES:
                    status = 413
                else:
                    status = receiver.handle(self.command, self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the API may call often

        class Server(ThreadingHTTPServer):
            # The API may finish many tasks at once: with the default backlog of 5, connections past it
            # wait for the kernel's SYN retry (1 s, then 3 s) and their waits wake that much later.
            request_queue_size = 1024

        server = Server((host, port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="ppio-webhooks", daemon=True)
        thread.start()
        url = _url(host, server.server_address[1], path)
        if self.url is None:
            self.url = url
        try:
            yield url
        finally:
            server.shutdown()
            server.server_close()

    @contextlib.asynccontextmanager
    async def serve_async(
        self, host: str = "127.0.0.1", port: int = 0, path: str = "/"
    ) -> AsyncIterator[str]:
        """Run a small HTTP/1.1 server on the running event loop (asyncio or trio) while the block runs;
        yields (and sets, if unset) the webhook URL. A webhook wakes its wait in the loop's own thread."""
        import anyio
        from anyio.abc import SocketAttribute

        listener = await anyio.create_tcp_listener(local_host=host, local_port=port, backlog=1024)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self._serve_connection)
            url = _url(host, listener.extra(SocketAttribute.local_port), path)  # noqa: S610 (not Django)
            if self.url is None:
                self.url = url
            try:
                yield url
            finally:
                group.cancel_scope.cancel()

    async def _serve_connection(self, stream: Any) -> None:
        """Answer the requests of one connection (kept alive) with `handle`, until it closes, breaks the
        protocol, or idles `IDLE_TIMEOUT`. Whatever one connection does, the server goes on."""
        try:
            await self._answer_requests(stream)
        except Exception as exc:
            _log.warning("webhook connection ended by %s", type(exc).__name__)

    async def _answer_requests(self, stream: Any) -> None:
        import anyio
        import h11

        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        async with stream:
            while True:
                try:
                    with anyio.fail_after(IDLE_TIMEOUT):
                        status = await self._read_request(connection, stream)
                except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, h11.RemoteProtocolError):
                    status = 400 if connection.their_state is h11.ERROR else None
                if status is None:
                    return
                with contextlib.suppress(
                    anyio.BrokenResourceError, anyio.ClosedResourceError, h11.LocalProtocolError
                ):
                    headers = [("content-length", "0")] + ([("connection", "close")] if status >= 400 else [])
                    await stream.send(connection.send(h11.Response(status_code=status, headers=headers)))
                    await stream.send(connection.send(h11.EndOfMessage()))
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    return
                connection.start_next_cycle()

    async def _read_request(self, connection: Any, stream: Any) -> int | None:
        """Read one request; the status to answer it with, or None when the peer closed cleanly first."""
        import h11

        method, body = "", bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive(65536)
                connection.receive_data(data)
            elif isinstance(event, h11.ConnectionClosed):
                return None
            elif isinstance(event, h11.Request):
                method = event.method.decode("ascii", "replace")
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > MAX_WEBHOOK_BYTES:
                    return 413
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_WEBHOOK_BYTES:
                    return 413
            elif isinstance(event, h11.EndOfMessage):
                return self.handle(method, bytes(body))


def _url(host: str, port: int, path: str) -> str:
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"
