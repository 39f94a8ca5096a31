"""One API request as a flow: retries per `_retry.py` within the deadline, the generated client's
request builder and parser, and the typed error for every failure."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from ._call import Deadline, Expired, Settings
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from ._io import Flow, Reply, Send, Sleep
from ._retry import (
    Failure,
    classify_exception,
    classify_status,
    parse_retry_after,
    retry_delay,
)

if TYPE_CHECKING:  # the generated layer is imported on first use: `import ppio_txt2img` stays light
    from ppio_api import Client as _GeneratedClient


@cache
def _parser() -> _GeneratedClient:
    """Parses responses only (never sends); undocumented statuses raise instead of parsing to None."""
    from ppio_api import Client

    return Client(base_url="", raise_on_unexpected_status=True)


class _Parser(Protocol):
    def __call__(self, *, client: Any, response: httpx.Response) -> Any: ...


def value_or_none(value: object) -> Any:
    """None for the generated layer's UNSET marker, else the value."""
    from ppio_api.types import Unset

    return None if isinstance(value, Unset) else value


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
    transport error when no response came back; raises `Expired` when the deadline passes.
    """
    attempt = 0
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise Expired
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
                raise Expired from exc
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
        reason, message = value_or_none(parsed.reason), value_or_none(parsed.message)
        reason = None if reason is None else str(reason)
        message = None if message is None else str(message)
        raw_metadata = value_or_none(parsed.metadata)
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
    from ppio_api.models import ErrorBody

    if parsed is None or isinstance(parsed, ErrorBody):
        raise APIResponseValidationError(
            f"{path}: unexpected response body",
            status_code=reply.status_code,
            body=reply.content,
            task_id=task_id,
            outcome_unknown=not idempotent,
        )
    return parsed
