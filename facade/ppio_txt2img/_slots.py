"""How many requests the async client's own HTTP client has in flight: at most its pool's connections.

A request beyond them waits here, for a slot, rather than in the transport's own pool queue (aiohttp's or
httpcore's). Two reasons, both found with a thousand calls through one client:

- A wait here is known to come before any byte of the request was sent. A deadline that passes during it
  is `httpx.PoolTimeout` ("never sent": a POST stays safe to resend, and the call's error says no task
  was created), where a deadline passing in the transport's queue could not be told from one passing
  while the answer was awaited ("may have reached the server").
- httpcore's pool does work for every queued request each time a connection frees up: with a thousand
  requests queued there, trio's event loop spent nearly all its time assigning them, connected nothing,
  and every call missed its deadline. Here the pool never holds more requests than connections.

A caller's own `http_client=` is left alone: its limits are its own. The aiohttp transport (asyncio)
waits on asyncio's own futures and timers (`AsyncioSlots`); httpx's under trio, on an anyio semaphore
(`RequestSlots`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx

from ._constants import MIN_TIME_TO_SEND
from ._io import HeadGate, Reply, Send, closed_while_connecting, send_httpx_async
from ._wakeups import Closing

if TYPE_CHECKING:
    import anyio

__all__ = ["AsyncioSlots", "RequestSlots", "SlottedHttpx"]


def _dated(reply: Reply, waited: float) -> Reply:
    """`reply`, with the time its request waited for a slot (see `_http.went_out`)."""
    return replace(reply, queued=waited) if waited > 0 else reply


def _may_wait(action: Send) -> float:
    """How long `action` may wait for a slot: what is left of its call's deadline (`Send.deadline_left`),
    not its own `timeout`, which is for the exchange. A request queued behind the client's other
    requests has not started: cut from its exchange's time, a POST would go out with too little left to
    be answered, time out in flight, and leave a task unknown."""
    return action.timeout if action.deadline_left is None else action.deadline_left


def _granted(action: Send, started: float, acquired: bool, limit: int) -> tuple[Send, float]:
    """`action` as it may go out after waiting for a slot since `started`, and how long it waited: its
    timeout is what is left of the deadline when that is less. `httpx.PoolTimeout` when no slot came in
    time, or one came with less than `MIN_TIME_TO_SEND` left (the caller has released it)."""
    bound = _may_wait(action)
    waited = time.monotonic() - started
    left = bound - waited
    if not acquired or left < MIN_TIME_TO_SEND:
        raise httpx.PoolTimeout(
            f"no free connection within {bound:.3g} s ({limit} requests of this client "
            "were in flight); the request was not sent"
        )
    return (replace(action, timeout=left) if left < action.timeout else action), waited


class RequestSlots:
    """At most `limit` requests in flight at once, under any async library (make it in a task: it holds
    an anyio semaphore)."""

    def __init__(self, limit: int) -> None:
        import anyio

        self.limit = limit
        self._free = anyio.Semaphore(limit)

    async def send(self, action: Send, send: Callable[[Send], Awaitable[Reply]]) -> Reply:
        """`send(action)` in a slot, waited for within what is left of the call's deadline (`_may_wait`);
        a wait that leaves less than `MIN_TIME_TO_SEND` of it is `httpx.PoolTimeout`."""
        import anyio

        granted, waited = action, 0.0
        try:
            self._free.acquire_nowait()  # the common case: no checkpoint, no timer
        except anyio.WouldBlock:
            granted, waited = await self._wait(action)
        try:
            reply = await send(granted)
        finally:
            self._free.release()
        return _dated(reply, waited)

    async def _wait(self, action: Send) -> tuple[Send, float]:
        import anyio

        started = time.monotonic()
        acquired = False
        with anyio.move_on_after(_may_wait(action)):
            await self._free.acquire()
            acquired = True
        try:
            return _granted(action, started, acquired, self.limit)
        except httpx.PoolTimeout:
            if acquired:
                self._free.release()
            raise


class AsyncioSlots:
    """`RequestSlots` for asyncio alone (the aiohttp transport's), on the event loop's own futures and
    timers: with a thousand requests in flight, an anyio cancel scope and semaphore per wait cost a
    tenth of the client's CPU. Slots are handed on first come, first served."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken = 0
        self._waiting: deque[asyncio.Future[bool]] = deque()

    async def send(self, action: Send, send: Callable[[Send], Awaitable[Reply]]) -> Reply:
        """As `RequestSlots.send`."""
        granted, waited = action, 0.0
        if self._taken < self.limit and not self._waiting:
            self._taken += 1  # the common case: no future, no timer
        else:
            granted, waited = await self._wait(action)
        try:
            reply = await send(granted)
        finally:
            self._release()
        return _dated(reply, waited)

    def _release(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # the slot passes straight to the next wait (`_taken` stays)
                waiter.set_result(True)
                return
        self._taken -= 1

    async def _wait(self, action: Send) -> tuple[Send, float]:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(waiter)
        timer = loop.call_later(max(0.0, _may_wait(action)), _time_up, waiter)
        try:
            acquired = await waiter
        except BaseException:  # cancelled: a slot handed over meanwhile goes on to the next wait
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._release()
            raise
        finally:
            timer.cancel()
        try:
            return _granted(action, started, acquired, self.limit)
        except httpx.PoolTimeout:
            if acquired:
                self._release()
            raise


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class SlottedHttpx:
    """The async client's own httpx client (under trio), sending in `RequestSlots`."""

    def __init__(self, client: httpx.AsyncClient, limit: int, closing: Closing) -> None:
        self.client = client
        self._slots = RequestSlots(limit)
        self._closing = closing  # its `AsyncClient`'s: closed from another loop, this one is closed too
        self._in_flight: dict[HeadGate, anyio.CancelScope] = {}

    @property
    def is_closed(self) -> bool:
        return self._closing.closed or self.client.is_closed

    async def send(self, action: Send) -> Reply:
        return await self._slots.send(action, self._send)

    async def _send(self, action: Send) -> Reply:
        import anyio

        gate = HeadGate(self.client)
        with anyio.CancelScope() as scope:
            self._in_flight[gate] = scope
            try:
                return await send_httpx_async(self.client, action, gate=gate)
            finally:
                del self._in_flight[gate]
        raise closed_while_connecting()  # `aclose` cancelled it: nothing went out

    async def aclose(self) -> None:
        """Close the client; a request still connecting ends at once, as never sent (httpx would let its
        connect run on to its own timeout). A connection it had opened is closed here: cancelled during
        a TLS handshake, httpcore lets go of it unclosed."""
        import anyio

        await self.client.aclose()
        for gate, scope in list(self._in_flight.items()):
            if not gate.sent:
                scope.cancel()
                if gate.stream is not None:
                    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                        await gate.stream.aclose()

    def abandon(self) -> None:
        """Let go of the client once its trio run has ended: nothing to do, a run closes it as it ends
        (`_loop_clients.py`), so this one was closed already."""
