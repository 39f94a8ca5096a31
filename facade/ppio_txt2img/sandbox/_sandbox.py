"""`Sandbox`, the offline emulator, and the `serve()` shortcut."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from ._app import build_app
from ._config import ENDPOINTS, SandboxConfig
from ._hosts import other_address
from ._server import base_url, bind_all, serve_forever, serve_in_thread
from ._state import SandboxState
from ._stats import EndpointStats
from ._tasks import TaskInfo
from ._webhooks import WebhookDelivery


class Sandbox:
    """An offline emulator of the PPIO / Novita v3 text-to-image API that speaks exactly the spec.

        sandbox = Sandbox(speed=10)
        with sandbox.serve() as base_url:      # uvicorn on 127.0.0.1, a free port
            ...                                # point a client at base_url
        sandbox.stats["txt2img"].requests

    `app` is the ASGI application, also usable in-process with `httpx.ASGITransport(app=sandbox.app)`
    (then call `close()`, or use the sandbox as a context manager, to stop webhook threads).
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
        **knobs: Any,
    ) -> None:
        """`config`, with any `SandboxConfig` field overridden by keyword (`Sandbox(speed=10)`).

        `clock` (default `time.monotonic`) returns monotonic seconds and drives every timeline
        decision: task status, progress and eta, image URL expiry, webhook due times and retries. A
        test can pass a fake clock and move it instead of sleeping. Latency (`slow_seconds`) and
        dripping bodies stay in real time: they are about the socket."""
        base = config if config is not None else SandboxConfig()
        self._config = base.replace(**knobs) if knobs else base
        self._state = SandboxState.create(self._config, clock)
        self._app = build_app(self._state)

    @property
    def config(self) -> SandboxConfig:
        return self._config

    @property
    def app(self) -> Starlette:
        """The ASGI application."""
        return self._app

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a real socket in a background thread; yields the base URL ("http://127.0.0.1:PORT").

        Returns once the server accepts connections; on exit the server stops, webhook threads are
        joined and pending webhook deliveries are dropped. When a redirect goes to the other host, a
        second listener serves the same app on 127.0.0.2 and a free port (`other_host_url`).
        Raises OSError when an address cannot be bound (e.g. the port is in use).
        """
        sockets = self._bind(host, port)
        try:
            with serve_in_thread(self._app, self._state.transports, sockets):
                yield base_url(sockets[0])
        finally:
            self._state.hosts.reset()
            self.close()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        """Serve in the foreground (this thread) until interrupted, logging requests like uvicorn.

        Raises OSError when an address cannot be bound (e.g. the port is in use)."""
        sockets = self._bind(host, port)
        try:
            serve_forever(self._app, self._state.transports, sockets)
        finally:
            self._state.hosts.reset()
            self.close()

    def _bind(self, host: str, port: int) -> list[socket.socket]:
        """The listening sockets: `host:port`, and the other host's on a free port when redirects need it."""
        addresses = [(host, port)]
        if self._config.needs_other_host:
            addresses.append((other_address(host), 0))
        sockets = bind_all(addresses)
        urls = [base_url(sock) for sock in sockets]
        self._state.hosts.listening(urls[0], urls[1] if len(urls) > 1 else None)
        return sockets

    def close(self) -> None:
        """Join the sandbox's threads: webhooks (pending deliveries are dropped) and image drawing.

        The sandbox stays usable; threads start again when needed."""
        self._state.webhooks.close()
        self._state.images.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------ observation

    @property
    def stats(self) -> Mapping[str, EndpointStats]:
        """Counters per endpoint ("txt2img", "task_result", "model", "storage", and "other" for unknown
        paths): requests received, responses by status, connections dropped. A snapshot."""
        return self._state.stats.snapshot(ENDPOINTS)

    @property
    def storage_requests_with_authorization(self) -> int:
        """Image downloads that carried an `Authorization` header (a client should send none)."""
        return self._state.stats.storage_requests_with_authorization

    @property
    def requests_by_host(self) -> Mapping[str, Mapping[str, int]]:
        """Requests per host ("127.0.0.1:PORT", "127.0.0.2:PORT" for the other host), per endpoint:
        shows whether a redirected request (a POST, say) was sent again, and to which host. A snapshot."""
        return self._state.stats.by_host()

    @property
    def other_host_url(self) -> str | None:
        """The base URL of the second listener (redirects to "other_host" and "loop") while serving."""
        if not self._config.needs_other_host:
            return None
        return self._state.hosts.other

    @property
    def other_host_requests_with_authorization(self) -> int:
        """Requests to the other host that carried an `Authorization` header: a client that follows a
        redirect to another host should drop the key (httpx does)."""
        return self._state.stats.other_host_requests_with_authorization

    @property
    def tasks(self) -> Mapping[str, TaskInfo]:
        """Every task submitted so far, by id, as it stands now (a snapshot)."""
        book = self._state.tasks
        return {task.task_id: book.info(task) for task in book.all()}

    def finished_at(self, task_id: str) -> float | None:
        """The `time.time()` at which the task became terminal; None if it has not (or is unknown)."""
        task = self._state.tasks.get(task_id)
        return None if task is None else self._state.tasks.info(task).finished_at

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook attempt so far, in the order they completed."""
        return self._state.webhooks.deliveries


@contextlib.contextmanager
def serve(config: SandboxConfig | None = None, **knobs: Any) -> Iterator[str]:
    """Run a new `Sandbox(config, **knobs)` on a free loopback port; yields its base URL.

    with ppio_txt2img.sandbox.serve(speed=10) as base_url:
        ...
    """
    with Sandbox(config, **knobs).serve() as base_url:
        yield base_url
