"""The async client's own HTTP clients: one per event loop it is used in.

A connection pool belongs to the event loop that opened it: aiohttp's session, httpcore's connections
and the request slots' semaphore all do. An `AsyncClient` kept at module level and used from a second
`asyncio.run()` (or from each test of a suite that gives every test its own loop, or under trio after
asyncio) would otherwise fail with a bare `RuntimeError` from inside the transport. So the client makes
its own HTTP client lazily, per running loop, and lets go of those whose loop has ended (their
connections died with it). A caller's `http_client=` is never replaced: it is theirs.

`aclose()` closes the current loop's client, and makes every later call, in any loop, a
`ClientClosedError`: a closed client stays closed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeAlias

from ._io import Reply, Send

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


class LoopClients:
    """The own HTTP clients of one `AsyncClient` (and of the copies `with_options` makes of it)."""

    def __init__(self) -> None:
        self._by_loop: dict[object, OwnHttp] = {}
        self._closed: _Closed | None = None
        self._lock = threading.Lock()  # loops on other threads may make theirs at the same moment

    def current(self) -> OwnHttp | _Closed:
        """The client for the running loop, made on first use (call it from a task)."""
        if self._closed is not None:
            return self._closed
        loop = running_loop()
        http = self._by_loop.get(loop)
        if http is None:
            from ._transport import own_async_client

            made = own_async_client()  # before the lock: it may refuse the environment's proxies
            with self._lock:
                self._let_go_of_ended()
                http = self._by_loop[loop] = made
        return http

    def _let_go_of_ended(self) -> None:
        for loop in [loop for loop in self._by_loop if loop_has_ended(loop)]:
            self._by_loop.pop(loop).abandon()

    async def aclose(self) -> None:
        """Close the running loop's client; the clients of other loops still running are left to be
        collected (they can only be closed from their own loop)."""
        with self._lock:
            self._closed = _Closed()
            http = self._by_loop.pop(running_loop(), None)
            self._let_go_of_ended()
        if http is not None:
            await http.aclose()
