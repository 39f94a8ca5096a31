"""`Client` and `AsyncClient`: thin shells that validate, build a flow and drive it.

Everything they do is decided in the flows (`_operations.py`, `_tasks.py`, `_downloads.py`); the two
classes differ only in the driver (`run_sync` / `run_async`) and the httpx client they hold.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack

import httpx

from . import _constants as C
from ._body import GENERATE_OPTIONS, SUBMIT_OPTIONS, WAIT_OPTIONS, build_txt2img_body, split_options
from ._call import Deadline, Settings, Tracker, guarded
from ._errors import PPIOError, ValidationError
from ._inputs import GenerateOptions, RequestOptions, WaitOptions
from ._io import Flow, run_async, run_sync
from ._operations import generation_flow, models_page_flow, txt2img_flow
from ._results import Generation, Model, SubmittedTask, Task
from ._tasks import get_task_flow, submit_flow
from ._validation import validate_models_query, validate_txt2img_body

__all__ = ["AsyncClient", "Client", "ModelFilters"]

T = TypeVar("T")


class ModelFilters(TypedDict, total=False):
    """Filters of `client.models()`; allowed values come from the spec's `GET /v3/model` parameters."""

    types: str
    visibility: str
    source: str
    is_sdxl: bool
    query: str
    is_inpainting: bool
    page_size: int


_FILTER_PARAMS = {
    "types": "filter.types",
    "visibility": "filter.visibility",
    "source": "filter.source",
    "is_sdxl": "filter.is_sdxl",
    "query": "filter.query",
    "is_inpainting": "filter.is_inpainting",
    "page_size": "pagination.limit",
}


def _own_http_options() -> dict[str, Any]:
    """How the client builds its own httpx client when the caller gives none."""
    limits = httpx.Limits(
        max_connections=C.DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=C.DEFAULT_MAX_CONNECTIONS
    )
    return {"follow_redirects": True, "headers": {"User-Agent": C.USER_AGENT}, "limits": limits}


def _task_id(task: str | SubmittedTask | Task) -> str:
    task_id = task if isinstance(task, str) else task.id
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValidationError("task_id", task_id, "a non-empty task id string", "is not a task id")
    return task_id


def _timeout(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError("timeout", value, "a number of seconds > 0", "is not a valid timeout")
    return float(value)


class _BaseClient:
    """Configuration and flow building shared by the sync and async clients."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        request_timeout: float,
        max_image_bytes: int,
        clock: Callable[[], float] | None,
        now: Callable[[], datetime] | None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(C.ENV_API_KEY)
        if not key:
            raise PPIOError(f"no API key: pass api_key=... or set the {C.ENV_API_KEY} environment variable")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError("max_retries", max_retries, "an integer >= 0", "is not valid")
        if isinstance(max_image_bytes, bool) or not isinstance(max_image_bytes, int) or max_image_bytes < 1:
            raise ValidationError("max_image_bytes", max_image_bytes, "an integer >= 1", "is not valid")
        url = (base_url or os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValidationError("base_url", url, "an http:// or https:// URL", "is not a URL")
        self.timeout = _timeout(timeout, C.DEFAULT_TIMEOUT)
        extras: dict[str, Any] = {"clock": clock} if clock is not None else {}
        if now is not None:
            extras["now"] = now
        self._settings = Settings(
            base_url=url,
            api_key=key,
            max_retries=max_retries,
            request_timeout=_timeout(request_timeout, C.DEFAULT_REQUEST_TIMEOUT),
            connect_timeout=C.DEFAULT_CONNECT_TIMEOUT,
            max_image_bytes=max_image_bytes,
            **extras,
        )

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def max_retries(self) -> int:
        return self._settings.max_retries

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(base_url={self.base_url!r}, timeout={self.timeout:g}, max_retries={self.max_retries})"

    # Each builder validates at once (before any request) and returns the flow to drive.
    def _start(self, timeout: object) -> tuple[Deadline, Tracker]:
        return Deadline(self._settings.clock, _timeout(timeout, self.timeout)), Tracker()

    def _txt2img(self, prompt: str, options: Mapping[str, Any]) -> Flow[Generation]:
        request, wait = split_options(options, allowed=GENERATE_OPTIONS)
        body = build_txt2img_body(prompt, request)
        validate_txt2img_body(body)
        deadline, tracker = self._start(wait.get("timeout"))
        flow = txt2img_flow(self._settings, deadline, tracker, body, wait.get("on_progress"))
        return guarded(flow, deadline, tracker)

    def _submit(self, prompt: str, options: Mapping[str, Any]) -> Flow[SubmittedTask]:
        request, wait = split_options(options, allowed=SUBMIT_OPTIONS)
        body = build_txt2img_body(prompt, request)
        validate_txt2img_body(body)
        deadline, tracker = self._start(wait.get("timeout"))

        def flow() -> Flow[SubmittedTask]:
            return SubmittedTask(id=(yield from submit_flow(self._settings, deadline, tracker, body)))

        return guarded(flow(), deadline, tracker)

    def _get_task(self, task: str | SubmittedTask | Task, timeout: float | None) -> Flow[Task]:
        task_id = _task_id(task)
        deadline, tracker = self._start(timeout)
        tracker.task_id = task_id
        return guarded(get_task_flow(self._settings, deadline, task_id), deadline, tracker)

    def _wait(self, task: str | SubmittedTask | Task, options: Mapping[str, Any]) -> Flow[Generation]:
        task_id = _task_id(task)
        _, wait = split_options(options, allowed=WAIT_OPTIONS, problem="is not a wait option")
        deadline, tracker = self._start(wait.get("timeout"))
        flow = generation_flow(self._settings, deadline, tracker, task_id, wait.get("on_progress"))
        return guarded(flow, deadline, tracker)

    def _models_query(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in filters.items():
            if name not in _FILTER_PARAMS:
                raise ValidationError(
                    name, value, "one of " + ", ".join(_FILTER_PARAMS), "is not a known filter"
                )
        query = {_FILTER_PARAMS[k]: v for k, v in filters.items() if v is not None}
        query.setdefault("pagination.limit", C.DEFAULT_MODELS_PAGE_SIZE)
        validate_models_query(query)
        return query

    def _models_page(
        self, query: Mapping[str, Any], cursor: str | None
    ) -> Flow[tuple[list[Model], str | None]]:
        deadline, tracker = self._start(None)
        return guarded(models_page_flow(self._settings, deadline, query, cursor), deadline, tracker)


class Client(_BaseClient):
    """The synchronous client.

        client = ppio_txt2img.Client()          # api_key from PPIO_API_KEY
        generation = client.txt2img("a red fox in snow", width=1024, height=1024)
        generation.images[0].save("fox.png")

    `timeout` bounds each whole call (submit, polls, retries, downloads); `max_retries` applies to each
    request. `http_client` is used for every request, image downloads included; the API key is sent to
    the API only. `clock`/`sleep` are injectable for tests.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        request_timeout: float = C.DEFAULT_REQUEST_TIMEOUT,
        max_image_bytes: int = C.MAX_IMAGE_BYTES,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, timeout, max_retries, request_timeout, max_image_bytes, clock, now
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(**_own_http_options())
        self._sleep = sleep or time.sleep

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._http, self._sleep)

    def txt2img(self, prompt: str, **options: Unpack[GenerateOptions]) -> Generation:
        """Generate images from `prompt` and return them downloaded and decoded."""
        return self._run(self._txt2img(prompt, options))

    def submit(self, prompt: str, **options: Unpack[RequestOptions]) -> SubmittedTask:
        """Create the task and return at once."""
        return self._run(self._submit(prompt, options))

    def get_task(self, task: str | SubmittedTask | Task, *, timeout: float | None = None) -> Task:
        """One look at a task: status, progress, eta, reason."""
        return self._run(self._get_task(task, timeout))

    def wait(self, task: str | SubmittedTask | Task, **options: Unpack[WaitOptions]) -> Generation:
        """Wait for a submitted task and return its images, like `txt2img`."""
        return self._run(self._wait(task, options))

    def models(self, **filters: Unpack[ModelFilters]) -> Iterator[Model]:
        """Every model matching the filters, following `next_cursor` over all pages."""
        query = self._models_query(filters)
        return self._iter_models(query)

    def _iter_models(self, query: Mapping[str, Any]) -> Iterator[Model]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            models, cursor = self._run(self._models_page(query, cursor))
            yield from models
            if cursor is None or cursor in seen:
                return
            seen.add(cursor)

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The asynchronous client: the same methods as `Client`, awaitable (asyncio or trio).

    async with ppio_txt2img.AsyncClient() as client:
        generation = await client.txt2img("a red fox in snow")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        request_timeout: float = C.DEFAULT_REQUEST_TIMEOUT,
        max_image_bytes: int = C.MAX_IMAGE_BYTES,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, timeout, max_retries, request_timeout, max_image_bytes, clock, now
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(**_own_http_options())
        self._sleep = sleep

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._http, self._sleep)

    async def txt2img(self, prompt: str, **options: Unpack[GenerateOptions]) -> Generation:
        """Generate images from `prompt` and return them downloaded and decoded."""
        return await self._run(self._txt2img(prompt, options))

    async def submit(self, prompt: str, **options: Unpack[RequestOptions]) -> SubmittedTask:
        """Create the task and return at once."""
        return await self._run(self._submit(prompt, options))

    async def get_task(
        self,
        task: str | SubmittedTask | Task,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline for the flow, not a cancel scope
    ) -> Task:
        """One look at a task: status, progress, eta, reason."""
        return await self._run(self._get_task(task, timeout))

    async def wait(self, task: str | SubmittedTask | Task, **options: Unpack[WaitOptions]) -> Generation:
        """Wait for a submitted task and return its images, like `txt2img`."""
        return await self._run(self._wait(task, options))

    def models(self, **filters: Unpack[ModelFilters]) -> AsyncIterator[Model]:
        """Every model matching the filters, following `next_cursor` over all pages."""
        query = self._models_query(filters)
        return self._iter_models(query)

    async def _iter_models(self, query: Mapping[str, Any]) -> AsyncIterator[Model]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            models, cursor = await self._run(self._models_page(query, cursor))
            for model in models:
                yield model
            if cursor is None or cursor in seen:
                return
            seen.add(cursor)

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
