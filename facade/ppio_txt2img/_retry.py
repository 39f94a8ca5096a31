"""When to retry a request, and how long to wait first. Pure functions, shared by sync and async.

GETs (task result, model list, image downloads) are idempotent: retried on connection errors, 429 and
5xx, and first resent at once when their connection ended before the answer's head came (`NoAnswer`).
The POST that creates a task is resent only when the failure proves no task was created: the connection
was never made, or the server said 429 (rate limited requests create nothing). Any other failure of the
POST leaves the outcome unknown, and resending could charge the user twice.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from enum import Enum

import httpx

from ._constants import RETRY_AFTER_CAP, RETRY_BASE_DELAY, RETRY_MAX_DELAY

__all__ = [
    "Failure",
    "NoAnswer",
    "RequestNotWritten",
    "backoff_delay",
    "classify_exception",
    "classify_status",
    "honoured",
    "parse_retry_after",
    "resend_at_once",
    "retry_delay",
]


class Failure(Enum):
    """What went wrong with one attempt, as far as retrying is concerned."""

    NOT_SENT = "not_sent"  # the connection was never made: nothing reached the server
    NO_RESPONSE = "no_response"  # sent (perhaps in part), but no response came back
    NO_ANSWER = "no_answer"  # sent, and the connection ended before the answer's head (`NoAnswer`)
    RATE_LIMITED = "rate_limited"  # 429: the server refused the request and did nothing
    SERVER_ERROR = "server_error"  # 5xx: the server may or may not have acted
    FINAL = "final"  # anything else (4xx): retrying cannot help


class RequestNotWritten(httpx.WriteError):
    """The request's body could not be written (its connection was closing: a server that had just
    closed it as idle): the server never had the whole request, so it cannot have acted on it."""


class NoAnswer(httpx.ReadError):
    """The connection closed, or was reset, before the answer's head had come whole: most often a
    connection the server had kept idle and closed just as the request went out on it (the race RFC 9112
    9.3.1 lets a client resend an idempotent request for). The server may have had the request: a
    POST's outcome is still unknown."""


# Transport errors raised before any byte of the request left the machine, or reached more than a proxy
# that refused to open a tunnel to the server (`ProxyError`: its answer to CONNECT was not a 2xx), or
# before the whole request had (`RequestNotWritten`).
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    RequestNotWritten,
)


def classify_exception(exc: BaseException) -> Failure:
    """Classify a transport error from httpx."""
    if isinstance(exc, _NOT_SENT_ERRORS):
        return Failure.NOT_SENT
    if isinstance(exc, NoAnswer):
        return Failure.NO_ANSWER
    if isinstance(exc, httpx.TransportError):
        return Failure.NO_RESPONSE
    return Failure.FINAL


def classify_status(status_code: int) -> Failure | None:
    """Classify an HTTP status; None for a success."""
    if status_code < 400:
        return None
    if status_code == 429:
        return Failure.RATE_LIMITED
    if status_code >= 500 or status_code == 408:
        return Failure.SERVER_ERROR
    return Failure.FINAL


def is_retryable(failure: Failure, *, idempotent: bool) -> bool:
    """Whether a request that failed this way may be sent again."""
    if failure in (Failure.NOT_SENT, Failure.RATE_LIMITED):
        return True
    if failure in (Failure.NO_RESPONSE, Failure.NO_ANSWER, Failure.SERVER_ERROR):
        return idempotent
    return False


def resend_at_once(failure: Failure, *, idempotent: bool, resent: bool) -> bool:
    """Whether a request is sent again right away, not counted as a retry: an idempotent one whose
    connection ended before its answer's head came (`NoAnswer`), once per call (`resent`: it already
    was), so that a server's idle timeout costs a GET one round trip, not a retry's backoff. aiohttp does
    the like for the async client's requests on asyncio, once per attempt. Go's net/http does it only on
    a connection it reused; here a new one's failure is resent too, as no httpx error says which it was."""
    return failure is Failure.NO_ANSWER and idempotent and not resent


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = float(when.timestamp()) - now()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: `base * 2**attempt`, capped, times a factor in [0.5, 1)."""
    return min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2.0**attempt) * (0.5 + rng() / 2)


def retry_delay(
    failure: Failure,
    *,
    attempt: int,
    max_retries: int,
    idempotent: bool,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None if the request must not be retried.

    `attempt` counts from 0 (the first try). A server's `Retry-After` wins over the backoff (capped at
    `RETRY_AFTER_CAP`, so that a hostile or broken header cannot stall the client).
    """
    if attempt >= max_retries or not is_retryable(failure, idempotent=idempotent):
        return None
    if retry_after is not None:
        return honoured(retry_after)
    return backoff_delay(attempt, rng)


def honoured(retry_after: float) -> float:
    """How long a server's `Retry-After` is waited: as it says, up to `RETRY_AFTER_CAP`."""
    return min(retry_after, RETRY_AFTER_CAP)
