"""Closing a client under running calls, and one async client used from one event loop after another.

A closed client ends every call that still needs it, at once: with `ClientClosedError` (and the task id)
when nothing of the call's request can have reached the server, or with the POST's outcome unknown when
it may have. A sync client closed from another thread wakes the threads waiting on it, including one
blocked reading a socket the close does not wake. An `AsyncClient` kept at module level serves each
event loop it is used in (a second `asyncio.run()`, trio after asyncio), and a closed one stays closed in
all of them. Raw servers and the sandbox on loopback; aiohttp under asyncio, httpx under trio.
"""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Callable, Iterator

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._aiohttp import httpx_error
from ppio_txt2img._retry import Failure, classify_exception
from ppio_txt2img.sandbox import Sandbox
from tests.facade.facade_helpers import TASK_ID, OneAnswerServer, ScriptedAPI
from tests.facade.facade_helpers import task_payload as payload

KEY = "sk_closing_secret_0123456789"

# The loop that ends first leaves its idle keep-alive connections open, as any code on a loop that ends
# without closing its clients does; their sockets are collected later, with a ResourceWarning.
LEFT_BY_AN_ENDED_LOOP = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with Sandbox(speed=50, queue_delay=0.0, seed=11).serve() as url:
        yield url


class SlowToAccept:
    """A server whose accept queue is full: connecting to it hangs (the kernel drops the SYN) until
    `open()` makes room, when the client's next SYN gets through. Records what each connection sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.filler = socket.create_connection(self.sock.getsockname())  # takes the one place in the queue
        self.received: list[bytes] = []

    def open(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            self.received.append(data)

    def close(self) -> None:
        self.filler.close()
        self.sock.close()


class HoldingPosts(OneAnswerServer):
    """Reads each request and never answers it (a server slow to create tasks)."""

    def __init__(self) -> None:
        self.held: list[socket.socket] = []
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        self.held.append(conn)
        data = b""
        while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
            data += chunk
        self.requests.append(data.split(b"\r\n")[0])

    def close(self) -> None:
        super().close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("backends", [("asyncio", "asyncio"), ("asyncio", "trio", "asyncio")], ids="-".join)
@LEFT_BY_AN_ENDED_LOOP[0]
@LEFT_BY_AN_ENDED_LOOP[1]
def test_one_async_client_serves_one_event_loop_after_another(sandbox_url: str, backends: tuple[str]) -> None:
    client = ppio.AsyncClient(KEY, base_url=sandbox_url)

    async def generate(prompt: str) -> ppio.Generation:
        return await client.txt2img(prompt, width=128, height=128, steps=1, timeout=30)

    for i, backend in enumerate(backends):
        generation = anyio.run(generate, f"loop {i}", backend=backend)
        assert generation.images[0].width == 128
    anyio.run(client.aclose, backend=backends[-1])
    gc.collect()  # the ended loops' sockets, here rather than in whichever test comes next


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_closed_async_client_stays_closed_in_every_loop_and_sends_nothing(backend: str) -> None:
    server = OneAnswerServer(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + b'{"task_id":"t1"}')
    client = ppio.AsyncClient(KEY, base_url=server.url)
    try:
        anyio.run(client.aclose, backend=backend)  # closed before its first call
        for loop in (backend, "asyncio", "trio"):

            async def submit() -> None:
                await client.submit("a cat", timeout=5)

            with pytest.raises(ppio.ClientClosedError) as info:
                anyio.run(submit, backend=loop)
            assert info.value.task_id is None
    finally:
        server.close()
    assert server.requests == []


def test_aiohttp_refusing_a_connection_of_a_closed_session_means_nothing_was_sent() -> None:
    import aiohttp

    for message in ("Connector is closed.", "Connector is closed"):
        error = httpx_error(aiohttp.ClientConnectionError(message))
        assert isinstance(error, httpx.ConnectError)
        assert classify_exception(error) is Failure.NOT_SENT


@pytest.mark.anyio
async def test_closing_the_async_client_while_it_connects_ends_the_call_as_nothing_sent() -> None:
    server = SlowToAccept()
    errors: list[ppio.PPIOError] = []

    async def submit(client: ppio.AsyncClient) -> None:
        try:
            await client.submit("a cat", timeout=30)
        except ppio.PPIOError as exc:
            errors.append(exc)

    try:
        client = ppio.AsyncClient(KEY, base_url=server.url)
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(submit, client)
            await anyio.sleep(0.2)  # the three are connecting (the server's queue is full)
            await client.aclose()
            server.open()  # their connections now complete, on a closed client
    finally:
        server.close()
    assert [type(e) for e in errors] == [ppio.ClientClosedError] * 3, errors
    assert all(isinstance(e, ppio.ClientClosedError) and e.task_id is None for e in errors)
    assert all("created" not in str(e) for e in errors)
    assert not any(server.received)  # no byte of a request went out


def _on_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def test_closing_the_sync_client_ends_a_post_blocked_on_another_thread_as_unknown() -> None:
    server = HoldingPosts()
    client = ppio.Client(KEY, base_url=server.url, max_retries=0)
    thread, errors = _on_thread(lambda: client.submit("a cat", timeout=600))
    try:
        while not server.requests:  # the POST is out; the thread is blocked reading the answer
            threading.Event().wait(0.01)
        client.close()
        thread.join(timeout=60)  # a hang detector: the call's own deadline is ten minutes away
    finally:
        server.close()
    assert not thread.is_alive()
    [error] = errors
    assert isinstance(error, ppio.APIConnectionError)
    assert error.outcome_unknown  # the POST reached the server: a task may exist, it is not resent
    assert "closed while the request was in flight" in str(error)
    assert server.requests == [b"POST /v3/async/txt2img HTTP/1.1"]


def test_closing_the_sync_client_ends_a_poll_blocked_on_another_thread_with_the_task_id(
    api: ScriptedAPI,
) -> None:
    polling, release = threading.Event(), threading.Event()
    api.results = [payload("PROCESSING", progress=10, eta=30)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            polling.set()
            release.wait(600)  # a poll that never comes back (until the test ends)
        return api(request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = ppio.Client(KEY, base_url=api.base_url, http_client=http)
    thread, errors = _on_thread(lambda: client.wait(TASK_ID, timeout=600))
    try:
        assert polling.wait(60)
        http.close()
        thread.join(timeout=60)  # a hang detector, as above
    finally:
        release.set()
    assert not thread.is_alive()
    [error] = errors
    assert isinstance(error, ppio.ClientClosedError)
    assert error.task_id == TASK_ID


def test_closing_the_sync_client_wakes_a_wait_sleeping_until_its_next_poll() -> None:
    client = ppio.Client(KEY, base_url="http://127.0.0.1:9")
    thread, errors = _on_thread(lambda: client._sleep(3600))  # how its waits sleep between polls
    client.close()
    thread.join(timeout=60)  # a hang detector: the sleep was for an hour
    assert not thread.is_alive()
    assert errors == []


def test_a_copy_with_other_options_does_not_wake_the_originals_waits_when_closed() -> None:
    client = ppio.Client(KEY, base_url="http://127.0.0.1:9")
    copy = client.with_options(timeout=5)
    copy.close()  # the copy owns nothing: closing it closes nothing
    assert not client._closing.is_set()
    client.close()
    assert copy._closing.is_set()  # the original's close wakes the copy's waits too: they share its pool
