"""`WebhookReceiver.serve_async`: the receiver's HTTP/1.1 server on the running event loop, under asyncio
and trio, spoken to over real sockets: kept-alive and chunked requests, what is refused (413, 405, 400),
a stalled connection that blocks nobody, and a port that is closed once the block ends."""

from __future__ import annotations

import json
import socket

import anyio
import pytest

from ppio_txt2img.webhooks import MAX_WEBHOOK_BYTES, WebhookReceiver

EVENT = json.dumps(
    {
        "event_type": "ASYNC_TASK_RESULT",
        "payload": {"task": {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"}},
    }
).encode()


def post(body: bytes, *, close: bool = False) -> bytes:
    head = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


async def exchange(url: str, data: bytes) -> bytes:
    """Send `data` on one connection and read until the server closes it."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    received = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(data)
        with anyio.fail_after(10):
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return received


def statuses(answer: bytes) -> list[int]:
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


@pytest.mark.anyio
async def test_a_kept_alive_connection_carries_several_webhooks_each_waking_its_wait() -> None:
    receiver = WebhookReceiver()
    waiter = receiver.wakeups.register("t1")
    async with receiver.serve_async(path="/hook") as url:
        assert receiver.url == url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/hook")
        answer = await exchange(url, post(EVENT) + post(EVENT, close=True))
        with anyio.fail_after(5):
            await waiter.sleep_async(5)  # at once: the webhook came on this loop
    assert statuses(answer) == [200, 200]
    assert (receiver.received, receiver.woken) == (2, 2)


@pytest.mark.anyio
async def test_a_chunked_webhook_is_read_whole() -> None:
    receiver = WebhookReceiver()
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (EVENT[:10], EVENT[10:])) + b"0\r\n\r\n"
    )
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    async with receiver.serve_async() as url:
        answer = await exchange(url, head + chunked)
    assert statuses(answer) == [200]
    assert receiver.received == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (post(b"not json"), 400),
        (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_WEBHOOK_BYTES + 1}\r\n\r\n".encode(), 413),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", 400),
    ],
    ids=["not-json", "too-big", "get", "garbage", "bad-length"],
)
async def test_what_is_not_a_webhook_is_refused_and_the_server_goes_on(
    request_bytes: bytes, status: int
) -> None:
    receiver = WebhookReceiver()
    async with receiver.serve_async() as url:
        answer = await exchange(url, request_bytes)
        after = await exchange(url, post(EVENT, close=True))
    assert statuses(answer) == [status]
    assert statuses(after) == [200]
    assert receiver.woken == 0  # nobody waits for t1


@pytest.mark.anyio
async def test_a_stalled_connection_blocks_no_other() -> None:
    receiver = WebhookReceiver()
    async with receiver.serve_async() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        async with await anyio.connect_tcp("127.0.0.1", port) as stalled:
            await stalled.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # and no more
            answer = await exchange(url, post(EVENT, close=True))
    assert statuses(answer) == [200]
    assert receiver.received == 1


@pytest.mark.anyio
async def test_the_port_is_closed_when_the_block_ends() -> None:
    receiver = WebhookReceiver("https://public.example/hook")
    async with receiver.serve_async() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert receiver.url == "https://public.example/hook"  # a URL already set is kept
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
