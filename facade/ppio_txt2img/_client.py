"""`Client` and `AsyncClient`: thin shells that validate, build a flow and drive it.

Everything they do is decided in the flows (`_operations.py`, `_tasks.py`, `_downloads.py`); the two
classes differ only in the driver (`run_sync` / `run_async`) and the httpx client they hold.
"""

from __future__ import annotations

import copy as _copy
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, Unpack

import httpx

from . import _constants as C
from ._adapter import prepare
from ._call import Deadline, Settings, Tracker, guarded
from ._errors import ValidationError
from ._http import merged_headers
from ._inputs import CallOptions, GenerateOptions, SubmitOptions, WaitOptions
from ._io import Flow, logger, run_async, run_sync
from ._loop_clients import LoopClients
from ._operations import Expected, generation_flow, models_page_flow, submitted_flow, txt2img_flow
from ._options import MODEL_FILTER_PARAMS, ModelFilters
from ._request_body import (
    CALL_OPTIONS,
    GENERATE_OPTIONS,
    SUBMIT_OPTIONS,
    WAIT_OPTIONS,
    build_txt2img_body,
    check_extras,
    expected_result,
    split_options,
)
from ._results import Generation, Model, SubmittedTask, Task
from ._sync_http import OwnSyncHttp
from ._tasks import get_task_flow
from ._transport import preload_async_transport
from ._validation import prepare_checks, validate_models_query, validate_task_id, validate_txt2img_body
from ._wakeups import Closing

if TYPE_CHECKING:
    from .webhooks import WebhookReceiver

__all__ = ["AsyncClient", "Client", "ModelFilters"]

T = TypeVar("T")
_Page = tuple[list[Model], "str | None"]
_PageFlow = Flow[_Page]


def _task_id(task: object) -> str:
    """The id of a task given as an id, a `SubmittedTask` or a `Task`, checked as the spec says."""
    task_id = task.id if isinstance(task, SubmittedTask | Task) else task
    return validate_task_id(task_id)


def _timeout(value: object, default: float, name: str = "timeout") -> float:
    if value is None:
        return default
    allowed = "a finite number of seconds > 0"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(name, value, allowed, "is not a number")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValidationError(name, value, allowed, "is not a valid timeout")
    return seconds


def _max_retries(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("max_retries", value, "an integer >= 0", "is not valid")
    return value


def _api_key(api_key: object) -> str:
    """The key, stripped of surrounding white space; refused (without ever showing it) when it holds a
    character no HTTP header can carry."""
    key = api_key if api_key is not None else os.environ.get(C.ENV_API_KEY)
    if key is None or key == "":
        raise ValidationError(
            "api_key",
            None,
            f"your API key, as api_key=... or in the {C.ENV_API_KEY} environment variable",
            "is required",
        )
    if not isinstance(key, str):
        raise ValidationError("api_key", f"<{type(key).__name__}>", "a string", "is not a string")
    key = key.strip()
    if not key:
        raise ValidationError("api_key", "<redacted>", "a key, not only white space", "is blank")
    if not all(" " < char < "\x7f" for char in key):
        raise ValidationError(
            "api_key",
            "<redacted>",
            "printable ASCII without spaces (as the API issues keys)",
            "holds a control, space or non-ASCII character",
        )
    return key


def _base_url(base_url: object) -> str:
    url = base_url if base_url is not None else (os.environ.get(C.ENV_BASE_URL) or C.DEFAULT_BASE_URL)
    allowed = "an http:// or https:// URL without a query or fragment, e.g. https://api.novita.ai"
    if not isinstance(url, str):
        raise ValidationError("base_url", url, allowed, "is not a string")
    try:
        url.encode("ascii")
        parsed = httpx.URL(url)
    except (UnicodeEncodeError, httpx.InvalidURL) as exc:
        raise ValidationError("base_url", url, allowed, f"is not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError("base_url", url, allowed, "is not an http(s) URL")
    if parsed.query or parsed.fragment or "?" in url or "#" in url:
        raise ValidationError("base_url", url, allowed, "has a query or fragment")
    return url.rstrip("/")


class _BaseClient:
    """Configuration and flow building shared by the sync and async clients."""

    #: Whether `close()` / `aclose()` closes the HTTP client (one this client made, not a copy's).
    _owns_http: bool

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
        default_headers: Mapping[str, str] | None,
        webhooks: WebhookReceiver | None,
    ) -> None:
        key = _api_key(api_key)
        try:
            check_extras({"extra_headers": default_headers})
        except ValidationError as exc:
            raise ValidationError(
                exc.field.replace("extra_headers", "default_headers"), exc.value, exc.allowed, exc.problem
            ) from None
        if isinstance(max_image_bytes, bool) or not isinstance(max_image_bytes, int) or max_image_bytes < 1:
            raise ValidationError("max_image_bytes", max_image_bytes, "an integer >= 1", "is not valid")
        url = _base_url(base_url)
        self.timeout = _timeout(timeout, C.DEFAULT_TIMEOUT)
        extras: dict[str, Any] = {"clock": clock} if clock is not None else {}
        if now is not None:
            extras["now"] = now
        self._settings = Settings(
            base_url=url,
            api_key=key,
            max_retries=_max_retries(max_retries),
            request_timeout=_timeout(request_timeout, C.DEFAULT_REQUEST_TIMEOUT, "request_timeout"),
            connect_timeout=C.DEFAULT_CONNECT_TIMEOUT,
            max_image_bytes=max_image_bytes,
            headers=dict(default_headers or {}),
            wakeups=None if webhooks is None else webhooks.wakeups,
            **extras,
        )
        self._webhooks = webhooks

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def max_retries(self) -> int:
        return self._settings.max_retries

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """A copy of this client with another default `timeout` or `max_retries`, sharing its HTTP
        connections (close the original, not the copy)."""
        copy = _copy.copy(self)
        copy._owns_http = False
        if timeout is not None:
            copy.timeout = _timeout(timeout, self.timeout)
        if max_retries is not None:
            copy._settings = replace(self._settings, max_retries=_max_retries(max_retries))
        return copy

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(base_url={self.base_url!r}, timeout={self.timeout:g}, max_retries={self.max_retries})"

    # Each builder validates at once (before any request) and returns the flow to drive.
    def _start(self, timeout: object) -> tuple[Deadline, Tracker]:
        return Deadline(self._settings.clock, _timeout(timeout, self.timeout)), Tracker()

    def _for_call(self, options: Mapping[str, Any]) -> Settings:
        """The settings of one call: the client's, plus the call's `extra_headers` and `extra_query`."""
        check_extras(options)
        headers, query = options.get("extra_headers"), options.get("extra_query")
        if not headers and not query:
            return self._settings
        return replace(
            self._settings,
            headers=merged_headers(self._settings.headers, headers or {}),
            query=dict(query or {}),
        )

    def _body(self, prompt: str, request: Mapping[str, Any]) -> dict[str, Any]:
        if self._webhooks is not None and request.get("webhook_url") is None:
            if self._webhooks.url is None:
                raise ValidationError(
                    "webhooks",
                    self._webhooks,
                    "a WebhookReceiver with a url: WebhookReceiver(url), or inside receiver.serve_async()"
                    " or receiver.serve()",
                    "has no URL the API could call",
                )
            request = {**request, "webhook_url": self._webhooks.url}
        body = build_txt2img_body(prompt, request)
        validate_txt2img_body(body)
        return body

    def _receiver_url(self) -> str | None:
        """Where a webhook for this client's receiver goes (None: no receiver)."""
        return None if self._webhooks is None else self._webhooks.url

    def _txt2img(self, prompt: str, options: Mapping[str, Any]) -> Flow[Generation]:
        request, wait = split_options(options, allowed=GENERATE_OPTIONS)
        settings = self._for_call(options)
        body = self._body(prompt, request)
        image_num, size = expected_result(body, options.get("extra_body"))
        deadline, tracker = self._start(wait.get("timeout"))
        flow = txt2img_flow(
            settings,
            deadline,
            tracker,
            body,
            wait.get("on_progress"),
            Expected(image_num, size),
            options.get("extra_body"),
            self._receiver_url(),
        )
        return guarded(flow, deadline, tracker)

    def _submit(self, prompt: str, options: Mapping[str, Any]) -> Flow[SubmittedTask]:
        request, wait = split_options(options, allowed=SUBMIT_OPTIONS)
        settings = self._for_call(options)
        body = self._body(prompt, request)
        deadline, tracker = self._start(wait.get("timeout"))
        extra_body = options.get("extra_body")
        asked = expected_result(body, extra_body)

        def flow() -> Flow[SubmittedTask]:
            task_id, submitted = yield from submitted_flow(
                settings, deadline, tracker, body, extra_body, self._receiver_url()
            )
            settings.submissions.add(task_id, replace(submitted, crowd=False), asked)  # for the wait()s
            return SubmittedTask(id=task_id)

        return guarded(flow(), deadline, tracker)

    def _get_task(self, task: str | SubmittedTask | Task, options: Mapping[str, Any]) -> Flow[Task]:
        task_id = _task_id(task)
        split_options(options, allowed=CALL_OPTIONS, problem="is not an option of get_task")
        settings = self._for_call(options)
        deadline, tracker = self._start(options.get("timeout"))
        tracker.task_id = task_id
        return guarded(get_task_flow(settings, deadline, task_id), deadline, tracker)

    def _wait(self, task: str | SubmittedTask | Task, options: Mapping[str, Any]) -> Flow[Generation]:
        task_id = _task_id(task)
        _, wait = split_options(options, allowed=WAIT_OPTIONS, problem="is not a wait option")
        settings = self._for_call(options)
        deadline, tracker = self._start(wait.get("timeout"))
        submitted = settings.submissions.take(task_id)  # None: not submitted by this client's submit()
        expected = Expected(*settings.submissions.asked(task_id))
        on_progress = wait.get("on_progress")
        flow = generation_flow(settings, deadline, tracker, task_id, on_progress, submitted, expected)
        return guarded(flow, deadline, tracker)

    def _models_query(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in filters.items():
            if name not in MODEL_FILTER_PARAMS:
                raise ValidationError(
                    name, value, "one of " + ", ".join(MODEL_FILTER_PARAMS), "is not a known filter"
                )
        query = {MODEL_FILTER_PARAMS[k]: v for k, v in filters.items() if v is not None}
        query.setdefault("pagination.limit", C.DEFAULT_MODELS_PAGE_SIZE)
        validate_models_query(query)
        return query

    def _models_pages(self, query: Mapping[str, Any]) -> Generator[_PageFlow, _Page, None]:
        """The flow of each page in turn, under one deadline (the client's timeout) for the whole list;
        the caller sends each flow's result back in. Stops at the last page, a repeated cursor or
        `MAX_MODEL_PAGES` pages; the last two with a warning on the `ppio_txt2img` logger (a server
        paging in a loop: what was listed may repeat models, or miss some)."""
        deadline, tracker = self._start(None)
        tracker.operation = "listing models"
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(C.MAX_MODEL_PAGES):
            page_flow = models_page_flow(self._settings, deadline, query, cursor)
            cursor = (yield guarded(page_flow, deadline, tracker))[1]
            if cursor is None:
                return
            if cursor in seen:
                logger.warning("the model list gave a page's cursor again: stopped there (models may repeat)")
                return
            seen.add(cursor)
        logger.warning(
            "the model list still announced another page after %d pages: stopped there (models may repeat,"
            " or be missing)",
            C.MAX_MODEL_PAGES,
        )


def _next_page(pages: Generator[_PageFlow, _Page, None], page: Any) -> _PageFlow | None:
    """The next page's flow from `_models_pages` (sending it the last page), or None at the end."""
    try:
        return pages.send(page)
    except StopIteration:
        return None


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
        default_headers: Mapping[str, str] | None = None,
        webhooks: WebhookReceiver | None = None,
        max_image_bytes: int = C.MAX_IMAGE_BYTES,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            timeout,
            max_retries,
            request_timeout,
            max_image_bytes,
            clock,
            now,
            default_headers,
            webhooks,
        )
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise ValidationError("http_client", http_client, "an httpx.Client (or None)", "is not one")
        self._owns_http = http_client is None
        #: The SDK's own httpx client, one per process (`_sync_http.py`); shared by the copies of
        #: `with_options` (which close nothing). None: the caller's `http_client`.
        self._own_http = OwnSyncHttp() if http_client is None else None
        self._http = http_client
        #: Closed by `close()`: the waits sleeping between polls (on other threads) wake at once and
        #: end with `ClientClosedError`, not at their next poll. Shared by the copies of `with_options`.
        self._closing = Closing()
        self._sleep = sleep or self._closing.sleep_sync

    def _run(self, flow: Flow[T]) -> T:
        own = self._own_http
        http = own.current() if own is not None else self._http
        assert http is not None  # one of the two, always
        return run_sync(flow, http, self._sleep, closing=self._closing, own=own is not None)

    def txt2img(self, prompt: str, **options: Unpack[GenerateOptions]) -> Generation:
        """Generate images from `prompt` and return them downloaded and decoded."""
        return self._run(self._txt2img(prompt, options))

    def submit(self, prompt: str, **options: Unpack[SubmitOptions]) -> SubmittedTask:
        """Create the task and return at once."""
        return self._run(self._submit(prompt, options))

    def get_task(self, task: str | SubmittedTask | Task, **options: Unpack[CallOptions]) -> Task:
        """One look at a task: status, progress, eta, reason."""
        return self._run(self._get_task(task, options))

    def wait(self, task: str | SubmittedTask | Task, **options: Unpack[WaitOptions]) -> Generation:
        """Wait for a submitted task and return its images, like `txt2img`."""
        return self._run(self._wait(task, options))

    def models(self, **filters: Unpack[ModelFilters]) -> Iterator[Model]:
        """Every model matching the filters, following `next_cursor` over all pages."""
        query = self._models_query(filters)
        return self._iter_models(query)

    def _iter_models(self, query: Mapping[str, Any]) -> Iterator[Model]:
        pages = self._models_pages(query)
        page: Any = None
        while (flow := _next_page(pages, page)) is not None:
            page = self._run(flow)
            yield from page[0]

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http and self._own_http is not None:
            self._own_http.close()
            self._closing.close()

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
        default_headers: Mapping[str, str] | None = None,
        webhooks: WebhookReceiver | None = None,
        max_image_bytes: int = C.MAX_IMAGE_BYTES,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            timeout,
            max_retries,
            request_timeout,
            max_image_bytes,
            clock,
            now,
            default_headers,
            webhooks,
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ValidationError("http_client", http_client, "an httpx.AsyncClient (or None)", "is not one")
        self._owns_http = http_client is None
        #: The caller's, or the client's own, made per event loop on first use (`_loop_clients.py`);
        #: the copies `with_options` makes share them.
        self._http: httpx.AsyncClient | LoopClients = http_client or LoopClients()
        self._sleep = sleep
        if http_client is None:
            preload_async_transport()
        prepare()  # what the first call would do inside the event loop
        prepare_checks()

    async def _run(self, flow: Flow[T]) -> T:
        if isinstance(self._http, LoopClients):
            own = self._http
            return await run_async(flow, await own.current(), self._sleep or own.sleep, own.closing)
        return await run_async(flow, self._http, self._sleep)

    async def txt2img(self, prompt: str, **options: Unpack[GenerateOptions]) -> Generation:
        """Generate images from `prompt` and return them downloaded and decoded."""
        return await self._run(self._txt2img(prompt, options))

    async def submit(self, prompt: str, **options: Unpack[SubmitOptions]) -> SubmittedTask:
        """Create the task and return at once."""
        return await self._run(self._submit(prompt, options))

    async def get_task(self, task: str | SubmittedTask | Task, **options: Unpack[CallOptions]) -> Task:
        """One look at a task: status, progress, eta, reason."""
        return await self._run(self._get_task(task, options))

    async def wait(self, task: str | SubmittedTask | Task, **options: Unpack[WaitOptions]) -> Generation:
        """Wait for a submitted task and return its images, like `txt2img`."""
        return await self._run(self._wait(task, options))

    def models(self, **filters: Unpack[ModelFilters]) -> AsyncIterator[Model]:
        """Every model matching the filters, following `next_cursor` over all pages."""
        query = self._models_query(filters)
        return self._iter_models(query)

    async def _iter_models(self, query: Mapping[str, Any]) -> AsyncIterator[Model]:
        pages = self._models_pages(query)
        page: Any = None
        while (flow := _next_page(pages, page)) is not None:
            page = await self._run(flow)
            for model in page[0]:
                yield model

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
