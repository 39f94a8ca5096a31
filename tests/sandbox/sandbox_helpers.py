"""Helpers for the sandbox tests: a valid request body, spec conformance, polling, a webhook receiver,
raw HTTP exchanges that show the bytes on the wire."""

from __future__ import annotations

import copy
import http.client
import http.server
import importlib.resources
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

API_KEY = "sandbox-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
TERMINAL = {"TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"}

_SPEC = json.loads((importlib.resources.files("ppio_api") / "openapi.json").read_text(encoding="utf-8"))
_REGISTRY: Registry[Any] = Registry().with_resource(
    "urn:spec", Resource.from_contents(_SPEC, default_specification=DRAFT202012)
)

BASE_BODY: dict[str, Any] = {
    "extra": {"response_image_type": "png"},
    "request": {
        "model_name": "sd_xl_base_1.0.safetensors",
        "prompt": "a cute dog on a red sofa",
        "width": 256,
        "height": 192,
        "image_num": 2,
        "steps": 20,
        "guidance_scale": 7.5,
        "sampler_name": "Euler a",
        "seed": 42,
    },
}


class FakeClock:
    """Monotonic seconds that move only when told to: pass it as `Sandbox(clock=...)` and a task's
    timeline (status, progress, eta, URL expiry, webhook due times) moves only when the test says."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def make_body(*, extra: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
    """A valid txt2img body with some `request` fields replaced (None removes a field)."""
    body = copy.deepcopy(BASE_BODY)
    body["extra"].update(extra or {})
    for name, value in request.items():
        if value is None:
            body["request"].pop(name, None)
        else:
            body["request"][name] = value
    return body


def assert_conforms(schema_name: str, instance: Any) -> None:
    """Fail unless `instance` is valid against `#/components/schemas/<schema_name>` of the spec."""
    validator = Draft202012Validator(
        {"$ref": f"urn:spec#/components/schemas/{schema_name}"}, registry=_REGISTRY
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert not errors, errors


def submit(client: httpx.Client, body: dict[str, Any] | None = None) -> str:
    response = client.post("/v3/async/txt2img", json=body or make_body())
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def poll_until_done(
    client: httpx.Client,
    task_id: str,
    *,
    interval: float = 0.03,
    timeout: float = 10.0,
    clock: FakeClock | None = None,
) -> list[Any]:
    """Every payload seen until the task is terminal (each checked against the spec).

    With the sandbox's `clock` given, each poll moves it on by `interval` instead of sleeping: the
    payloads are the same whatever the machine's load, and `timeout` is in the clock's seconds."""
    seen: list[Any] = []
    polls = 0
    deadline = time.monotonic() + timeout
    while (polls * interval <= timeout) if clock is not None else (time.monotonic() < deadline):
        response = client.get("/v3/async/task-result", params={"task_id": task_id})
        assert response.status_code == 200, response.text
        payload = response.json()
        assert_conforms("TaskResultResponse", payload)
        seen.append(payload)
        if payload["task"]["status"] in TERMINAL:
            return seen
        polls += 1
        if clock is not None:
            clock.advance(interval)
        else:
            time.sleep(interval)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


@dataclass(frozen=True)
class RawResponse:
    """An answer as it came off the socket: no decompression, no redirect followed."""

    status: int
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes


def raw_request(
    url: str, method: str = "GET", *, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> RawResponse:
    """One request with `http.client`, which sends only the headers given (plus Host, Content-Length)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


class Receiver:
    """A webhook endpoint on loopback: records every POST; `answer(attempt)` gives (status, delay)."""

    def __init__(self, answer: Callable[[int], tuple[int, float]]) -> None:
        self.events: list[Any] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                event = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver.events.append(event)
                    attempt = len(receiver.events)
                status, delay = answer(attempt)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sandbox gave up waiting (timeout) and closed the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} webhook events, got {len(self.events)}")
