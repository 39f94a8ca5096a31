"""The async client's own HTTP clients: one per event loop it is used in.

A connection pool belongs to the event loop that opened it: aiohttp's session, httpcore's connections
and the request slots' semaphore all do. An `AsyncClient` kept at module level and used from a second
`asyncio.run()` (or from each test of a suite that gives every test its own loop, or under trio after
asyncio) would otherwise fail with a bare `RuntimeError` from inside the transport. So the client makes
its own HTTP client lazily, per running loop, and closes it when that loop shuts down: an async
generator started in the loop holds it, and the loop closes its async generators as it ends
(`asyncio.run()` and `trio.run()` both do), so its connections are closed there, in their own loop,
with no "unclosed" warning. One whose loop was closed without that (`loop.close()` alone) is let go of
when another loop makes its client. A caller's `http_client=` is never replaced: it is theirs.

`aclose()` closes them all (each in its own loop: another thread's asyncio loop or trio run is asked to
do it there), wakes every wait sleeping between polls, and makes every later call, in any loop, a
`ClientClosedError`: a closed client stays closed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING, TypeAlias

from ._io import Reply, Send
from ._wakeups import Closing, Waiter

if TYPE_CHECKING:
    from ._aiohttp import AiohttpSession
    from ._slots import SlottedHttpx

OwnHttp: TypeAlias = "AiohttpSession | SlottedHttpx"

__all__ = ["LoopClients", "loop_has_ended", "running_loop"]


def running_loop() -> object:
    """The event loop running now: asyncio's loop, or trio's run (its token)."""
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    import asyncio

    return asyncio.get_running_loop()


def loop_has_ended(loop: object) -> bool:
    """Whether `loop` (from `running_loop`) has finished: an asyncio loop closed, a trio run over."""
    import asyncio

    if isinstance(loop, asyncio.AbstractEventLoop):
        return loop.is_closed()
    import trio

    try:
        loop.run_sync_soon(_nothing)  # type: ignore[attr-defined]
    except trio.RunFinishedError:
        return True
    return False


def _nothing() -> None:
    return None


class _Closed:
    """What a closed client sends with: nothing (`_io` refuses a closed client before any request)."""

    is_closed = True

    async def send(self, action: Send) -> Reply:  # pragma: no cover - refused before it is called
        raise RuntimeError("the client is closed")

    async def aclose(self) -> None:
        return None


class _Held:
    """A loop's client, and the async generator that closes it when the loop shuts down."""

    def __init__(self, http: OwnHttp, keeper: AsyncGenerator[None, None]) -> None:
        self.http = http
        self.keeper = keeper


class LoopClients:
    """The own HTTP clients of one `AsyncClient` (and of the copies `with_options` makes of it)."""

    def __init__(self) -> None:
        self._by_loop: dict[object, _Held] = {}
        self._closed: _Closed | None = None
        self._lock = threading.Lock()  # loops on other threads may make theirs at the same moment
        #: Closed by `aclose()`: wakes the waits sleeping between polls, in every loop (`sleep`, and the
        #: drivers' sleeps on a waiter), and makes every own client of every loop count as closed.
        self.closing = Closing()

    async def current(self) -> OwnHttp | _Closed:
        """The client for the running loop, made on first use."""
        if self._closed is not None:
            return self._closed
        loop = running_loop()
        held = self._by_loop.get(loop)
        if held is None:
            from ._transport import own_async_client

            http = own_async_client(self.closing)  # it may refuse the environment's proxies
            keeper = self._closed_with_its_loop(loop, http)
            await keeper.asend(None)  # started here: the loop now closes it when it shuts down
            held = _Held(http, keeper)
            with self._lock:
                self._let_go_of_ended()
                self._by_loop[loop] = held
        return held.http

    async def _closed_with_its_loop(self, loop: object, http: OwnHttp) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                held = self._by_loop.get(loop)
                if held is not None and held.http is http:
                    del self._by_loop[loop]
            await http.aclose()

    def _let_go_of_ended(self) -> None:
        for loop in [loop for loop in self._by_loop if loop_has_ended(loop)]:
            self._by_loop.pop(loop).http.abandon()

    async def aclose(self) -> None:
        """Close every loop's client (another loop's in that loop, without waiting for it), and wake
        every wait sleeping on this one."""
        with self._lock:
            self._closed = _Closed()
            here = self._by_loop.pop(running_loop(), None)
            others = list(self._by_loop.items())
            self._by_loop.clear()
        self.closing.close()
        for loop, held in others:
            _close_in_its_loop(loop, held)
        if here is not None:
            await here.keeper.aclose()

    def sleep(self, seconds: float) -> Awaitable[object]:
        """Sleep between polls, or until `aclose()` (the sleep itself, not a coroutine around it: one
        object less for each of a thousand sleeping waits)."""
        return self.closing.wait_async(Waiter(), seconds)


def _close_in_its_loop(loop: object, held: _Held) -> None:
    """Have another loop close its client (its async generator's `finally`), or let go of it if that
    loop has ended."""
    import asyncio

    if isinstance(loop, asyncio.AbstractEventLoop):
        closing = held.keeper.aclose()
        try:
            asyncio.run_coroutine_threadsafe(closing, loop)
            return
        except RuntimeError:  # the loop is closed
            closing.close()
    else:
        with contextlib.suppress(RuntimeError):  # the run has ended (trio.RunFinishedError)
            loop.run_sync_soon(_close_in_trio, held.keeper)  # type: ignore[attr-defined]
            return
    held.http.abandon()


def _close_in_trio(keeper: AsyncGenerator[None, None]) -> None:
    """In a trio run's own thread: close its client in a system task. A run already ending takes none
    (raising here would kill it): it closes its async generators itself as it ends."""
    import trio

    with contextlib.suppress(RuntimeError):
        trio.lowlevel.spawn_system_task(keeper.aclose)
