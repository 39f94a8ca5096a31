"""The SDK's operations, written once as flows (see `_io.py`) and driven by the sync or async client.

submit -> wait (adaptive polls) -> download and decode every image, all under one deadline, with the
retry policy of `_retry.py` and the poll schedule of `_polling.py`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from ._constants import POLL_FIRST_AFTER_SUBMIT
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    ImageError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from ._images import decode, expires_at, normalize_type, parse_int, sniff_format
from ._inputs import ProgressCallback
from ._io import Flow, Gather, Notify, Offload, Reply, ResponseTooLarge, Send, Sleep
from ._polling import Observation, next_poll_delay
from ._results import GeneratedImage, Generation, ImageRef, Model, NsfwResult, Task, TaskStatus
from ._retry import (
    Failure,
    backoff_delay,
    classify_exception,
    classify_status,
    parse_retry_after,
    retry_delay,
)

if TYPE_CHECKING:  # the generated layer is imported on first use: `import ppio_txt2img` stays light
    from ppio_api import Client as _GeneratedClient
    from ppio_api.models import Model as _ApiModel
    from ppio_api.models import TaskResultResponse

__all__ = [
    "Deadline",
    "Settings",
    "Tracker",
    "generation_flow",
    "get_task_flow",
    "guarded",
    "models_page_flow",
    "submit_flow",
]

T = TypeVar("T")


@cache
def _parser() -> _GeneratedClient:
    """Parses responses only (never sends); undocumented statuses raise instead of parsing to None."""
    from ppio_api import Client

    return Client(base_url="", raise_on_unexpected_status=True)


#: Seconds kept in hand for a last poll when the deadline is near.
_LAST_LOOK = 0.25


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """A client's configuration, as the flows see it."""

    base_url: str
    api_key: str = field(repr=False)
    max_retries: int
    request_timeout: float
    connect_timeout: float
    max_image_bytes: int
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = _utc_now
    rng: Callable[[], float] = field(default=random.random, repr=False)


class Deadline:
    """One bound for a whole call, on the settings' clock."""

    def __init__(self, clock: Callable[[], float], timeout: float) -> None:
        self.clock = clock
        self.timeout = timeout
        self.at = clock() + timeout

    def remaining(self) -> float:
        return self.at - self.clock()


@dataclass
class Tracker:
    """What a call knows so far, for the errors it may have to raise."""

    task_id: str | None = None
    last_status: str | None = None


class _Expired(Exception):
    """The deadline passed inside a flow; `guarded` turns it into `WaitTimeoutError`."""


class _Parser(Protocol):
    def __call__(self, *, client: Any, response: httpx.Response) -> Any: ...


def guarded(flow: Flow[T], deadline: Deadline, tracker: Tracker) -> Flow[T]:
    """Run a public flow: a passed deadline becomes `WaitTimeoutError` with the task id and last status;
    Ctrl-C or cancellation gets the task id attached (`exc.task_id` and a note) before it propagates."""
    try:
        return (yield from flow)
    except _Expired as exc:
        cause = exc.__cause__
        # Timed out while the POST awaited its answer (not while connecting): a task may exist.
        unknown = (
            tracker.task_id is None
            and tracker.last_status == "submitting"
            and cause is not None
            and classify_exception(cause) is not Failure.NOT_SENT
        )
        raise WaitTimeoutError(
            tracker.task_id, tracker.last_status, deadline.timeout, outcome_unknown=unknown
        ) from cause
    except BaseException as exc:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, asyncio/trio cancellation
            if tracker.task_id is not None:
                exc.task_id = tracker.task_id  # type: ignore[attr-defined]
                exc.add_note(
                    f"ppio_txt2img: task {tracker.task_id} was submitted and may still be running; "
                    f"resume with client.wait({tracker.task_id!r}) or `ppio wait {tracker.task_id}`"
                )
            elif tracker.last_status == "submitting":
                exc.add_note("ppio_txt2img: interrupted while submitting; a task may have been created")
        raise


# --------------------------------------------------------------------------------------------- HTTP
def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def send_with_retries(
    settings: Settings,
    deadline: Deadline,
    *,
    method: str,
    url: str,
    idempotent: bool,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    drop_headers: tuple[str, ...] = (),
    max_bytes: int | None = None,
) -> Flow[Reply]:
    """Send a request, retrying per `_retry.py` within the deadline.

    Returns the last reply (an error status included, once retrying is over); raises the last httpx
    transport error when no response came back; raises `_Expired` when the deadline passes.
    """
    attempt = 0
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _Expired
        try:
            reply: Reply = yield Send(
                method=method,
                url=url,
                timeout=min(settings.request_timeout, remaining),
                connect_timeout=settings.connect_timeout,
                params=params,
                json=json,
                headers=headers or {},
                drop_headers=drop_headers,
                max_bytes=max_bytes,
                log_name=_without_query(url),
            )
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException) and deadline.remaining() <= 0:
                raise _Expired from exc
            delay = retry_delay(
                classify_exception(exc),
                attempt=attempt,
                max_retries=settings.max_retries,
                idempotent=idempotent,
                rng=settings.rng,
            )
            if delay is None or delay >= deadline.remaining():
                raise
        else:
            failure = classify_status(reply.status_code)
            if failure is None:
                return reply
            delay = retry_delay(
                failure,
                attempt=attempt,
                max_retries=settings.max_retries,
                idempotent=idempotent,
                retry_after=parse_retry_after(reply.headers.get("retry-after")),
                rng=settings.rng,
            )
            if delay is None or delay >= deadline.remaining():
                return reply
        yield Sleep(delay)
        attempt += 1


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_error(reply: Reply, *, task_id: str | None, outcome_unknown: bool = False) -> APIStatusError:
    """The typed error for an error reply; the body is read leniently (an HTML page still works)."""
    from ppio_api.models import ErrorBody

    reason = message = None
    metadata: dict[str, str] = {}
    try:
        parsed = ErrorBody.from_dict(reply.to_httpx().json())
    except Exception:
        parsed = None
    if parsed is not None:
        reason, message = _value(parsed.reason), _value(parsed.message)
        reason = None if reason is None else str(reason)
        message = None if message is None else str(message)
        raw_metadata = _value(parsed.metadata)
        if raw_metadata is not None:
            metadata = {str(k): str(v) for k, v in raw_metadata.additional_properties.items()}
    status = reply.status_code
    kind = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIStatusError)
    if kind is NotFoundError and task_id is not None and not message:
        message = "no such task"
    return kind(
        status_code=status,
        reason=reason,
        message=message,
        metadata=metadata,
        body=reply.content,
        retry_after=parse_retry_after(reply.headers.get("retry-after")),
        task_id=task_id,
        outcome_unknown=outcome_unknown,
    )


def api_call(
    settings: Settings,
    deadline: Deadline,
    request: Mapping[str, Any],
    parse: _Parser,
    *,
    idempotent: bool,
    task_id: str | None = None,
) -> Flow[Any]:
    """Send a request made by a generated `build_request`; parse the reply with its `parse_response`."""
    path: str = request["url"]
    try:
        reply = yield from send_with_retries(
            settings,
            deadline,
            method=request["method"],
            url=settings.base_url + path,
            idempotent=idempotent,
            params=request.get("params"),
            json=request.get("json"),
            headers={**request.get("headers", {}), "Authorization": f"Bearer {settings.api_key}"},
        )
    except httpx.TransportError as exc:
        unknown = not idempotent and classify_exception(exc) is not Failure.NOT_SENT
        raise APIConnectionError(
            f"{request['method'].upper()} {path}: {type(exc).__name__}: {exc}".rstrip(": "),
            task_id=task_id,
            outcome_unknown=unknown,
        ) from exc
    if not 200 <= reply.status_code < 300:
        unknown = not idempotent and classify_status(reply.status_code) is Failure.SERVER_ERROR
        raise status_error(reply, task_id=task_id, outcome_unknown=unknown)
    try:
        parsed = parse(client=_parser(), response=reply.to_httpx()).parsed
    except Exception as exc:
        raise APIResponseValidationError(
            f"{path}: the response does not match the spec: {type(exc).__name__}: {exc}",
            status_code=reply.status_code,
            body=reply.content,
            task_id=task_id,
            outcome_unknown=not idempotent,  # a 2xx to the POST: a task exists, but its id is unknown
        ) from exc
    if parsed is None or type(parsed).__name__ == "ErrorBody":
        raise APIResponseValidationError(
            f"{path}: unexpected response body",
            status_code=reply.status_code,
            body=reply.content,
            task_id=task_id,
            outcome_unknown=not idempotent,
        )
    return parsed


# -------------------------------------------------------------------------------------------- tasks
def submit_flow(
    settings: Settings, deadline: Deadline, tracker: Tracker, body: Mapping[str, Any]
) -> Flow[str]:
    """Create the task (the POST is resent only when no task can have been created)."""
    from ppio_api.api.txt2img import create_txt2img_task
    from ppio_api.models import CreateTaskResponse, Txt2ImgBody

    tracker.last_status = "submitting"
    created: CreateTaskResponse = yield from api_call(
        settings,
        deadline,
        create_txt2img_task.build_request(body=Txt2ImgBody.from_dict(body)),
        create_txt2img_task.parse_response,
        idempotent=False,
    )
    tracker.task_id, tracker.last_status = created.task_id, "submitted"
    return created.task_id


def _value(value: object) -> Any:
    """None for the generated layer's UNSET marker, else the value."""
    from ppio_api.types import Unset

    return None if isinstance(value, Unset) else value


def task_from_result(result: TaskResultResponse, received_at: datetime) -> Task:
    """The facade's `Task` from the generated model (every documented variant handled)."""
    images = []
    for image in _value(result.images) or []:
        nsfw_raw = _value(image.nsfw_detection_result)
        nsfw = (
            None
            if nsfw_raw is None
            else NsfwResult(valid=_value(nsfw_raw.valid), confidence=_value(nsfw_raw.confidence))
        )
        image_type = _value(image.image_type)
        images.append(
            ImageRef(
                url=image.image_url,
                image_type=None if image_type is None else str(image_type),
                expires_at=expires_at(_value(image.image_url_ttl), received_at),
                nsfw=nsfw,
            )
        )
    task = result.task
    extra = _value(result.extra)
    task_type = _value(task.task_type)
    return Task(
        id=task.task_id,
        status=str(task.status),
        progress=_value(task.progress_percent),
        eta=_value(task.eta),
        reason=_value(task.reason) or None,
        task_type=None if task_type is None else str(task_type),
        seed=None if extra is None else parse_int(_value(extra.seed)),
        images=tuple(images),
    )


def get_task_flow(settings: Settings, deadline: Deadline, task_id: str) -> Flow[Task]:
    """One look at the task."""
    from ppio_api.api.tasks import get_task_result

    result: TaskResultResponse = yield from api_call(
        settings,
        deadline,
        get_task_result.build_request(task_id=task_id),
        get_task_result.parse_response,
        idempotent=True,
        task_id=task_id,
    )
    return task_from_result(result, settings.now())


_TRANSIENT = (APIConnectionError, RateLimitError, ServerError, APIResponseValidationError)


def wait_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    first_poll_after: float = 0.0,
) -> Flow[Task]:
    """Poll until the task succeeds (returned) or fails (`TaskFailedError`), on the adaptive schedule.

    `first_poll_after`: a task submitted a moment ago is only queued; its first poll can wait.
    """
    tracker.task_id = task_id
    history: list[Observation] = []
    started = settings.clock()
    last_seen: tuple[object, ...] | None = None
    failures = 0
    if first_poll_after > 0:
        yield Sleep(min(first_poll_after, max(0.0, deadline.remaining() - _LAST_LOOK)))
    while True:
        try:
            task = yield from get_task_flow(settings, deadline, task_id)
        except _TRANSIENT as exc:
            # A poll that failed even after its retries does not end the wait; the deadline does.
            failures += 1
            delay = backoff_delay(min(failures, 4), settings.rng)
            if delay >= deadline.remaining():
                raise _Expired from exc
            yield Sleep(delay)
            continue
        failures = 0
        tracker.last_status = task.status
        seen = (task.status, task.progress, task.eta)
        if on_progress is not None and seen != last_seen:
            yield Notify(on_progress, task)
        last_seen = seen
        if task.status == TaskStatus.SUCCEED:
            return task
        if task.status == TaskStatus.FAILED:
            raise TaskFailedError(task_id, task.reason or "")
        now = settings.clock()
        history.append(
            Observation(at=now, status=task.status, eta=task.eta or None, progress=task.progress or None)
        )
        delay = next_poll_delay(history, now=now, submitted_at=started, jitter=settings.rng())
        remaining = deadline.remaining()
        if delay >= remaining - _LAST_LOOK:
            if remaining <= _LAST_LOOK:
                raise _Expired
            delay = remaining - _LAST_LOOK  # one last look just before the deadline
        yield Sleep(delay)


# ------------------------------------------------------------------------------------------- images
_URL_REJECTED = frozenset({400, 401, 403, 404, 410})


def _refreshed_ref(settings: Settings, deadline: Deadline, task_id: str, index: int) -> Flow[ImageRef]:
    task = yield from get_task_flow(settings, deadline, task_id)
    if index >= len(task.images):
        raise ImageError("the refreshed task result no longer lists this image", task_id=task_id, index=index)
    return task.images[index]


def download_flow(
    settings: Settings, deadline: Deadline, task_id: str, index: int, ref: ImageRef
) -> Flow[GeneratedImage]:
    """Download one image (no API key sent), check it and decode it; refresh an expired URL once."""
    refreshed = False
    while True:
        if not refreshed and ref.expires_at is not None and ref.expires_at <= settings.now():
            ref, refreshed = (yield from _refreshed_ref(settings, deadline, task_id, index)), True
        try:
            reply = yield from send_with_retries(
                settings,
                deadline,
                method="GET",
                url=ref.url,
                idempotent=True,
                drop_headers=("authorization",),
                max_bytes=settings.max_image_bytes,
            )
        except httpx.TransportError as exc:
            raise ImageError(
                f"download failed: {type(exc).__name__}: {exc}", task_id=task_id, index=index
            ) from exc
        except ResponseTooLarge as exc:
            raise ImageError(f"image larger than {exc.limit} bytes", task_id=task_id, index=index) from exc
        if reply.status_code in _URL_REJECTED and not refreshed:
            ref, refreshed = (yield from _refreshed_ref(settings, deadline, task_id, index)), True
            continue
        if reply.status_code != 200:
            what = (
                "the image URL has expired or was refused"
                if reply.status_code in _URL_REJECTED
                else "download failed"
            )
            raise ImageError(
                f"{what} (HTTP {reply.status_code}{', even after refreshing it' if refreshed else ''})",
                task_id=task_id,
                index=index,
                status_code=reply.status_code,
                reason=reply.content[:200].decode("utf-8", "replace") or None,
            )
        return (yield from _checked_image(task_id, index, ref, reply.content))


def _checked_image(task_id: str, index: int, ref: ImageRef, data: bytes) -> Flow[GeneratedImage]:
    kind = sniff_format(data)
    expected = normalize_type(ref.image_type)
    if kind is None:
        raise ImageError(f"not a PNG, JPEG or WebP file ({len(data)} bytes)", task_id=task_id, index=index)
    if expected is not None and kind != expected:
        raise ImageError(f"the API said {expected} but the file is {kind}", task_id=task_id, index=index)
    try:
        size, mode = yield Offload(partial(decode, data))
    except ValueError as exc:
        raise ImageError(str(exc), task_id=task_id, index=index) from exc
    return GeneratedImage(
        task_id=task_id,
        index=index,
        data=data,
        format=kind,
        size=size,
        mode=mode,
        url=ref.url,
        expires_at=ref.expires_at,
        nsfw=ref.nsfw,
    )


def generation_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    task_id: str,
    on_progress: ProgressCallback | None = None,
    first_poll_after: float = 0.0,
) -> Flow[Generation]:
    """Wait for the task, then download and decode all its images concurrently, in the API's order."""
    task = yield from wait_flow(settings, deadline, tracker, task_id, on_progress, first_poll_after)
    downloads = [download_flow(settings, deadline, task_id, i, ref) for i, ref in enumerate(task.images)]
    images: list[GeneratedImage] = yield Gather(downloads)
    return Generation(task_id=task_id, seed=task.seed, images=tuple(images), task=task)


def txt2img_flow(
    settings: Settings,
    deadline: Deadline,
    tracker: Tracker,
    body: Mapping[str, Any],
    on_progress: ProgressCallback | None = None,
) -> Flow[Generation]:
    task_id = yield from submit_flow(settings, deadline, tracker, body)
    return (
        yield from generation_flow(settings, deadline, tracker, task_id, on_progress, POLL_FIRST_AFTER_SUBMIT)
    )


# ------------------------------------------------------------------------------------------- models
def _model(raw: _ApiModel) -> Model:
    data = raw.to_dict()
    kind = data.get("type") or {}
    tags = data.get("tags") or []
    return Model(
        id=data.get("id"),
        name=data.get("name"),
        sd_name=data.get("sd_name") or data.get("model_name"),
        sd_name_in_api=data.get("sd_name_in_api"),
        type=kind.get("name") if isinstance(kind, dict) else None,
        is_sdxl=data.get("is_sdxl"),
        base_model=data.get("base_model"),
        status=data.get("status"),
        tags=tuple(tags) if isinstance(tags, list) else (),
        raw=data,
    )


def models_page_flow(
    settings: Settings, deadline: Deadline, query: Mapping[str, Any], cursor: str | None
) -> Flow[tuple[list[Model], str | None]]:
    """One page of `GET /v3/model` (query already validated): the models and the next cursor, if any."""
    from ppio_api.api.models import list_models
    from ppio_api.models import ModelListResponse, ModelSource, ModelType, ModelVisibility

    converters: dict[str, Callable[[Any], Any]] = {
        "filter.visibility": ModelVisibility,
        "filter.source": ModelSource,
        "filter.types": ModelType,
    }
    kwargs = {
        name.replace(".", "_"): converters.get(name, lambda v: v)(value)
        for name, value in query.items()
        if value is not None
    }
    if cursor:
        kwargs["pagination_cursor"] = cursor
    page: ModelListResponse = yield from api_call(
        settings, deadline, list_models.build_request(**kwargs), list_models.parse_response, idempotent=True
    )
    pagination = _value(page.pagination)
    next_cursor = None if pagination is None else _value(pagination.next_cursor)
    return [_model(m) for m in page.models], (next_cursor or None)
