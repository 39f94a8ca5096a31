"""A plain, light API server for the scale benchmark, in its own process: what issue 11 measured against.

The sandbox is a full emulation (Starlette on uvicorn, request validation, signed URLs, an image drawn per
task): at 200 tasks finishing together it spends about as much CPU per task as the client and competes
with it for the machine's cores, so it measures the sandbox as much as the client. This server answers
the three endpoints a text-to-image call uses, with the API's JSON, and nothing else:

    POST /v3/async/txt2img          {"task_id"}; the task is queued `queue_delay` s, then processes for
                                    `processing` s; `extra.webhook.url` gets the ASYNC_TASK_RESULT event
    GET  /v3/async/task-result      the task as the API reports it (eta / progress_percent unless absent)
    GET  /img/<task_id>/0.png       one PNG, encoded once at start-up (the sandbox's drawing, 128x128)

It is one asyncio event loop with a bare HTTP/1.1 protocol (keep-alive, Content-Length bodies): about
0.1 ms of CPU per request. The parent talks to it exactly as to `_bench_sandbox.py` (same commands on
stdin: tasks, stats, responses, cpu, quit), so `LightServerProcess` is a drop-in `SandboxProcess`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _bench_sandbox import SandboxProcess, answer_commands, reply

__all__ = ["LightServerProcess"]


class LightServerProcess(SandboxProcess):
    """`with LightServerProcess(queue_delay=0.3, processing=4.7) as server:` (knobs: see `_Knobs`)."""

    script = __file__


@dataclass(frozen=True)
class _Knobs:
    queue_delay: float = 0.3
    processing: float = 4.7
    eta: bool = True
    progress: bool = True
    #: Seconds over which tasks' processing times spread (uniformly around `processing`, seeded): 0, all
    #: take the same time, as most runs have it; real tasks vary, so their finishes (and webhooks) do.
    spread: float = 0.0


@dataclass
class _Task:
    task_id: str
    created: float  # time.time()
    started: float
    finished: float
    seed: int
    webhook: str | None
    webhook_sent: float | None = None  # time.time(), when the webhook's bytes were written


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class _Server:
    def __init__(self, knobs: _Knobs, png: bytes) -> None:
        self.knobs = knobs
        self.png = png
        self.base_url = ""
        self.tasks: dict[str, _Task] = {}
        self.requests: dict[str, int] = {"txt2img": 0, "task_result": 0, "storage": 0}
        self.responses: dict[str, dict[int, int]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rng = random.Random(11)
        self.deliveries: set[asyncio.Future[None]] = set()

    # -- the API
    def handle(self, method: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = parts.path
        if path == "/v3/async/txt2img" and method == "POST":
            return self._count("txt2img", self.submit(body))
        if path == "/v3/async/task-result" and method == "GET":
            task_id = (parse_qs(parts.query).get("task_id") or [""])[0]
            return self._count("task_result", self.result(task_id))
        if path.startswith("/img/") and method == "GET":
            task = self.tasks.get(path.split("/")[2])
            if task is None or time.time() < task.finished:
                return self._count("storage", (404, "application/json", b'{"message":"no such image"}'))
            return self._count("storage", (200, "image/png", self.png))
        return 404, "application/json", b'{"code":404,"reason":"NOT_FOUND","message":"not found"}'

    def _count(self, endpoint: str, answer: tuple[int, str, bytes]) -> tuple[int, str, bytes]:
        self.requests[endpoint] += 1
        by_status = self.responses.setdefault(endpoint, {})
        by_status[answer[0]] = by_status.get(answer[0], 0) + 1
        return answer

    def submit(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            data = json.loads(body)
            webhook = (data.get("extra") or {}).get("webhook") or {}
        except (ValueError, AttributeError):
            return 400, "application/json", b'{"code":400,"reason":"INVALID_REQUEST_BODY","message":"bad"}'
        now = time.time()
        processing = self.knobs.processing
        if self.knobs.spread:
            processing += self.knobs.spread * (self.rng.random() - 0.5)
        task = _Task(
            task_id=str(uuid.uuid4()),
            created=now,
            started=now + self.knobs.queue_delay,
            finished=now + self.knobs.queue_delay + processing,
            seed=self.rng.randrange(2**31),
            webhook=webhook.get("url"),
        )
        self.tasks[task.task_id] = task
        if task.webhook is not None and self.loop is not None:
            self.loop.call_later(task.finished - now, self._deliver, task)
        return 200, "application/json", json.dumps({"task_id": task.task_id}).encode()

    def payload(self, task: _Task, now: float) -> dict[str, Any]:
        done = now >= task.finished
        if done:
            status, eta, progress = "TASK_STATUS_SUCCEED", 0, 0
        else:
            status = "TASK_STATUS_PROCESSING" if now >= task.started else "TASK_STATUS_QUEUED"
            eta = math.ceil(task.finished - now) if self.knobs.eta else 0
            share = (now - task.started) / (task.finished - task.started)
            progress = max(0, min(99, math.floor(share * 100))) if self.knobs.progress and share > 0 else 0
        images = []
        if done:
            images.append(
                {
                    "image_url": f"{self.base_url}/img/{task.task_id}/0.png",
                    "image_url_ttl": "3600",
                    "image_type": "png",
                    "nsfw_detection_result": None,
                }
            )
        return {
            "extra": {"seed": str(task.seed), "enable_nsfw_detection": False},
            "task": {
                "task_id": task.task_id,
                "task_type": "TXT_TO_IMG",
                "status": status,
                "reason": "",
                "eta": eta,
                "progress_percent": progress,
            },
            "images": images,
            "videos": [],
            "audios": [],
        }

    def result(self, task_id: str) -> tuple[int, str, bytes]:
        task = self.tasks.get(task_id)
        if task is None:
            return 404, "application/json", b'{"code":404,"reason":"TASK_NOT_FOUND","message":"no such task"}'
        return 200, "application/json", json.dumps(self.payload(task, time.time())).encode()

    def _deliver(self, task: _Task) -> None:
        event = {"event_type": "ASYNC_TASK_RESULT", "payload": self.payload(task, time.time())}
        delivery = asyncio.ensure_future(_post(task, json.dumps(event).encode()))
        self.deliveries.add(delivery)
        delivery.add_done_callback(self.deliveries.discard)

    # -- what the parent asks
    def records(self) -> dict[str, dict[str, Any]]:
        now = time.time()
        return {
            t.task_id: {
                "created_at": t.created,
                "started_at": t.started if now >= t.started else None,
                "finished_at": t.finished if now >= t.finished else None,
                "status": "TASK_STATUS_SUCCEED" if now >= t.finished else "TASK_STATUS_PROCESSING",
                "webhook_sent_at": t.webhook_sent,
            }
            for t in list(self.tasks.values())
        }


#: Webhooks delivered at once, at most (the sandbox has as many sender threads).
_SENDERS = 16
_senders: asyncio.Semaphore | None = None


async def _post(task: _Task, body: bytes) -> None:
    """POST a task's webhook on a connection of its own, at most `_SENDERS` at once, as the sandbox does;
    note when it was sent."""
    global _senders
    if _senders is None:
        _senders = asyncio.Semaphore(_SENDERS)
    parts = urlsplit(str(task.webhook))
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    async with _senders:
        try:
            async with asyncio.timeout(5):
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
                task.webhook_sent = time.time()
                writer.write(head.encode() + body)
                await writer.drain()
                await reader.read()
                writer.close()
        except (OSError, TimeoutError):
            pass


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies: all the SDK and httpx send here."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = lines[0].split(" ", 2)
            status, content_type, content = self.server.handle(method, target, body)
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(content)}\r\n\r\n"
            )
            assert self.transport is not None
            self.transport.write(head.encode() + content)
            if headers.get("connection", "").lower() == "close":
                self.transport.close()
                return


def _png() -> bytes:
    from ppio_txt2img.sandbox._images import ImageSpec, encode

    return encode(ImageSpec("plain", 1, 0, 128, 128, "png"))


def serve(knobs: Mapping[str, Any]) -> None:
    """Serve until stdin says quit (or closes); the event loop runs in a thread of its own."""
    server = _Server(_Knobs(**knobs), _png())
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        server.loop = loop
        listener = loop.run_until_complete(loop.create_server(lambda: _Protocol(server), "127.0.0.1", 0))
        server.base_url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="light-server", daemon=True).start()
    ready.wait()
    reply(sys.stdout, {"base_url": server.base_url})
    answer_commands(
        {
            "tasks": server.records,
            "stats": lambda: dict(server.requests),
            "responses": lambda: {name: dict(counts) for name, counts in list(server.responses.items())},
        }
    )


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
