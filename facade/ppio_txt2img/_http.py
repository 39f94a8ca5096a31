"""One API request as a flow: retries per `_retry.py` within the deadline, redirects followed by the SDK
itself (never for the POST), the body read within a size cap, and the typed error for every failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ._adapter import ApiRequest, ResponseMismatch, error_info
from ._call import Deadline, Expired, Settings
from ._constants import MAX_API_BODY_BYTES, MAX_REDIRECTS, MIN_TIME_TO_SEND
from ._decoding import ACCEPT_ENCODING
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from ._io import Flow, Reply, ResponseTooLarge, Send, Sleep, unsendable
from ._retry import (
    Failure,
    classify_exception,
    classify_status,
    parse_retry_after,
    resend_at_once,
    retry_delay,
)
from ._transport import without_credentials
from ._urls import is_normal, plain_query

__all__ = [
    "REDIRECT_STATUSES",
    "api_call",
    "merged_headers",
    "send_with_retries",
    "status_error",
    "unfollowable",
    "went_out",
]

T = TypeVar("T")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@lru_cache(maxsize=1024)
def _with_query(url: str, query: tuple[tuple[str, type, Any], ...]) -> str:
    # Each value's type is part of the key: False == 0 and 1.0 == True, but httpx writes them apart.
    return str(httpx.URL(url, params={name: value for name, _, value in query}))


def with_query(url: str, params: Mapping[str, Any]) -> str:
    """`url` with its query set to `params`, as httpx encodes it. A wait asks for the same URL every poll:
    it is parsed once; a plain one (`task_id=<id>` on a URL in httpx's normal form) is not parsed."""
    plain = plain_query(params)
    if plain is not None and "?" not in url and is_normal(url):
        return f"{url}?{plain}"
    try:
        return _with_query(url, tuple((name, type(value), value) for name, value in params.items()))
    except TypeError:  # an unhashable value (a list in `extra_query`)
        return str(httpx.URL(url, params=params))


@lru_cache(maxsize=1024)
def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port or default


#: Headers that never follow a redirect to another origin (credentials, in any letter case).
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def merged_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """The headers of `layers`, a later one's replacing an earlier one's of the same name in any letter
    case (HTTP's names are case-insensitive: `authorization` in `default_headers` replaces the SDK's
    `Authorization`, rather than both going out)."""
    merged: dict[str, str] = {}
    spelled: dict[str, str] = {}  # each name in lower case: as it is spelled in `merged`
    for layer in layers:
        for name, value in layer.items():
            lower = name.lower()
            earlier = spelled.get(lower)
            if earlier is not None:
                del merged[earlier]
            spelled[lower] = name
            merged[name] = value
    return merged


def redirect_target(url: str, reply: Reply) -> str | None:
    """Where a redirect reply points (resolved against the request's URL); None if it is not one, or
    points nowhere it can be followed (`unfollowable`): then the redirect is the answer, an error."""
    if reply.status_code not in REDIRECT_STATUSES or not reply.headers.get("location"):
        return None
    target, problem = _location(url, reply)
    return None if problem is not None else target


def _location(url: str, reply: Reply) -> tuple[str, str | None]:
    """A redirect's target (as the API sent it, resolved against `url`), and why it cannot be followed
    (`unsendable`; None if it can)."""
    location = reply.headers.get("location", "").strip()
    try:
        target = urljoin(url, location)
    except ValueError as exc:  # urllib's parser refuses it ("Invalid IPv6 URL")
        return location, f"the URL does not parse ({exc})"
    return target, unsendable(target)


def unfollowable(url: str, reply: Reply) -> str | None:
    """Why a redirect reply to a request of `url` was not followed for a target it names (None: it
    names none, or one that could be: a loop, or too many hops, stopped it)."""
    if not reply.headers.get("location"):
        return None
    return _location(url, reply)[1]


def deadline_ran_out(exc: httpx.TransportError, budget: float, settings: Settings, remaining: float) -> bool:
    """Whether a transport error is the call's deadline running out (`Expired`, then `WaitTimeoutError`)
    rather than a failure of the request.

    A timeout is, when the deadline has passed; and also when the request's time limit (`budget`) was
    the rest of the deadline, shorter than the client's own `request_timeout`: then the limit that ran
    out is the deadline's, whichever clock measured it (the transport's timer and the settings' clock
    may disagree by a hair, or entirely when the clock is a test's fake one). A connect timeout is not,
    when connecting had a shorter limit of its own. A wait for a free connection (`PoolTimeout`) runs
    until the deadline is all but over (`_slots.py`): it is, once too little is left to send anything."""
    if not isinstance(exc, httpx.TimeoutException):
        return False
    if remaining <= 0 or (isinstance(exc, httpx.PoolTimeout) and remaining < MIN_TIME_TO_SEND):
        return True
    if budget >= settings.request_timeout:
        return False
    return not (isinstance(exc, httpx.ConnectTimeout) and settings.connect_timeout < budget)


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
    max_retries: int | None = None,
) -> Flow[Reply]:
    """Send a request, retrying per `_retry.py` within the deadline.

    GETs follow up to `MAX_REDIRECTS` redirects (credentials, `_CREDENTIAL_HEADERS`, only while they stay
    on the first URL's origin); anything else gets its redirect back, unfollowed, like any other status.
    Returns the last reply (an error status included, once retrying is over); raises the last httpx
    transport error when no response came back, `ResponseTooLarge` past `max_bytes`, and `Expired`
    when the deadline passes. `max_retries` overrides the client's setting.
    """
    retries = settings.max_retries if max_retries is None else max_retries
    current = with_query(url, params) if params else url
    # What `BodyReader` decodes, on every transport (a caller's own `Accept-Encoding` wins).
    sent_headers = merged_headers({"Accept-Encoding": ACCEPT_ENCODING}, headers or {})
    drop = drop_headers  # and, once a hop leaves the first origin, every credential header
    visited = {current}
    attempt = 0
    resent = False  # at once, after a connection that ended unanswered (`resend_at_once`)
    while True:
        remaining = deadline.remaining()
        if remaining <= 0 or (not idempotent and remaining < MIN_TIME_TO_SEND):
            raise Expired  # a POST this close to the deadline is not sent: it would leave a task unknown
        budget = min(settings.request_timeout, remaining)
        attempt_at = settings.clock()
        try:
            reply: Reply = yield Send(
                method=method,
                url=current,
                timeout=budget,
                connect_timeout=settings.connect_timeout,
                json=json,
                headers=sent_headers,
                drop_headers=drop,
                max_bytes=max_bytes,
                deadline_left=remaining,
            )
        except httpx.TransportError as exc:
            if deadline_ran_out(exc, budget, settings, deadline.remaining()):
                raise Expired from exc
            lost = classify_exception(exc)
            if resend_at_once(lost, idempotent=idempotent, resent=resent):
                resent = True
                continue
            delay = retry_delay(
                lost,
                attempt=attempt,
                max_retries=retries,
                idempotent=idempotent,
                rng=settings.rng,
            )
            if delay is None or delay >= deadline.remaining():
                raise
        else:
            target = redirect_target(current, reply) if method == "GET" else None
            if target is not None:
                if target in visited or len(visited) > MAX_REDIRECTS:
                    return replace(reply, sent_at=attempt_at)  # a loop, or too many hops: a 3xx error
                visited.add(target)
                current = target
                if _origin(target) != _origin(url):  # credentials never leave the first origin:
                    # not the SDK's, and not those a caller's httpx client adds to every request it
                    # builds (its default headers, its cookies): dropped from the request once built
                    for name in [key for key in sent_headers if key.lower() in _CREDENTIAL_HEADERS]:
                        del sent_headers[name]
                    drop = (*drop_headers, *sorted(_CREDENTIAL_HEADERS))
                continue
            failure = classify_status(reply.status_code)
            if failure is None:
                return replace(reply, sent_at=attempt_at)
            delay = retry_delay(
                failure,
                attempt=attempt,
                max_retries=retries,
                idempotent=idempotent,
                retry_after=parse_retry_after(reply.headers.get("retry-after")),
                rng=settings.rng,
            )
            if delay is None or delay >= deadline.remaining():
                return replace(reply, sent_at=attempt_at)
        yield Sleep(delay)
        attempt += 1


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_error(
    reply: Reply, *, task_id: str | None, outcome_unknown: bool = False, url: str = "", method: str = "GET"
) -> APIStatusError:
    """The typed error for an error (or unfollowed redirect) reply; the body is read leniently."""
    info = error_info(reply.content)
    message = info.message
    status = reply.status_code
    kind = _STATUS_ERRORS.get(status, ServerError if status >= 500 else APIStatusError)
    if kind is NotFoundError and task_id is not None and not message:
        message = "no such task"
    if status in REDIRECT_STATUSES:
        target, problem = _location(url, reply) if reply.headers.get("location") else ("nowhere", None)
        if method != "GET":
            message = (
                f"redirected to {target}; not followed: a request that creates a task is never re-sent "
                "(if the API has moved, use that address as base_url)"
            )
        elif problem is not None:
            message = f"redirected to {target}; not followed: {problem}"
        else:
            message = f"redirected to {target}: a redirect loop, or more than {MAX_REDIRECTS} redirects"
    return kind(
        status_code=status,
        reason=info.reason,
        message=message,
        metadata=info.metadata,
        body=reply.content,
        retry_after=parse_retry_after(reply.headers.get("retry-after")),
        task_id=task_id,
        outcome_unknown=outcome_unknown,
        headers=dict(reply.headers),
    )


def went_out(reply: Reply) -> float:
    """When the request that got `reply` went out, on `Settings.clock`: after its retries' sleeps and its
    wait for a free connection, which are no part of the exchange that answered."""
    return reply.sent_at + reply.queued


def api_call(
    settings: Settings,
    deadline: Deadline,
    request: ApiRequest,
    parse: Callable[[Reply], T],
    *,
    idempotent: bool,
    task_id: str | None = None,
) -> Flow[T]:
    """Send a request made by a generated builder (with the API key); parse a 2xx reply with `parse`."""
    what = f"{request.method} {request.path}"
    try:
        reply = yield from send_with_retries(
            settings,
            deadline,
            method=request.method,
            url=settings.base_url + request.path,
            idempotent=idempotent,
            params={**(request.params or {}), **settings.query},
            json=request.json,
            headers=merged_headers({"Authorization": f"Bearer {settings.api_key}"}, settings.headers),
            max_bytes=MAX_API_BODY_BYTES,
        )
    except httpx.TransportError as exc:
        unknown = not idempotent and classify_exception(exc) is not Failure.NOT_SENT
        # Where it could not get to: the base URL may be a default, or from the environment.
        at = f"{request.method} {without_credentials(settings.base_url)}{request.path}"
        raise APIConnectionError(
            f"{at}: {type(exc).__name__}: {exc}".rstrip(": "), task_id=task_id, outcome_unknown=unknown
        ) from exc
    except ResponseTooLarge as exc:
        raise APIResponseValidationError(
            f"{what}: the response is larger than {exc.limit} bytes",
            status_code=exc.status_code,
            body=b"",
            task_id=task_id,
            outcome_unknown=not idempotent,
        ) from None
    if not 200 <= reply.status_code < 300:
        unknown = not idempotent and classify_status(reply.status_code) is Failure.SERVER_ERROR
        raise status_error(
            reply,
            task_id=task_id,
            outcome_unknown=unknown,
            url=settings.base_url + request.path,
            method=request.method,
        )
    try:
        return parse(reply)
    except ResponseMismatch as exc:
        info = error_info(reply.content)  # a 2xx that carries the API's error body: what it says
        said = f"; it is an error body: {info.reason}: {info.message}" if info.reason else ""
        raise APIResponseValidationError(
            f"{what}: the response does not match the spec: {exc}{said}",
            status_code=reply.status_code,
            body=reply.content,
            task_id=task_id,
            outcome_unknown=not idempotent,  # a 2xx to the POST: a task exists, but its id is unknown
            reason=info.reason,
        ) from None
