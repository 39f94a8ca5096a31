"""The retry policy (`_retry.py`) and when a timeout is the deadline's (`_http.deadline_ran_out`): pure
decisions, no I/O."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from ppio_txt2img._call import Settings
from ppio_txt2img._constants import RETRY_AFTER_CAP, RETRY_MAX_DELAY
from ppio_txt2img._http import deadline_ran_out
from ppio_txt2img._retry import (
    Failure,
    NoAnswer,
    backoff_delay,
    classify_exception,
    classify_status,
    parse_retry_after,
    resend_at_once,
    retry_delay,
)
from ppio_txt2img._transport import unanswered_error

REQ = httpx.Request("GET", "https://api.test/")


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx.ConnectError("refused", request=REQ), Failure.NOT_SENT),
        (httpx.ConnectTimeout("slow", request=REQ), Failure.NOT_SENT),
        (httpx.PoolTimeout("pool", request=REQ), Failure.NOT_SENT),
        (httpx.ReadError("reset", request=REQ), Failure.NO_RESPONSE),
        (httpx.ReadTimeout("slow", request=REQ), Failure.NO_RESPONSE),
        (httpx.RemoteProtocolError("dropped", request=REQ), Failure.NO_RESPONSE),
        (httpx.WriteError("half sent", request=REQ), Failure.NO_RESPONSE),
        (NoAnswer("closed before the answer", request=REQ), Failure.NO_ANSWER),
        (ValueError("not transport"), Failure.FINAL),
    ],
)
def test_transport_errors_are_classified_by_whether_the_request_left(
    exc: Exception, failure: Failure
) -> None:
    assert classify_exception(exc) is failure


@pytest.mark.parametrize(
    ("status", "failure"),
    [(200, None), (204, None), (400, Failure.FINAL), (401, Failure.FINAL), (404, Failure.FINAL),
     (408, Failure.SERVER_ERROR), (429, Failure.RATE_LIMITED), (500, Failure.SERVER_ERROR),
     (502, Failure.SERVER_ERROR), (503, Failure.SERVER_ERROR), (520, Failure.SERVER_ERROR)],
)  # fmt: skip
def test_statuses_are_classified(status: int, failure: Failure | None) -> None:
    assert classify_status(status) is failure


@pytest.mark.parametrize("failure", list(Failure))
def test_gets_retry_everything_transient(failure: Failure) -> None:
    delay = retry_delay(failure, attempt=0, max_retries=2, idempotent=True, rng=lambda: 0.0)
    assert (delay is not None) == (failure is not Failure.FINAL)


@pytest.mark.parametrize(
    ("failure", "resent"),
    [
        (Failure.NOT_SENT, True),  # nothing reached the server
        (Failure.RATE_LIMITED, True),  # a 429 creates no task
        (Failure.NO_RESPONSE, False),  # the server may have created the task
        (Failure.NO_ANSWER, False),  # ditto: it may have had the request before the connection ended
        (Failure.SERVER_ERROR, False),  # ditto
        (Failure.FINAL, False),
    ],
)
def test_the_post_is_resent_only_when_no_task_can_exist(failure: Failure, resent: bool) -> None:
    delay = retry_delay(failure, attempt=0, max_retries=5, idempotent=False, rng=lambda: 0.0)
    assert (delay is not None) is resent


@pytest.mark.parametrize("failure", list(Failure))
@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("resent", [True, False])
def test_only_a_get_whose_connection_ended_unanswered_is_resent_at_once_and_only_once(
    failure: Failure, idempotent: bool, resent: bool
) -> None:
    expected = failure is Failure.NO_ANSWER and idempotent and not resent
    assert resend_at_once(failure, idempotent=idempotent, resent=resent) is expected


def _chained(outer: httpx.TransportError, cause: BaseException) -> httpx.TransportError:
    """`outer` raised from `cause`, as httpx raises its errors from httpcore's, and those from the
    socket's."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except httpx.TransportError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "unanswered"),
    [
        # httpcore read the end of stream where the answer's head should have begun.
        (httpx.RemoteProtocolError("Server disconnected without sending a response.", request=REQ), True),
        # A reset, however deep in the chain.
        (_chained(httpx.ReadError("[Errno 104] Connection reset by peer", request=REQ),
                  _chained(httpx.ReadError("inner"), ConnectionResetError(104, "reset"))), True),
        # Anything else is left as it is: a malformed answer, another read error, a timeout, a write.
        (httpx.RemoteProtocolError("illegal status line: b'HTTP/1.1 2OO'", request=REQ), False),
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), False),
        (_chained(httpx.ReadError("bad fd", request=REQ), OSError(9, "Bad file descriptor")), False),
        (httpx.ReadTimeout("slow", request=REQ), False),
        (_chained(httpx.WriteError("broken pipe", request=REQ), ConnectionResetError(104, "reset")), False),
        (httpx.ConnectError("refused", request=REQ), False),
    ],
)  # fmt: skip
def test_a_connection_that_ended_before_the_answer_began_is_told_apart(
    exc: httpx.TransportError, unanswered: bool
) -> None:
    error = unanswered_error(exc)
    assert (error is not None) is unanswered
    if error is not None:
        assert isinstance(error, NoAnswer)
        assert str(error) == str(exc)
        assert error.request is REQ
        assert classify_exception(error) is Failure.NO_ANSWER


def test_retries_stop_at_max_retries() -> None:
    assert retry_delay(Failure.SERVER_ERROR, attempt=1, max_retries=2, idempotent=True) is not None
    assert retry_delay(Failure.SERVER_ERROR, attempt=2, max_retries=2, idempotent=True) is None
    assert retry_delay(Failure.NOT_SENT, attempt=0, max_retries=0, idempotent=True) is None


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    assert retry_delay(Failure.RATE_LIMITED, attempt=0, max_retries=2, idempotent=True, retry_after=7) == 7
    huge = retry_delay(Failure.RATE_LIMITED, attempt=0, max_retries=2, idempotent=True, retry_after=1e6)
    assert huge == RETRY_AFTER_CAP


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    low = [backoff_delay(a, rng=lambda: 0.0) for a in range(8)]
    high = [backoff_delay(a, rng=lambda: 0.999) for a in range(8)]
    assert low[1] == 2 * low[0]
    assert low[2] == 2 * low[1]
    assert all(lo < hi for lo, hi in zip(low, high, strict=True))
    assert max(high) <= RETRY_MAX_DELAY


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_010.0, usegmt=True)
    assert parse_retry_after(date, now=lambda: 1_000_000.0) == pytest.approx(10.0)


SETTINGS = Settings(
    base_url="https://api.test",
    api_key="k",
    max_retries=2,
    request_timeout=30,
    connect_timeout=10,
    max_image_bytes=1,
)


@pytest.mark.parametrize(
    ("exc", "budget", "remaining", "expired"),
    [
        # The deadline has passed: any timeout is its.
        (httpx.ReadTimeout("slow", request=REQ), 30, 0.0, True),
        (httpx.ConnectTimeout("slow", request=REQ), 30, -0.5, True),
        # The request had the rest of the deadline: its timeout is the deadline's, though the
        # settings' clock (here, a test's fake one) still shows time left.
        (httpx.ReadTimeout("slow", request=REQ), 0.02, 0.02, True),
        (httpx.PoolTimeout("pool", request=REQ), 0.02, 0.01, True),
        (httpx.ConnectTimeout("slow", request=REQ), 5, 5, True),  # connecting had the same 5 s
        # The client's own limits ran out, with time left in the deadline.
        (httpx.ReadTimeout("slow", request=REQ), 30, 100, False),
        (httpx.ConnectTimeout("slow", request=REQ), 20, 20, False),  # connecting had 10 s of its own
        # Not a timeout.
        (httpx.ReadError("reset", request=REQ), 0.02, 0.0, False),
    ],
)
def test_a_timeout_is_the_deadline_running_out_when_the_request_had_the_rest_of_it(
    exc: httpx.TransportError, budget: float, remaining: float, expired: bool
) -> None:
    assert deadline_ran_out(exc, budget, SETTINGS, remaining) is expired
