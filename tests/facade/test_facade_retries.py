"""Retries: GETs are retried on 429, 5xx and dropped connections; the POST that creates (and bills) a task
is resent only when no task can have been created, and otherwise says the outcome is unknown."""

from __future__ import annotations

import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._constants import RETRY_AFTER_CAP
from tests.facade.facade_helpers import (
    PNG,
    TASK_ID,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    error_response,
    image_entry,
    task_payload,
)

DONE = task_payload("SUCCEED", images=[image_entry("https://images.test.invalid/x.png")])

DROPS = [
    pytest.param(lambda: httpx.ConnectError("connection refused"), id="ConnectError"),
    pytest.param(lambda: httpx.RemoteProtocolError("server disconnected"), id="RemoteProtocolError"),
    pytest.param(lambda: httpx.ReadError("connection reset by peer"), id="ReadError"),
]


def html_502() -> httpx.Response:
    return httpx.Response(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")


# ------------------------------------------------------------------------------------- GET polls
def test_a_429_poll_is_retried_after_the_servers_retry_after(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "7"}), DONE]

    task = make_client().get_task(TASK_ID)

    assert task.succeeded
    assert len(api.polls) == 2
    assert clock.sleeps == [7.0]


def test_a_huge_retry_after_is_capped(api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory) -> None:
    api.results = [error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "100000"}), DONE]

    make_client(timeout=RETRY_AFTER_CAP * 10).get_task(TASK_ID)

    assert clock.sleeps == [RETRY_AFTER_CAP]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_poll_is_retried(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory, status: int
) -> None:
    api.results = [
        error_response(status, "GET_RESULT_FAILED"),
        error_response(status, "GET_RESULT_FAILED"),
        DONE,
    ]

    task = make_client(max_retries=2).get_task(TASK_ID)

    assert task.succeeded
    assert len(api.polls) == 3
    assert len(clock.sleeps) == 2
    assert all(0 < s <= 8 for s in clock.sleeps)


@pytest.mark.parametrize("drop", DROPS)
def test_a_poll_whose_connection_drops_is_retried(
    api: ScriptedAPI, make_client: ClientFactory, drop: object
) -> None:
    api.results = [drop(), drop(), DONE]  # type: ignore[operator]

    assert make_client(max_retries=2).get_task(TASK_ID).succeeded
    assert len(api.polls) == 3


@pytest.mark.parametrize("drop", DROPS)
def test_a_poll_gives_up_after_max_retries(
    api: ScriptedAPI, make_client: ClientFactory, drop: object
) -> None:
    api.results = [drop(), drop(), drop(), DONE]  # type: ignore[operator]

    with pytest.raises(ppio.APIConnectionError) as info:
        make_client(max_retries=2).get_task(TASK_ID)

    assert len(api.polls) == 3  # the first try and two retries
    assert info.value.task_id == TASK_ID
    assert not info.value.outcome_unknown  # a GET changes nothing


@pytest.mark.parametrize(
    ("status", "error"), [(500, ppio.ServerError), (503, ppio.ServerError), (429, ppio.RateLimitError)]
)
def test_a_poll_answered_with_an_error_status_gives_up_after_max_retries(
    api: ScriptedAPI, make_client: ClientFactory, status: int, error: type[ppio.APIStatusError]
) -> None:
    api.results = [error_response(status, "X")] * 3 + [DONE]

    with pytest.raises(error) as info:
        make_client(max_retries=2).get_task(TASK_ID)

    assert len(api.polls) == 3
    assert (info.value.status_code, info.value.task_id) == (status, TASK_ID)


def test_max_retries_zero_disables_retries(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [error_response(503, "GET_RESULT_FAILED"), DONE]
    api.submit_script = [httpx.ConnectError("refused"), {"task_id": TASK_ID}]
    client = make_client(max_retries=0)

    with pytest.raises(ppio.ServerError) as info:
        client.get_task(TASK_ID)
    assert info.value.status_code == 503
    with pytest.raises(ppio.APIConnectionError) as connect:
        client.submit("a cat")

    assert not connect.value.outcome_unknown  # never connected: no task can exist
    assert len(api.polls) == 1
    assert len(api.posts) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda: error_response(500, "GET_RESULT_FAILED"), id="500"),
        pytest.param(lambda: error_response(429, "RATE_LIMIT_EXCEEDED"), id="429"),
        pytest.param(lambda: httpx.ConnectError("refused"), id="ConnectError"),
        pytest.param(lambda: httpx.Response(200, text="<html>oops</html>"), id="garbage-200"),
    ],
)
def test_a_poll_that_fails_after_its_retries_does_not_end_the_wait(
    api: ScriptedAPI, make_client: ClientFactory, failure: object
) -> None:
    # A retryable failure fails a poll after its two requests (max_retries=1); an answer that does not
    # parse is not retried, and fewer than three of those in a row are waited out too.
    api.results = [task_payload("QUEUED")] + [failure() for _ in range(2)] + [DONE]  # type: ignore[operator]
    api.images = {"https://images.test.invalid/x.png": [PNG]}

    generation = make_client(max_retries=1).wait(TASK_ID)

    assert generation.images[0].data == PNG
    assert len(api.polls) == 4


def test_task_results_that_never_parse_end_the_wait_after_three_in_a_row(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [task_payload("QUEUED"), httpx.Response(200, text="<html>oops</html>")]

    with pytest.raises(ppio.APIResponseValidationError) as info:
        make_client().wait(TASK_ID, timeout=300)

    assert info.value.task_id == TASK_ID
    assert len(api.polls) == 4  # one good answer, then three bad ones in a row
    assert clock.elapsed < 30  # long before the 300 s deadline


def test_a_wait_whose_polls_always_fail_ends_at_the_deadline(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [error_response(503, "GET_RESULT_FAILED")]

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client(max_retries=1).wait(TASK_ID, timeout=60)

    assert info.value.task_id == TASK_ID
    assert isinstance(info.value.__cause__, ppio.ServerError)
    assert clock.elapsed <= 60
    assert len(api.polls) > 4


# ----------------------------------------------------------------------------------------- POST
def test_the_post_is_resent_after_a_connect_error(api: ScriptedAPI, make_client: ClientFactory) -> None:
    api.submit_script = [httpx.ConnectError("connection refused"), {"task_id": TASK_ID}]

    task = make_client().submit("a cat")

    assert task.id == TASK_ID
    assert len(api.posts) == 2
    assert api.posts[0].body == api.posts[1].body


def test_the_post_is_resent_after_a_429(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.submit_script = [
        error_response(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "3"}),
        {"task_id": TASK_ID},
    ]

    assert make_client().submit("a cat").id == TASK_ID
    assert len(api.posts) == 2
    assert clock.sleeps == [3.0]


def test_a_post_still_rate_limited_after_its_retries_raises_rate_limit_error(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.submit_script = [error_response(429, "RATE_LIMIT_EXCEEDED", "slow down", **{"Retry-After": "1"})]

    with pytest.raises(ppio.RateLimitError) as info:
        make_client(max_retries=2).submit("a cat")

    assert len(api.posts) == 3
    assert info.value.status_code == 429
    assert info.value.retry_after == 1
    assert not info.value.outcome_unknown  # a 429 creates nothing
    assert info.value.task_id is None


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda: httpx.ReadError("connection reset"), id="ReadError"),
        pytest.param(lambda: httpx.RemoteProtocolError("server disconnected"), id="RemoteProtocolError"),
        pytest.param(lambda: httpx.ReadTimeout("timed out"), id="ReadTimeout"),
        pytest.param(lambda: httpx.WriteError("broken pipe"), id="WriteError"),
    ],
)
def test_the_post_is_not_resent_after_a_drop_once_connected(
    api: ScriptedAPI, make_client: ClientFactory, failure: object
) -> None:
    api.submit_script = [failure(), {"task_id": TASK_ID}]  # type: ignore[operator]

    with pytest.raises(ppio.APIConnectionError) as info:
        make_client(max_retries=5).txt2img("a cat")

    assert len(api.posts) == 1
    assert api.polls == []
    assert info.value.outcome_unknown
    assert "may have been created" in str(info.value)
    assert "not resent" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_the_post_is_not_resent_after_a_5xx(
    api: ScriptedAPI, make_client: ClientFactory, status: int
) -> None:
    api.submit_script = [error_response(status, "CREATE_TASK_FAILED", "try later"), {"task_id": TASK_ID}]

    with pytest.raises(ppio.ServerError) as info:
        make_client(max_retries=5).txt2img("a cat")

    assert len(api.posts) == 1
    assert info.value.status_code == status
    assert info.value.reason == "CREATE_TASK_FAILED"
    assert info.value.outcome_unknown
    assert "may have been created" in str(info.value)


def test_a_post_answered_200_with_an_unreadable_body_says_the_task_may_exist(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    """A 200 means the server created (and billed) a task even if its id cannot be read."""
    api.submit_script = [httpx.Response(200, text="<html>ok</html>")]

    with pytest.raises(ppio.APIResponseValidationError) as info:
        make_client().submit("a cat")

    assert len(api.posts) == 1
    assert info.value.status_code == 200
    assert info.value.outcome_unknown
    assert "may have been created" in str(info.value)


# ------------------------------------------------------------------------------ error responses
@pytest.mark.parametrize("where", ["poll", "post"])
def test_an_html_error_page_gives_a_server_error_with_its_status(
    api: ScriptedAPI, make_client: ClientFactory, where: str
) -> None:
    api.results = [html_502()]
    api.submit_script = [html_502()]
    client = make_client(max_retries=0)

    with pytest.raises(ppio.ServerError) as info:
        client.get_task(TASK_ID) if where == "poll" else client.submit("a cat")

    assert info.value.status_code == 502
    assert info.value.reason is None
    assert b"Bad Gateway" in info.value.body
    assert "HTTP 502" in str(info.value)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(400, text="bad request"),
        httpx.Response(400, json=["not", "an", "object"]),
        httpx.Response(418, content=b"\xff\xfe\x00garbage"),
    ],
    ids=["text", "json-list", "binary"],
)
def test_an_unreadable_4xx_body_gives_an_api_status_error(
    api: ScriptedAPI, make_client: ClientFactory, response: httpx.Response
) -> None:
    api.results = [response]

    with pytest.raises(ppio.APIStatusError) as info:
        make_client().get_task(TASK_ID)

    assert info.value.status_code == response.status_code
    assert not isinstance(info.value, ValueError)
    assert len(api.polls) == 1


def test_an_api_error_body_fills_reason_message_and_metadata(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    body = {"code": 400, "reason": "ILLEGAL_PROMPT", "message": "illegal prompt ", "metadata": {"k": "v"}}
    api.submit_script = [httpx.Response(400, json=body)]

    with pytest.raises(ppio.APIStatusError) as info:
        make_client().submit("a cat")

    error = info.value
    assert (error.status_code, error.reason, error.message, error.metadata) == (
        400,
        "ILLEGAL_PROMPT",
        "illegal prompt ",
        {"k": "v"},
    )
    assert str(error) == "HTTP 400 ILLEGAL_PROMPT: illegal prompt"
    assert not error.outcome_unknown


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"task": {"status": "TASK_STATUS_QUEUED"}}', b"[]", b'{"images": []}'],
    ids=["text", "no-task-id", "list", "no-task"],
)
def test_a_200_with_a_body_that_is_not_a_task_result_gives_api_response_validation_error(
    api: ScriptedAPI, make_client: ClientFactory, body: bytes
) -> None:
    api.results = [httpx.Response(200, content=body)]

    with pytest.raises(ppio.APIResponseValidationError) as info:
        make_client().get_task(TASK_ID)

    assert info.value.status_code == 200
    assert info.value.body == body
    assert info.value.task_id == TASK_ID


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_raise_authentication_error_and_are_not_retried(
    api: ScriptedAPI, make_client: ClientFactory, status: int
) -> None:
    api.results = [error_response(status, "INVALID_API_KEY", "invalid api-key"), DONE]
    api.submit_script = [error_response(status, "INVALID_API_KEY", "invalid api-key"), {"task_id": TASK_ID}]
    client = make_client(max_retries=5)

    with pytest.raises(ppio.AuthenticationError) as poll:
        client.wait(TASK_ID)
    with pytest.raises(ppio.AuthenticationError) as post:
        client.txt2img("a cat")

    assert (poll.value.status_code, poll.value.reason) == (status, "INVALID_API_KEY")
    assert post.value.status_code == status
    assert not post.value.outcome_unknown
    assert len(api.polls) == 1
    assert len(api.posts) == 1
