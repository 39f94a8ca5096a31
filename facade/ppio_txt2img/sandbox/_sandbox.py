"""`Sandbox`, the offline emulator, and the `serve()` shortcut."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from ._app import build_app
from ._config import ENDPOINTS, SandboxConfig
from ._server import serve_forever, serve_in_thread
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

    def __init__(self, config: SandboxConfig | None = None, **knobs: Any) -> None:
        """`config`, with any `SandboxConfig` field overridden by keyword (`Sandbox(speed=10)`)."""
        base = config if config is not None else SandboxConfig()
        self._config = base.replace(**knobs) if knobs else base
        self._state = SandboxState.create(self._config)
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
        joined and pending webhook deliveries are dropped.
        """
        try:
            with serve_in_thread(self._app, self._state.transports, host, port) as base_url:
                yield base_url
        finally:
            self.close()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        """Serve in the foreground (this thread) until interrupted, logging requests like uvicorn."""
        try:
            serve_forever(self._app, self._state.transports, host, port)
        finally:
            self.close()

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
