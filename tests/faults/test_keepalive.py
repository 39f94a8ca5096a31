"""Idle connections, on a raw server that reports which connection each request came on. The POST that
creates a task never takes a connection idle for longer than `KEEPALIVE_EXPIRY` (a server closing it
just then would leave the POST's outcome unknown), on the sync client (httpx) and the async one on
asyncio (aiohttp) and trio (httpx). On asyncio, a GET takes one however long it was idle (up to
`GET_KEEPALIVE_EXPIRY`): a wait that slept through its task polls on the connection it has, not after
a new TCP and TLS handshake; and a POST right after it takes it too. A GET whose connection the server
closes as it goes out (its idle timeout, met just then) is resent at once, on every transport; a POST
never is."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as C
from tests.faults.raw_server import Fault, FaultKit

#: `KEEPALIVE_EXPIRY` in these tests; `GET_KEEPALIVE_EXPIRY` stays 60 s.
POST_KEEPALIVE = 0.3
IDLE = 3 * POST_KEEPALIVE


@pytest.fixture(autouse=True)
def short_post_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "KEEPALIVE_EXPIRY", POST_KEEPALIVE)


def _connections(kit: FaultKit, route: str) -> list[int]:
    return [seen.connection for seen in kit.seen(route)]


def _assert_only_the_post_after_idle_took_a_new_connection(kit: FaultKit) -> None:
    """Of three POSTs, the second right after the first and a GET, the third after `IDLE`."""
    posts = _connections(kit, "submit")
    assert posts[0] == posts[1], posts
    assert posts[2] not in posts[:2], posts


def test_the_sync_client_posts_on_no_connection_idle_past_its_keepalive(kit: FaultKit) -> None:
    with ppio.Client("sk-test", base_url=kit.url) as client:
        task = client.submit("a red fox")
        client.get_task(task.id)
        client.submit("a red fox")  # right after: the same connection
        time.sleep(IDLE)
        client.submit("a red fox")
    _assert_only_the_post_after_idle_took_a_new_connection(kit)


def test_under_trio_the_async_client_posts_on_no_connection_idle_past_its_keepalive(kit: FaultKit) -> None:
    async def main() -> None:
        async with ppio.AsyncClient("sk-test", base_url=kit.url) as client:
            task = await client.submit("a red fox")
            await client.get_task(task.id)
            await client.submit("a red fox")
            await anyio.sleep(IDLE)
            await client.submit("a red fox")

    anyio.run(main, backend="trio")
    _assert_only_the_post_after_idle_took_a_new_connection(kit)


def test_on_asyncio_a_poll_takes_a_long_idle_connection_and_a_post_only_one_just_used(kit: FaultKit) -> None:
    async def main() -> None:
        async with ppio.AsyncClient("sk-test", base_url=kit.url) as client:
            task = await client.submit("a red fox")  # a connection
            await anyio.sleep(IDLE)
            await client.get_task(task.id)  # idle past the POST's keepalive: still taken for a GET
            await client.submit("a red fox")  # just used by that GET: taken for this POST too
            await anyio.sleep(IDLE)
            await client.submit("a red fox")  # idle too long for a POST: a new connection
            await client.get_task(task.id)  # the connection just used

    anyio.run(main, backend="asyncio")
    posts, gets = _connections(kit, "submit"), _connections(kit, "result")
    assert gets[0] == posts[0], (posts, gets)
    assert posts[1] == posts[0], posts
    assert posts[2] != posts[0], posts
    assert gets[1] == posts[2], (posts, gets)


# -- a connection that ends before the answer begins: a server's idle timeout, met just as a poll goes out


def _run(transport: str, call: Callable[[Sleeps], Any]) -> Any:
    """`call` on a client of `transport` ("sync", or an async library), with every sleep it asks for
    recorded (and taken)."""
    if transport == "sync":
        return call(Sleeps())
    return anyio.run(call, Sleeps(), backend=transport)


class Sleeps:
    """The sleeps a client asked for, in order (`taken`): its `sleep=`, sync or async."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        self.taken.append(seconds)
        await anyio.sleep(seconds)


def _get_task(transport: str, kit: FaultKit, max_retries: int) -> tuple[Sleeps, ppio.Task | Exception]:
    """Submit a task, then look it up once: the sleeps asked for, and the task or the error."""

    def sync(sleeps: Sleeps) -> tuple[Sleeps, ppio.Task | Exception]:
        with ppio.Client("sk-test", base_url=kit.url, max_retries=max_retries, sleep=sleeps) as client:
            task = client.submit("a red fox")
            try:
                return sleeps, client.get_task(task.id)
            except ppio.PPIOError as exc:
                return sleeps, exc

    async def concurrent(sleeps: Sleeps) -> tuple[Sleeps, ppio.Task | Exception]:
        options: dict[str, Any] = {"max_retries": max_retries, "sleep": sleeps.asleep}
        async with ppio.AsyncClient("sk-test", base_url=kit.url, **options) as client:
            task = await client.submit("a red fox")
            try:
                return sleeps, await client.get_task(task.id)
            except ppio.PPIOError as exc:
                return sleeps, exc

    return _run(transport, sync if transport == "sync" else concurrent)  # type: ignore[no-any-return]


TRANSPORTS = ["sync", "asyncio", "trio"]


@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_poll_whose_connection_ends_before_the_answer_is_resent_at_once_on_a_new_one(
    kit: FaultKit, transport: str, max_retries: int
) -> None:
    """RFC 9112 9.3.1: the server closed the connection as the poll went out on it (what a server's idle
    timeout does, met by a request just then). Resent at once, not after a retry's backoff, and not
    counted as one of `max_retries`: on httpx (sync, trio) by the SDK, on aiohttp by aiohttp itself."""
    kit.on("result", Fault(close=True), Fault())
    sleeps, outcome = _get_task(transport, kit, max_retries)
    assert isinstance(outcome, ppio.Task), outcome
    assert sleeps.taken == []
    polls = _connections(kit, "result")
    assert len(polls) == 2, polls
    assert polls[1] != polls[0], polls


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_poll_whose_connections_all_end_unanswered_is_resent_at_once_only_once(
    kit: FaultKit, transport: str
) -> None:
    kit.on("result", Fault(close=True))
    sleeps, outcome = _get_task(transport, kit, max_retries=0)
    assert isinstance(outcome, ppio.APIConnectionError), outcome
    assert sleeps.taken == []
    assert len(kit.seen("result")) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_post_whose_connection_ends_before_the_answer_is_never_resent(
    kit: FaultKit, transport: str
) -> None:
    kit.on("submit", Fault(close=True))

    def sync(sleeps: Sleeps) -> Exception:
        with ppio.Client("sk-test", base_url=kit.url, sleep=sleeps) as client:
            with pytest.raises(ppio.PPIOError) as raised:
                client.submit("a red fox")
            return raised.value

    async def concurrent(sleeps: Sleeps) -> Exception:
        async with ppio.AsyncClient("sk-test", base_url=kit.url, sleep=sleeps.asleep) as client:
            with pytest.raises(ppio.PPIOError) as raised:
                await client.submit("a red fox")
            return raised.value

    error = _run(transport, sync if transport == "sync" else concurrent)
    assert isinstance(error, ppio.APIConnectionError), error
    assert error.outcome_unknown
    assert len(kit.seen("submit")) == 1
