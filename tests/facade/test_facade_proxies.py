"""The environment's proxies (`HTTP_PROXY`, `NO_PROXY`, ...) on both transports: the sync client (httpx),
the async client under asyncio (aiohttp) and under trio (httpx) send every request, images included,
through the same proxy, a real forwarding proxy on loopback in front of the sandbox; `NO_PROXY` sends
them directly; and the image requests carry no API key, through the proxy as without it."""

from __future__ import annotations

import base64
import http.client
import importlib.util
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._aiohttp import environment_proxies, proxy_for
from ppio_txt2img.sandbox import Sandbox
from tests.facade.facade_helpers import OneAnswerServer
from tests.loopback import TLS

KEY = "sk-proxy-test"
SMALL: ppio.RequestOptions = {"width": 128, "height": 128, "steps": 1}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade"}


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the absolute URL a client asks a proxy for
    authorization: str | None


class ForwardingProxy:
    """A plain-HTTP forwarding proxy: takes absolute-form requests, sends each on to its origin, relays
    the answer, and notes what it was asked."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))
                target = urlsplit(self.path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
                try:
                    path = target.path + (f"?{target.query}" if target.query else "")
                    upstream.request(self.command, path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardingProxy]:
    """The forwarding proxy, named by `HTTP_PROXY` (and no other proxy variable set)."""
    forwarding = ForwardingProxy()
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", forwarding.url)
    try:
        yield forwarding
    finally:
        forwarding.close()


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with Sandbox(speed=50, queue_delay=0.0, seed=11).serve() as url:
        yield url


def generate(mode: str, base_url: str) -> ppio.Generation:
    if mode == "sync":
        with ppio.Client(KEY, base_url=base_url) as client:
            return client.txt2img("a lighthouse through a proxy", **SMALL, timeout=30)

    async def main() -> ppio.Generation:
        async with ppio.AsyncClient(KEY, base_url=base_url) as client:
            return await client.txt2img("a lighthouse through a proxy", **SMALL, timeout=30)

    return anyio.run(main, backend=mode)


MODES = ["sync", "asyncio", "trio"]


@pytest.mark.parametrize("mode", MODES)
def test_every_request_goes_through_the_environments_proxy(
    mode: str, proxy: ForwardingProxy, sandbox_url: str
) -> None:
    generation = generate(mode, sandbox_url)

    assert generation.images[0].size == (128, 128)
    methods = [(seen.method, urlsplit(seen.target).path) for seen in proxy.seen]
    assert methods[0] == ("POST", "/v3/async/txt2img")
    assert ("GET", "/v3/async/task-result") in methods
    images = [seen for seen in proxy.seen if "/v3/" not in seen.target]
    assert len(images) == 1
    assert all(seen.target.startswith(sandbox_url) for seen in proxy.seen)  # absolute-form, to the origin
    assert all(seen.authorization == f"Bearer {KEY}" for seen in proxy.seen if "/v3/" in seen.target)
    assert images[0].authorization is None  # an image host never gets the key, proxied or not


@pytest.mark.parametrize("mode", MODES)
def test_no_proxy_sends_directly(
    mode: str, proxy: ForwardingProxy, sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    generation = generate(mode, sandbox_url)

    assert generation.images
    assert proxy.seen == []


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({"HTTP_PROXY": "http://p:1"}, "http://api.example/v3", "http://p:1"),
        ({"HTTP_PROXY": "http://p:1"}, "https://api.example/v3", None),
        ({"HTTPS_PROXY": "p:2"}, "https://api.example/v3", "http://p:2"),
        ({"ALL_PROXY": "http://p:3", "HTTPS_PROXY": "http://p:2"}, "https://api.example/v3", "http://p:2"),
        ({"ALL_PROXY": "http://p:3"}, "http://img.example/a.png", "http://p:3"),
        ({"ALL_PROXY": "http://p:3", "NO_PROXY": "example"}, "http://img.example/a.png", None),
        ({"ALL_PROXY": "http://p:3", "NO_PROXY": ".example"}, "http://example/a.png", "http://p:3"),
        ({"ALL_PROXY": "http://p:3", "NO_PROXY": "*"}, "http://api.example/v3", None),
        ({"ALL_PROXY": "http://p:3", "NO_PROXY": "10.0.0.1"}, "http://10.0.0.1:8/v3", None),
        ({}, "http://api.example/v3", None),
    ],
)
def test_the_proxy_chosen_for_a_url_is_the_one_httpx_chooses(
    environment: dict[str, str], url: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_proxy_env(monkeypatch)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    chosen = proxy_for(httpx.URL(url), environment_proxies())
    assert chosen == expected
    with httpx.Client(verify=TLS) as reference:  # httpx's own decision, from the same environment
        transport = reference._transport_for_url(httpx.URL(url))
        proxied = transport is not reference._transport
    assert proxied == (expected is not None)


PASSWORD = "S3cretPW"


def _everything_shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_a_proxy_refusing_the_tunnel_shows_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy that wants other credentials: every request, CONNECT included, answered 407.
    refusing = OneAnswerServer(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://alice:{PASSWORD}@127.0.0.1:{refusing.port}")

    async def main() -> None:
        async with ppio.AsyncClient(KEY, base_url="https://api.proxied.invalid", max_retries=0) as client:
            await client.get_task("t1", timeout=10)

    with pytest.raises(ppio.PPIOError) as caught:
        anyio.run(main, backend="asyncio")
    assert refusing.requests[0].startswith(b"CONNECT api.proxied.invalid:443 ")
    shown = _everything_shown(caught.value)
    assert PASSWORD not in shown
    assert KEY not in shown
    refusing.close()


@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4", "socks"])
def test_a_socks_proxy_is_refused_by_the_aiohttp_transport_before_anything_is_sent(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", f"{scheme}://bob:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}")

    async def main() -> None:
        async with ppio.AsyncClient(KEY, base_url="http://api.proxied.invalid") as client:
            await client.get_task("t1", timeout=10)

    with pytest.raises(ppio.ValidationError, match="SOCKS") as caught:
        anyio.run(main, backend="asyncio")
    assert PASSWORD not in _everything_shown(caught.value)
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected: no byte (and no key) went to the SOCKS port
    listener.close()


def get_task_with_a_fresh_client(mode: str, base_url: str = "http://api.proxied.invalid") -> None:
    """One `get_task` from a client made now (so that it reads the environment now), as `mode` runs."""
    if mode == "sync":
        with ppio.Client(KEY, base_url=base_url, max_retries=0) as client:
            client.get_task("t1", timeout=10)
        return

    async def main() -> None:
        async with ppio.AsyncClient(KEY, base_url=base_url, max_retries=0) as client:
            await client.get_task("t1", timeout=10)

    anyio.run(main, backend=mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_no_proxy_httpx_cannot_read_is_a_validation_error(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "[::1]")
    with pytest.raises(ppio.ValidationError, match="NO_PROXY"):
        get_task_with_a_fresh_client(mode)


@pytest.mark.parametrize("mode", ["sync", "trio"])
def test_on_httpx_a_socks_proxy_without_httpx_socks_is_a_validation_error_naming_the_extra(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx speaks SOCKS with the socksio package, which this project does not install: the clients on
    # httpx (sync, and async under trio) say what to install, without the proxy's password.
    assert importlib.util.find_spec("socksio") is None
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", f"socks5://bob:{PASSWORD}@127.0.0.1:9")
    with pytest.raises(ppio.ValidationError, match=r"httpx\[socks\]") as caught:
        get_task_with_a_fresh_client(mode)
    assert PASSWORD not in _everything_shown(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_post_a_proxy_refused_to_tunnel_is_known_not_sent_and_sent_again(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy answers CONNECT with 407: the API never saw the POST, so no task can exist. The client
    # says so (not "may have reached the server"), and may send it again (each time refused here).
    refusing = OneAnswerServer(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refusing.port}")
    base_url = "https://api.proxied.invalid"

    def submit_sync() -> None:
        with ppio.Client(KEY, base_url=base_url, max_retries=1) as client:
            client.submit("a lighthouse", **SMALL, timeout=20)

    async def submit_async() -> None:
        async with ppio.AsyncClient(KEY, base_url=base_url, max_retries=1) as client:
            await client.submit("a lighthouse", **SMALL, timeout=20)

    try:
        with pytest.raises(ppio.APIConnectionError) as caught:
            submit_sync() if mode == "sync" else anyio.run(submit_async, backend=mode)
    finally:
        refusing.close()
    assert [line.split(b"\r\n")[0] for line in refusing.requests] == [
        b"CONNECT api.proxied.invalid:443 HTTP/1.1"
    ] * 2  # the first try, and one retry: nothing but the refused tunnel
    assert "may have reached the server" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("mode", MODES)
def test_non_ascii_proxy_credentials_are_sent_as_httpx_sends_them_utf8(
    mode: str, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the environment, percent-encoded; on the wire, Basic base64 of UTF-8 "user:password" on every
    # transport (aiohttp alone would have read them as latin-1: another password to the proxy), on the
    # request itself to a plain-HTTP server, on the tunnel's CONNECT to an HTTPS one.
    answer = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    proxy = OneAnswerServer(answer)
    _clear_proxy_env(monkeypatch)
    credentials = "j%C3%B6rg:p%C3%A4ss%3Aw%C3%B6rd"
    monkeypatch.setenv(f"{scheme.upper()}_PROXY", f"http://{credentials}@127.0.0.1:{proxy.port}")
    try:
        with pytest.raises(ppio.PPIOError):
            get_task_with_a_fresh_client(mode, f"{scheme}://api.proxied.invalid")
    finally:
        proxy.close()
    head = proxy.heads[0].split(b"\r\n")
    first = {
        "http": b"GET http://api.proxied.invalid/v3/async/task-result?task_id=t1 HTTP/1.1",
        "https": b"CONNECT api.proxied.invalid:443 HTTP/1.1",
    }
    assert head[0] == first[scheme]
    authorization = b"proxy-authorization:"
    sent = [line.split(b":", 1)[1].strip() for line in head if line.lower().startswith(authorization)]
    assert sent == [b"Basic " + base64.b64encode("jörg:päss:wörd".encode())]
