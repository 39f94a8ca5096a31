"""Idle connections, on a raw server that reports which connection each request came on. The POST that
creates a task never takes a connection idle for longer than `KEEPALIVE_EXPIRY` (a server closing it
just then would leave the POST's outcome unknown), on the sync client (httpx) and the async one on
asyncio (aiohttp) and trio (httpx). On asyncio, a GET takes one however long it was idle (up to
`GET_KEEPALIVE_EXPIRY`): a wait that slept through its task polls on the connection it has, not after
a new TCP and TLS handshake; and a POST right after it takes it too. A GET whose connection the server
closes as it goes out (its idle timeout, met just then) is resent at once, on every transport; a POST
never is."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
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


#: Each client: the SDK's own, sync and async (aiohttp on asyncio, httpx on trio), and a caller's httpx
#: client on each (where the SDK, not aiohttp, resends).
CLIENTS = ["sync", "asyncio", "trio", "sync, the caller's httpx", "asyncio, the caller's httpx"]
#: How the server ends the connection: an end of stream, or a reset.
ENDINGS = {"closed": Fault(close=True), "reset": Fault(reset=True)}


def _call(
    client: str, kit: FaultKit, max_retries: int, call: Callable[[Any, str], Any]
) -> tuple[Sleeps, object]:
    """Submit a task, then `call(client, task_id)` once (awaited on an async client): the sleeps asked
    for, and what it returned or the SDK error it raised."""
    sleeps = Sleeps()
    library, _, caller_client = client.partition(", ")

    def sync() -> object:
        options: dict[str, Any] = {"max_retries": max_retries, "sleep": sleeps}
        with contextlib.ExitStack() as stack:
            if caller_client:
                options["http_client"] = stack.enter_context(httpx.Client())
            sdk = stack.enter_context(ppio.Client("sk-test", base_url=kit.url, **options))
            task_id = sdk.submit("a red fox").id
            try:
                return call(sdk, task_id)
            except ppio.PPIOError as exc:
                return exc

    async def concurrent() -> object:
        options: dict[str, Any] = {"max_retries": max_retries, "sleep": sleeps.asleep}
        async with contextlib.AsyncExitStack() as stack:
            if caller_client:
                options["http_client"] = await stack.enter_async_context(httpx.AsyncClient())
            sdk = await stack.enter_async_context(ppio.AsyncClient("sk-test", base_url=kit.url, **options))
            task_id = (await sdk.submit("a red fox")).id
            try:
                return await call(sdk, task_id)
            except ppio.PPIOError as exc:
                return exc

    outcome = sync() if library == "sync" else anyio.run(concurrent, backend=library)
    return sleeps, outcome


def _get_task(sdk: Any, task_id: str) -> Any:
    return sdk.get_task(task_id)


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize("client", CLIENTS)
def test_a_poll_whose_connection_ends_before_the_answer_is_resent_at_once_on_a_new_one(
    kit: FaultKit, client: str, max_retries: int, ending: str
) -> None:
    """RFC 9112 9.3.1: the server closed (or reset) the connection as the poll went out on it (what a
    server's idle timeout does, met by a request just then). Resent at once, not after a retry's backoff,
    and not counted as one of `max_retries`: on httpx by the SDK, on aiohttp by aiohttp itself."""
    kit.on("result", ENDINGS[ending], Fault())
    sleeps, outcome = _call(client, kit, max_retries, _get_task)
    assert isinstance(outcome, ppio.Task), outcome
    assert sleeps.taken == []
    polls = _connections(kit, "result")
    assert len(polls) == 2, polls
    assert polls[1] != polls[0], polls


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("client", CLIENTS)
def test_a_poll_whose_connections_all_end_unanswered_is_resent_at_once_only_once(
    kit: FaultKit, client: str, ending: str
) -> None:
    kit.on("result", ENDINGS[ending])
    sleeps, outcome = _call(client, kit, 0, _get_task)
    assert isinstance(outcome, ppio.APIConnectionError), outcome
    assert outcome.task_id is not None
    assert sleeps.taken == []
    assert len(kit.seen("result")) == 2


@pytest.mark.parametrize("client", CLIENTS)
def test_an_image_whose_connection_is_reset_before_the_answer_is_downloaded_again_at_once(
    client: str,
) -> None:
    """A task made on the server, not by this client (so its wait polls at once) and done at its first
    poll: the wait sleeps only if a download is retried."""
    with FaultKit(queued_polls=0) as kit:
        kit.on("image", Fault(reset=True), Fault())
        done = kit.create_task()
        sleeps, outcome = _call(client, kit, 0, lambda sdk, _: sdk.wait(done))
        assert isinstance(outcome, ppio.Generation), outcome
        assert sleeps.taken == []
        downloads = kit.seen("image/0")
        assert len(downloads) == 2
        assert all(seen.header("authorization") is None for seen in downloads)


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("client", CLIENTS)
def test_a_post_whose_connection_ends_before_the_answer_is_never_resent(
    kit: FaultKit, client: str, ending: str
) -> None:
    kit.on("submit", Fault(), ENDINGS[ending])  # the first POST makes the task `_call` submits

    def submit_again(sdk: Any, task_id: str) -> Any:
        return sdk.submit("a red fox")

    sleeps, error = _call(client, kit, 2, submit_again)
    assert isinstance(error, ppio.APIConnectionError), error
    assert error.outcome_unknown
    assert sleeps.taken == []
    assert len(kit.seen("submit")) == 2
