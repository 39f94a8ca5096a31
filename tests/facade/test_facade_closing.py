"""Closing a client under running calls, and one async client used from one event loop after another.

A closed client ends every call that still needs it, at once: with `ClientClosedError` (and the task id)
when nothing of the call's request can have reached the server, or with the POST's outcome unknown when
it may have. A sync client closed from another thread wakes the threads waiting on it, including one
blocked reading a socket the close does not wake. An `AsyncClient` kept at module level serves each
event loop it is used in (a second `asyncio.run()`, trio after asyncio), and a closed one stays closed in
all of them. Raw servers and the sandbox on loopback; aiohttp under asyncio, httpx under trio.
"""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants
from ppio_txt2img._aiohttp import httpx_error
from ppio_txt2img._retry import Failure, classify_exception
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.webhooks import WebhookReceiver
from tests.facade.facade_helpers import TASK_ID, OneAnswerServer, ScriptedAPI
from tests.facade.facade_helpers import task_payload as payload

KEY = "sk_closing_secret_0123456789"


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
    """Reads each request and never answers it (a server slow to create tasks); a connection is closed
    when its client closes it, or when the server is."""

    def __init__(self) -> None:
        self.held: list[socket.socket] = []
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        self.held.append(conn)
        threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data and (chunk := self._recv(conn)):
                data += chunk
            if data:
                self.requests.append(data.split(b"\r\n")[0])
            while self._recv(conn):  # until the client lets go
                pass

    @staticmethod
    def _recv(conn: socket.socket) -> bytes:
        try:
            return conn.recv(65536)
        except OSError:  # closed by `close()`
            return b""

    def close(self) -> None:
        super().close()
        for conn in self.held:
            with contextlib.suppress(OSError):  # already closed by its thread
                conn.shutdown(socket.SHUT_RDWR)  # its thread then reads the end, and closes it


@pytest.mark.parametrize("backends", [("asyncio", "asyncio"), ("asyncio", "trio", "asyncio")], ids="-".join)
def test_one_async_client_serves_one_event_loop_after_another(sandbox_url: str, backends: tuple[str]) -> None:
    client = ppio.AsyncClient(KEY, base_url=sandbox_url)

    async def generate(prompt: str) -> ppio.Generation:
        return await client.txt2img(prompt, width=128, height=128, steps=1, timeout=30)

    for i, backend in enumerate(backends):
        generation = anyio.run(generate, f"loop {i}", backend=backend)
        assert generation.images[0].width == 128
    anyio.run(client.aclose, backend=backends[-1])
    gc.collect()  # were anything of the ended loops left unclosed, its warning would fail this test


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


async def _submit(client: ppio.AsyncClient, errors: list[BaseException]) -> None:
    """Submit, keeping the SDK's error: the tests close the client under the call."""
    try:
        await client.submit("a cat", timeout=60)
    except ppio.PPIOError as exc:
        errors.append(exc)


@pytest.mark.anyio
@pytest.mark.parametrize("connects", ["after the close", "never"])
async def test_closing_the_async_client_while_it_connects_ends_the_call_at_once_as_nothing_sent(
    connects: str,
) -> None:
    """The server's queue is full, so the calls are connecting when the client is closed. Their
    connections then complete on a closed client, or never: then the connects would run on to the 10 s
    connect timeout (aiohttp and httpx both let them), and closing must end them instead."""
    server = SlowToAccept()
    errors: list[BaseException] = []

    try:
        client = ppio.AsyncClient(KEY, base_url=server.url)
        with anyio.fail_after(_constants.DEFAULT_CONNECT_TIMEOUT / 2):  # well before a connect timeout
            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(_submit, client, errors)
                await anyio.sleep(0.2)  # the three are connecting (the server's queue is full)
                await client.aclose()
                if connects == "after the close":
                    server.open()
    finally:
        server.close()
    assert [type(e) for e in errors] == [ppio.ClientClosedError] * 3, errors
    assert all(isinstance(e, ppio.ClientClosedError) and e.task_id is None for e in errors)
    assert all("created" not in str(e) for e in errors)
    assert not any(server.received)  # no byte of a request went out


@pytest.mark.anyio
async def test_a_post_whose_deadline_passes_while_it_connects_was_not_sent() -> None:
    """The connect hangs (the server's queue is full) past the call's deadline: nothing can have reached
    the server, so the POST's outcome is known: no task was created (not "unknown")."""
    server = SlowToAccept()
    try:
        async with ppio.AsyncClient(KEY, base_url=server.url) as client:
            with pytest.raises(ppio.WaitTimeoutError) as info:
                await client.submit("a cat", timeout=0.5)
    finally:
        server.close()
    assert info.value.outcome_unknown is False
    assert info.value.task_id is None
    assert not any(server.received)


def test_a_sync_post_whose_deadline_passes_while_it_connects_was_not_sent() -> None:
    """As with the async client: the request's thread is still connecting when the waiting thread sees
    the deadline pass; it gives the request up, so its head never goes out, and says so."""
    server = SlowToAccept()
    try:
        with ppio.Client(KEY, base_url=server.url) as client, pytest.raises(ppio.WaitTimeoutError) as info:
            client.submit("a cat", timeout=0.5)
    finally:
        server.close()
    assert info.value.outcome_unknown is False
    assert not any(server.received)


@pytest.mark.anyio
async def test_closing_the_async_client_while_it_looks_up_the_host_ends_the_call_as_nothing_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host name still being looked up when the client is closed (aiohttp cancels the lookup as its
    session closes): the call ends with `ClientClosedError`, not a bare cancellation of a task that
    nobody cancelled, and before the lookup could answer."""
    looked_up = threading.Event()
    real = socket.getaddrinfo

    def slow_lookup(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        if host in ("slow-dns.invalid", b"slow-dns.invalid"):
            if flags & socket.AI_NUMERICHOST:  # trio asks first whether it is an address: it is not
                raise socket.gaierror(socket.EAI_NONAME, "not a numeric host")
            looked_up.wait(30)  # until the test has its answer
            host = "127.0.0.1"
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    errors: list[BaseException] = []

    try:
        client = ppio.AsyncClient(KEY, base_url="http://slow-dns.invalid:9")
        with anyio.fail_after(_constants.DEFAULT_CONNECT_TIMEOUT / 2):
            async with anyio.create_task_group() as group:
                group.start_soon(_submit, client, errors)
                await anyio.sleep(0.2)  # looking the host up
                await client.aclose()
        assert not looked_up.is_set()
    finally:
        looked_up.set()
    assert [type(e) for e in errors] == [ppio.ClientClosedError], errors


def test_closing_a_trio_client_during_a_tls_handshake_leaves_no_socket_open() -> None:
    """httpcore lets go of a connection cancelled in its TLS handshake without closing it; the client
    closes it as it ends the call (else: "ResourceWarning: unclosed socket" when it is collected)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts, and never says a word of TLS
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    errors: list[BaseException] = []

    async def main() -> None:
        client = ppio.AsyncClient(KEY, base_url=url)
        async with anyio.create_task_group() as group:
            group.start_soon(_submit, client, errors)
            await anyio.sleep(0.3)  # connected, and waiting for the server's half of the handshake
            await client.aclose()

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            anyio.run(main, backend="trio")
            gc.collect()
    finally:
        listener.close()
    assert [type(e) for e in errors] == [ppio.ClientClosedError], errors
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


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


def _closed_under_a_call(
    server: OneAnswerServer, call: Callable[[], object], close: Callable[[], object]
) -> BaseException:
    """Run `call` on a thread until the server has its first request, then `close()`: the one error the
    call ended with."""
    thread, errors = _on_thread(call)
    try:
        while not server.requests:
            threading.Event().wait(0.01)
        close()
        thread.join(timeout=60)  # a hang detector: each call here would wait a minute or more
    finally:
        server.close()
    assert not thread.is_alive()
    [error] = errors
    return error


def test_closing_the_sync_client_ends_a_post_blocked_on_another_thread_as_unknown() -> None:
    server = HoldingPosts()
    client = ppio.Client(KEY, base_url=server.url, max_retries=0)
    # Closed once the POST is out, its thread blocked reading the answer:
    error = _closed_under_a_call(server, lambda: client.submit("a cat", timeout=600), client.close)
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


def _rate_limited_forever() -> OneAnswerServer:
    """Every request: 429 with `Retry-After: 3600` (the client sleeps the most it allows, a minute)."""
    return OneAnswerServer(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Length: 2\r\n\r\n{}"
    )


def _processing_forever() -> OneAnswerServer:
    """Every request: the task is processing (a wait on webhooks then sleeps for its fallback poll)."""
    body = json.dumps(payload("PROCESSING", progress=10, eta=30)).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    return OneAnswerServer(head + body)


#: How each kind of sleep between polls is reached: a retry's backoff (a plain sleep), or the fallback
#: poll of a wait on webhooks (a sleep on the wait's waiter, an hour here).
SLEEPS: dict[str, tuple[Callable[[], OneAnswerServer], Callable[[Any], Any]]] = {
    "backoff": (_rate_limited_forever, lambda client: client.get_task("t1", timeout=600)),
    "webhooks": (_processing_forever, lambda client: client.wait("t1", timeout=600)),
}


@pytest.mark.parametrize("sleeping", list(SLEEPS))
def test_closing_the_sync_client_wakes_a_wait_sleeping_between_polls_on_another_thread(sleeping: str) -> None:
    serve, call = SLEEPS[sleeping]
    server = serve()
    client = ppio.Client(KEY, base_url=server.url, webhooks=WebhookReceiver(fallback_poll=3600))
    error = _closed_under_a_call(server, lambda: call(client), client.close)
    assert isinstance(error, ppio.ClientClosedError)
    assert error.task_id == "t1"
    assert len(server.requests) == 1  # nothing went out after the close


@pytest.mark.anyio
@pytest.mark.parametrize("sleeping", list(SLEEPS))
async def test_closing_the_async_client_wakes_a_wait_sleeping_between_polls(sleeping: str) -> None:
    serve, call = SLEEPS[sleeping]
    server = serve()
    client = ppio.AsyncClient(KEY, base_url=server.url, webhooks=WebhookReceiver(fallback_poll=3600))
    errors: list[ppio.PPIOError] = []

    async def run() -> None:
        try:
            await call(client)
        except ppio.PPIOError as exc:
            errors.append(exc)

    try:
        with anyio.fail_after(30):  # a hang detector, as above
            async with anyio.create_task_group() as group:
                group.start_soon(run)
                for _ in range(2000):  # until the server (on its thread) has the first request
                    if server.requests:
                        break
                    await anyio.sleep(0.01)
                await client.aclose()
    finally:
        server.close()
    [error] = errors
    assert isinstance(error, ppio.ClientClosedError)
    assert error.task_id == "t1"
    assert len(server.requests) == 1


def test_a_copy_with_other_options_does_not_wake_the_originals_waits_when_closed() -> None:
    client = ppio.Client(KEY, base_url="http://127.0.0.1:9")
    copy = client.with_options(timeout=5)
    copy.close()  # the copy owns nothing: closing it closes nothing
    assert not client._closing.closed
    client.close()
    assert copy._closing.closed  # the original's close wakes the copy's waits too: they share its pool


def test_closing_the_sync_client_sends_none_of_the_posts_queued_for_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_constants, "DEFAULT_MAX_CONNECTIONS", 1)  # one connection: the others queue
    server = HoldingPosts()
    client = ppio.Client(KEY, base_url=server.url, max_retries=0)
    calls = [_on_thread(lambda: client.submit("a cat", timeout=600)) for _ in range(3)]
    try:
        while not server.requests:  # one POST is out, on the one connection; two wait in httpx's pool
            threading.Event().wait(0.01)
        client.close()
        for thread, _ in calls:
            thread.join(timeout=60)  # a hang detector
        threading.Event().wait(0.5)  # time for a queued POST to go out, were it to
    finally:
        server.close()
    errors = sorted((type(e).__name__ for _, errs in calls for e in errs), reverse=True)
    assert errors == ["ClientClosedError", "ClientClosedError", "APIConnectionError"]
    assert server.requests == [b"POST /v3/async/txt2img HTTP/1.1"]  # nothing went out after the close


def test_closing_the_async_client_from_another_threads_loop_ends_the_calls_running_there() -> None:
    server = _processing_forever()
    client = ppio.AsyncClient(KEY, base_url=server.url)

    async def wait() -> None:
        await client.wait("t1", timeout=600)

    # Closed in this thread's own event loop:
    error = _closed_under_a_call(server, lambda: anyio.run(wait), lambda: anyio.run(client.aclose))
    assert isinstance(error, ppio.ClientClosedError)
    assert error.task_id == "t1"
    assert len(server.requests) == 1


def test_a_post_sent_through_a_callers_client_whose_hook_replaced_the_trace_stays_unknown() -> None:
    seen: list[str] = []

    def own_trace(event: str, info: object) -> None:
        seen.append(event)

    def hook(request: httpx.Request) -> None:
        request.extensions["trace"] = own_trace  # the caller's own tracing, in place of the SDK's

    server = HoldingPosts()
    http = httpx.Client(event_hooks={"request": [hook]})
    client = ppio.Client(KEY, base_url=server.url, http_client=http, max_retries=0)
    error = _closed_under_a_call(server, lambda: client.submit("a cat", timeout=600), http.close)
    assert isinstance(error, ppio.APIConnectionError)  # not "nothing was sent": it was
    assert error.outcome_unknown
    assert "http11.send_request_headers.started" in seen


@pytest.mark.parametrize("mode", ["sync", "asyncio", "trio"])
def test_a_callers_own_trace_on_their_client_still_sees_every_request(mode: str) -> None:
    seen: list[str] = []

    def trace(event: str, info: object) -> None:
        seen.append(event)

    async def trace_async(event: str, info: object) -> None:
        seen.append(event)

    def hook(request: httpx.Request) -> None:
        request.extensions.setdefault("trace", trace)  # only where nothing traces the request yet

    async def hook_async(request: httpx.Request) -> None:
        request.extensions.setdefault("trace", trace_async)

    server = OneAnswerServer(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + b'{"task_id":"t1"}')
    try:
        if mode == "sync":
            with httpx.Client(event_hooks={"request": [hook]}) as http:
                task = ppio.Client(KEY, base_url=server.url, http_client=http).submit("a cat")
        else:

            async def submit() -> ppio.SubmittedTask:
                async with httpx.AsyncClient(event_hooks={"request": [hook_async]}) as http:
                    return await ppio.AsyncClient(KEY, base_url=server.url, http_client=http).submit("a cat")

            task = anyio.run(submit, backend=mode)
    finally:
        server.close()
    assert task.id == "t1"
    assert "http11.send_request_headers.started" in seen


def test_a_wait_on_a_client_closed_before_it_names_the_task_and_sends_nothing() -> None:
    server = OneAnswerServer(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + b'{"task_id":"t1"}')
    client = ppio.Client(KEY, base_url=server.url)
    client.close()
    try:
        with pytest.raises(ppio.ClientClosedError) as info:
            client.wait("t-elsewhere", timeout=5)
    finally:
        server.close()
    assert info.value.task_id == "t-elsewhere"
    assert str(info.value) == (
        "the client was closed (before this call, or while it ran); task t-elsewhere may still be running:"
        " resume with another client's wait('t-elsewhere')"
    )
    assert server.requests == []
