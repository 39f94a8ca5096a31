"""Idle connections, on a raw server that reports which connection each request came on. The POST that
creates a task never takes a connection idle for longer than `KEEPALIVE_EXPIRY` (a server closing it
just then would leave the POST's outcome unknown), on the sync client (httpx) and the async one on
asyncio (aiohttp) and trio (httpx). On asyncio, a GET takes one however long it was idle (up to
`GET_KEEPALIVE_EXPIRY`): a wait that slept through its task polls on the connection it has, not after
a new TCP and TLS handshake; and a POST right after it takes it too."""

from __future__ import annotations

import time

import anyio
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as C
from tests.faults.raw_server import FaultKit

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
