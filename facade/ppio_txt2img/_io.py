"""The only place where I/O happens: the sync and async drivers of the SDK's flows.

Every operation of the SDK (submit, poll, wait, retry, download) is written once, as a generator
("flow") that yields the I/O it needs as small action values and receives the results:

    reply = yield Send(...)      # an HTTP request; the reply (or the transport error, thrown in)
    yield Sleep(seconds)
    results = yield Gather([flow, flow, ...])   # run sub-flows concurrently
    value = yield Offload(fn)    # CPU-bound work (image decoding), off the event loop
    yield Notify(callback, arg)  # a user callback (awaited if it returns an awaitable)

`run_sync` drives a flow with an `httpx.Client` and `time.sleep`, `run_async` with an
`httpx.AsyncClient` and `anyio.sleep`. All decisions live in the flows and the pure modules they call,
so the sync and async clients cannot drift apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ._constants import MAX_CONCURRENT_DOWNLOADS

__all__ = [
    "Flow",
    "Gather",
    "Notify",
    "Offload",
    "Reply",
    "ResponseTooLarge",
    "Send",
    "Sleep",
    "run_async",
    "run_sync",
]

logger = logging.getLogger("ppio_txt2img")

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send one HTTP request through the user's client; reply with a `Reply` (body read in full)."""

    method: str
    url: str
    timeout: float
    connect_timeout: float
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Headers the user's client may add by default that must not be sent (image hosts get no key).
    drop_headers: tuple[str, ...] = ()
    #: Stop reading and raise `ResponseTooLarge` past this many bytes.
    max_bytes: int | None = None
    #: How the request is named in logs (signed URLs are logged without their query).
    log_name: str = ""


@dataclass(frozen=True, repr=False)
class Reply:
    """An HTTP response, read in full."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    def to_httpx(self) -> httpx.Response:
        return httpx.Response(self.status_code, headers=self.headers, content=self.content)


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Gather:
    flows: Sequence[Flow[Any]]


@dataclass(frozen=True)
class Offload:
    fn: Callable[[], Any]


@dataclass(frozen=True)
class Notify:
    callback: Callable[[Any], object]
    arg: Any


Action = Send | Sleep | Gather | Offload | Notify
Flow = Generator[Action, Any, T]


class ResponseTooLarge(Exception):
    """A response body went past `Send.max_bytes`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response larger than {limit} bytes")


def _request(client: httpx.Client | httpx.AsyncClient, action: Send) -> httpx.Request:
    request = client.build_request(
        action.method,
        action.url,
        params=action.params,
        json=action.json,
        headers=action.headers,
        timeout=httpx.Timeout(action.timeout, connect=min(action.timeout, action.connect_timeout)),
    )
    for name in action.drop_headers:
        request.headers.pop(name, None)
    return request


def _log(action: Send, outcome: str, started: float) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %s in %.3fs",
            action.method.upper(),
            action.log_name,
            outcome,
            time.monotonic() - started,
        )


class _Body:
    """A streamed response body being read, within `Send.max_bytes`."""

    def __init__(self, action: Send, response: httpx.Response) -> None:
        self.limit = action.max_bytes
        self.chunks: list[bytes] = []
        self.size = 0
        self._check(int(response.headers.get("content-length") or 0))

    def _check(self, size: int) -> None:
        if self.limit is not None and size > self.limit:
            raise ResponseTooLarge(self.limit)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._check(self.size)
        self.chunks.append(chunk)

    def reply(self, response: httpx.Response) -> Reply:
        return Reply(response.status_code, response.headers, b"".join(self.chunks))


# auth=None on every send: a client-level `auth=` of the user's httpx client would replace the API key
# and would reach image hosts, which must get no credentials; the flow's headers are final.


def _send_sync(client: httpx.Client, action: Send) -> Reply:
    started = time.monotonic()
    try:
        response = client.send(_request(client, action), stream=True, auth=None)
        try:
            body = _Body(action, response)
            for chunk in response.iter_bytes():
                body.add(chunk)
        finally:
            response.close()
    except BaseException as exc:
        _log(action, type(exc).__name__, started)
        raise
    _log(action, str(response.status_code), started)
    return body.reply(response)


async def _send_async(client: httpx.AsyncClient, action: Send) -> Reply:
    started = time.monotonic()
    try:
        response = await client.send(_request(client, action), stream=True, auth=None)
        try:
            body = _Body(action, response)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
        finally:
            await response.aclose()
    except BaseException as exc:
        _log(action, type(exc).__name__, started)
        raise
    _log(action, str(response.status_code), started)
    return body.reply(response)


@dataclass(frozen=True)
class _Done:
    value: Any


def _advance(flow: Flow[Any], value: Any, error: BaseException | None) -> Action | _Done:
    """Resume the flow with the last action's result (or its error); its next action, or its result."""
    try:
        return flow.throw(error) if error is not None else flow.send(value)
    except StopIteration as stop:
        return _Done(stop.value)


def _first_error(results: Sequence[object]) -> list[Any]:
    """Raise the first exception among gathered results (in flow order), else return them."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def run_sync(flow: Flow[T], client: httpx.Client, sleep: Callable[[float], None] = time.sleep) -> T:
    """Drive a flow to completion with blocking I/O."""
    value: Any = None
    error: BaseException | None = None
    while not isinstance(action := _advance(flow, value, error), _Done):
        value, error = None, None
        try:
            if isinstance(action, Send):
                value = _send_sync(client, action)
            elif isinstance(action, Sleep):
                if action.seconds > 0:
                    sleep(action.seconds)
            elif isinstance(action, Gather):
                value = _gather_sync(action.flows, client, sleep)
            elif isinstance(action, Offload):
                value = action.fn()
            else:
                action.callback(action.arg)
        except BaseException as exc:  # thrown back into the flow, which decides
            error = exc
    return action.value  # type: ignore[no-any-return]


def _gather_sync(
    flows: Sequence[Flow[Any]], client: httpx.Client, sleep: Callable[[float], None]
) -> list[Any]:
    def one(flow: Flow[Any]) -> Any:
        try:
            return run_sync(flow, client, sleep)
        except Exception as exc:
            return exc

    if len(flows) <= 1:
        return _first_error([one(f) for f in flows])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_DOWNLOADS, len(flows))) as pool:
        return _first_error(list(pool.map(one, flows)))


async def run_async(
    flow: Flow[T], client: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]] | None = None
) -> T:
    """Drive a flow to completion with async I/O (asyncio or trio, through anyio)."""
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
                if action.seconds > 0:
                    await do_sleep(action.seconds)
            elif isinstance(action, Gather):
                value = await _gather_async(action.flows, client, sleep)
            elif isinstance(action, Offload):
                value = await anyio.to_thread.run_sync(action.fn)
            else:
                outcome = action.callback(action.arg)
                if isinstance(outcome, Awaitable):
                    await outcome
        except BaseException as exc:  # thrown back into the flow, which decides
            error = exc
    return action.value  # type: ignore[no-any-return]


async def _gather_async(
    flows: Sequence[Flow[Any]], client: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]] | None
) -> list[Any]:
    import anyio

    if len(flows) == 1:  # one image: no task group needed
        return [await run_async(flows[0], client, sleep)]
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
    return _first_error(results)
