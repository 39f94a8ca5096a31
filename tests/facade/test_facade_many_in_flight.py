"""Many requests in flight through one async client, and what real servers do to them: a request waits
for a slot of the client's own (never in the transport's pool, where a deadline passing could not be told
from one passing while the answer was awaited); a POST put on a connection the server has just closed is
resent, once it is known it never went out; the API key stays out of every error in the chain; a client
closed under a running call ends it with `ClientClosedError` and the task id. Raw servers on loopback,
under asyncio (aiohttp) and trio (httpx)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img import _constants
from ppio_txt2img._io import Reply, Send
from ppio_txt2img._retry import Failure, classify_exception
from ppio_txt2img._slots import RequestSlots
from tests.facade.facade_helpers import (
    TASK_ID,
    AsyncClientFactory,
    ClientFactory,
    OneAnswerServer,
    ScriptedAPI,
    read_request,
)
from tests.facade.facade_helpers import task_payload as payload

KEY = "sk_in_flight_secret_0123456789"
CREATED = b'{"task_id":"t1"}'


def answer(status: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        status,
        len(body),
    )
    return head + body


class HoldingServer(OneAnswerServer):
    """Reads each request, counts the POSTs, and never answers (a server slow to create tasks)."""

    def __init__(self) -> None:
        self.posts = 0
        self.open: list[socket.socket] = []
        self._lock = threading.Lock()
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        self.open.append(conn)
        threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            data += chunk
        if data.startswith(b"POST "):
            with self._lock:
                self.posts += 1

    def close(self) -> None:
        super().close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def holding() -> Iterator[HoldingServer]:
    server = HoldingServer()
    yield server
    server.close()


@pytest.mark.anyio
async def test_a_request_waiting_for_a_slot_past_its_time_is_never_sent() -> None:
    slots = RequestSlots(1)
    release = anyio.Event()
    seen: list[float] = []

    async def slow(action: Send) -> Reply:
        seen.append(action.timeout)
        await release.wait()
        return Reply(200, httpx.Headers(), b"")

    async def fast(action: Send) -> Reply:
        seen.append(action.timeout)
        return Reply(200, httpx.Headers(), b"")

    action = Send("POST", "http://x.invalid/", timeout=0.2, connect_timeout=0.2)
    async with anyio.create_task_group() as group:
        group.start_soon(slots.send, action, slow)
        await anyio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout) as info:
            await slots.send(action, fast)  # the one slot stays taken past 0.2 s
        assert classify_exception(info.value) is Failure.NOT_SENT
        later = Send("GET", "http://x.invalid/", timeout=5.0, connect_timeout=5.0)
        group.start_soon(slots.send, later, fast)
        await anyio.sleep(0.1)
        release.set()
    assert seen[0] == 0.2
    assert len(seen) == 2  # the timed-out one never reached `send`
    assert 4.0 < seen[1] < 4.95  # the later one waited about 0.15 s of its 5 s for the slot


@pytest.mark.anyio
async def test_posts_beyond_the_clients_slots_time_out_as_never_sent(
    holding: HoldingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_constants, "DEFAULT_MAX_CONNECTIONS", 2)
    monkeypatch.setattr(_constants, "HTTPX_ASYNC_IN_FLIGHT", 2)
    errors: dict[str, ppio.WaitTimeoutError] = {}

    async def submit(client: ppio.AsyncClient, prompt: str, seconds: float) -> None:
        with pytest.raises(ppio.WaitTimeoutError) as info:
            await client.submit(prompt, timeout=seconds)
        errors[prompt] = info.value

    client = ppio.AsyncClient(KEY, base_url=holding.url, max_retries=0)
    async with client, anyio.create_task_group() as group:
        for prompt in ("sent 1", "sent 2"):  # they take the two slots, and keep them for 2 s
            group.start_soon(submit, client, prompt, 2.0)
        await anyio.sleep(0.3)
        for prompt in ("waiting 1", "waiting 2"):  # their deadline passes while they wait for one
            group.start_soon(submit, client, prompt, 0.5)
    assert {prompt: e.outcome_unknown for prompt, e in errors.items()} == {
        "sent 1": True,
        "sent 2": True,
        "waiting 1": False,
        "waiting 2": False,
    }
    assert isinstance(errors["waiting 1"].__cause__, httpx.PoolTimeout)
    assert holding.posts == 2  # only the two that had a slot went out: the others can be sent again


class SlowServer(OneAnswerServer):
    """Creates each task `delay` seconds after its POST arrived (a connection each, answered on a thread
    of its own), and counts the POSTs."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.posts = 0
        self._lock = threading.Lock()
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            if not read_request(conn):
                return
            with self._lock:
                self.posts += 1
                task_id = f"slow-{self.posts}"
            time.sleep(self.delay)
            body = b'{"task_id":"%s"}' % task_id.encode()
            conn.sendall(answer(b"200 OK", body).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))


@pytest.mark.anyio
async def test_a_post_waiting_for_a_slot_gets_its_whole_request_timeout_once_it_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six submits through two slots, to a server taking 0.4 s to create each task, with a request
    timeout of 0.6 s: the later ones wait 0.4 s and 0.8 s for a slot. The wait comes out of the call's
    deadline, not out of the request's own time: cut from that, the second pair would go out with 0.2 s
    left, time out in flight and leave their tasks unknown, and the third would never go out at all."""
    monkeypatch.setattr(_constants, "DEFAULT_MAX_CONNECTIONS", 2)
    monkeypatch.setattr(_constants, "HTTPX_ASYNC_IN_FLIGHT", 2)
    server = SlowServer(delay=0.4)
    created: list[str] = []

    async def submit(client: ppio.AsyncClient, prompt: str) -> None:
        created.append((await client.submit(prompt, timeout=30)).id)

    client = ppio.AsyncClient(KEY, base_url=server.url, max_retries=0, request_timeout=0.6)
    try:
        async with client, anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(submit, client, f"prompt {i}")
    finally:
        server.close()
    assert sorted(created) == [f"slow-{i}" for i in range(1, 7)]
    assert server.posts == 6  # each once: none timed out in flight, none resent


def test_a_body_aiohttp_could_not_write_counts_as_never_sent() -> None:
    """aiohttp's words when the connection was closing as the body went out (`ClientRequest.write_bytes`):
    the server never had the whole request, so a POST may go again."""
    import aiohttp

    from ppio_txt2img._aiohttp import httpx_error

    unwritten = aiohttp.ClientOSError(
        None, "Can not write request body for http://api.invalid/v3/async/txt2img"
    )
    unwritten.__cause__ = aiohttp.ClientConnectionResetError("Cannot write to closing transport")
    assert classify_exception(httpx_error(unwritten)) is Failure.NOT_SENT
    broken = aiohttp.ClientConnectionError("Failed to send bytes into the underlying connection <c>: x")
    assert classify_exception(httpx_error(broken)) is Failure.NOT_SENT
    assert classify_exception(httpx_error(aiohttp.ClientOSError(104, "reset"))) is Failure.NO_RESPONSE


@pytest.mark.anyio
async def test_a_post_on_a_connection_the_server_just_closed_reaches_it_once_at_most() -> None:
    """The server answers, then closes the connection without saying so; the next POST is put on it
    before the event loop has read the close. Either its body could not be written (it is sent again,
    on a new connection) or it went out and the connection died under it (outcome unknown, not resent):
    in no case does the server get it twice, and the first case succeeds."""
    server = OneAnswerServer(answer(b"200 OK", CREATED))
    second: ppio.SubmittedTask | ppio.APIConnectionError
    try:
        async with ppio.AsyncClient(KEY, base_url=server.url, max_retries=2) as client:
            await client.submit("one", timeout=10)
            time.sleep(0.2)  # noqa: ASYNC251 (blocking on purpose: the close arrives, the loop does not read it)
            try:
                second = await client.submit("two", timeout=10)
            except ppio.APIConnectionError as exc:
                second = exc
    finally:
        server.close()
    if isinstance(second, ppio.APIConnectionError):  # its body went out before the close was read
        assert second.outcome_unknown
        assert server.requests == [b"POST /v3/async/txt2img HTTP/1.1"]
    else:  # its body could not be written: sent again, on a new connection
        assert second.id == "t1"
        assert server.requests == [b"POST /v3/async/txt2img HTTP/1.1"] * 2


@pytest.mark.anyio
async def test_the_api_key_is_in_no_error_of_the_chain_after_a_malformed_answer() -> None:
    server = OneAnswerServer(b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}")
    try:
        async with ppio.AsyncClient(KEY, base_url=server.url, max_retries=0) as client:
            with pytest.raises(ppio.APIConnectionError) as info:
                await client.submit("a cat", timeout=10)
    finally:
        server.close()
    chain: list[BaseException] = []
    link: BaseException | None = info.value
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    assert len(chain) >= 2  # the SDK's error and the transport's
    for error in chain:
        assert KEY not in repr(error) + str(error) + repr(vars(error)), type(error)


class Closer:
    """An `on_progress` that closes the caller's HTTP client at the first report."""

    def __init__(self, http: httpx.Client | httpx.AsyncClient) -> None:
        self.http = http

    def sync(self, task: ppio.Task) -> None:
        assert isinstance(self.http, httpx.Client)
        self.http.close()

    async def async_(self, task: ppio.Task) -> None:
        assert isinstance(self.http, httpx.AsyncClient)
        await self.http.aclose()


def test_closing_the_client_under_a_wait_ends_it_with_the_task_id(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.results = [payload("PROCESSING", progress=10, eta=30)]
    http = httpx.Client(transport=httpx.MockTransport(api))
    client = make_client(http_client=http)
    with pytest.raises(ppio.ClientClosedError) as info:
        client.txt2img("a cat", on_progress=Closer(http).sync)
    assert info.value.task_id == TASK_ID
    assert f"wait({TASK_ID!r})" in str(info.value)
    polls = len(api.polls)
    with pytest.raises(ppio.ClientClosedError) as again:
        client.submit("another cat")
    assert again.value.task_id is None
    assert "created" not in str(again.value)
    assert len(api.polls) == polls
    assert len(api.posts) == 1  # nothing was sent on the closed client


@pytest.mark.anyio
async def test_closing_the_async_client_under_a_wait_ends_it_with_the_task_id(
    api: ScriptedAPI, make_async_client: AsyncClientFactory
) -> None:
    api.results = [payload("PROCESSING", progress=10, eta=30)]
    http = httpx.AsyncClient(transport=httpx.MockTransport(api.async_handler))
    async with http, make_async_client(http_client=http) as client:
        with pytest.raises(ppio.ClientClosedError) as info:
            await client.txt2img("a cat", on_progress=Closer(http).async_)
    assert info.value.task_id == TASK_ID


@pytest.mark.anyio
async def test_the_clients_own_transport_closed_under_a_call_ends_it_with_the_task_id() -> None:
    server = OneAnswerServer(answer(b"200 OK", CREATED))
    try:
        async with ppio.AsyncClient(KEY, base_url=server.url) as client:
            task = await client.submit("a cat", timeout=10)
            await client.aclose()
            with pytest.raises(ppio.ClientClosedError) as info:
                await client.wait(task.id, timeout=10)
    finally:
        server.close()
    assert info.value.task_id == "t1"
    assert server.requests == [b"POST /v3/async/txt2img HTTP/1.1"]  # no poll went out
