"""The async client's own transport: aiohttp under asyncio, and what it must not change: a connection
dropped after the POST went out is "outcome unknown" (never resent), one that was never made is not."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import multidict
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._aiohttp import AiohttpSession, httpx_error
from ppio_txt2img._io import Send
from ppio_txt2img._retry import Failure, classify_exception
from ppio_txt2img._transport import (
    async_transport_name,
    corrected_transport_error,
    own_async_client,
    own_client_options,
    shared_ssl_context,
)
from tests.facade.facade_helpers import OneAnswerServer


@pytest.fixture
def dropping() -> Iterator[OneAnswerServer]:
    """Reads each request in full, then closes the connection without a word (a crashed gateway)."""
    server = OneAnswerServer()
    yield server
    server.close()


def test_asyncio_gets_the_aiohttp_transport() -> None:
    async def main() -> str:
        return async_transport_name()

    assert anyio.run(main) == "aiohttp"


def test_a_post_dropped_after_it_was_sent_is_outcome_unknown_and_sent_once(dropping: OneAnswerServer) -> None:
    async def main() -> ppio.APIConnectionError:
        async with ppio.AsyncClient("k", base_url=dropping.url, max_retries=3) as client:
            with pytest.raises(ppio.APIConnectionError) as info:
                await client.submit("a cat", timeout=20)
            return info.value

    error = anyio.run(main)
    assert error.outcome_unknown
    assert dropping.requests == [b"POST /v3/async/txt2img HTTP/1.1"]  # never resent


def test_a_post_that_never_connected_is_not_outcome_unknown() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def main() -> ppio.APIConnectionError:
        async with ppio.AsyncClient("k", base_url=url, max_retries=0) as client:
            with pytest.raises(ppio.APIConnectionError) as info:
                await client.submit("a cat", timeout=20)
            return info.value

    assert not anyio.run(main).outcome_unknown


def test_only_aiohttp_errors_after_connecting_are_corrected() -> None:
    import aiohttp

    dropped = httpx.ConnectTimeout("Server disconnected")
    dropped.__cause__ = aiohttp.ServerDisconnectedError()
    assert isinstance(corrected_transport_error(dropped), httpx.ReadError)
    refused = httpx.ConnectTimeout("Cannot connect")
    refused.__cause__ = aiohttp.ClientConnectorError(connection_key=None, os_error=OSError(111, "refused"))  # type: ignore[arg-type]
    assert corrected_transport_error(refused) is refused
    plain = httpx.ConnectTimeout("timed out")
    assert corrected_transport_error(plain) is plain


def test_every_own_client_shares_one_tls_context_that_still_verifies() -> None:
    # One context per process (building one loads the CA bundle): sharing it must not loosen it.
    context = shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert own_client_options()["verify"] is context
    with ppio.Client("k") as client:
        pool = client._own_http.current()._transport._pool  # type: ignore[union-attr]
        assert pool._ssl_context is context

    async def main() -> object:  # the async client's own, on asyncio: an aiohttp session
        http = own_async_client()
        try:
            return http._session.connector._ssl  # type: ignore[union-attr]
        finally:
            await http.aclose()

    assert anyio.run(main) is context


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (lambda a: a.ClientConnectorError(None, OSError(111, "refused")), Failure.NOT_SENT),
        (lambda a: a.ConnectionTimeoutError("connecting"), Failure.NOT_SENT),
        (lambda a: a.ServerDisconnectedError(), Failure.NO_RESPONSE),
        (lambda a: a.ClientOSError(104, "reset"), Failure.NO_RESPONSE),
        (lambda a: a.ClientConnectionResetError("reset"), Failure.NO_RESPONSE),
        (lambda a: a.SocketTimeoutError("reading"), Failure.NO_RESPONSE),
        (lambda a: a.ClientPayloadError("truncated"), Failure.NO_RESPONSE),
        (lambda a: a.ClientResponseError(None, (), message="bad status line"), Failure.NO_RESPONSE),
    ],
)
def test_aiohttp_errors_count_as_never_sent_only_while_connecting(
    error: Callable[[Any], Exception], failure: Failure
) -> None:
    import aiohttp

    mapped = httpx_error(error(aiohttp))  # type: ignore[arg-type]
    assert isinstance(mapped, httpx.TransportError)
    assert classify_exception(mapped) is failure


def test_an_aiohttp_error_says_what_went_wrong_without_its_made_up_status_or_a_signature() -> None:
    """aiohttp words a malformed answer as `400, message=..., url=...`: 400 whatever the server said,
    and the URL with its query (an image's signature). The SDK's error keeps the words only."""
    import aiohttp
    import yarl

    signed = "https://images.example/t/0.png?X-Amz-Signature=SECRETSIG&X-Amz-Expires=3600"
    info = aiohttp.RequestInfo(yarl.URL(signed), "GET", multidict.CIMultiDictProxy(multidict.CIMultiDict()))
    malformed = aiohttp.ClientResponseError(info, (), status=400, message="Got more than 8190 bytes")
    assert str(httpx_error(malformed)) == "Got more than 8190 bytes"
    dropped = aiohttp.ClientPayloadError(f"Response payload is not completed, url={signed}")
    text = str(httpx_error(dropped))
    assert "SECRETSIG" not in text
    assert "https://images.example/t/0.png" in text


def test_the_direct_aiohttp_path_sends_what_httpx_would() -> None:
    """Same JSON bytes and content type as httpx, our User-Agent, no cookies kept, the key only where
    the flow put it."""
    seen: list[bytes] = []

    def serve(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                data += conn.recv(65536)
            seen.append(data)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 15\r\n\r\n{"task_id":"t"}'
            )

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        thread = threading.Thread(target=serve, args=(sock,), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

        async def main() -> None:
            session = own_async_client()
            assert isinstance(session, AiohttpSession)
            try:
                body = {"prompt": "é ü", "n": 1.5}
                action = Send("POST", f"{url}/x", timeout=10, connect_timeout=5, json=body, headers={})
                reply = await session.send(action)
                assert reply.status_code == 200
                assert reply.content == b'{"task_id":"t"}'
                assert not list(session._session.cookie_jar)
            finally:
                await session.aclose()

        anyio.run(main)
        thread.join(5)
    head, _, sent = seen[0].partition(b"\r\n\r\n")
    expected = httpx.Request("POST", url, json={"prompt": "é ü", "n": 1.5})
    assert sent == expected.content
    headers = head.decode().lower()
    assert "content-type: application/json" in headers
    assert "user-agent: ppio-txt2img-python/" in headers
    assert "authorization" not in headers
