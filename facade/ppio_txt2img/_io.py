"""The only place where I/O happens: the sync and async drivers of the SDK's flows.

Every operation of the SDK (submit, poll, wait, retry, download) is written once, as a generator
("flow") that yields the I/O it needs as small action values and receives the results:

    reply = yield Send(...)      # an HTTP request; the reply (or the transport error, thrown in)
    yield Sleep(seconds)
    results = yield Gather([flow, flow, ...])   # run sub-flows concurrently; each result, or its error
    value = yield Offload(fn)    # CPU-bound work (image decoding), off the event loop unless cheap
    yield Notify(callback, arg)  # a user callback (awaited if it returns an awaitable)

`run_sync` drives a flow with an `httpx.Client` and `time.sleep`, `run_async` with an
`httpx.AsyncClient` (or the SDK's own aiohttp session, `_aiohttp.py`) and `anyio.sleep`. All decisions
live in the flows and the pure modules they call, so the sync and async clients cannot drift apart.

Both drivers bound each `Send` by wall time (`Send.timeout` covers connecting, the headers and the
whole body, however slowly it drips), never follow redirects themselves (the flows decide), and read
bodies already decoded (gzip, deflate) within `Send.max_bytes`. The sync driver runs each request on a
daemon thread and waits for it from the caller's thread, so Ctrl-C is never held up by a request.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

import httpx

from ._constants import MAX_CONCURRENT_DOWNLOADS
from ._decoding import BodyTooLarge, Undecodable, body_decoder
from ._retry import Failure, classify_exception
from ._transport import corrected_transport_error, unanswered_error
from ._urls import fetchable_as_written, without_query
from ._wakeups import Closing, Waiter

__all__ = [
    "Action",
    "AsyncHttp",
    "BodyReader",
    "ClientClosed",
    "DirectSender",
    "Flow",
    "Gather",
    "Notify",
    "Offload",
    "Reply",
    "ResponseTooLarge",
    "Send",
    "Sleep",
    "deadline_error",
    "parsed_url",
    "run_async",
    "run_sync",
    "unsendable",
]

logger = logging.getLogger("ppio_txt2img")

#: Whether the SDK is sending a request through httpx in this thread or task (`_QueriesHidden`).
_sending = contextvars.ContextVar("ppio_txt2img_sending", default=False)


class _QueriesHidden(logging.Filter):
    """httpx logs every request it sends at INFO, URL and all: a signed image URL with its signature,
    in an app that only asked for INFO logs. Its records of the SDK's own requests have the URLs
    without their query, as the SDK's own log lines do (`_log`); anyone else's are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _sending.get() and isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None, fragment=None) if isinstance(arg, httpx.URL) and arg.query else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_QueriesHidden())


@contextlib.contextmanager
def _sdk_sending() -> Iterator[None]:
    """Around httpx's sending one of the SDK's requests (`_QueriesHidden`)."""
    sending = _sending.set(True)
    try:
        yield
    finally:
        _sending.reset(sending)


T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send one HTTP request through the user's client; reply with a `Reply` (body read in full)."""

    method: str
    url: str
    #: Wall-clock bound of the whole exchange, body included.
    timeout: float
    connect_timeout: float
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Headers the user's client may add by default that must not be sent (image hosts get no key).
    drop_headers: tuple[str, ...] = ()
    #: Stop reading and raise `ResponseTooLarge` past this many bytes (of the decoded body).
    max_bytes: int | None = None
    #: What is left of the call's deadline: the async client's own requests may wait this long for a
    #: free connection (`_slots.py`), and the exchange then gets `timeout` or what is left of this,
    #: whichever is less. None: `timeout` bounds the wait and the exchange together.
    deadline_left: float | None = None


@dataclass(frozen=True, repr=False)
class Reply:
    """An HTTP response, read in full; `content` is already decoded (gzip, deflate)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    #: Seconds the request waited for a free connection of the client's own before it went out.
    queued: float = 0.0
    #: When the attempt that got this reply began, on the flow's clock (`send_with_retries` sets it).
    sent_at: float = math.nan


@dataclass(frozen=True)
class Sleep:
    """Sleep; with a `waiter`, only until it is notified (a webhook arrived, a task of the crowd
    finished): the reply says whether it was (None without a waiter)."""

    seconds: float
    waiter: Waiter | None = None


@dataclass(frozen=True)
class Gather:
    """Run flows concurrently; the reply lists each one's result, or the `Exception` it raised."""

    flows: Sequence[Flow[Any]]


@dataclass(frozen=True)
class Offload:
    """CPU-bound work: on a worker thread under async, unless `inline` (work cheaper than the hop)."""

    fn: Callable[[], Any]
    inline: bool = False


@dataclass(frozen=True)
class Notify:
    callback: Callable[[Any], object]
    arg: Any


Action = Send | Sleep | Gather | Offload | Notify
Flow = Generator[Action, Any, T]


class ResponseTooLarge(Exception):
    """A response body went past `Send.max_bytes`."""

    def __init__(self, limit: int, status_code: int) -> None:
        self.limit = limit
        self.status_code = status_code
        super().__init__(f"response larger than {limit} bytes")


#: The longest a sync wait for a request blocks at once (seconds).
_SLICE = 0.1


class _Stopped(Exception):
    """A sync request abandoned by its caller (deadline, Ctrl-C): stop reading."""


@lru_cache(maxsize=1024)
def parsed_url(url: str) -> httpx.URL:
    """A URL parsed once: a wait sends the same one every poll, and httpx's parser is not cheap."""
    return httpx.URL(url)


def unsendable(url: str) -> str | None:
    """Why a URL the server gave (an image's, a redirect's) cannot be fetched: httpx cannot parse it, it
    is not http(s), it names no host, its port is out of range; None when it can be. Said before
    anything is sent, the same on every transport (httpx's parser and aiohttp's refuse different URLs,
    each with an error of its own)."""
    if fetchable_as_written(url):  # most are: no parse (httpx's costs a tenth of an image's download)
        return None
    try:
        parsed = parsed_url(url)
        port, host = parsed.port, parsed.host  # an IDNA host is decoded here: it may fail here too
    except (httpx.InvalidURL, ValueError) as exc:
        return f"the URL does not parse ({exc})"
    if parsed.scheme not in ("http", "https"):
        return f"a {parsed.scheme or 'relative'} URL, not an http(s) one"
    if not host:
        return "the URL names no host"
    if port is not None and not 0 < port < 65536:
        return f"the URL's port {port} is out of range"
    return None


def _request(
    client: httpx.Client | httpx.AsyncClient, action: Send, trace: Callable[..., object] | None
) -> httpx.Request:
    request = client.build_request(
        action.method,
        parsed_url(action.url),
        json=action.json,
        headers=action.headers,
        timeout=httpx.Timeout(action.timeout, connect=min(action.timeout, action.connect_timeout)),
        extensions=None if trace is None else {"trace": trace},
    )
    for name in action.drop_headers:
        request.headers.pop(name, None)
    return request


def _log(action: Send, outcome: str, started: float) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %s in %.3fs",
            action.method.upper(),
            without_query(action.url),  # signed URLs are logged without their signature
            outcome,
            time.monotonic() - started,
        )


def deadline_error(action: Send) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"no complete response within {action.timeout:.3g} s")


def not_sent_in_time(action: Send) -> httpx.ConnectTimeout:
    """A request's time ran out before any byte of it went out (connecting, or waiting to)."""
    return httpx.ConnectTimeout(f"no connection within {action.timeout:.3g} s; the request was not sent")


def closed_while_connecting() -> httpx.ConnectError:
    """A request ended by its client's close while it was still connecting: nothing of it went out."""
    return httpx.ConnectError("the client was closed while the request was connecting; it was not sent")


class BodyReader:
    """A streamed response body being read as it came off the wire (`add`), its `Content-Encoding`
    undone here (`_decoding.py`: the same on every transport), within `Send.max_bytes` of decoded
    bytes. `decoded=True`: the transport has decoded it already (a caller's httpx client whose response
    hook read the body). A body that does not decode is the `httpx.ReadError` of an answer that could
    not be read (a GET is sent again; a POST's outcome is unknown), as aiohttp's own decoding said."""

    def __init__(
        self, action: Send, status_code: int, headers: httpx.Headers, *, decoded: bool = False
    ) -> None:
        self.limit = action.max_bytes
        self.status_code = status_code
        self.headers = headers
        self.chunks: list[bytes] = []
        self.size = 0
        self._decoder = None if decoded else body_decoder(headers.get("content-encoding"), self.limit)
        if "content-encoding" not in headers:  # a declared length is the body's only when not encoded
            length = headers.get("content-length", "")
            self._check(int(length) if length.isdigit() else 0)

    def _check(self, size: int) -> None:
        if self.limit is not None and size > self.limit:
            raise ResponseTooLarge(self.limit, self.status_code)

    def add(self, chunk: bytes) -> None:
        if self._decoder is not None:
            chunk = self._decoded(self._decoder.feed, chunk)
        self.size += len(chunk)
        self._check(self.size)
        self.chunks.append(chunk)

    def _decoded(self, step: Callable[[bytes], bytes], chunk: bytes) -> bytes:
        try:
            return step(chunk)
        except BodyTooLarge:
            assert self.limit is not None  # no cap, no such error
            raise ResponseTooLarge(self.limit, self.status_code) from None
        except Undecodable as exc:
            raise httpx.ReadError(str(exc)) from None

    def reply(self) -> Reply:
        if self._decoder is not None:
            self._flush_decoder()
        return Reply(self.status_code, self.headers, b"".join(self.chunks))

    def _flush_decoder(self) -> None:
        decoder, self._decoder = self._decoder, None
        assert decoder is not None
        self.add(self._decoded(lambda _: decoder.flush(), b""))


# auth=None on every send: a client-level `auth=` of the user's httpx client would replace the API key
# and would reach image hosts, which must get no credentials; the flow's headers are final. Redirects
# are never followed by httpx (the flows follow those of GETs, and none of the POST).


@contextlib.contextmanager
def _awaiting_answer() -> Iterator[None]:
    """Around httpx's sending a request and reading its answer's head: the error of a connection that
    ended before that head came is raised as `NoAnswer` (`_retry.resend_at_once`)."""
    try:
        yield
    except httpx.TransportError as exc:
        unanswered = unanswered_error(exc)
        if unanswered is None:
            raise
        raise unanswered from exc


def _send_blocking(client: httpx.Client, action: Send, stop: threading.Event, gate: HeadGate | None) -> Reply:
    request = _request(client, action, gate)  # the gate is the sync trace hook itself
    with _sdk_sending(), _awaiting_answer():
        response = client.send(request, stream=True, auth=None, follow_redirects=False)
    try:
        read = response.is_stream_consumed  # by a response hook of a caller's client: decoded, whole
        body = BodyReader(action, response.status_code, response.headers, decoded=read)
        for chunk in response.iter_bytes() if read else response.iter_raw():
            if stop.is_set():
                raise _Stopped
            body.add(chunk)
    finally:
        response.close()
    return body.reply()


class ClientClosed(Exception):
    """A request was to go out on an HTTP client already closed; `guarded` makes it `ClientClosedError`."""


def _refuse_if_closed(client: httpx.Client | AsyncHttp, exc: BaseException | None = None) -> None:
    """`ClientClosed` if `client` is closed: before a request, or when one failed without having been
    sent because it was (httpx and aiohttp say so with a bare `RuntimeError`, aiohttp also with a
    connection refused mid-connect: "Connector is closed"). A request that may have been sent keeps its
    own error: a POST's outcome is unknown."""
    if client.is_closed and (
        exc is None or isinstance(exc, RuntimeError) or classify_exception(exc) is Failure.NOT_SENT
    ):
        raise ClientClosed from None


class HeadGate:
    """httpcore's trace hook for one request on the SDK's own httpx client: its head does not go out
    once the client is closed (`ClientClosed`: httpcore finishes a connection it was making, or hands
    one to a request queued in its pool, after the close), and `sent` tells whether it went out. Never
    put on a caller's client: its own hooks or transport may set the trace extension themselves.
    `stream` is the connection the request opened, once it is connected (None on a pooled one). Once
    `given_up` (a sync request's deadline, seen by the thread waiting for it), its head does not go out
    either."""

    __slots__ = ("client", "given_up", "sent", "stream")

    def __init__(self, client: httpx.Client | httpx.AsyncClient) -> None:
        self.client = client
        self.sent = False
        self.given_up = False
        self.stream: Any = None

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.stream = info.get("return_value")
        elif event.endswith(".send_request_headers.started"):
            self.sent = True  # first: a closing thread that reads False then is sure the check below sees it
            if self.client.is_closed or self.given_up:
                self.sent = False
                raise ClientClosed

    def give_up(self) -> bool:
        """Stop the head from going out, from another thread; whether it had not gone out (and so never
        will). In this order: a request's thread that marks it sent after this reads `given_up`."""
        self.given_up = True
        return not self.sent

    async def trace_async(self, event: str, info: Mapping[str, Any]) -> None:
        self(event, info)


def _closed_in_flight(action: Send, gate: HeadGate | None) -> Exception:
    """The error for a sync request still in flight when another thread closed the client (a thread
    blocked reading a socket is not woken up by its closing): `ClientClosed` for a GET, or when its head
    has not gone out (and never will: `HeadGate`, on the SDK's own client); else, for a POST that may
    have reached the server, `httpx.ReadError` (its outcome is unknown; never resent)."""
    if action.method.upper() == "GET" or (gate is not None and not gate.sent):
        return ClientClosed()
    return httpx.ReadError("the client was closed while the request was in flight")


def _send_sync(client: httpx.Client, action: Send, cancel: threading.Event | None, own: bool) -> Reply:
    """`_send_blocking` on a daemon thread, waited for from this one, within `action.timeout`."""
    _refuse_if_closed(client)
    started = time.monotonic()
    outcome: list[Any] = []
    finished, stop = threading.Event(), threading.Event()
    gate = HeadGate(client) if own else None

    def work() -> None:
        try:
            outcome.append(_send_blocking(client, action, stop, gate))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)
        finally:
            finished.set()

    threading.Thread(target=work, name="ppio-request", daemon=True).start()
    end = started + action.timeout
    try:
        # Wake up every `_SLICE` seconds: to look at `cancel`, and because a Ctrl-C that the kernel
        # hands to the request's thread is only acted on when this (main) thread runs Python again.
        while not finished.wait(min(_SLICE, end - time.monotonic())):
            if cancel is not None and cancel.is_set():
                raise _Stopped
            if client.is_closed:
                raise _closed_in_flight(action, gate)
            if time.monotonic() >= end:
                raise (
                    not_sent_in_time(action)
                    if gate is not None and gate.give_up()
                    else deadline_error(action)
                )
    except BaseException as exc:
        stop.set()  # the thread stops at its next chunk; nobody waits for it
        _log(action, type(exc).__name__, started)
        raise
    result = outcome[0]
    if isinstance(result, BaseException):
        _log(action, type(result).__name__, started)
        _refuse_if_closed(client, result)
        if client.is_closed and isinstance(result, httpx.TransportError):
            # The close broke the socket the request's thread was reading ("Bad file descriptor") before
            # this thread saw it closed: the same error as when it does see it first.
            raise _closed_in_flight(action, gate) from result
        raise result
    _log(action, str(result.status_code), started)
    return result  # type: ignore[no-any-return]


class DirectSender(Protocol):
    """An HTTP client that sends a `Send` itself (the async client's own: `_aiohttp.py`, `_slots.py`)."""

    @property
    def is_closed(self) -> bool: ...

    async def send(self, action: Send) -> Reply: ...

    async def aclose(self) -> None: ...


#: What the async driver sends with: a caller's httpx client (or the SDK's own under trio), or the
#: SDK's own direct one.
AsyncHttp = httpx.AsyncClient | DirectSender


async def send_httpx_async(client: httpx.AsyncClient, action: Send, *, gate: HeadGate | None = None) -> Reply:
    """`action` through an httpx client: the SDK's own (under trio: `_slots.py`), which gives the
    request's `gate`, or a caller's."""
    import anyio

    try:
        with anyio.fail_after(action.timeout):
            request = _request(client, action, None if gate is None else gate.trace_async)
            with _sdk_sending(), _awaiting_answer():
                response = await client.send(request, stream=True, auth=None, follow_redirects=False)
            try:
                read = response.is_stream_consumed  # by a response hook of a caller's client
                body = BodyReader(action, response.status_code, response.headers, decoded=read)
                chunks = cast(
                    AsyncGenerator[bytes, None], response.aiter_bytes() if read else response.aiter_raw()
                )
                # Left early (too large): closed now, not when collected.
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        body.add(chunk)
            finally:
                await response.aclose()
    except TimeoutError:
        if gate is not None and not gate.sent:  # one task: no byte of the request can go out any more
            raise not_sent_in_time(action) from None
        raise deadline_error(action) from None
    except httpx.TransportError as exc:
        corrected = corrected_transport_error(exc)
        if corrected is exc:
            raise
        raise corrected from exc.__cause__
    return body.reply()


async def _send_async(client: AsyncHttp, action: Send) -> Reply:
    _refuse_if_closed(client)
    started = time.monotonic()
    try:
        if isinstance(client, httpx.AsyncClient):
            reply = await send_httpx_async(client, action)
        else:
            reply = await client.send(action)
    except BaseException as exc:
        _log(action, type(exc).__name__, started)
        _refuse_if_closed(client, exc)
        raise
    _log(action, str(reply.status_code), started)
    return reply


@dataclass(frozen=True)
class _Done:
    value: Any


_ACTIONS = (Send, Sleep, Gather, Offload, Notify)


def _advance(flow: Flow[Any], value: Any, error: BaseException | None) -> Action | _Done:
    """Resume the flow with the last action's result (or its error); its next action, or its result."""
    try:
        action: object = flow.throw(error) if error is not None else flow.send(value)
    except StopIteration as stop:
        return _Done(stop.value)
    if not isinstance(action, _ACTIONS):
        flow.close()
        hint = " (a sub-flow called without `yield from`?)" if isinstance(action, Generator) else ""
        raise TypeError(f"a flow yielded {type(action).__name__!r}, which is not an I/O action{hint}")
    return action


def run_sync(
    flow: Flow[T],
    client: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
    cancel: threading.Event | None = None,
    closing: Closing | None = None,
    own: bool = False,
) -> T:
    """Drive a flow to completion with blocking I/O. `cancel`, once set, abandons it (a gathered flow
    whose caller was interrupted); `closing` (the client's) wakes its sleeps on a waiter when the client
    is closed, as `sleep` does the others; `own`: `client` is the SDK's own (no caller's hooks)."""
    value: Any = None
    error: BaseException | None = None
    while not isinstance(action := _advance(flow, value, error), _Done):
        value, error = None, None
        if cancel is not None and cancel.is_set():
            flow.close()
            raise _Stopped
        try:
            if isinstance(action, Send):
                value = _send_sync(client, action, cancel, own)
            elif isinstance(action, Sleep):
                if action.waiter is None:
                    if action.seconds > 0:
                        sleep(action.seconds)
                elif closing is not None:
                    value = closing.wait_sync(action.waiter, action.seconds)
                else:
                    value = action.waiter.sleep_sync(action.seconds)
            elif isinstance(action, Gather):
                value = _gather_sync(action.flows, client, sleep, own)
            elif isinstance(action, Offload):
                value = action.fn()
            else:
                action.callback(action.arg)
        except _Stopped:
            flow.close()
            raise
        except BaseException as exc:  # thrown back into the flow, which decides
            error = exc
    return action.value  # type: ignore[no-any-return]


def _gather_sync(
    flows: Sequence[Flow[Any]], client: httpx.Client, sleep: Callable[[float], None], own: bool
) -> list[Any]:
    """Each flow on a worker thread; this thread only waits, so Ctrl-C stops the wait at once and the
    workers stop at their next step."""
    cancel = threading.Event()

    def one(flow: Flow[Any]) -> Any:
        try:
            return run_sync(flow, client, sleep, cancel, own=own)
        except Exception as exc:
            return exc

    if len(flows) <= 1:
        return [one(f) for f in flows]
    from concurrent.futures import ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_DOWNLOADS, len(flows)))
    try:
        futures = [pool.submit(one, flow) for flow in flows]
        while not all(future.done() for future in futures):
            wait(futures, timeout=_SLICE)  # in slices, so that a Ctrl-C is acted on (see _send_sync)
        return [future.result() for future in futures]
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def run_async(
    flow: Flow[T],
    client: AsyncHttp,
    sleep: Callable[[float], Awaitable[object]] | None = None,
    closing: Closing | None = None,
) -> T:
    """Drive a flow to completion with async I/O (asyncio or trio, through anyio); `closing` as in
    `run_sync`."""
    import anyio
    import anyio.to_thread

    do_sleep = sleep or anyio.sleep
    value: Any = None
    error: BaseException | None = None
    while not isinstance(action := _advance(flow, value, error), _Done):
        value, error = None, None
        try:
            if isinstance(action, Send):
                value = await _send_async(client, action)
            elif isinstance(action, Sleep):
                if action.waiter is None:
                    if action.seconds > 0:
                        await do_sleep(action.seconds)
                elif closing is not None:
                    value = await closing.wait_async(action.waiter, action.seconds)
                else:
                    value = await action.waiter.sleep_async(action.seconds)
            elif isinstance(action, Gather):
                value = await _gather_async(action.flows, client, sleep)
            elif isinstance(action, Offload):
                value = action.fn() if action.inline else await anyio.to_thread.run_sync(action.fn)
            else:
                outcome = action.callback(action.arg)
                if isinstance(outcome, Awaitable):
                    await outcome
        except BaseException as exc:  # thrown back into the flow, which decides
            error = exc
    return action.value  # type: ignore[no-any-return]


async def _gather_async(
    flows: Sequence[Flow[Any]], client: AsyncHttp, sleep: Callable[[float], Awaitable[object]] | None
) -> list[Any]:
    if len(flows) == 1:  # one image: no task group, no semaphore
        try:
            return [await run_async(flows[0], client, sleep)]
        except Exception as exc:
            return [exc]
    return await _gather_in_tasks(flows, client, sleep)


async def _gather_in_tasks(
    flows: Sequence[Flow[Any]], client: AsyncHttp, sleep: Callable[[float], Awaitable[object]] | None
) -> list[Any]:
    """`_gather_async` of several flows (apart: its closure's cells are made on every call, one flow's
    too)."""
    import anyio

    results: list[Any] = [None] * len(flows)
    limit = anyio.Semaphore(MAX_CONCURRENT_DOWNLOADS)

    async def one(i: int, flow: Flow[Any]) -> None:
        async with limit:
            try:
                results[i] = await run_async(flow, client, sleep)
            except Exception as exc:
                results[i] = exc

    async with anyio.create_task_group() as group:
        for i, flow in enumerate(flows):
            group.start_soon(one, i, flow)
    return results
