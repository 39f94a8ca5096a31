"""Idle connections, on a raw server that reports which connection each request came on: a GET takes
a connection however long it was idle (up to `GET_KEEPALIVE_EXPIRY`), so that a wait that slept
through its task polls on the connection it has, not a new one (over TLS: two more round trips and a
handshake); the POST that creates a task never takes one idle past `KEEPALIVE_EXPIRY` (a server closing
it just then would leave the POST's outcome unknown). On the sync client (httpx), and the async one on
asyncio (aiohttp) and trio (httpx)."""

from __future__ import annotations

import time

import anyio
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants as C
from tests.faults.raw_server import FaultKit

#: The POST's keepalive in these tests; the GETs' stays `GET_KEEPALIVE_EXPIRY` (60 s).
POST_KEEPALIVE = 0.3


@pytest.fixture(autouse=True)
def short_post_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "KEEPALIVE_EXPIRY", POST_KEEPALIVE)


def _connections(kit: FaultKit, route: str) -> list[int]:
    return [seen.connection for seen in kit.seen(route)]


def _assert_gets_reused_and_posts_fresh(kit: FaultKit) -> None:
    gets, posts = _connections(kit, "result"), _connections(kit, "submit")
    assert len(gets) == 3
    assert len(posts) == 3
    assert gets[0] == gets[1] == gets[2], gets  # idle past the POST's keepalive: still taken
    assert posts[0] == posts[1], posts  # not idle long: taken again
    assert posts[2] != posts[1], posts  # idle past its keepalive: a new connection


def test_the_sync_client_polls_on_an_idle_connection_but_posts_on_a_fresh_one(kit: FaultKit) -> None:
    with ppio.Client("sk-test", base_url=kit.url) as client:
        task = client.submit("a red fox")
        client.get_task(task.id)
        client.submit("a red fox")
        client.get_task(task.id)
        time.sleep(3 * POST_KEEPALIVE)  # both connections idle past the POST's keepalive
        client.get_task(task.id)
        client.submit("a red fox")
    _assert_gets_reused_and_posts_fresh(kit)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_client_polls_on_an_idle_connection_but_posts_on_a_fresh_one(
    kit: FaultKit, backend: str
) -> None:
    async def main() -> None:
        async with ppio.AsyncClient("sk-test", base_url=kit.url) as client:
            task = await client.submit("a red fox")
            await client.get_task(task.id)
            await client.submit("a red fox")
            await client.get_task(task.id)
            await anyio.sleep(3 * POST_KEEPALIVE)
            await client.get_task(task.id)
            await client.submit("a red fox")

    anyio.run(main, backend=backend)
    _assert_gets_reused_and_posts_fresh(kit)
