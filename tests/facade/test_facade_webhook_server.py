"""`WebhookReceiver.serve_async` (the receiver's HTTP/1.1 server on the running event loop, under asyncio
and trio) and `WebhookReceiver.serve` (the same in threads, for scripts), spoken to over real sockets:
kept-alive and chunked requests, what is refused (413, 405, 400), a stalled connection that blocks
nobody, and a port that is closed once the block ends."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import SocketStream

import ppio_txt2img as ppio
from ppio_txt2img import ValidationError
from ppio_txt2img.webhooks import MAX_WEBHOOK_BYTES, WebhookReceiver
from tests.ipv6 import has_ipv6_loopback, needs_ipv6_loopback

EVENT = json.dumps(
    {
        "event_type": "ASYNC_TASK_RESULT",
        "payload": {"task": {"task_id": "t1", "status": "TASK_STATUS_SUCCEED"}},
    }
).encode()


EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 (the host that means every interface)


def post(body: bytes, *, close: bool = False) -> bytes:
    head = f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


async def connect(url: str) -> SocketStream:
    """A connection to the server at `url`."""
    return await anyio.connect_tcp("127.0.0.1", port_of(url))


async def read_to_end(stream: SocketStream) -> bytes:
    """What the server sends on `stream` until it closes it."""
    received = b""
    with anyio.fail_after(10):
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return received


async def exchange(url: str, data: bytes) -> bytes:
    """Send `data` on one connection and read until the server closes it."""
    async with await connect(url) as stream:
        await stream.send(data)
        return await read_to_end(stream)


@pytest.fixture(params=["serve_async", "serve"])
def server_kind(request: pytest.FixtureRequest) -> str:
    """Each server: on the event loop, and in threads."""
    return str(request.param)


@contextlib.asynccontextmanager
async def serving(receiver: WebhookReceiver, kind: str, **options: Any) -> AsyncIterator[str]:
    """`receiver.serve_async(**options)`, or `receiver.serve(**options)` (threads) entered from a test."""
    if kind == "serve_async":
        async with receiver.serve_async(**options) as url:
            yield url
    else:
        with receiver.serve(**options) as url:
            yield url


def statuses(answer: bytes) -> list[int]:
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


@pytest.mark.anyio
async def test_each_connection_carries_one_webhook_answered_then_closed(server_kind: str) -> None:
    receiver = WebhookReceiver()
    waiter = receiver.wakeups.register("t1")
    async with serving(receiver, server_kind, path="/hook") as url:
        assert receiver.url == url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/hook")
        # Pipelined requests, and more bytes the client never waits to see answered: the server answers
        # the first, says it closes, and closes, handling nothing after it.
        flood = post(EVENT) * 2 + b"x" * 65536
        answer = await exchange(url, flood)
        again = await exchange(url, post(EVENT))  # the next webhook, on a connection of its own
        with anyio.fail_after(5):
            await waiter.sleep_async(5)  # at once: the webhook came on this loop
    assert statuses(answer) == [200]
    assert b"connection: close" in answer.lower()
    assert statuses(again) == [200]
    assert (receiver.received, receiver.woken) == (2, 2)
    assert receiver.url is None  # it was this server's URL: unset with the server


@pytest.mark.anyio
async def test_a_client_expecting_100_continue_is_told_to_go_on(server_kind: str) -> None:
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url, await connect(url) as stream:
        head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(EVENT)}\r\nExpect: 100-continue\r\n\r\n"
        await stream.send(head.encode())
        with anyio.fail_after(5):
            interim = await stream.receive()  # before any byte of the body is sent
        await stream.send(EVENT)
        with anyio.fail_after(5):
            final = await stream.receive()
    assert interim.startswith(b"HTTP/1.1 100 ")
    assert statuses(final) == [200]
    assert receiver.received == 1


@pytest.mark.anyio
async def test_an_exception_of_the_block_comes_out_as_itself() -> None:
    receiver = WebhookReceiver()

    def fail() -> None:
        settings: dict[str, str] = {}
        try:
            settings["missing"]
        except KeyError as cause:
            raise LookupError("the app's own") from cause

    with pytest.raises(LookupError, match="the app's own") as caught:
        async with receiver.serve_async():
            fail()
    assert isinstance(caught.value.__cause__, KeyError)  # its own chain, not the task group's
    assert not isinstance(caught.value.__context__, BaseExceptionGroup)
    assert receiver.url is None


class AppErrors(ExceptionGroup):
    """An app's own group of errors."""


@pytest.mark.anyio
async def test_an_exception_group_of_the_block_comes_out_as_itself_not_rewrapped() -> None:
    errors = AppErrors("the app's", [ValueError("one"), KeyError("two")])
    with pytest.raises(AppErrors) as caught:
        async with WebhookReceiver().serve_async():
            raise errors
    assert caught.value is errors  # not a copy of it (trio's nursery splits a group it sees)
    assert not isinstance(caught.value.__context__, BaseExceptionGroup)


@pytest.mark.anyio
async def test_every_interface_needs_the_public_url_and_a_path_its_slash(server_kind: str) -> None:
    with pytest.raises(ppio.ValidationError, match="url"):
        async with serving(WebhookReceiver(), server_kind, host=EVERY_INTERFACE):
            pass
    with pytest.raises(ppio.ValidationError, match="path"):
        async with serving(WebhookReceiver(), server_kind, path="hook"):
            pass
    receiver = WebhookReceiver("https://hooks.example/ppio")
    async with serving(receiver, server_kind, host=EVERY_INTERFACE, path="/ppio") as local:
        assert local.startswith("http://127.0.0.1:")
        assert statuses(await exchange(local, post(EVENT))) == [200]
    assert receiver.url == "https://hooks.example/ppio"


@pytest.mark.anyio
async def test_a_chunked_webhook_is_read_whole(server_kind: str) -> None:
    receiver = WebhookReceiver()
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (EVENT[:10], EVENT[10:])) + b"0\r\n\r\n"
    )
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    async with serving(receiver, server_kind) as url:
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
        (post(EVENT).replace(b"POST ", b"post ", 1), 405),  # methods are case-sensitive
    ],
    ids=["not-json", "too-big", "get", "garbage", "bad-length", "lowercase-post"],
)
async def test_what_is_not_a_webhook_is_refused_and_the_server_goes_on(
    request_bytes: bytes, status: int, server_kind: str
) -> None:
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url:
        answer = await exchange(url, request_bytes)
        after = await exchange(url, post(EVENT, close=True))
    assert statuses(answer) == [status]
    assert statuses(after) == [200]
    assert receiver.woken == 0  # nobody waits for t1


@pytest.mark.anyio
async def test_a_stalled_connection_blocks_no_other(server_kind: str) -> None:
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url, await connect(url) as stalled:
        await stalled.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # and no more
        answer = await exchange(url, post(EVENT, close=True))
    assert statuses(answer) == [200]
    assert receiver.received == 1


def event_for(task_id: str) -> bytes:
    return json.dumps(
        {"event_type": "ASYNC_TASK_RESULT", "payload": {"task": {"task_id": task_id, "status": "SUCCEED"}}}
    ).encode()


@pytest.mark.anyio
async def test_a_burst_of_webhooks_on_connections_opened_together_is_answered_and_wakes_every_wait(
    server_kind: str,
) -> None:
    # As when many tasks end at once: the API opens a connection per webhook, all before the server has
    # had a turn (asyncio's server accepts them in one; trio's listener one by one).
    receiver = WebhookReceiver()
    ids = [f"t{i}" for i in range(100)]
    waiters = [receiver.wakeups.register(task_id) for task_id in ids]
    async with serving(receiver, server_kind) as url:
        streams = [await connect(url) for _ in ids]
        answers: list[bytes] = []

        async def webhook(stream: SocketStream, task_id: str) -> None:
            answer = b""
            async with stream:
                await stream.send(post(event_for(task_id)))
                with anyio.fail_after(10):
                    while b"\r\n\r\n" not in answer:
                        answer += await stream.receive()
            answers.append(answer)

        async with anyio.create_task_group() as group:
            for stream, task_id in zip(streams, ids, strict=True):
                group.start_soon(webhook, stream, task_id)
        with anyio.fail_after(5):
            woken = [await waiter.sleep_async(5) for waiter in waiters]
    assert sorted(statuses(b"".join(answers))) == [200] * len(ids)
    assert (receiver.received, receiver.woken) == (len(ids), len(ids))
    assert all(woken)


@pytest.mark.anyio
async def test_a_peer_that_stops_sending_mid_request_is_answered_400(server_kind: str) -> None:
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url, await connect(url) as stream:
        await stream.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await stream.send_eof()  # its side is closed: the 99 bytes promised will never come
        answer = await read_to_end(stream)
    assert statuses(answer) == [400]
    assert receiver.received == 0


@pytest.mark.anyio
async def test_a_peer_that_ends_its_side_right_after_its_request_is_answered(server_kind: str) -> None:
    receiver = WebhookReceiver()
    waiter = receiver.wakeups.register("t1")
    async with serving(receiver, server_kind) as url, await connect(url) as stream:
        await stream.send(post(EVENT))
        await stream.send_eof()  # at once: the request and the end of the peer's side may be read together
        answer = await read_to_end(stream)
        with anyio.fail_after(5):
            assert await waiter.sleep_async(5)
    assert statuses(answer) == [200]
    assert (receiver.received, receiver.woken) == (1, 1)


@pytest.mark.anyio
async def test_connections_still_open_when_the_block_ends_are_closed(server_kind: str) -> None:
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url:
        stalled = await connect(url)
        await stalled.send(b"POST / HTTP/1.1\r\nHost: x\r\n")  # half a head, and no more
        await anyio.sleep(0.1)  # the server has taken the connection
    async with stalled:
        with anyio.fail_after(10), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await stalled.receive()  # closed by the server, not left to its 30 s idle timeout


def closed_by_the_server(sock: socket.socket) -> bool:
    """Whether the server closed its end (the peer sees the end of the stream, or a reset)."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.anyio
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
async def test_connections_arriving_as_the_block_ends_are_closed_and_never_read(
    turns: int, server_kind: str
) -> None:
    # Accepted in the very turns of the event loop in which the block ends (asyncio makes a transport
    # turns after accepting): each is closed by the end of the block, and a webhook sent on it after
    # that is read by nobody.
    receiver = WebhookReceiver()
    async with serving(receiver, server_kind) as url:
        late = [socket.create_connection(("127.0.0.1", port_of(url)), timeout=5) for _ in range(5)]
        for _ in range(turns):
            await anyio.lowlevel.checkpoint()
    for sock in late:
        with contextlib.suppress(OSError):
            sock.sendall(post(event_for("late")))
    try:
        assert all(closed_by_the_server(sock) for sock in late)
    finally:
        for sock in late:
            sock.close()
    assert receiver.received == 0


@pytest.mark.anyio
async def test_the_port_is_closed_when_the_block_ends(server_kind: str) -> None:
    receiver = WebhookReceiver("https://public.example/hook")
    async with serving(receiver, server_kind) as url:
        port = port_of(url)
    assert receiver.url == "https://public.example/hook"  # a URL already set is kept
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


#: Where a sender may reach a server whose URL says `localhost`: curl resolves the name itself to both,
#: whatever /etc/hosts says, and tries ::1 when 127.0.0.1 refuses (other clients try ::1 first).
LOOPBACKS = ("127.0.0.1", "::1")


async def webhook_to(address: str, port: int, task_id: str) -> list[int]:
    """POST the webhook of `task_id` to `address`:`port` on a connection of its own; the statuses read."""
    async with await anyio.connect_tcp(address, port) as stream:
        await stream.send(post(event_for(task_id)))
        return statuses(await read_to_end(stream))


@needs_ipv6_loopback
@pytest.mark.anyio
async def test_localhost_is_served_on_both_loopbacks_and_a_webhook_by_either_wakes_its_wait(
    server_kind: str,
) -> None:
    receiver = WebhookReceiver()
    waiters = {address: receiver.wakeups.register(f"task-via-{address}") for address in LOOPBACKS}
    async with serving(receiver, server_kind, host="localhost", path="/hook") as url:
        port = port_of(url)
        assert url == f"http://localhost:{port}/hook"
        for address in LOOPBACKS:
            assert await webhook_to(address, port, f"task-via-{address}") == [200]
            assert waiters[address].notified  # this one's wait, and no other's yet
            assert [other.notified for other in waiters.values()].count(True) == LOOPBACKS.index(address) + 1
        with anyio.fail_after(10):
            woken = [await waiter.sleep_async(5) for waiter in waiters.values()]
    assert woken == [True, True]
    assert (receiver.received, receiver.woken) == (2, 2)
    for address in LOOPBACKS:  # both closed with the block
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address, port), timeout=5):
            pass


@needs_ipv6_loopback
@pytest.mark.anyio
async def test_localhost_gets_one_port_for_both_loopbacks_every_time(server_kind: str) -> None:
    # The system picks a port for 127.0.0.1 and ::1 is bound on the same one, or, when another socket
    # holds it there, both are bound again on a fresh one: never a port that only one family answers.
    receiver = WebhookReceiver()
    ports: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(20):  # all open at once: each port free on both loopbacks, and none shared
            url = await stack.enter_async_context(serving(receiver, server_kind, host="localhost"))
            ports.append(port_of(url))
        for port in ports:
            for address in LOOPBACKS:
                assert await webhook_to(address, port, "t1") == [200]
    assert len(set(ports)) == 20
    assert receiver.received == 40


@needs_ipv6_loopback
@pytest.mark.anyio
async def test_a_port_given_but_taken_on_one_loopback_is_an_error_and_leaves_nothing_bound(
    server_kind: str,
) -> None:
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=os.strerror(errno.EADDRINUSE)) as caught:
            async with serving(WebhookReceiver(), server_kind, host="localhost", port=port):
                pass
    assert caught.value.errno == errno.EADDRINUSE
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # 127.0.0.1, bound first, was let go


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "url_host"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"), (EVERY_INTERFACE, "127.0.0.1"), ("::", "[::1]")],
)
async def test_an_ip_address_is_served_alone_at_a_url_with_its_ipv6_in_brackets(
    host: str, url_host: str, server_kind: str
) -> None:
    if ":" in host and not has_ipv6_loopback():
        pytest.skip("this machine has no ::1")
    # Every interface has no one address to call: the public URL is given, and the local one yielded.
    receiver = WebhookReceiver(None if host in LOOPBACKS else "https://hooks.example/ppio")
    async with serving(receiver, server_kind, host=host) as url:
        assert url == f"http://{url_host}:{port_of(url)}/"
        address = urlsplit(url).hostname
        assert address is not None
        assert await webhook_to(address, port_of(url), "t1") == [200]
        if host in LOOPBACKS:  # the other loopback is not this server's
            other = LOOPBACKS[1 - LOOPBACKS.index(host)]
            with pytest.raises(ConnectionRefusedError), socket.create_connection((other, port_of(url)), 5):
                pass
    assert receiver.received == 1


def test_serve_ends_every_thread_and_closes_every_socket_with_its_block() -> None:
    receiver = WebhookReceiver()
    before = set(threading.enumerate())
    with receiver.serve(host="localhost" if has_ipv6_loopback() else "127.0.0.1") as url:
        port = port_of(url)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as answered:
            answered.sendall(post(EVENT))
            answer = b""
            while chunk := answered.recv(65536):
                answer += chunk
        assert statuses(answer) == [200]
        stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # half a head, and no more
        time.sleep(0.1)  # its thread is reading it
        assert len(set(threading.enumerate()) - before) >= 2  # the accepting thread and the stalled one's
    try:
        assert set(threading.enumerate()) - before == set()  # every thread joined as the block ended
        assert closed_by_the_server(stalled)
    finally:
        stalled.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # and the listening sockets
    assert receiver.received == 1


SERVER_WITH_FEW_FILES = """
import resource, sys, anyio
from ppio_txt2img.webhooks import WebhookReceiver

resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

async def main() -> None:
    receiver = WebhookReceiver()
    async with receiver.serve_async() as url:
        print(url, flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)  # until the test has done its worst
        print("alive", receiver.received, flush=True)

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_running_out_of_file_descriptors_pauses_accepting_and_the_app_goes_on(backend: str) -> None:
    command = [sys.executable, "-c", SERVER_WITH_FEW_FILES, backend]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdin is not None
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        port = port_of(url)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]  # > 64 fds
        time.sleep(0.5)  # the server accepts until it has no descriptor left
        for sock in idle:
            sock.close()
        answer = b""
        for _ in range(50):  # the server waits a moment after each failed accept, then goes on
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(post(EVENT))
                answer = sock.recv(65536)
            if statuses(answer) == [200]:
                break
            time.sleep(0.1)
        out, _ = server.communicate("done\n", timeout=30)
    assert statuses(answer) == [200]
    assert server.returncode == 0
    assert out.split()[0] == "alive"


@needs_ipv6_loopback
@pytest.mark.anyio
async def test_a_cancelled_serving_block_closes_every_listening_socket(server_kind: str) -> None:
    """A timeout (or any cancel) ending the block: both loopbacks' sockets are closed, so the port can be
    served again at once. Under trio, anyio's MultiListener closed the first listener only."""
    port = 0
    with anyio.move_on_after(0.2):
        async with serving(WebhookReceiver(), server_kind, host="localhost") as url:
            port = port_of(url)
            await anyio.sleep(10)
    assert port
    for address in LOOPBACKS:
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address, port), timeout=5):
            pass
    async with serving(WebhookReceiver(), server_kind, host="localhost", port=port) as url:
        assert port_of(url) == port


@pytest.mark.parametrize("host", ["0", "::0", "0:0:0:0:0:0:0:0", "0.0.0.0", "::", ""])  # noqa: S104 (refused, not bound)
def test_every_spelling_of_every_interface_needs_the_public_url(host: str) -> None:
    with pytest.raises(ValidationError, match="public URL") as caught, WebhookReceiver().serve(host=host):
        pass
    assert caught.value.field == "url"


@pytest.mark.parametrize("host", [None, 123, "bad host", "a\x00b", "caf\udce9", "x" * 64])
def test_a_host_that_is_no_host_name_is_a_validation_error(host: object) -> None:
    with (
        pytest.raises(ValidationError) as caught,
        WebhookReceiver("https://public.example/hook").serve(
            host=host  # type: ignore[arg-type]  # what a caller without a type checker may pass
        ),
    ):
        pass
    assert caught.value.field == "host"
