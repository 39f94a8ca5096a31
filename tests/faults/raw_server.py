"""A kit of small raw HTTP/1.1 servers that misbehave like real ones, for the fault tests.

`FaultKit` runs two servers on loopback, written on `socketserver` and raw sockets (no HTTP framework,
not the project's sandbox), so that every byte on the wire is under the test's control:

- `api` on 127.0.0.1 plays a minimal version of the API: `POST /v3/async/txt2img` -> `{"task_id": ...}`,
  `GET /v3/async/task-result` -> QUEUED (`queued_polls` times), then SUCCEED with `image_num` image URLs
  pointing back at itself, `GET /v3/model` -> `model_pages` pages, `GET /img/<task>/<n>.<ext>` -> a real
  image made with Pillow at the asked size (the hires-fix target size when one was asked). API routes
  answer 401 without an `Authorization: Bearer ...` header.
- `other` on 127.0.0.2 (another origin) serves the same routes from the same state, without asking for
  credentials: the target of "redirect to another host".

Each route can be told to misbehave, request by request: `kit.on("result", Fault(...), Fault(...))`
scripts the route's successive requests (the last entry repeats). Routes are `submit`, `result`,
`models`, `image` (every image) and `image/<n>` (image n only, wins over `image`). A `Fault` can compress
the body (honouring `Accept-Encoding`), drip it byte by byte, redirect (same host, other host, chains,
loops), replace JSON fields with wrong-typed values, list fewer images, serve an image of another size,
truncate a body or cut the connection in the middle of one, answer an error status or an HTML page,
pad a body to many megabytes, serve model pages forever, or close (or reset) the connection without
answering.

Every request is recorded (`kit.requests`: server, method, path, query, headers, body). Everything is
bounded: daemon threads, `stop()` (the fixture's teardown) closes listening and open sockets and wakes
every sleeping handler, drips stop after `Fault.drip_for` seconds, endless pages after
`endless_max_pages` pages or `endless_max_seconds`, redirect loops after `MAX_REDIRECTS` hops.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "API_HOST",
    "DELETE",
    "OTHER_HOST",
    "Fault",
    "FaultKit",
    "Redirect",
    "Seen",
    "error",
    "html",
    "make_image",
    "png_size",
    "task_id_for",
]

API_HOST = "127.0.0.1"
OTHER_HOST = "127.0.0.2"
#: A redirect loop is cut (the connection closed) after this many hops, whoever follows it.
MAX_REDIRECTS = 200
#: `Fault.set_fields` value that removes the field instead.
DELETE: Any = object()

Route = str  # "submit" | "result" | "models" | "image" | "image/<n>"
ServerName = Literal["api", "other"]

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_ERROR_REASONS = {
    400: "INVALID_REQUEST_BODY",
    401: "INVALID_API_KEY",
    403: "INVALID_API_KEY",
    404: "TASK_NOT_FOUND",
    429: "RATE_LIMIT_EXCEEDED",
    500: "GET_RESULT_FAILED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def task_id_for(n: int) -> str:
    """The id the kit gives its n-th task (from 1): UUID-shaped and predictable."""
    return f"fa17fa17-0000-4000-8000-{n:012d}"


# ------------------------------------------------------------------------------------ what to do
@dataclass(frozen=True)
class Redirect:
    """Answer with a redirect instead of the real answer.

    `to`: `same` (a relative `Location` on this server), `other` (absolute, to the other server) or
    `loop` (after the first hop, `Location` is the very URL asked for). `hops` redirects are made before
    the real answer (ignored by `loop`).
    """

    status: int = 302
    to: Literal["same", "other", "loop"] = "same"
    hops: int = 1


@dataclass(frozen=True)
class Fault:
    """How the server answers one request of a route. The default, `Fault()`, answers normally."""

    #: Close the connection after reading (and acting on) the request, without answering.
    close: bool = False
    #: The same, but reset the connection (RST, as a server or proxy dropping it does) rather than close it.
    reset: bool = False
    #: Seconds to wait before answering at all.
    delay: float = 0.0
    redirect: Redirect | None = None
    #: Answer this status (with `body`, or the API's JSON error body) instead of the real answer.
    status: int | None = None
    #: The body to send instead of the real one (with `status`, or 200).
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: JSON fields replaced in the real answer: `{"task.eta": "soon", "images[*].image_url": 123}`
    #: (`DELETE` removes the field). Applied where the path exists.
    set_fields: Mapping[str, Any] = field(default_factory=dict)
    #: A task that SUCCEEDs lists this many images (instead of `image_num`).
    images: int | None = None
    #: Serve images of this size instead of the asked one.
    size: tuple[int, int] | None = None
    #: Pad a JSON answer with a filler field to at least this many bytes.
    pad_to: int | None = None
    #: `gzip` or `deflate`: compress the body, when the request's `Accept-Encoding` allows it.
    #: Other codings, sent whatever the request accepts: `gzip, gzip` (stacked), `gzip-members` (two
    #: gzip members, sent as `gzip`), `gzip-junk` (gzip, then bytes that are none: `gzip`),
    #: `raw-deflate` (a deflate stream without zlib's header: `deflate`), `not-gzip` (the body as it is,
    #: labelled `gzip`), `br` and `utf-8` (the body as it is, so labelled).
    encoding: (
        Literal[
            "gzip",
            "deflate",
            "gzip, gzip",
            "gzip-members",
            "gzip-junk",
            "raw-deflate",
            "not-gzip",
            "br",
            "utf-8",
        ]
        | None
    ) = None
    #: Send one byte of the body every `drip` seconds (headers go at once) ...
    drip: float | None = None
    #: ... for at most this long; the rest is then sent at once.
    drip_for: float = 5.0
    #: Send only the first `truncate` bytes of the body (a short body, with a matching Content-Length).
    truncate: int | None = None
    #: Announce the full Content-Length, send `cut` bytes of the body, then close the connection.
    cut: int | None = None
    #: `models`: always announce another page (within the kit's endless bounds).
    endless: bool = False


def error(status: int, *, retry_after: str | None = None, reason: str | None = None) -> Fault:
    """An error status with the API's JSON error body (`Retry-After` when given)."""
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    body = None
    if reason is not None:
        body = json.dumps({"code": status, "reason": reason, "message": reason.lower(), "metadata": {}})
    return Fault(status=status, headers=headers, body=None if body is None else body.encode())


def html(status: int = 502) -> Fault:
    """An HTML error page, as a gateway or a CDN sends it."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
    page += "<hr><center>nginx</center></body></html>\n"
    return Fault(status=status, body=page.encode(), content_type="text/html")


# ---------------------------------------------------------------------------------- what was seen
@dataclass(frozen=True)
class Seen:
    """One request as a server received it."""

    server: ServerName
    method: str
    target: str
    path: str
    query: Mapping[str, str]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    route: str
    at: float
    #: The client's port: which of its connections the request came on.
    connection: int = 0

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), or None."""
        values = [v for k, v in self.headers if k == name.lower()]
        return values[-1] if values else None

    @property
    def wire_text(self) -> str:
        """Everything the client sent, as text: to look for a secret anywhere in the request."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.method} {self.target}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


@dataclass
class _Task:
    id: str
    width: int
    height: int
    image_num: int
    fmt: str
    answers: int = 0


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return values[-1] if values else None


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    keep_alive: bool = True


# ---------------------------------------------------------------------------------- images
_IMAGE_CACHE: dict[tuple[int, int, str, int], bytes] = {}
_IMAGE_LOCK = threading.Lock()
_PALETTE = [(200, 30, 30), (30, 160, 60), (40, 70, 200), (220, 180, 20), (150, 40, 170), (20, 170, 170)]


def make_image(width: int, height: int, fmt: str = "png", index: int = 0) -> bytes:
    """A real image of this size and format. Above 4 Mpx it is blank, 1-bit (PNG) or greyscale (JPEG,
    WebP): cheap even at 10000x10000."""
    key = (width, height, fmt, index)
    with _IMAGE_LOCK:
        if key in _IMAGE_CACHE:
            return _IMAGE_CACHE[key]
    from PIL import Image

    buffer = io.BytesIO()
    pillow_format = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG")
    if width * height > 4_000_000:
        Image.new("1" if pillow_format == "PNG" else "L", (width, height), 0).save(
            buffer, format=pillow_format
        )
    else:
        color = _PALETTE[index % len(_PALETTE)]
        Image.new("RGB", (width, height), color).save(buffer, format=pillow_format)
    data = buffer.getvalue()
    with _IMAGE_LOCK:
        _IMAGE_CACHE[key] = data
    return data


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (without asking Pillow to decode anything)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# ---------------------------------------------------------------------------------- JSON editing
_STEP = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


def _set_field(data: Any, path: str, value: Any) -> None:
    """Set `path` (`task.eta`, `images[*].image_url`, `images[0].image_url_ttl`) where it exists."""
    steps = [m.group(1) if m.group(1) is not None else m.group(2) for m in _STEP.finditer(path)]
    parents: list[Any] = [data]
    for step in steps[:-1]:
        nxt: list[Any] = []
        for parent in parents:
            if step == "*" and isinstance(parent, list):
                nxt.extend(parent)
            elif step.isdigit() and isinstance(parent, list) and int(step) < len(parent):
                nxt.append(parent[int(step)])
            elif isinstance(parent, dict) and step in parent:
                nxt.append(parent[step])
        parents = nxt
    last = steps[-1]
    for parent in parents:
        if isinstance(parent, dict):
            if value is DELETE:
                parent.pop(last, None)
            else:
                parent[last] = value
        elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
            parent[int(last)] = value


def _json(data: Any, fault: Fault) -> bytes:
    for path, value in fault.set_fields.items():
        _set_field(data, path, value)
    body = json.dumps(data).encode()
    if fault.pad_to is not None and len(body) < fault.pad_to and isinstance(data, dict):
        data["_pad"] = ""
        filler = fault.pad_to - len(json.dumps(data).encode())
        data["_pad"] = "x" * max(0, filler)
        body = json.dumps(data).encode()
    return body


def _error_body(status: int) -> bytes:
    reason = _ERROR_REASONS.get(status, "ERROR")
    return json.dumps({"code": status, "reason": reason, "message": reason.lower(), "metadata": {}}).encode()


def _accepts(request: _Request, encoding: str) -> bool:
    accepted = request.header("accept-encoding") or ""
    for item in accepted.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == encoding and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    return zlib.compress(body)  # HTTP "deflate" is the zlib format


#: The odd codings of `Fault.encoding`: the body as sent, and its `Content-Encoding`.
_ODD_CODINGS: dict[str, Callable[[bytes], tuple[bytes, str]]] = {
    "gzip, gzip": lambda body: (gzip.compress(gzip.compress(body)), "gzip, gzip"),
    "gzip-members": lambda body: (
        gzip.compress(body[: len(body) // 2]) + gzip.compress(body[len(body) // 2 :]),
        "gzip",
    ),
    "gzip-junk": lambda body: (gzip.compress(body) + b"\x00junk after the member", "gzip"),
    "raw-deflate": lambda body: (_raw_deflate(body), "deflate"),
    "not-gzip": lambda body: (body, "gzip"),
    "br": lambda body: (body, "br"),
    "utf-8": lambda body: (body, "utf-8"),
}


def _raw_deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush()


# ---------------------------------------------------------------------------------- the servers
class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, kit: FaultKit, name: ServerName, host: str) -> None:
        self.kit = kit
        self.name: ServerName = name
        super().__init__((host, 0), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(socketserver.BaseRequestHandler):
    server: _Server
    request: socket.socket

    def handle(self) -> None:
        kit = self.server.kit
        sock = self.request
        sock.settimeout(60)  # an idle client cannot hold a thread longer than this
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        kit._track(sock)
        rfile = sock.makefile("rb")
        try:
            while not kit.stopping.is_set():
                request = _read_request(rfile)
                if request is None or not kit._serve(self.server, sock, request):
                    break
        except (OSError, ValueError):
            pass  # the client went away or sent garbage: nothing to answer
        except Exception as exc:  # a bug in the kit: recorded for the self-tests, never raised in a thread
            kit.errors.append(exc)
        finally:
            rfile.close()
            kit._untrack(sock)


def _read_request(rfile: io.BufferedReader) -> _Request | None:
    line = rfile.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(65537)
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    found = dict(headers)
    if found.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(rfile.read(size))
            rfile.readline(65537)
        body = b"".join(chunks)
    else:
        body = rfile.read(int(found.get("content-length") or 0))
    return _Request(method.upper(), target, tuple(headers), body)


# ---------------------------------------------------------------------------------- the kit
class FaultKit:
    """The API server (127.0.0.1) and another host (127.0.0.2), sharing one state. Use as a context
    manager, or call `stop()`."""

    def __init__(
        self,
        *,
        queued_polls: int = 1,
        queued_eta: float = 0.2,
        model_pages: int = 3,
        models_per_page: int = 2,
        endless_max_pages: int = 1100,
        endless_max_seconds: float = 8.0,
        images_on: ServerName = "api",
    ) -> None:
        self.queued_polls = queued_polls
        self.queued_eta = queued_eta
        self.model_pages = model_pages
        self.models_per_page = models_per_page
        self.endless_max_pages = endless_max_pages
        self.endless_max_seconds = endless_max_seconds
        self.images_on: ServerName = images_on
        self.requests: list[Seen] = []
        self.tasks: dict[str, _Task] = {}
        #: Exceptions a handler raised (a bug of the kit, not of the client): the self-tests check it.
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._scripts: dict[Route, list[Fault]] = {}
        self._counts: dict[Route, int] = {}
        self._redirects = 0
        self._endless_started: float | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.api = _Server(self, "api", API_HOST)
        self.other = _Server(self, "other", OTHER_HOST)
        for server in (self.api, self.other):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    # -- set-up
    @property
    def url(self) -> str:
        """The API's base URL."""
        return self.api.url

    @property
    def other_url(self) -> str:
        return self.other.url

    def on(self, route: Route, *faults: Fault) -> FaultKit:
        """Script a route: its n-th request gets `faults[n]` (the last one repeats)."""
        if not faults:
            raise ValueError("at least one Fault")
        with self._lock:
            self._scripts[route] = list(faults)
            self._counts[route] = 0
        return self

    def create_task(
        self, *, image_num: int = 1, width: int = 128, height: int = 128, fmt: str = "png"
    ) -> str:
        """A task as if it had been submitted (no request made); returns its id."""
        with self._lock:
            task = _Task(task_id_for(len(self.tasks) + 1), width, height, image_num, fmt)
            self.tasks[task.id] = task
        return task.id

    # -- what was seen
    def seen(self, route: str | None = None, *, server: ServerName | None = None) -> list[Seen]:
        """Requests of a route (`image` matches every image; `image/1` image 1), on one server or both."""
        with self._lock:
            requests = list(self.requests)
        return [
            r
            for r in requests
            if (server is None or r.server == server)
            and (route is None or r.route == route or (route == "image" and r.route.startswith("image/")))
        ]

    @property
    def posts(self) -> list[Seen]:
        """Every POST, on either server: each one may have created (and billed) a task."""
        return [r for r in self.seen() if r.method == "POST"]

    # -- life cycle
    def stop(self) -> None:
        """Stop both servers now: listening sockets closed, open connections shut, sleepers woken."""
        self.stopping.set()
        for server in (self.api, self.other):
            server.shutdown()
            server.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> FaultKit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    # -- answering
    def _route(self, method: str, path: str) -> str:
        if path == "/v3/async/txt2img":
            return "submit"
        if path == "/v3/async/task-result":
            return "result"
        if path == "/v3/model":
            return "models"
        match = re.fullmatch(r"/img/[^/]+/(\d+)\.\w+", path)
        if match:
            return f"image/{match.group(1)}"
        return "unknown"

    def _step(self, route: str, query: Mapping[str, str]) -> tuple[int, Fault]:
        """Which scripted entry answers this request (a redirect hop keeps its chain's entry)."""
        keys = [route, "image"] if route.startswith("image/") else [route]
        with self._lock:
            key = next((k for k in keys if k in self._scripts), None)
            if key is None:
                return 0, Fault()
            script = self._scripts[key]
            if "_step" in query:
                n = int(query["_step"])
            else:
                n = self._counts[key]
                self._counts[key] = n + 1
            return n, script[min(n, len(script) - 1)]

    def _serve(self, server: _Server, sock: socket.socket, request: _Request) -> bool:
        """Answer one request; False when the connection is to be closed."""
        parts = urlsplit(request.target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        route = self._route(request.method, parts.path)
        with self._lock:
            self.requests.append(
                Seen(
                    server.name,
                    request.method,
                    request.target,
                    parts.path,
                    query,
                    request.headers,
                    request.body,
                    route,
                    time.monotonic(),
                    sock.getpeername()[1],
                )
            )
        step, fault = self._step(route, query)
        if fault.close or fault.reset:  # the worst case: acted on (a POST made its task), no answer
            self._normal(server, request, route, query, fault)
            if fault.reset:  # closed now with a zero linger: the peer gets a RST, not an end of stream
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            return False
        if fault.delay:
            self.stopping.wait(fault.delay)
        answer = self._redirect(server, request, parts.path, query, step, fault)
        if answer is None and fault.status is not None:
            body = fault.body if fault.body is not None else _error_body(fault.status)
            answer = _Answer(fault.status, body, fault.content_type or "application/json")
        elif answer is None and fault.body is not None:
            answer = _Answer(200, fault.body, fault.content_type or "application/json")
        elif answer is None:
            answer = self._normal(server, request, route, query, fault)
        answer.headers.extend(fault.headers)
        if request.header("connection") == "close":
            answer.keep_alive = False
        return self._send(sock, request, answer, fault)

    def _redirect(
        self,
        server: _Server,
        request: _Request,
        path: str,
        query: Mapping[str, str],
        step: int,
        fault: Fault,
    ) -> _Answer | None:
        redirect = fault.redirect
        hop = int(query.get("_hop", "0") or 0)
        if redirect is None or (redirect.to != "loop" and hop >= redirect.hops):
            return None
        with self._lock:
            self._redirects += 1
            if self._redirects > MAX_REDIRECTS:
                return _Answer(508, b"loop cut by the kit", "text/plain", keep_alive=False)
        if redirect.to == "loop" and "_hop" in query:
            location = request.target  # the very URL asked for: a loop
        else:
            kept = {k: v for k, v in query.items() if k not in ("_hop", "_step")}
            target = f"{path}?{urlencode({**kept, '_hop': hop + 1, '_step': step})}"
            location = f"{self.other.url}{target}" if redirect.to == "other" else target
        text = f"<html><body>Moved to <a href='{location}'>here</a></body></html>".encode()
        return _Answer(redirect.status, text, "text/html", headers=[("Location", location)])

    def _normal(
        self, server: _Server, request: _Request, route: str, query: Mapping[str, str], fault: Fault
    ) -> _Answer:
        if server.name == "api" and route in ("submit", "result", "models"):
            auth = request.header("authorization") or ""
            if not auth.startswith("Bearer ") or not auth[7:].strip():
                return _Answer(401, _error_body(401))
        if route == "submit":
            if request.method != "POST":
                return _Answer(405, _error_body(405))
            return _Answer(200, _json({"task_id": self._submit(request.body)}, fault))
        if route == "result":
            return self._result(query.get("task_id", ""), fault)
        if route == "models":
            return self._models(query, fault)
        if route.startswith("image/"):
            return self._image(urlsplit(request.target).path, fault)
        return _Answer(404, b"no such thing", "text/plain")

    def _submit(self, raw: bytes) -> str:
        try:
            body = json.loads(raw)
            req = body["request"]
            width, height = int(req.get("width", 1024)), int(req.get("height", 1024))
            hires = req.get("hires_fix") or {}
            if hires:
                width, height = int(hires["target_width"]), int(hires["target_height"])
            image_num = int(req.get("image_num", 1))
            fmt = str((body.get("extra") or {}).get("response_image_type") or "png")
        except (ValueError, KeyError, TypeError, AttributeError):
            width, height, image_num, fmt = 1024, 1024, 1, "png"
        return self.create_task(image_num=image_num, width=width, height=height, fmt=fmt)

    def _result(self, task_id: str, fault: Fault) -> _Answer:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is not None:
                task.answers += 1
        if task is None:
            return _Answer(404, _error_body(404))
        queued = task.answers <= self.queued_polls
        images = []
        if not queued:
            base = self.api.url if self.images_on == "api" else self.other.url
            count = task.image_num if fault.images is None else fault.images
            images = [
                {
                    "image_url": f"{base}/img/{task.id}/{i}.{task.fmt}?X-Amz-Signature=s{i}",
                    "image_url_ttl": "3600",
                    "image_type": task.fmt,
                    "nsfw_detection_result": None,
                }
                for i in range(count)
            ]
        data = {
            "extra": {"seed": "392212448", "enable_nsfw_detection": False},
            "task": {
                "task_id": task.id,
                "task_type": "TXT_TO_IMG",
                "status": "TASK_STATUS_QUEUED" if queued else "TASK_STATUS_SUCCEED",
                "reason": "",
                "eta": self.queued_eta if queued else 0,
                "progress_percent": 0 if queued else 100,
            },
            "images": images,
            "videos": [],
            "audios": [],
        }
        return _Answer(200, _json(data, fault))

    def _models(self, query: Mapping[str, str], fault: Fault) -> _Answer:
        cursor = query.get("pagination.cursor") or "c_0"
        page = int(cursor[2:]) if re.fullmatch(r"c_\d+", cursor) else 0
        per = self.models_per_page
        models = [
            {
                "id": 1000 + page * per + i,
                "name": f"Model {page * per + i}",
                "sd_name": f"model_{page * per + i}.safetensors",
                "sd_name_in_api": f"model_{page * per + i}.safetensors",
                "type": {"name": "checkpoint", "display_name": "Checkpoint"},
                "categories": [],
                "status": 1,
                "tags": ["kit"],
                "base_model": "SDXL 1.0",
                "is_sdxl": True,
            }
            for i in range(per)
        ]
        more = page + 1 < self.model_pages
        if fault.endless:
            now = time.monotonic()
            with self._lock:
                if self._endless_started is None:
                    self._endless_started = now
                started = self._endless_started
            more = page + 1 < self.endless_max_pages and now - started < self.endless_max_seconds
        pagination = {"next_cursor": f"c_{page + 1}"} if more else {}
        return _Answer(200, _json({"models": models, "pagination": pagination}, fault))

    def _image(self, path: str, fault: Fault) -> _Answer:
        match = re.fullmatch(r"/img/([^/]+)/(\d+)\.(\w+)", path)
        task = self.tasks.get(match.group(1)) if match else None
        if match is None or task is None or int(match.group(2)) >= task.image_num:
            return _Answer(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        index = int(match.group(2))
        width, height = fault.size or (task.width, task.height)
        data = make_image(width, height, task.fmt, index)
        return _Answer(200, data, f"image/{task.fmt}")

    def _send(self, sock: socket.socket, request: _Request, answer: _Answer, fault: Fault) -> bool:
        body = answer.body
        headers = [("Content-Type", answer.content_type), *answer.headers]
        if fault.encoding in _ODD_CODINGS:
            body, coding = _ODD_CODINGS[fault.encoding](body)
            headers.append(("Content-Encoding", coding))
        elif fault.encoding is not None and _accepts(request, fault.encoding):
            body = _compress(body, fault.encoding)
            headers.append(("Content-Encoding", fault.encoding))
        if fault.truncate is not None:
            body = body[: fault.truncate]
        keep_alive = answer.keep_alive and fault.cut is None
        headers += [
            ("Content-Length", str(len(body))),
            ("Connection", "keep-alive" if keep_alive else "close"),
            ("Server", "fault-kit"),
        ]
        status_line = f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}\r\n"
        head = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        if fault.cut is not None:
            sock.sendall(head.encode("latin-1") + body[: fault.cut])
            return False
        if fault.drip:
            sock.sendall(head.encode("latin-1"))
            return self._drip(sock, body, fault.drip, fault.drip_for) and keep_alive
        sock.sendall(head.encode("latin-1") + body)  # one write: no Nagle / delayed-ACK stall
        return keep_alive

    def _drip(self, sock: socket.socket, body: bytes, every: float, at_most: float) -> bool:
        started = time.monotonic()
        for i in range(len(body)):
            if time.monotonic() - started >= at_most:
                sock.sendall(body[i:])
                return True
            sock.sendall(body[i : i + 1])
            if self.stopping.wait(every):
                return False
        return True


def iter_routes(kit: FaultKit) -> Iterator[tuple[str, int]]:
    """(route, count) of the requests seen so far, in first-seen order (for failure messages)."""
    counts: dict[str, int] = {}
    for seen in kit.seen():
        name = f"{seen.server}:{seen.method} {seen.route}"
        counts[name] = counts.get(name, 0) + 1
    yield from counts.items()


def describe_requests(kit: FaultKit, limit: int = 12) -> str:
    """A short summary of what the servers received, for assertion messages."""
    lines: Sequence[str] = [f"{name} x{count}" for name, count in iter_routes(kit)]
    return ", ".join(lines[:limit]) + (" ..." if len(lines) > limit else "")
