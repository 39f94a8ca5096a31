"""The webhook receiver's HTTP/1.1: one request per connection, read with h11 without I/O
(`RequestReader`), the server `serve_async` runs on asyncio's own protocol layer (`AsyncioServer`), and
the one `serve` runs in threads (`ThreadedServer`): all three answer every request alike.

Why asyncio gets a server of its own: when many tasks end together, the API opens a connection per
webhook. A server that accepts in a task (anyio's `Listener`) takes one connection per turn of the event
loop, and three turns before it reads it; on a loop busy with the waits it woke (polls, downloads,
decodes), each turn takes milliseconds, so the 16th webhook waited some 70 ms before it was read.
asyncio's `Server` accepts every connection waiting in one turn, and a protocol reads each in callbacks,
with no task per connection. Under trio, `serve_async` keeps anyio's listeners (see `webhooks.py`).

Every server listens on the sockets `listening_sockets` binds: every address of the host it is given, all
on one port (`localhost` on 127.0.0.1 and ::1, whatever the resolver says: see `host_addresses`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

import h11

__all__ = [
    "BACKLOG",
    "IDLE_TIMEOUT",
    "LINGER",
    "MAX_HEAD_BYTES",
    "MAX_WEBHOOK_BYTES",
    "PORT_ATTEMPTS",
    "Address",
    "AsyncioServer",
    "RequestReader",
    "Step",
    "ThreadedServer",
    "bind_listening",
    "host_addresses",
    "is_numeric_host",
    "listening_sockets",
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
#: Connections a listening socket queues: the API may finish many tasks at once, and no connection
#: should wait for a SYN retry.
BACKLOG = 1024
#: How many ports the system is asked for (port 0) before one is found free on every address of a host.
PORT_ATTEMPTS = 10

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
                server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=BACKLOG)
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
    """`handle` served in threads on sockets already bound, for `serve` (scripts with a sync client): one
    thread accepts on all of them, and each connection is read and answered by `answer_connection` in a
    thread of its own, so a stalled peer holds only its own thread, and that until `IDLE_TIMEOUT`. `with`
    it: it listens inside the block; at its end it accepts no more, every connection still open is shut,
    and the block ends once every thread has (their sockets closed, the listening ones too)."""

    def __init__(self, handle: Handle, sockets: Sequence[socket.socket]) -> None:
        self.handle = handle
        #: The connections being answered: shut at the end of the block, so that their threads end.
        self.open: set[socket.socket] = set()
        self._sockets = list(sockets)
        #: The connections' threads, joined when the block ends: each is kept until it is seen ended (one
        #: that has left `open` may still be running), the ended ones dropped now and then.
        self._threads: list[threading.Thread] = []
        self._prune_at = 64
        self._lock = threading.Lock()
        self._closing = False
        self._stop = threading.Event()
        try:
            # The block's end wakes the accepting thread at once (a byte on this pair), not at a poll.
            self._wake, self._waker = socket.socketpair()
        except BaseException:
            for sock in self._sockets:
                sock.close()
            raise
        self._accepting = threading.Thread(target=self._accept, name="ppio-webhooks", daemon=True)

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1])

    def __enter__(self) -> ThreadedServer:
        try:
            self._accepting.start()
        except BaseException:
            self._close_sockets()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._closing = True  # a connection accepted from now on is closed unread
            for sock in self.open:  # a peer mid-request: its thread's read ends at once
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._stop.set()
        with contextlib.suppress(OSError):
            self._waker.send(b"\0")
        self._accepting.join()
        self._close_sockets()  # the connections still queued are reset
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + IDLE_TIMEOUT  # a bound: each ends as soon as its socket is shut
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _close_sockets(self) -> None:
        for sock in (*self._sockets, self._wake, self._waker):
            sock.close()

    def _accept(self) -> None:
        """Accept until the block ends."""
        with selectors.DefaultSelector() as selector:
            for sock in self._sockets:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]
                if self._wake in ready:
                    return
                for listening in ready:
                    assert isinstance(listening, socket.socket)
                    self._accept_from(listening)

    def _accept_from(self, listening: socket.socket) -> None:
        """Accept one connection. Accepting can fail (out of file descriptors, a connection reset before
        it was accepted): the server waits a moment and goes on, as `serve_async` does."""
        try:
            connection, _ = listening.accept()
        except (BlockingIOError, InterruptedError):  # gone before it was accepted
            return
        except OSError as exc:
            _log.warning("accepting a webhook connection failed (%s); retrying", type(exc).__name__)
            self._stop.wait(0.1)  # cut short when the block ends
            return
        self._start(connection)

    def _start(self, connection: socket.socket) -> None:
        """Answer `connection` in a thread of its own (or close it, when the block is ending)."""
        connection.setblocking(True)
        with self._lock:
            if not self._closing:
                thread = threading.Thread(
                    target=self._serve, args=(connection,), name="ppio-webhook-connection", daemon=True
                )
                if len(self._threads) >= self._prune_at:  # the ended dropped: a look a thread, amortized
                    self._threads = [each for each in self._threads if each.is_alive()]
                    self._prune_at = 2 * len(self._threads) + 64
                try:
                    thread.start()  # under the lock: `__exit__` never joins a thread not yet started
                except RuntimeError as exc:  # no thread to be had: this connection goes unanswered
                    _log.warning("answering a webhook connection failed (%s)", type(exc).__name__)
                else:
                    self.open.add(connection)
                    self._threads.append(thread)
                    return
        connection.close()

    def _serve(self, sock: socket.socket) -> None:
        try:
            with self._lock:
                closing = self._closing
            if not closing:
                answer_connection(sock, self.handle)
        except Exception as exc:  # one connection's failure must not stop the server
            _log.warning("webhook connection ended by %s", type(exc).__name__)
        finally:
            with self._lock:  # out of `open` before it is closed: `__exit__` shuts only open sockets
                self.open.discard(sock)
            sock.close()


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


class Address(NamedTuple):
    """One address to listen on, as `socket.getaddrinfo` gives it (its port is set when it is bound)."""

    family: socket.AddressFamily
    sockaddr: tuple[Any, ...]


#: What `bind` fails with for an address this machine does not have (IPv6 turned off, a name's address
#: on another host): such an address of a host name is passed over when another one is bound.
_UNAVAILABLE = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT})
#: Every loopback address a `localhost` name is served on.
_LOOPBACKS = (Address(socket.AF_INET, ("127.0.0.1", 0)), Address(socket.AF_INET6, ("::1", 0, 0, 0)))


def is_numeric_host(host: str) -> bool:
    """Whether `host` is an IP address (or "", every IPv4 interface): one address, found without asking
    any resolver."""
    return host == "" or _numeric_addresses(host) is not None


def host_addresses(host: str) -> list[Address]:
    """The addresses a server on `host` listens on: the address it is, or every address a host name
    resolves to, in the resolver's order (this may ask DNS, and block). A `localhost` name is served on
    both loopbacks, 127.0.0.1 and ::1, whatever the resolver says: RFC 6761 (6.3) has `localhost` mean
    the loopback, and curl and browsers resolve it themselves to both (curl tries ::1 when 127.0.0.1
    refuses, and some clients try ::1 first), so a URL that says `localhost` must work on either."""
    numeric = _numeric_addresses(host or "0.0.0.0")  # noqa: S104 ("" binds every IPv4 interface, as it did)
    if numeric is not None:
        return numeric
    if host.lower().rstrip(".") != "localhost":
        return _resolve(host, socket.AI_PASSIVE)
    try:  # what the resolver adds is kept (one may not know `localhost.`)
        addresses = _resolve(host, socket.AI_PASSIVE)
    except socket.gaierror:
        addresses = []
    return addresses + [each for each in _LOOPBACKS if each not in addresses]


def _numeric_addresses(host: str) -> list[Address] | None:
    try:
        return _resolve(host, socket.AI_PASSIVE | socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None


def _resolve(host: str, flags: int) -> list[Address]:
    """The addresses `getaddrinfo` gives for `host`, each once (a resolver may repeat one), in its order."""
    addresses: list[Address] = []
    infos = socket.getaddrinfo(host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)
    for family, _, _, _, sockaddr in infos:
        address = Address(family, (sockaddr[0], 0, *sockaddr[2:]))
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return addresses


def listening_sockets(host: str, port: int, *, v6only: bool) -> list[socket.socket]:
    """Sockets listening on every address of `host` (`host_addresses`), all on one port: `port`, or one
    the system picks. An address of a host name this machine does not have is passed over (IPv6 turned
    off, say); an IP address given as `host` must be bound. `v6only`: as `bind_listening`."""
    addresses = host_addresses(host)
    return bind_listening(addresses, port, v6only=v6only, skip_unavailable=not is_numeric_host(host))


def bind_listening(
    addresses: Sequence[Address], port: int, *, v6only: bool, skip_unavailable: bool = False
) -> list[socket.socket]:
    """A listening socket on each address, all on one port, so that a URL with a name that resolves to
    several addresses works whichever one its sender tries. With `port` 0 the first address takes a port
    the system picks and the others are bound on it; when another socket holds that port on one of them,
    all are closed and bound again on a fresh port (up to `PORT_ATTEMPTS` times). A given port taken on
    any address is an error, and nothing stays bound.

    IPv6 sockets are IPv6-only when there are several addresses (`::` beside `0.0.0.0` must not claim
    IPv4's port too), or when `v6only` asks it of a lone one; else a lone `::` keeps the system's default
    (both families on Linux). `skip_unavailable`: pass over an address this machine does not have, as
    long as one is bound."""
    if not addresses:
        raise OSError(errno.EADDRNOTAVAIL, "no address to listen on")
    v6only = v6only or len(addresses) > 1
    error: OSError | None = None
    for _ in range(PORT_ATTEMPTS):
        sockets: list[socket.socket] = []
        shared = port
        unavailable: OSError | None = None
        try:
            for family, sockaddr in addresses:
                try:
                    sock = _listening_socket(family, (sockaddr[0], shared, *sockaddr[2:]), v6only)
                except OSError as exc:
                    if not (skip_unavailable and exc.errno in _UNAVAILABLE):
                        raise
                    unavailable = unavailable or exc
                    continue
                sockets.append(sock)
                shared = int(sock.getsockname()[1])
        except OSError as exc:
            for sock in sockets:
                sock.close()
            if not (port == 0 and sockets and exc.errno == errno.EADDRINUSE):
                raise
            error = exc  # the port the system gave one address is taken on another: try a fresh one
            continue
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        if not sockets:
            assert unavailable is not None
            raise unavailable
        return sockets
    assert error is not None
    raise error


def _listening_socket(family: socket.AddressFamily, sockaddr: tuple[Any, ...], v6only: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6 and v6only:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if sys.platform == "win32":  # as anyio: on Windows, SO_REUSEADDR would let another take the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # a fixed port is bound again at once after a run, its old connections in TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock
