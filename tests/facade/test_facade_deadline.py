"""One deadline (`timeout=`) bounds the whole call: submit, polls, retries and downloads. Ctrl-C mid-wait
keeps the task id. All on the fake clock: handlers that "take time" advance it, capped (like httpx) at the
request's own timeout, which the client must derive from what is left of the deadline."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import ppio_txt2img as ppio
from ppio_txt2img._constants import MIN_TIME_TO_SEND, POLL_FIRST_AFTER_SUBMIT
from tests.facade.facade_helpers import (
    BASE_URL,
    IMAGE_HOST,
    PNG,
    TASK_ID,
    AsyncClientFactory,
    ClientFactory,
    FakeClock,
    ScriptedAPI,
    image_entry,
    task_payload,
)

URL = f"{IMAGE_HOST}/{TASK_ID}/0.png"


def slow(clock: FakeClock, seconds: float, answer: Any, timeouts: list[float] | None = None) -> Any:
    """An answer that takes `seconds`; past the request's read timeout it raises `ReadTimeout` instead."""

    def handler(request: httpx.Request) -> Any:
        read_timeout = request.extensions["timeout"]["read"]
        if timeouts is not None:
            timeouts.append(read_timeout)
        if read_timeout is not None and seconds > read_timeout:
            clock.advance(read_timeout)
            raise httpx.ReadTimeout("timed out", request=request)
        clock.advance(seconds)
        return answer

    return handler


def test_a_task_that_never_finishes_ends_with_wait_timeout_error_at_the_deadline(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [task_payload("QUEUED"), task_payload("PROCESSING", progress=10)]

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client().txt2img("a cat", timeout=30)

    error = info.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error, ppio.PPIOError)
    assert error.task_id == TASK_ID
    assert error.last_status == "TASK_STATUS_PROCESSING"
    assert error.timeout == 30
    assert f"client.wait({TASK_ID!r})" in str(error)
    assert 29 <= clock.elapsed <= 30  # it kept looking until about the deadline, and not beyond
    assert api.image_requests == []


def test_a_wait_whose_every_look_fails_keeps_looking_to_its_deadline_and_says_what_it_ran_into(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    """A wrong base URL, or a server that is down: the timeout's message names the last failure (it said
    only "last status: none yet"), and the wait looks until its deadline (it gave up as soon as the next
    backoff would not fit: after 6.6 s of 8, in `ppio wait`)."""
    polled_at: list[float] = []

    def refused(request: httpx.Request) -> Any:
        polled_at.append(clock.elapsed)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api.results = [refused]

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client(max_retries=0).wait(TASK_ID, timeout=30)

    error = info.value
    assert error.last_status is None
    assert isinstance(error.__cause__, ppio.APIConnectionError)
    assert "Connection refused" in (error.last_failure or "")
    assert f"its last look failed: GET {BASE_URL}/v3/async/task-result: ConnectError" in str(error)
    assert str(error).count(TASK_ID) == 2  # "task X: ..." and the resume hint, not a third time
    assert 29 <= polled_at[-1] <= 30  # a last look just before the deadline


def test_the_clients_timeout_is_the_default_deadline_of_every_call(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.results = [task_payload("PROCESSING", progress=1, eta=10_000)]  # a wildly pessimistic eta

    with pytest.raises(ppio.WaitTimeoutError):
        make_client(timeout=20).wait(TASK_ID)

    assert 19 <= clock.elapsed <= 20
    assert len(api.polls) >= 4  # the poll delay is capped; a long eta does not mean one long sleep


def test_a_slow_image_host_ends_within_the_deadline(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    timeouts: list[float] = []
    api.results = [task_payload("SUCCEED", images=[image_entry(URL)])]
    api.images = {URL: [slow(clock, 1_000, PNG, timeouts)]}

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client(request_timeout=60).txt2img("a cat", timeout=30)

    assert info.value.task_id == TASK_ID
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert clock.elapsed <= 30
    # The request's own timeout is what was left of the deadline (30 s less the wait before the first
    # poll of a fresh task), not the 60 s request timeout.
    assert timeouts == [30 - POLL_FIRST_AFTER_SUBMIT]


def test_an_image_host_slower_than_the_request_timeout_is_retried_within_the_deadline(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    timeouts: list[float] = []
    api.results = [task_payload("SUCCEED", images=[image_entry(URL)])]
    api.images = {URL: [slow(clock, 50, PNG, timeouts), slow(clock, 1, PNG, timeouts)]}

    generation = make_client(request_timeout=20, max_retries=2).txt2img("a cat", timeout=300)

    assert generation.images[0].data == PNG
    assert timeouts == [20, 20]
    assert len(api.image_requests) == 2


def test_a_slow_submit_ends_at_the_deadline_and_says_a_task_may_exist(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    api.submit_script = [slow(clock, 1_000, {"task_id": TASK_ID})]

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client(request_timeout=60).txt2img("a cat", timeout=30)

    error = info.value
    assert error.task_id is None
    assert error.last_status == "submitting"
    assert clock.elapsed <= 30
    assert len(api.posts) == 1
    # The POST was sent and timed out waiting for the answer: the task may well exist.
    assert error.outcome_unknown
    assert "may have been created" in str(error)


def test_a_submit_that_never_connects_before_the_deadline_says_no_task_exists(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    def never_connects(request: httpx.Request) -> Any:
        clock.advance(request.extensions["timeout"]["connect"])
        raise httpx.ConnectTimeout("connect timed out", request=request)

    api.submit_script = [never_connects]

    with pytest.raises(ppio.WaitTimeoutError) as info:
        make_client().txt2img("a cat", timeout=25)

    assert clock.elapsed <= 25
    assert len(api.posts) > 1  # never connected: safe to try again, within the deadline
    assert not info.value.outcome_unknown
    assert "may have been created" not in str(info.value)


def test_a_submit_too_close_to_its_deadline_is_not_sent(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    client = make_client()
    with pytest.raises(ppio.WaitTimeoutError) as info:
        client.submit("a cat", timeout=MIN_TIME_TO_SEND / 2)  # could hardly be answered in time
    assert api.posts == []
    assert not info.value.outcome_unknown  # nothing went out: no task can exist
    assert client.submit("a cat", timeout=MIN_TIME_TO_SEND * 2).id == TASK_ID
    assert len(api.posts) == 1


@pytest.mark.parametrize("timeout", [0, -1, True, "30", float("nan")])
def test_a_bad_timeout_is_refused_before_any_request(
    api: ScriptedAPI, make_client: ClientFactory, timeout: Any
) -> None:
    with pytest.raises(ppio.ValidationError, match="timeout"):
        make_client().txt2img("a cat", timeout=timeout)
    assert api.requests == []


def test_ctrl_c_in_on_progress_keeps_the_task_id(api: ScriptedAPI, make_client: ClientFactory) -> None:
    calls: list[str] = []

    def on_progress(task: ppio.Task) -> None:
        calls.append(task.status)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        make_client().txt2img("a cat", on_progress=on_progress)

    assert info.value.task_id == TASK_ID  # type: ignore[attr-defined]
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert TASK_ID in notes
    assert f"client.wait({TASK_ID!r})" in notes
    assert len(api.polls) == 2
    assert api.image_requests == []


def test_ctrl_c_while_downloading_notes_that_the_task_succeeded(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    """Its images were downloading: the note says the task succeeded, not that it "may still be running"."""
    url = api.results[-1]["images"][0]["image_url"]

    def interrupted(request: httpx.Request) -> Any:
        raise KeyboardInterrupt

    api.images[url] = [interrupted]

    with pytest.raises(KeyboardInterrupt) as info:
        make_client().txt2img("a cat")

    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert f"task {TASK_ID} has succeeded; its images were downloading; resume with client.wait(" in notes
    assert "may still be running" not in notes


def test_ctrl_c_while_sleeping_between_polls_keeps_the_task_id(
    api: ScriptedAPI, clock: FakeClock, make_client: ClientFactory
) -> None:
    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        make_client(sleep=sleep).wait(TASK_ID)

    assert info.value.task_id == TASK_ID  # type: ignore[attr-defined]
    assert any(TASK_ID in note for note in info.value.__notes__)
    assert len(api.polls) == 1


def test_ctrl_c_while_submitting_notes_that_a_task_may_exist(
    api: ScriptedAPI, make_client: ClientFactory
) -> None:
    api.submit_script = [KeyboardInterrupt()]

    with pytest.raises(KeyboardInterrupt) as info:
        make_client().txt2img("a cat")

    assert not hasattr(info.value, "task_id")
    assert any("a task may have been created" in note for note in info.value.__notes__)


def test_cancelling_an_async_wait_keeps_the_task_id(
    api: ScriptedAPI, make_async_client: AsyncClientFactory, anyio_backend: str
) -> None:
    api.results = [task_payload("QUEUED"), task_payload("PROCESSING", progress=10)]
    caught: list[BaseException] = []

    async def main() -> None:
        async with make_async_client() as client:
            with anyio.CancelScope() as scope:

                def on_progress(task: ppio.Task) -> None:
                    if task.status == "TASK_STATUS_PROCESSING":
                        scope.cancel()

                try:
                    await client.txt2img("a cat", on_progress=on_progress)
                except BaseException as exc:
                    caught.append(exc)
                    raise
            assert scope.cancelled_caught

    anyio.run(main, backend=anyio_backend)
    (cancelled,) = caught
    assert cancelled.task_id == TASK_ID  # type: ignore[attr-defined]
    assert any(TASK_ID in note for note in cancelled.__notes__)
    assert len(api.polls) == 2
