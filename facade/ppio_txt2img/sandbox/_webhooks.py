"""Webhook delivery: the `ASYNC_TASK_RESULT` event POSTed to `extra.webhook.url` when a task finishes.

One scheduler thread sleeps until the next event is due (no polling loop) and hands it to a small pool
of sender threads. A delivery that answers non-2xx or takes longer than `webhook_timeout` is retried
up to `webhook_retries` times after a short backoff (0.1 s, 0.2 s, 0.4 s, ... at most 2 s). Only
loopback URLs are accepted (the sandbox must never call out to the network), see `is_loopback_url`.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from ppio_txt2img._transport import shared_ssl_context

from ._config import SandboxConfig
from ._tasks import Clock

EVENT_TYPE = "ASYNC_TASK_RESULT"
_SENDERS = 16
_MAX_BACKOFF = 2.0
#: With an injected clock (which may jump ahead), the scheduler looks at it at least this often (seconds).
_INJECTED_CLOCK_CHECK = 0.05


def is_loopback_url(url: str) -> bool:
    """Whether `url` is http(s) to 127.0.0.0/8, ::1 or localhost."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to deliver a webhook event."""

    task_id: str
    url: str
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    status_code: int | None
    """The endpoint's HTTP status; None when the attempt failed (timeout, refused connection, ...)."""
    error: str | None
    """Why the attempt failed without a status (exception type and message); None otherwise."""
    payload: Mapping[str, Any]
    """The event body that was sent."""
    sent_at: float
    """`time.time()` when the attempt started (on the sandbox's clock)."""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(order=True)
class _Job:
    due: float
    order: int
    task_id: str = field(compare=False)
    url: str = field(compare=False)
    make_event: Callable[[], dict[str, Any]] = field(compare=False)
    attempt: int = field(default=1, compare=False)


class WebhookDispatcher:
    """Delivers scheduled events in background threads; `close()` stops and joins them.

    Due times and retry backoffs are on the sandbox's clock."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[_Job] = []
        self._counter = itertools.count()
        self._deliveries: list[WebhookDelivery] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._http: httpx.Client | None = None

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._cond:
            return list(self._deliveries)

    def schedule(self, task_id: str, url: str, due: float, make_event: Callable[[], dict[str, Any]]) -> None:
        """Deliver `make_event()` (built when sent) to `url` at monotonic time `due`."""
        self._push(_Job(due, next(self._counter), task_id, url, make_event))

    def _push(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                return
            if self._thread is None:
                self._pool = ThreadPoolExecutor(_SENDERS, thread_name_prefix="ppio-sandbox-webhook")
                self._thread = threading.Thread(target=self._run, name="ppio-sandbox-webhooks", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def close(self) -> None:
        """Stop delivering (pending events are dropped) and join every thread. Can be started again."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._cond:
            self._heap.clear()
            self._thread = self._pool = None
            http, self._http = self._http, None
            self._closed = False
        if http is not None:
            http.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0].due - self._clock.now()
                    if delay <= 0:
                        job = heapq.heappop(self._heap)
                        break
                    self._cond.wait(min(delay, _INJECTED_CLOCK_CHECK) if self._clock.injected else delay)
                pool = self._pool
            if pool is not None:
                pool.submit(self._attempt, job)

    def _client(self) -> httpx.Client:
        """One connection pool for every delivery (thread-safe), made on first use."""
        with self._cond:
            if self._http is None:
                self._http = httpx.Client(
                    timeout=self._config.webhook_timeout,
                    trust_env=False,
                    follow_redirects=False,
                    verify=shared_ssl_context(),  # the CA bundle loaded once per process, not per sandbox
                    limits=httpx.Limits(max_connections=_SENDERS, max_keepalive_connections=_SENDERS),
                )
            return self._http

    def _attempt(self, job: _Job) -> None:
        sent_at = self._clock.wall(self._clock.now())
        payload: dict[str, Any] = {}
        status: int | None = None
        error: str | None = None
        try:
            payload = job.make_event()
            status = self._client().post(job.url, json=payload).status_code
        except Exception as exc:  # any failure is one failed attempt, recorded
            error = f"{type(exc).__name__}: {exc}"
        delivery = WebhookDelivery(job.task_id, job.url, job.attempt, status, error, payload, sent_at)
        with self._cond:
            self._deliveries.append(delivery)
        if not delivery.ok and job.attempt <= self._config.webhook_retries:
            backoff = min(_MAX_BACKOFF, 0.1 * 2 ** (job.attempt - 1))
            retry = _Job(
                self._clock.now() + backoff,
                next(self._counter),
                job.task_id,
                job.url,
                job.make_event,
                job.attempt + 1,
            )
            self._push(retry)
