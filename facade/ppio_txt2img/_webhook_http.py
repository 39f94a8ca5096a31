"""The webhook receiver's HTTP/1.1: one request per connection, read with h11 without I/O
(`RequestReader`), the server `serve_async` runs on asyncio's own protocol layer (`AsyncioServer`), and
the one `serve` runs in threads (`ThreadedServer`): all three answer every request alike.

Why asyncio gets a server of its own: when many tasks end together, the API opens a connection per
webhook. A server that accepts in a task (anyio's `Listener`) takes one connection per turn of the event
loop, and three turns before it reads it; on a loop busy with the waits it woke (polls, downloads,
decodes), each turn takes milliseconds, so the 16th webhook waited some 70 ms before it was read.
asyncio's `Server` accepts every connection waiting in one turn, and a protocol reads each in callbacks,
with no task per connection. Under trio, `serve_async` keeps anyio's listener (see `webhooks.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

import h11

__all__ = [
    "IDLE_TIMEOUT",
    "LINGER",
    "MAX_HEAD_BYTES",
    "MAX_WEBHOOK_BYTES",
    "AsyncioServer",
    "RequestReader",
    "Step",
    "ThreadedServer",
    "plain_head",
]

#: The largest webhook body read (an event is a few KiB).
MAX_WEBHOOK_BYTES = 1024 * 1024
#: The longest a connection may sit idle, or take to send one request, before it is closed.
IDLE_TIMEOUT = 30.0
#: How long a connection is drained after its answer, before it is closed.
LINGER = 1.0
#: The largest request line plus headers read.
MAX_HEAD_BYTES = 16 * 1024

_log = logging.getLogger("ppio_txt2img.webhooks")

Handle = Callable[[str, bytes], int]


class Step(NamedTuple):
    """What one read of the peer's bytes asks of the server: bytes to send at once (an interim
    `100 Continue`), the status to answer with once the request is read or refused, and whether the peer
    closed before sending a request (then nothing is answered)."""

    send: bytes = b""
    status: int | None = None
    closed: bool = False


class RequestReader:
    """One request on one connection: the peer's bytes in, what to answer out. `handle(method, body)`
    gives the status of a request read whole; a body over `MAX_WEBHOOK_BYTES` is refused (413) unread,
    and a request h11 cannot parse gets 400.

    A plain request (what webhook senders send: HTTP/1.1, one `Host`, one `Content-Length`, nothing else
    that shapes the exchange; see `plain_head`) is read here, at a tenth of h11's CPU: with many tasks
    ending at once, every webhook's cost is paid on the loop the woken waits run on. Anything else, and
    anything odd, goes to h11 with every byte read so far (`_H11Reader`), so that what is answered is
    always what h11 would answer."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._read = bytearray()  # the peer's bytes while the request is read here
        self._scanned = 0  # of `_read`, checked for the head's end and for bare line feeds
        self._body: tuple[str, int, int] | None = None  # method, body start, length: once the head is read
        self._h11: _H11Reader | None = None

    def feed(self, data: bytes) -> Step:
        """Take what the peer sent next (`b""` once it has closed its side). Empty lines before the request
        line are skipped, as RFC 9112 2.2 asks of a server."""
        if self._h11 is not None:
            return self._h11.feed(data)
        if not data:
            return self._hand_over(closed=True) if self._read else Step(closed=True)
        if not self._read:
            data = data.lstrip(b"\r\n")
            if not data:
                return Step()
        self._read += data
        if self._body is None:
            head_end = self._head_end()
            if head_end is None:
                return Step()
            if head_end < 0:
                return self._hand_over()
            head = plain_head(bytes(self._read[:head_end]))
            if head is None:
                return self._hand_over()
            method, length = head
            if length > MAX_WEBHOOK_BYTES:
                return Step(status=413)
            self._body = (method, head_end + 4, length)
        method, start, length = self._body
        if len(self._read) - start < length:
            return Step()
        return Step(status=self._handle(method, bytes(self._read[start : start + length])))

    def answer(self, status: int) -> bytes:
        """The response (no body; the connection closes after it), or nothing when it cannot be sent."""
        return self._h11.answer(status) if self._h11 is not None else _plain_answer(status)

    def _head_end(self) -> int | None:
        """Where the head read so far ends (at its blank line); None: not yet; -1: h11 must read it (a bare
        line feed, which h11 reads as a line's end; a head longer than `MAX_HEAD_BYTES`; or a first byte
        no request line starts with, which h11 refuses at once)."""
        read, since = self._read, max(0, self._scanned - 3)
        end = read.find(b"\r\n\r\n", since)
        bare = _BARE_LINE_FEED.search(read, since, len(read) if end < 0 else end + 4)
        self._scanned = len(read)
        too_long = end > MAX_HEAD_BYTES or (end < 0 and len(read) > MAX_HEAD_BYTES)
        if bare is not None or too_long or read[0] < 0x21:
            return -1
        return None if end < 0 else end

    def _hand_over(self, *, closed: bool = False) -> Step:
        """Let h11 read the request from its first byte (and the peer's close, if it came)."""
        self._h11 = _H11Reader(self._handle)
        step = self._h11.feed(bytes(self._read))
        self._read = bytearray()
        if closed and step.status is None and not step.closed:
            after = self._h11.feed(b"")
            return Step(send=step.send + after.send, status=after.status, closed=after.closed)
        return step


_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") [\x21-\x7e]+ HTTP/1\.1")
_FIELD = re.compile(rb"(" + _TOKEN + rb"):[ \t]*((?:[\x21-\x7e](?:[\x21-\x7e \t]*[\x21-\x7e])?)?)[ \t]*")
#: The longest `Content-Length` h11 reads (20 digits); a longer one is a 400 there.
_LENGTH_DIGITS = 20
_BARE_LINE_FEED = re.compile(rb"(?<!\r)\n")
#: Fields whose presence shapes the exchange (a chunked body, an interim 100, a protocol switch): h11's.
_SHAPING_FIELDS = frozenset((b"transfer-encoding", b"expect", b"upgrade"))


def plain_head(head: bytes) -> tuple[str, int] | None:
    """The method and body length of a plain request's head (without its blank line), or None when it
    is not plain: HTTP/1.1 with a request line and fields in the strict grammar of RFC 9110/9112 (visible
    ASCII, CRLF line ends), not CONNECT, exactly one `Host`, exactly one `Content-Length` of 1-20 digits,
    and none of `_SHAPING_FIELDS`. h11 reads every plain head the same way
    (tests/unit/test_webhook_http.py)."""
    lines = head.split(b"\r\n")
    request = _REQUEST_LINE.fullmatch(lines[0])
    if request is None or request[1] == b"CONNECT":  # h11 reads a CONNECT's 2xx as a switch of protocol
        return None
    hosts, lengths = 0, []
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:
            return None
        name = field[1].lower()
        if name in _SHAPING_FIELDS:
            return None
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            lengths.append(field[2])
    if hosts != 1 or len(lengths) != 1 or not (lengths[0].isdigit() and len(lengths[0]) <= _LENGTH_DIGITS):
        return None
    return request[1].decode("ascii"), int(lengths[0])


@cache
def _plain_answer(status: int) -> bytes:
    """The answer h11 gives a plain request: the same for every one."""
    reader = _H11Reader(lambda method, body: status)
    reader.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    return reader.answer(status)


class _H11Reader:
    """`RequestReader` on h11, for every request: what it hands a request over to."""

    def __init__(self, handle: Handle) -> None:
        self._connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._handle = handle
        self._method = ""
        self._body = bytearray()
        self._started = False

    def feed(self, data: bytes) -> Step:
        """As `RequestReader.feed`."""
        connection = self._connection
        if not self._started and data:
            data = data.lstrip(b"\r\n")
            if not data:
                return Step()
            self._started = True
        connection.receive_data(data)
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError:
                return Step(status=400)
            if event is h11.NEED_DATA:
                if connection.they_are_waiting_for_100_continue:
                    return Step(send=connection.send(h11.InformationalResponse(status_code=100, headers=[])))
                return Step()
            if isinstance(event, h11.ConnectionClosed):
                return Step(closed=True)
            if isinstance(event, h11.Request):
                self._method = event.method.decode("ascii", "replace")
                length = dict(event.headers).get(b"content-length")
                if length is not None and int(length) > MAX_WEBHOOK_BYTES:
                    return Step(status=413)
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > MAX_WEBHOOK_BYTES:
                    return Step(status=413)
            elif isinstance(event, h11.EndOfMessage):
                return Step(status=self._handle(self._method, bytes(self._body)))

    def answer(self, status: int) -> bytes:
        """As `RequestReader.answer`."""
        headers = [("content-length", "0"), ("connection", "close")]
        try:
            return self._connection.send(h11.Response(status_code=status, headers=headers)) + (
                self._connection.send(h11.EndOfMessage()) or b""
            )
        except h11.LocalProtocolError:
            return b""


class _Connection(asyncio.Protocol):
    """One connection: read its request in callbacks, answer, then drain it for `LINGER` seconds (at most
    a body's worth) before closing, so that closing with bytes unread does not reset the connection under
    the answer before the peer has read it."""

    def __init__(self, server: AsyncioServer) -> None:
        self._server = server
        self._reader = RequestReader(server.handle)
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._answered = False
        self._pending: int | None = None  # the status to answer, in the loop's next callback
        self._dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._server.closing:  # accepted as the server closes: it reads nothing more
            transport.abort()
            return
        self._server.open.add(self)
        self._timer = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._server.closing:
            return
        if self._answered:
            self._dropped += len(data)
            if self._dropped > MAX_WEBHOOK_BYTES:
                self.close()
            return
        self._take(data)

    def eof_received(self) -> bool:
        if not (self._answered or self._server.closing):
            self._take(b"")
        if self._pending is not None:  # asyncio closes next: the answer goes out now, not a turn later
            self._answer()
        return False  # close the connection (after what was written is sent)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._server.open.discard(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping what is not sent yet: a peer that reads nothing cannot hold the
        server's end (`Server.wait_closed` waits for every connection from Python 3.12 on)."""
        if self._transport is not None:
            self._transport.abort()

    def _take(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        try:
            step = self._reader.feed(data)
        except Exception as exc:  # one connection's failure must not stop the server
            _log.warning("webhook connection ended by %s", type(exc).__name__)
            transport.close()
            return
        if step.send:
            transport.write(step.send)
        if step.closed:
            transport.close()
        elif step.status is not None:
            self._answered = True
            # Answered in the loop's next callback, after the first step of the waits the webhook woke
            # (queued as `handle` woke them): writing and half-closing a socket cost 0.1 ms of system
            # calls, which would otherwise delay their confirming polls; the answer is no later for it
            # than a turn of the loop (at the peer's end of stream, `eof_received` answers at once).
            self._pending = step.status
            asyncio.get_running_loop().call_soon(self._answer)

    def _answer(self) -> None:
        """Write the pending answer (once), half-close, and drain for `LINGER` seconds."""
        transport, status, self._pending = self._transport, self._pending, None
        if transport is None or status is None or transport.is_closing() or self._server.closing:
            return
        transport.write(self._reader.answer(status))
        if transport.can_write_eof():
            transport.write_eof()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(LINGER, transport.close)


class AsyncioServer:
    """`handle` served on asyncio's protocol layer, on sockets already bound (see the module's docstring).
    `async with` it: it listens inside the block; at its end, every connection it accepted is closed
    (none is read after the block) and so are its sockets."""

    BACKLOG = 1024  # the API may finish many tasks at once: no connection waits for a SYN retry
    #: Turns of the event loop from accepting a connection to its `connection_made` (asyncio makes its
    #: transport in a task of its own, which schedules the call), with one to spare.
    ACCEPT_TURNS = 3

    def __init__(self, handle: Handle, sockets: Sequence[socket.socket]) -> None:
        self.handle = handle
        self.open: set[_Connection] = set()
        #: Set when the block ends: a connection made from then on is aborted at once, none is read.
        self.closing = False
        self._sockets = list(sockets)
        self._servers: list[asyncio.Server] = []

    async def __aenter__(self) -> AsyncioServer:
        loop = asyncio.get_running_loop()
        try:
            for sock in self._sockets:
                server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=self.BACKLOG)
                self._servers.append(server)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        import anyio

        self.closing = True
        loop = asyncio.get_running_loop()
        with anyio.CancelScope(shield=True):  # a cancelled block still closes everything
            # Accept no more, then let the connections already accepted reach `connection_made` (which
            # aborts them now) before the servers close: closed first, asyncio would leave them open.
            for server in self._servers:
                for sock in server.sockets:
                    loop.remove_reader(sock.fileno())
            for _ in range(self.ACCEPT_TURNS):
                await asyncio.sleep(0)
            for server in self._servers:
                server.close()
            for sock in self._sockets:
                sock.close()  # those no server took over
            for connection in list(self.open):
                connection.abort()
            await asyncio.sleep(0)  # an aborted transport closes its socket in the next turn
            for server in self._servers:
                await server.wait_closed()


class ThreadedServer:
    """`handle` served in threads, for `serve` (scripts with a sync client): one thread accepts, and each
    connection is read and answered by `answer_connection` in a thread of its own, so a stalled peer
    holds only its own thread, and that until `IDLE_TIMEOUT`. `with` it: it listens inside the block; at
    its end it accepts no more, and every connection still open is shut (its thread then ends)."""

    BACKLOG = 1024  # the API may finish many tasks at once: no connection waits for a SYN retry

    def __init__(self, handle: Handle, host: str, port: int) -> None:
        self.handle = handle
        self.open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = False
        outer = self

        class Server(socketserver.ThreadingTCPServer):
            request_queue_size = self.BACKLOG
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def process_request_thread(self, request: Any, client_address: Any) -> None:
                try:
                    outer._serve(request)
                finally:
                    self.shutdown_request(request)

        self._server = Server((host, port), socketserver.BaseRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ppio-webhooks", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            self._closing = True
            still_open = list(self.open)
        for sock in still_open:  # a peer mid-request: its thread's read ends at once
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closing:
                return
            self.open.add(sock)
        try:
            answer_connection(sock, self.handle)
        except Exception as exc:  # one connection's failure must not stop the server
            _log.warning("webhook connection ended by %s", type(exc).__name__)
        finally:
            with self._lock:
                self.open.discard(sock)


def answer_connection(sock: socket.socket, handle: Handle) -> None:
    """Read one request from a blocking socket within `IDLE_TIMEOUT`, answer it, then drain the
    connection for `LINGER` seconds (at most a body's worth), as `_Connection` does on asyncio."""
    reader = RequestReader(handle)
    deadline = time.monotonic() + IDLE_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except OSError:  # timed out, reset, or shut as the server closes
            return
        step = reader.feed(data)
        if step.send:
            try:
                sock.sendall(step.send)
            except OSError:
                return
        if step.closed:
            return
        if step.status is not None:
            break
    with contextlib.suppress(OSError):  # the peer gone, or the server closing: as on asyncio, unlogged
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(reader.answer(step.status))
        sock.shutdown(socket.SHUT_WR)
        end = time.monotonic() + LINGER
        dropped = 0
        while dropped <= MAX_WEBHOOK_BYTES and (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return
            dropped += len(chunk)
