"""Helpers of the facade tests (conftest.py turns them into fixtures): a scripted API behind
`httpx.MockTransport`, a fake clock, test images made with Pillow, and sync/async client factories wired
to both. No sockets, no real sleeping.

The scripted API serves one task by default:

- `POST /v3/async/txt2img` answers from `api.submit_script` (one entry per POST; the last one repeats);
- `GET /v3/async/task-result` answers from `api.results` by poll count (the last one repeats);
- `GET /v3/model` answers from `api.model_pages`, keyed by the cursor sent (None for the first page);
- any other URL is an image host: `api.images[url]` is a list of answers, one per request (last repeats).

An answer is a dict (sent as a 200 JSON body), an `httpx.Response`, an exception instance (raised, as a
transport error would be) or a callable taking the request and returning one of those.
Every request is recorded (method, url, headers, body), whatever the answer.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    ExitStack,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx

import ppio_txt2img as ppio
from ppio_txt2img.sandbox import Sandbox
from ppio_txt2img.webhooks import WebhookReceiver

API_KEY = "sk-test-SECRET-abc123"
BASE_URL = "https://api.test.invalid"
TASK_ID = "f10333f2-2dd7-4f56-a177-e3c02a774d9a"
IMAGE_HOST = "https://images.test.invalid"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

Answer = Any  # dict | httpx.Response | BaseException | Callable[[httpx.Request], Any]


# ------------------------------------------------------------------------------------------- time
class FakeClock:
    """A monotonic clock that only moves when something sleeps (or a handler says time passed)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    @property
    def elapsed(self) -> float:
        return self.now - self.start

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def datetime(self) -> datetime:
        """Wall-clock time that moves with the fake clock (what `now=` is given)."""
        return EPOCH + timedelta(seconds=self.now)


# ----------------------------------------------------------------------------------------- images
def make_image(
    fmt: str = "png", size: tuple[int, int] = (1024, 1024), color: tuple[int, ...] = (200, 30, 30)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "png" else "RGB"
    Image.new(mode, size, color[: len(mode)] if len(color) >= len(mode) else (*color, 255)).save(
        buffer, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
    )
    return buffer.getvalue()


PNG = make_image("png")
JPEG = make_image("jpeg")
WEBP = make_image("webp")


# --------------------------------------------------------------------------------------- payloads
def image_entry(
    url: str, *, image_type: str = "png", ttl: Any = "3600", nsfw: Any = None, **more: Any
) -> dict[str, Any]:
    return {
        "image_url": url,
        "image_url_ttl": ttl,
        "image_type": image_type,
        "nsfw_detection_result": nsfw,
        **more,
    }


def task_payload(
    status: str,
    *,
    task_id: str = TASK_ID,
    progress: float = 0,
    eta: float = 0,
    reason: str = "",
    images: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A task-result body in the docs' shape (extra, task, images, videos, audios)."""
    body: dict[str, Any] = {
        "extra": {"seed": "392212448", "enable_nsfw_detection": False} if extra is None else extra,
        "task": {
            "task_id": task_id,
            "task_type": "TXT_TO_IMG",
            "status": status if status.startswith("TASK_STATUS_") else f"TASK_STATUS_{status}",
            "reason": reason,
            "eta": eta,
            "progress_percent": progress,
        },
        "images": images or [],
        "videos": [],
        "audios": [],
    }
    body.update(more)
    return body


def succeeded(*urls: str, image_type: str = "png", **kwargs: Any) -> dict[str, Any]:
    return task_payload("SUCCEED", images=[image_entry(u, image_type=image_type) for u in urls], **kwargs)


def error_response(status: int, reason: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"code": status, "reason": reason, "message": message, "metadata": {}}
    return httpx.Response(status, json=body, headers=headers)


# ------------------------------------------------------------------------------------ scripted API
@dataclass(frozen=True)
class Recorded:
    method: str
    url: str
    headers: httpx.Headers
    body: bytes

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedAPI:
    """The API and its image host, scripted per endpoint; usable as an `httpx.MockTransport` handler."""

    def __init__(self, clock: FakeClock, base_url: str = BASE_URL) -> None:
        self.clock = clock
        self.base_url = base_url
        #: Real seconds an image URL takes to answer (to make concurrent downloads finish out of order).
        self.delays: dict[str, float] = {}
        self.requests: list[Recorded] = []
        self.submit_script: list[Answer] = [{"task_id": TASK_ID}]
        self.results: list[Answer] = [
            task_payload("QUEUED"),
            task_payload("PROCESSING", progress=50, eta=2),
            succeeded(f"{IMAGE_HOST}/{TASK_ID}/0.png?X-Amz-Signature=abc"),
        ]
        self.images: dict[str, list[Answer]] = {f"{IMAGE_HOST}/{TASK_ID}/0.png?X-Amz-Signature=abc": [PNG]}
        self.model_pages: dict[str | None, Answer] = {None: {"models": [], "pagination": {}}}
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    # -- scripting helpers
    def finish_with(self, *images: tuple[str, bytes], image_type: str = "png", **kwargs: Any) -> list[str]:
        """Make the task succeed with these (name, bytes) images, after one queued and one processing poll."""
        urls = [f"{IMAGE_HOST}/{TASK_ID}/{name}?sig=1" for name, _ in images]
        self.results = [
            task_payload("QUEUED"),
            task_payload("PROCESSING", progress=50, eta=2),
            succeeded(*urls, image_type=image_type, **kwargs),
        ]
        self.images = {url: [data] for url, (_, data) in zip(urls, images, strict=True)}
        return urls

    # -- what was seen
    @property
    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    @property
    def polls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v3/async/task-result"]

    @property
    def image_requests(self) -> list[Recorded]:
        return [r for r in self.requests if not r.url.startswith(self.base_url)]

    @property
    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.url.startswith(self.base_url)]

    # -- the handler
    def _next(self, key: str, script: list[Answer]) -> Answer:
        with self._lock:
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
        return script[min(n, len(script) - 1)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The handler of a sync `httpx.MockTransport`."""
        time.sleep(self.delays.get(str(request.url), 0))
        return self._handle(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        """The handler of an async `httpx.MockTransport` (delays do not block the event loop)."""
        await anyio.sleep(self.delays.get(str(request.url), 0))
        return self._handle(request)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(
                Recorded(request.method, str(request.url), request.headers.copy(), request.read())
            )
        url = str(request.url)
        path = request.url.path
        ours = url.startswith(self.base_url)
        if ours and path == "/v3/async/txt2img" and request.method == "POST":
            answer = self._next("submit", self.submit_script)
        elif ours and path == "/v3/async/task-result":
            answer = self._next("poll", self.results)
        elif ours and path == "/v3/model":
            answer = self.model_pages[request.url.params.get("pagination.cursor")]
        elif url in self.images:
            answer = self._next(url, self.images[url])
        else:
            answer = httpx.Response(404, text="no such thing")
        return self._respond(answer, request)

    def _respond(self, answer: Answer, request: httpx.Request) -> httpx.Response:
        if callable(answer) and not isinstance(answer, type):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return httpx.Response(200, json=answer)


# ----------------------------------------------------------------------------------------- clients
ClientFactory = Callable[..., ppio.Client]
AsyncClientFactory = Callable[..., AbstractAsyncContextManager[ppio.AsyncClient]]


def _options(api: ScriptedAPI, clock: FakeClock, sleep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "base_url": api.base_url,
        "clock": clock,
        "sleep": sleep,
        "now": clock.datetime,
    }
    options.update(kwargs)
    return options


@contextmanager
def client_for(api: ScriptedAPI, clock: FakeClock, **kwargs: Any) -> Iterator[ppio.Client]:
    """A `Client` on `api` (through `httpx.MockTransport`) and the fake clock; kwargs override.

    The httpx client made here is closed on exit; one passed as `http_client=` is the caller's to close.
    """
    with ExitStack() as stack:
        if kwargs.get("http_client") is None:
            kwargs["http_client"] = stack.enter_context(httpx.Client(transport=httpx.MockTransport(api)))
        yield ppio.Client(**_options(api, clock, clock.sleep, kwargs))


@asynccontextmanager
async def async_client_for(
    api: ScriptedAPI, clock: FakeClock, **kwargs: Any
) -> AsyncIterator[ppio.AsyncClient]:
    """An `AsyncClient` on `api` and the fake clock (enter it inside the event loop that uses it)."""
    async with AsyncExitStack() as stack:
        if kwargs.get("http_client") is None:
            transport = httpx.MockTransport(api.async_handler)
            kwargs["http_client"] = await stack.enter_async_context(httpx.AsyncClient(transport=transport))
        yield ppio.AsyncClient(**_options(api, clock, clock.async_sleep, kwargs))


#: Where a receiver nobody calls says it listens: the API is told to send webhooks there, none comes.
UNHEARD_URL = "http://127.0.0.1:9/never-called"


@contextmanager
def unheard_receiver_client(seed: int) -> Iterator[tuple[Sandbox, WebhookReceiver, ppio.Client]]:
    """A sandbox on loopback and a `Client` on it with a webhook receiver no webhook reaches (its URL is
    `UNHEARD_URL`; it polls every 0.5 s as a fallback): how a missed webhook is told."""
    sandbox = Sandbox(speed=10, queue_delay=0.1, seed=seed)
    receiver = WebhookReceiver(UNHEARD_URL, fallback_poll=0.5)
    with sandbox.serve() as url, ppio.Client("k", base_url=url, webhooks=receiver) as client:
        yield sandbox, receiver, client


def read_request(conn: socket.socket) -> bytes:
    """Read one request from `conn` (its body by Content-Length), and return its head (b"" when the
    peer closed before sending one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


class OneAnswerServer:
    """A raw HTTP server on loopback: reads each request in full (its first line kept in `requests`, its
    head in `heads`), sends `answer` (none: closes without a word, as a crashed gateway does), and
    closes."""

    def __init__(self, answer: bytes = b"") -> None:
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        """One connection, in the accepting thread: read one request, answer, close."""
        with conn:
            head = read_request(conn)
            self.requests.append(head.split(b"\r\n")[0])
            self.heads.append(head)
            if self.answer:
                conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()
